// The apply script run for real with `sh` on files in a temp directory, fed on stdin as the SSH transport
// does: files are replaced all together or not at all, one run at a time holds the host lock, and a host
// whose controller went away finishes what it received. Needs only sh and coreutils, no root.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyScript, applySteps, parseApplyOutput, type RunIdentity, type Step } from '../../src/apply/script.js';
import { historyFact } from '../../src/facts/history.js';
import type { Change } from '../../src/resources/types.js';
import { before, file, pathsIn, RUN, type FileChange } from '../fixtures/changes.js';

const lockIn = (dir: string): string => pathsIn(dir).lockFile;

describe('applyScript, run for real with sh', () => {
  const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  // A validator like `haproxy -c`: silent when fine, complains on stderr otherwise.
  const VALIDATE = `sh -c 'grep -q good "$1" || { echo "$1: no good line found" >&2; exit 1; }' validate %s`;

  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ha-apply-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (changes: Change[]) => {
    const steps = applySteps(changes, pathsIn(dir));
    // Fed on stdin, as the SSH transport does.
    const result = spawnSync('sh', [], { input: applyScript(steps, changes, RUN, pathsIn(dir)), encoding: 'utf8' });
    return { steps, result, outcome: parseApplyOutput(result.stdout, steps.length) };
  };
  const staged = (): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes('ha-provision-new') && !f.startsWith('history'));
  const existing = (name: string, content: string, mode = 0o644): string => {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode });
    return path;
  };
  const change = (path: string, content: string, mode: string, old?: string): FileChange =>
    file(path, content, { mode, owner: user, group, validate: VALIDATE, ...(old !== undefined ? { before: before(old) } : {}) });

  it('installs every file with its mode, keeps both versions as version 1 of the history, leaves nothing staged', () => {
    const cfg = existing('haproxy.cfg', 'old haproxy\n');
    const conf = join(dir, 'keepalived', 'keepalived.conf'); // new file in a new directory

    const { result, outcome, steps } = run([change(cfg, 'good haproxy\n', '0640', 'old haproxy\n'), change(conf, 'good keepalived\n', '0600')]);

    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(outcome).toEqual({ ok: true, completed: steps.length });
    expect(readFileSync(cfg, 'utf8')).toBe('good haproxy\n');
    expect(statSync(cfg).mode & 0o7777).toBe(0o640);
    expect(readFileSync(conf, 'utf8')).toBe('good keepalived\n');
    expect(statSync(conf).mode & 0o7777).toBe(0o600);
    const version = join(pathsIn(dir).historyDir, '1');
    expect(readFileSync(join(version, 'before', cfg), 'utf8')).toBe('old haproxy\n');
    expect(readFileSync(join(version, 'after', cfg), 'utf8')).toBe('good haproxy\n');
    expect(statSync(join(version, 'after', cfg)).mode & 0o7777).toBe(0o640);
    expect(existsSync(join(version, 'before', conf))).toBe(false); // it did not exist
    expect(readFileSync(join(version, 'after', conf), 'utf8')).toBe('good keepalived\n');
    expect(readFileSync(join(version, 'run'), 'utf8')).toBe('run=c0ffee01\ncontroller=ci-7\nuser=deploy\nstarted=2026-11-24T14:02:11Z\n');
    expect(staged()).toEqual([]);
  });

  it('takes the run\'s own number (one run, one number on every host), or the next one past the host\'s newest', () => {
    const cfg = existing('haproxy.cfg', 'v0\n');
    const apply = (content: string, old: string, version: number) => {
      const changes = [change(cfg, content, '0644', old)];
      const steps = applySteps(changes, pathsIn(dir));
      return parseApplyOutput(spawnSync('sh', [], { input: applyScript(steps, changes, { ...RUN, version }, pathsIn(dir)), encoding: 'utf8' }).stdout, steps.length);
    };
    expect(apply('good a\n', 'v0\n', 7).ok).toBe(true);
    expect(apply('good b\n', 'good a\n', 5).ok).toBe(true); // 5 is behind this host's newest (7)
    expect(readdirSync(pathsIn(dir).historyDir).sort()).toEqual(['7', '8']);
  });

  it('numbers versions on, and keeps only the newest (3 here)', () => {
    const cfg = existing('haproxy.cfg', 'v0\n');
    for (let v = 1; v <= 5; v += 1) {
      const { outcome } = run([change(cfg, `good v${v}\n`, '0644', v === 1 ? 'v0\n' : `good v${v - 1}\n`)]);
      expect(outcome.ok).toBe(true);
    }
    expect(readdirSync(pathsIn(dir).historyDir).sort()).toEqual(['3', '4', '5']);
    expect(readFileSync(join(pathsIn(dir).historyDir, '5', 'before', cfg), 'utf8')).toBe('good v4\n');
    // …and rollback reads them back as written.
    const history = historyFact([cfg], pathsIn(dir).historyDir);
    const versions = history.parse(spawnSync('sh', ['-c', history.command], { encoding: 'utf8' }).stdout);
    expect(versions.map((v) => [v.number, v.before[cfg]?.content, v.after[cfg]?.content])).toEqual([
      [3, 'good v2\n', 'good v3\n'],
      [4, 'good v3\n', 'good v4\n'],
      [5, 'good v4\n', 'good v5\n'],
    ]);
  });

  it.each([
    ['the first file', 0],
    ['the second file', 1],
  ])('when %s fails validation, no file is replaced and nothing stays staged', (_name, bad) => {
    const paths = [existing('haproxy.cfg', 'old haproxy\n'), existing('keepalived.conf', 'old keepalived\n')];
    const contents = ['good haproxy\n', 'good keepalived\n'];
    contents[bad] = 'broken\n';

    const { result, outcome, steps } = run([change(paths[0]!, contents[0]!, '0644', 'old haproxy\n'), change(paths[1]!, contents[1]!, '0644', 'old keepalived\n')]);

    expect(result.status).not.toBe(0);
    expect(readFileSync(paths[0]!, 'utf8')).toBe('old haproxy\n');
    expect(readFileSync(paths[1]!, 'utf8')).toBe('old keepalived\n');
    expect(staged()).toEqual([]);
    const failed = steps.findIndex((s) => s.label === `validate ${paths[bad]}`);
    expect(failed).toBeGreaterThan(0);
    expect(outcome).toMatchObject({ ok: false, failedStep: failed, completed: failed });
    expect(outcome.output).toContain('no good line found');
    expect(outcome.output).toContain(`.${bad === 0 ? 'haproxy.cfg' : 'keepalived.conf'}.ha-provision-new`);
  });
});

