// The apply script: which commands each change becomes, and — run for real with `sh` on files in a
// temp directory — that files are replaced all together or not at all.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyScript, applySteps, parseApplyOutput, withRealPaths, type HostPaths, type RunIdentity, type Step } from '../../src/apply/script.js';
import { restoreChanges } from '../../src/apply/restore.js';
import { historyFact } from '../../src/facts/history.js';
import type { FileFact } from '../../src/facts/facts.js';
import type { Change } from '../../src/resources/types.js';

type FileChange = Extract<Change, { kind: 'file' }>;

const before = (content: string, mode = '644', owner = 'root', group = 'root'): FileFact => ({
  content,
  sha256: createHash('sha256').update(content).digest('hex'),
  owner,
  group,
  mode,
});

const file = (path: string, content: string, extra: Partial<FileChange> = {}): FileChange => ({
  kind: 'file',
  path,
  content,
  mode: '0644',
  owner: 'root',
  group: 'root',
  daemonReload: false,
  secrets: [],
  peerShared: [],
  peers: [],
  ...extra,
});

/** Label and script of each step, e.g. ["install haproxy", "apt-get update -q && …"]. */
const shown = (steps: readonly Step[]): [string, string][] => steps.map((s) => [s.label, s.script]);

const RUN: RunIdentity = { id: 'c0ffee01', controller: 'ci-7', pid: 4121, user: 'deploy', started: '2026-11-24T14:02:11Z' };
/** A lock file and history of the test's own: the real ones (/run, /var/lib/ha-provision) are the host's. */
const pathsIn = (dir: string): HostPaths => ({ lockFile: join(dir, 'ha-provision.lock'), historyDir: join(dir, 'history'), keepVersions: 3 });
const lockIn = (dir: string): string => pathsIn(dir).lockFile;

describe('applySteps', () => {
  it.each<[string, Change[], [string, string][]]>([
    [
      'apt-get refreshes the index first and keeps managed configs',
      [{ kind: 'package', manager: 'apt-get', install: ['haproxy', 'keepalived'], versions: {}, upgrade: [] }],
      [['install haproxy, keepalived', 'apt-get update -q && apt-get install -y -q -o Dpkg::Options::=--force-confold haproxy keepalived']],
    ],
    ['dnf', [{ kind: 'package', manager: 'dnf', install: ['haproxy', 'keepalived', 'curl'], versions: {}, upgrade: [] }], [['install haproxy, keepalived, curl', 'dnf install -y -q haproxy keepalived curl']]],
    ['yum', [{ kind: 'package', manager: 'yum', install: ['keepalived'], versions: {}, upgrade: [] }], [['install keepalived', 'yum install -y -q keepalived']]],
    [
      'apt: a pinned upgrade names its version',
      [{ kind: 'package', manager: 'apt-get', install: [], versions: { haproxy: '2.6.12-1+deb12u4' }, upgrade: [{ name: 'haproxy', from: '2.6.12-1+deb12u3', to: '2.6.12-1+deb12u4' }] }],
      [['change haproxy 2.6.12-1+deb12u3 → 2.6.12-1+deb12u4', 'apt-get update -q && apt-get install -y -q -o Dpkg::Options::=--force-confold haproxy=2.6.12-1+deb12u4']],
    ],
    [
      'apt: a pinned downgrade is allowed explicitly',
      [{ kind: 'package', manager: 'apt-get', install: [], versions: { haproxy: '2.6.12-1+deb12u3' }, upgrade: [{ name: 'haproxy', from: '2.6.12-1+deb12u4', to: '2.6.12-1+deb12u3' }] }],
      [['change haproxy 2.6.12-1+deb12u4 → 2.6.12-1+deb12u3', 'apt-get update -q && apt-get install -y -q -o Dpkg::Options::=--force-confold --allow-downgrades haproxy=2.6.12-1+deb12u3']],
    ],
    ['dnf: a pinned install is name-version', [{ kind: 'package', manager: 'dnf', install: ['haproxy'], versions: { haproxy: '2.4.22-3.el9' }, upgrade: [] }], [['install haproxy-2.4.22-3.el9', 'dnf install -y -q haproxy-2.4.22-3.el9']]],
    [
      'a sysctl is written to /proc/sys',
      [{ kind: 'sysctl', key: 'net.ipv4.ip_nonlocal_bind', from: '0', to: '1' }],
      [['sysctl net.ipv4.ip_nonlocal_bind=1', "printf '%s\\n' 1 > /proc/sys/net/ipv4/ip_nonlocal_bind"]],
    ],
    [
      'a route is replaced (idempotent, unlike `ip route add`)',
      [{ kind: 'route', route: { to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }, action: 'add' }],
      [['route add 10.244.0.0/16 via 192.168.20.1 dev eth1', 'ip route replace 10.244.0.0/16 via 192.168.20.1 dev eth1']],
    ],
    [
      'leftover staging files are removed first',
      [{ kind: 'leftovers', paths: ['/etc/keepalived/.keepalived.conf.ha-provision-new'] }],
      [['remove staging files of an interrupted run', 'rm -f /etc/keepalived/.keepalived.conf.ha-provision-new']],
    ],
    [
      'an interrupted dpkg run is finished, keeping the configs this tool manages, never waiting on a prompt',
      [{ kind: 'package-repair' }],
      [['finish the interrupted dpkg run (dpkg --configure -a)', 'dpkg --configure -a --force-confdef --force-confold < /dev/null']],
    ],
  ])('%s', (_name, changes, expected) => {
    expect(shown(applySteps(changes))).toEqual(expected);
  });

  // A service step loads, checks that the service loaded its config, and only then clears the marker.
  it.each<[string, Change, string, string[]]>([
    [
      'start takes a service the package already started',
      { kind: 'service', name: 'haproxy', actions: ['start'], why: 'not running', loads: [], logFaults: ['Loading failure'] },
      'systemctl reload-or-restart haproxy &&',
      ["[ \"$state\" = active ]", "fault='Loading failure'", 'rm -f /var/lib/ha-provision/pending/haproxy'],
    ],
    ['reload', { kind: 'service', name: 'keepalived', actions: ['reload'], why: 'changed', loads: [], logFaults: [] }, 'systemctl reload keepalived &&', ['systemctl is-active keepalived', 'rm -f /var/lib/ha-provision/pending/keepalived']],
    ['restart', { kind: 'service', name: 'keepalived', actions: ['restart'], why: 'changed', loads: [], logFaults: [] }, 'systemctl restart keepalived &&', ['rm -f /var/lib/ha-provision/pending/keepalived']],
  ])('service %s: load, check it loaded, clear the marker', (_what, change, first, fragments) => {
    const [step] = applySteps([change]);
    expect(step?.script.startsWith(first)).toBe(true);
    for (const fragment of fragments) expect(step?.script).toContain(fragment);
    expect(step?.script.trimEnd().endsWith(fragments.at(-1)!)).toBe(true);
    expect(step?.loads).toBe(change.kind === 'service' ? change.name : undefined);
  });

  it('enabling is a step of its own, with no load check', () => {
    const steps = applySteps([{ kind: 'service', name: 'haproxy', actions: ['enable', 'start'], why: 'x', loads: [], logFaults: [] }]);
    expect(shown(steps)[0]).toEqual(['enable haproxy', 'systemctl enable -q haproxy']);
    expect(steps.map((s) => s.loads)).toEqual([undefined, 'haproxy']);
  });

  it('orders packages, kernel state, files, then services, whatever order the changes come in', () => {
    const steps = applySteps([
      { kind: 'service', name: 'haproxy', actions: ['reload'], why: 'x', loads: ['/etc/haproxy/haproxy.cfg'], logFaults: [] },
      file('/etc/haproxy/haproxy.cfg', 'x\n'),
      { kind: 'route', route: { to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }, action: 'add' },
      { kind: 'sysctl', key: 'net.ipv4.ip_nonlocal_bind', to: '1' },
      { kind: 'package', manager: 'apt-get', install: ['haproxy'], versions: {}, upgrade: [] },
    ]);
    expect(steps.map((s) => s.label)).toEqual([
      'check that no file changed since the plan',
      'install haproxy',
      'sysctl net.ipv4.ip_nonlocal_bind=1',
      'route add 10.244.0.0/16 via 192.168.20.1 dev eth1',
      'upload /etc/haproxy/haproxy.cfg',
      'mark haproxy as due to load new files',
      'record this version',
      'install /etc/haproxy/haproxy.cfg',
      'reload haproxy',
      'keep the last 10 versions',
    ]);
  });

  describe('files', () => {
    const cfg = file('/etc/haproxy/haproxy.cfg', 'global\n', { before: before('old\n'), validate: 'haproxy -c -q -f %s', owner: 'root', group: 'haproxy', mode: '0640' });
    const conf = file('/etc/keepalived/keepalived.conf', 'vrrp_instance VI_1 {}\n', { validate: 'keepalived -t -f %s' });
    const unit = file('/etc/systemd/system/ha-provision-routes.service', '[Unit]\n', { daemonReload: true });
    const steps = applySteps([cfg, conf, unit]);
    const script = (label: string): string => steps.find((s) => s.label === label)?.script ?? `(no step "${label}")`;

    it('uploads every file, then validates every file, then installs them', () => {
      expect(steps.map((s) => s.label)).toEqual([
        'check that no file changed since the plan',
        'upload /etc/haproxy/haproxy.cfg',
        'upload /etc/keepalived/keepalived.conf',
        'upload /etc/systemd/system/ha-provision-routes.service',
        'validate /etc/haproxy/haproxy.cfg',
        'validate /etc/keepalived/keepalived.conf',
        'record this version',
        'install /etc/haproxy/haproxy.cfg',
        'install /etc/keepalived/keepalived.conf',
        'install /etc/systemd/system/ha-provision-routes.service',
        'systemctl daemon-reload',
        'keep the last 10 versions',
      ]);
    });

    it.each([
      ['stages next to the target, owned and moded as wanted', 'upload /etc/haproxy/haproxy.cfg', ['mkdir -p /etc/haproxy', '> /etc/haproxy/.haproxy.cfg.ha-provision-new', 'chown root:haproxy /etc/haproxy/.haproxy.cfg.ha-provision-new', 'chmod 0640 /etc/haproxy/.haproxy.cfg.ha-provision-new']],
      ['validates the staged copy, not the target', 'validate /etc/haproxy/haproxy.cfg', ['haproxy -c -q -f /etc/haproxy/.haproxy.cfg.ha-provision-new']],
      [
        'keeps the file that existed and the new one in this run\'s version, then moves the staged copy in',
        'install /etc/haproxy/haproxy.cfg',
        ['cp -p /etc/haproxy/haproxy.cfg "$version/before"/etc/haproxy/haproxy.cfg', 'cp -p /etc/haproxy/.haproxy.cfg.ha-provision-new "$version/after"/etc/haproxy/haproxy.cfg', 'mv -f /etc/haproxy/.haproxy.cfg.ha-provision-new /etc/haproxy/haproxy.cfg'],
      ],
    ])('%s', (_name, label, fragments) => {
      for (const fragment of fragments) expect(script(label)).toContain(fragment);
    });

    it('keeps no previous version of a file that did not exist', () => {
      expect(script('install /etc/keepalived/keepalived.conf')).not.toContain('$version/before');
      expect(script('install /etc/keepalived/keepalived.conf')).toMatch(/mv -f \/etc\/keepalived\/\.keepalived\.conf\.ha-provision-new \/etc\/keepalived\/keepalived\.conf$/);
    });

    it.each<[string, FileChange[], boolean]>([
      ['a unit file changed', [unit], true],
      ['only other files changed', [cfg, conf], false],
    ])('daemon-reload when %s', (_name, changes, expected) => {
      expect(applySteps(changes).some((s) => s.script === 'systemctl daemon-reload')).toBe(expected);
    });

    it('quotes a validate command placeholder that needs quoting', () => {
      const odd = applySteps([file("/etc/odd dir/it's.cfg", 'x\n', { validate: 'check %s' })]);
      expect(odd.find((s) => s.label.startsWith('validate'))?.script).toBe(`check '/etc/odd dir/.it'\\''s.cfg.ha-provision-new'`);
    });
  });
});