describe('applyScript, when the controller goes away', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ha-apply-gone-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const steps = (): Step[] => [
    { label: 'one', script: `echo one; touch ${join(dir, 'one')}` },
    { label: 'slow', script: 'sleep 0.3; echo slow' },
    { label: 'two', script: `echo two; touch ${join(dir, 'two')}` },
  ];

  it('a script cut short in transit runs none of its steps', () => {
    const script = applyScript(steps(), [], RUN, pathsIn(dir));
    const cut = script.slice(0, script.indexOf(join(dir, 'two'))); // step one whole, the rest lost
    const result = spawnSync('sh', [], { input: cut, encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(existsSync(join(dir, 'one'))).toBe(false);
  });

  // The controller killed or the link cut: the remote shell's stdout and stderr pipes break. It must
  // run every step it received to its end, not die of SIGPIPE between a rename and a reload.
  it('a host whose controller stopped reading finishes every step', async () => {
    const child = spawn('sh', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdin.end(applyScript(steps(), [], RUN, pathsIn(dir)));
    await new Promise((resolve) => child.stdout.once('data', resolve)); // it has started
    child.stdout.destroy();
    child.stderr.destroy();
    await exited;
    for (let i = 0; i < 50 && !existsSync(join(dir, 'two')); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(join(dir, 'two'))).toBe(true);
  });
});

describe('one apply at a time: the host lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ha-apply-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const touching = (name: string, extra = ''): Step[] => [{ label: `touch ${name}`, script: `${extra}touch ${join(dir, name)}` }];
  const runSync = (steps: Step[], run: RunIdentity = RUN) => {
    const result = spawnSync('sh', [], { input: applyScript(steps, [], run, pathsIn(dir)), encoding: 'utf8' });
    return { result, outcome: parseApplyOutput(result.stdout, steps.length) };
  };

  it('a second run while the first holds the lock changes nothing and names the holder', async () => {
    const first = spawn('sh', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const done = new Promise((resolve) => first.on('close', resolve));
    first.stdin.end(applyScript(touching('first', 'sleep 0.6; '), [], RUN, pathsIn(dir)));
    await new Promise((resolve) => first.stdout.once('data', resolve)); // it holds the lock
    const { result, outcome } = runSync(touching('second'), { ...RUN, id: 'beef0002', pid: 5150 });
    await done;
    expect(result.status).toBe(3);
    expect(outcome).toMatchObject({ ok: false, lockedBy: 'controller ci-7 (pid 4121, user deploy), run c0ffee01, since 2026-11-24T14:02:11Z' });
    expect(existsSync(join(dir, 'second'))).toBe(false);
    expect(existsSync(join(dir, 'first'))).toBe(true);
  });

  it('--force-unlock stops a live holder (its process group), then takes its lock', async () => {
    const first = spawn('sh', [], { stdio: ['pipe', 'pipe', 'ignore'], detached: true }); // a group of its own, as under sshd
    const done = new Promise((resolve) => first.on('close', resolve));
    first.stdin.end(applyScript(touching('first', 'sleep 5; '), [], RUN, pathsIn(dir)));
    await new Promise((resolve) => first.stdout.once('data', resolve));
    const started = Date.now();
    const { outcome } = runSync(touching('second'), { ...RUN, id: 'beef0002', forceUnlock: true });
    await done;
    expect(outcome).toEqual({ ok: true, completed: 1 });
    expect(Date.now() - started).toBeLessThan(4_000); // it did not wait for the holder's 5 s step
    expect(existsSync(join(dir, 'second'))).toBe(true);
    expect(existsSync(join(dir, 'first'))).toBe(false);
  });

  it.each([
    ['a run that ends well', 'true'],
    ['a run whose step fails', 'false'],
  ])('%s leaves the lock free and empty', (_what, script) => {
    runSync([{ label: 'step', script }]);
    expect(readFileSync(lockIn(dir), 'utf8')).toBe('');
    expect(runSync(touching('next')).outcome).toEqual({ ok: true, completed: 1 });
  });

  it('a lock left by a run killed outright is taken over, and the outcome names whose it was', () => {
    writeFileSync(lockIn(dir), 'run=dead0001\ncontroller=ci-3\npid=77\nuser=ops\nstarted=2026-11-24T13:00:00Z\nscript_pid=999999\nscript_start=1\n');
    const { outcome } = runSync(touching('after'));
    expect(outcome).toEqual({ ok: true, completed: 1, tookOverFrom: 'controller ci-3 (pid 77, user ops), run dead0001, since 2026-11-24T13:00:00Z' });
    expect(existsSync(join(dir, 'after'))).toBe(true);
  });

  it('while it runs, the lock describes the run and its script (pid and start time)', () => {
    const { result } = runSync([{ label: 'show', script: `cat ${lockIn(dir)}` }]);
    expect(result.stdout).toMatch(/^run=c0ffee01\ncontroller=ci-7\npid=4121\nuser=deploy\nstarted=2026-11-24T14:02:11Z\nscript_pid=\d+\nscript_pgid=\d+\nscript_start=\d+$/m);
  });
});

describe('a file edited between plan and apply', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ha-apply-drift-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['edited by hand', 'old\n', 'old, edited\n', /haproxy\.cfg changed since the plan was made/],
    ['created since', undefined, 'someone else\'s\n', /haproxy\.cfg appeared since the plan was made/],
  ])('%s: the host stops before anything changes', (_what, planned, now, message) => {
    const path = join(dir, 'haproxy.cfg');
    writeFileSync(path, now);
    const change = file(path, 'new\n', planned === undefined ? {} : { before: before(planned) });
    const steps = applySteps([change]);
    const result = spawnSync('sh', [], { input: applyScript(steps, [change], RUN, pathsIn(dir)), encoding: 'utf8' });
    const outcome = parseApplyOutput(result.stdout, steps.length);
    expect(outcome).toMatchObject({ ok: false, failedStep: 0 });
    expect(outcome.output).toMatch(message);
    expect(readFileSync(path, 'utf8')).toBe(now);
  });
});

describe('parseApplyOutput of a real run', () => {
  it('a real run cut off by a lost connection is not ok', () => {
    const steps: Step[] = [
      { label: 'one', script: 'echo one' },
      { label: 'two', script: 'echo two; kill -9 $$' }, // the remote shell dies mid-step
      { label: 'three', script: 'echo three' },
    ];
    const result = spawnSync('sh', [], { input: applyScript(steps, [], RUN, pathsIn(tmpdir())), encoding: 'utf8' });
    expect(parseApplyOutput(result.stdout, steps.length)).toMatchObject({ ok: false, failedStep: 1 });
  });

  // Nothing marks the end of the last step, so a shell killed during it reads as success.
  it('a real run whose shell dies in the last step is not ok', () => {
    const steps: Step[] = [
      { label: 'one', script: 'echo one' },
      { label: 'restart keepalived', script: 'echo restarting; kill -9 $$' },
    ];
    const result = spawnSync('sh', [], { input: applyScript(steps, [], RUN, pathsIn(tmpdir())), encoding: 'utf8' });
    expect(result.signal).toBe('SIGKILL');
    expect(parseApplyOutput(result.stdout, steps.length).ok).toBe(false);
  });
});