describe('applyScript, run for real with sh', () => {
  const isRoot = process.getuid?.() === 0;
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

describe('restoring after a service did not load its new config', () => {
  const cfg = file('/etc/haproxy/haproxy.cfg', 'new haproxy\n', { before: before('old haproxy\n', '640', 'root', 'haproxy') });
  const check = file('/etc/keepalived/check_apiserver.sh', 'new check\n', { mode: '0755' }); // new on this host
  const haproxy: Change = { kind: 'service', name: 'haproxy', actions: ['reload'], why: 'x', loads: ['/etc/haproxy/haproxy.cfg'], logFaults: ['Loading failure'] };
  const keepalived: Change = { kind: 'service', name: 'keepalived', actions: ['enable', 'reload'], why: 'x', loads: ['/etc/keepalived/check_apiserver.sh'], logFaults: [] };
  const restored = restoreChanges([cfg, check, haproxy, keepalived]);

  it('puts back every file that had a previous version, with its owner and mode, from the plan itself', () => {
    expect(restored.filter((c) => c.kind === 'file').map((c) => c.kind === 'file' && [c.path, c.content, `${c.owner}:${c.group}`, c.mode])).toEqual([
      ['/etc/haproxy/haproxy.cfg', 'old haproxy\n', 'root:haproxy', '640'],
    ]);
  });

  it('expects on disk what this run wrote (the drift check), and makes the services load the old files', () => {
    const file0 = restored[0]!;
    expect(file0.kind === 'file' && file0.before?.sha256).toBe(createHash('sha256').update('new haproxy\n').digest('hex'));
    expect(restored.filter((c) => c.kind === 'service')).toEqual([{ ...haproxy, actions: ['start'], why: 'load the previous config again', loads: ['/etc/haproxy/haproxy.cfg'] }]);
  });

  it('a run of only new files has nothing to restore', () => {
    expect(restoreChanges([check, keepalived])).toEqual([]);
  });
});

describe('validator output', () => {
  it('names the real file, with its line numbers, not the staged copy or the twin the validator read', () => {
    const changes = [file('/etc/haproxy/haproxy.cfg', 'x'), file('/etc/keepalived/keepalived.conf', 'y')];
    const output = [
      "[ALERT]    (2275) : config : parsing [/etc/haproxy/.haproxy.cfg.ha-provision-new:31] : unknown keyword 'no-such-keyword' in 'backend' section",
      '(/etc/keepalived/.keepalived.conf.ha-provision-check: Line 19) number \'900\' outside range [1, 255]',
    ].join('\n');
    expect(withRealPaths(output, changes)).toBe(
      [
        "[ALERT]    (2275) : config : parsing [/etc/haproxy/haproxy.cfg:31] : unknown keyword 'no-such-keyword' in 'backend' section",
        "(/etc/keepalived/keepalived.conf: Line 19) number '900' outside range [1, 255]",
      ].join('\n'),
    );
  });
});

describe('parseApplyOutput', () => {
  const M = '@@ha-provision-step ';
  const F = '@@ha-provision-failed ';
  const D = '@@ha-provision-done\n';

  it.each<[string, string, number, object]>([
    ['every step ran', `${M}0\n${M}1\nok\n${M}2\n${D}`, 3, { ok: true, completed: 3 }],
    ['nothing to do', D, 0, { ok: true, completed: 0 }],
    ['the last step started but never finished', `${M}0\n${M}1\nok\n${M}2\n`, 3, { ok: false, failedStep: 2 }],
    ['a step failed', `${M}0\n${M}1\nE: Unable to locate package haproxy\n${F}1\n`, 3, { ok: false, completed: 1, failedStep: 1, output: 'E: Unable to locate package haproxy' }],
    ['the connection dropped before any step', '', 3, { ok: false, failedStep: 0 }],
    ['the connection dropped during a middle step', `${M}0\n${M}1\nReading package lists...`, 3, { ok: false, failedStep: 1 }],
  ])('%s', (_name, stdout, stepCount, expected) => {
    expect(parseApplyOutput(stdout, stepCount)).toMatchObject(expected);
  });

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
