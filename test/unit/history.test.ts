// The controller's run history: a record built from a run (no secret reaches it, wherever the secret
// was put), the store (append-only lines, numbered by line, a torn last line skipped and said so) and
// the listing a user reads.
import { mkdtempSync, readFileSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostReport, RunReport } from '../../src/agent/orchestrator.js';
import type { FileFact } from '../../src/facts/facts.js';
import { flagsText, formatListing, formatRecord, hostsText } from '../../src/history/format.js';
import { buildRecord, recordLine, type HistoryRecord, type RunContext, type RunEnd } from '../../src/history/record.js';
import { appendRecord, historyFile, parseHistory, readHistory } from '../../src/history/store.js';
import type { Change } from '../../src/resources/types.js';

const PASS = 'k33p-Pa55';
const SUDO = 'sud0-word';
const SECRETS = [PASS, SUDO];

const fact = (content: string): FileFact => ({ content, sha256: '', owner: 'root', group: 'root', mode: '640' });
const conf = (pass: string, priority: number) => `vrrp_instance demo {\n    priority ${priority}\n    auth_pass ${pass}\n}\n`;
const keepalived = (before: string, after: string): Change => ({
  kind: 'file', path: '/etc/keepalived/keepalived.conf', before: fact(before), content: after, mode: '0640', owner: 'root', group: 'root',
  daemonReload: false, secrets: [/auth_pass\s+(\S+)/g], peerShared: [], peers: [],
});
// A file whose secret no pattern knows: only the inventory's redactor can catch it.
const unmarked: Change = {
  kind: 'file', path: '/etc/haproxy/haproxy.cfg', before: fact('userlist u\n  user a password old\n'), content: `userlist u\n  user a password ${PASS}\n`,
  mode: '0644', owner: 'root', group: 'root', daemonReload: false, secrets: [], peerShared: [], peers: [],
};
const reload: Change = { kind: 'service', name: 'keepalived', actions: ['reload'], why: 'keepalived.conf changed', loads: [], logFaults: [] };

const host = (name: string, more: Partial<HostReport> = {}): HostReport => ({ host: name, status: 'in-sync', changes: [], execs: 1, connections: 1, notes: [], ...more });

const context: RunContext = {
  command: 'up',
  runId: 'c0ffee00',
  flags: { yes: true, limit: 'lb-1,lb-2', templates: `/srv/${PASS}/t`, help: undefined, 'dry-run': false },
  user: 'root',
  sudoUser: 'alice',
  controller: 'ctl-1',
  pid: 4242,
  started: new Date('2026-05-02T10:00:00.000Z'),
  inventory: { file: '/srv/inv/cluster.yaml', sha256: 'a'.repeat(64) },
  playbook: { file: '/opt/ha/playbooks/haproxy-keepalived.yaml', sha256: 'b'.repeat(64) },
};
const ended = new Date('2026-05-02T10:00:12.340Z');

const report: RunReport = {
  runId: '5f2c1a9b',
  aborted: false,
  hosts: [
    host('lb-1', { status: 'changed', changes: [keepalived(conf('old-pass', 100), conf(PASS, 150)), unmarked, reload], versions: { before: 6, after: 7 } }),
    host('lb-2', { status: 'failed', changes: [keepalived(conf(PASS, 100), conf(PASS, 90))], error: `sudo: ${SUDO} rejected; auth_pass ${PASS}`, notes: [`stale lock by run with ${PASS}`], versions: { before: 6, after: 6 } }),
    host('server-1', { versions: { before: 3, after: 3 } }),
  ],
  checks: [{ name: 'exactly one lb holds the VIP', ok: false, detail: `keepalived said ${PASS}` }],
  rollout: { timeline: [{ at: '2026-05-02T10:00:01Z', seconds: 1, host: 'lb-1', step: 'apply', ok: true, detail: `pushed ${PASS}` }], stopped: { reason: 'failed', detail: `lb-2: ${SUDO}` } },
};

describe('a record built from a run', () => {
  const record = buildRecord(context, { kind: 'report', report, exitCode: 1 }, ended, SECRETS);
  const line = recordLine(record, SECRETS);

  it('never holds a secret: not in a diff, an error, a note, a check, a timeline, a flag', () => {
    for (const secret of SECRETS) expect(line).not.toContain(secret);
    expect(line).toContain('********');
  });

  it.each<[string, (r: HistoryRecord) => unknown, unknown]>([
    ['the command', (r) => r.command, 'up'],
    ['flags as given, unset and --help left out', (r) => r.flags, { yes: true, limit: 'lb-1,lb-2', templates: '/srv/********/t', 'dry-run': false }],
    ['who', (r) => [r.user, r.sudoUser, r.controller], ['root', 'alice', 'ctl-1']],
    ['when', (r) => [r.started, r.ended, r.seconds], ['2026-05-02T10:00:00.000Z', '2026-05-02T10:00:12.340Z', 12.3]],
    ['the inventory and its hash', (r) => r.inventory, context.inventory],
    ['the outcome: a stopped rollout', (r) => [r.outcome, r.exitCode], ['stopped', 1]],
    ['per host its outcome', (r) => r.hosts.map((h) => h.status), ['changed', 'failed', 'in-sync']],
    ['the changes as the plan lists them', (r) => r.hosts[0]!.changes.map((c) => c.summary), ['update /etc/keepalived/keepalived.conf', 'update /etc/haproxy/haproxy.cfg mode 640 → 0644', 'reload keepalived (keepalived.conf changed)']],
    ['a changed secret shows as a changed, masked line', (r) => r.hosts[0]!.changes[0]!.diff!.split('\n').filter((l) => /^[+-] /.test(l)), ['-    priority 100', '-    auth_pass ********', '+    priority 150', '+    auth_pass ******** (changed)']],
    ['the host versions: what a rollback would go back to', (r) => r.hosts.map((h) => h.versions), [{ before: 6, after: 7 }, { before: 6, after: 6 }, { before: 3, after: 3 }]],
    ['the version this run wrote', (r) => r.version, 7],
    ['the run id the hosts know it by', (r) => r.runId, '5f2c1a9b'],
  ])('holds %s', (_, pick, expected) => {
    expect(pick(JSON.parse(line) as HistoryRecord)).toEqual(expected);
  });

  it.each<[string, RunEnd, string, string[]]>([
    ['declined', { kind: 'report', report: { ...report, aborted: true, rollout: undefined }, exitCode: 1 }, 'aborted', ['changed', 'failed', 'in-sync']],
    ['in sync', { kind: 'report', report: { hosts: [host('lb-1')], checks: [], aborted: false }, exitCode: 0 }, 'ok', ['in-sync']],
    [
      'interrupted while applying: planned hosts unknown',
      { kind: 'interrupted', exitCode: 130, error: 'interrupted by SIGINT', applying: true, plan: [host('lb-1', { status: 'pending', changes: [reload] }), host('lb-2')], steps: new Map([['lb-1', `applying 1 change(s) ${PASS}`], ['server-1', 'reading facts']]) },
      'interrupted',
      ['unknown', 'in-sync', 'unknown'],
    ],
    ['interrupted while reading: nothing applied', { kind: 'interrupted', exitCode: 130, error: 'interrupted by SIGINT', applying: false, steps: new Map([['lb-1', 'reading facts']]) }, 'interrupted', ['pending']],
    ['failed by a throw', { kind: 'failed', exitCode: 1, error: `saved plan drift: ${PASS}`, applying: false, steps: new Map() }, 'failed', []],
  ])('%s', (_, end, outcome, statuses) => {
    const r = buildRecord(context, end, ended, SECRETS);
    expect(r.outcome).toBe(outcome);
    expect(r.hosts.map((h) => h.status)).toEqual(statuses);
    for (const secret of SECRETS) expect(recordLine(r, SECRETS)).not.toContain(secret);
  });

  it('masks a secret as JSON escapes it, and refuses a record a mask would break', () => {
    const quoted = 'pa"ss\\word';
    const r = buildRecord({ ...context, flags: {} }, { kind: 'failed', exitCode: 1, error: 'x', applying: false, steps: new Map() }, ended, []);
    expect(recordLine({ ...r, error: `oops ${quoted}` }, [quoted])).not.toContain(JSON.stringify(quoted).slice(1, -1));
    expect(() => recordLine(r, ['true'])).not.toThrow(); // no literal true in this record's flags
    expect(() => recordLine({ ...r, flags: { yes: true } }, ['true'])).toThrow(/not written/);
  });
});

describe('the history file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-history-'));
  const record = (command: HistoryRecord['command'], outcome: HistoryRecord['outcome']): HistoryRecord => ({
    ...buildRecord({ ...context, command }, { kind: 'report', report: { hosts: [], checks: [], aborted: false }, exitCode: 0 }, ended, []),
    outcome,
  });

  it.each<[string, { flag?: string; env?: string; inventory?: string }, string]>([
    ['next to the inventory', { inventory: 'inv/cluster.yaml' }, '/w/inv/.ha-provision/history.jsonl'],
    ['--history wins', { flag: 'h.jsonl', env: '/e.jsonl', inventory: 'inv/cluster.yaml' }, '/w/h.jsonl'],
    ['then the environment', { env: '/e.jsonl', inventory: 'inv/cluster.yaml' }, '/e.jsonl'],
    ['no inventory: the current directory', {}, '/w/.ha-provision/history.jsonl'],
  ])('is found %s', (_, how, expected) => {
    expect(historyFile({ ...how, cwd: '/w' })).toBe(expected);
  });

  it('appends one line per record, creating a private directory; N is the line', () => {
    const file = join(dir, 'a', '.ha-provision', 'history.jsonl');
    appendRecord(file, JSON.stringify(record('up', 'ok')));
    appendRecord(file, JSON.stringify(record('rollback', 'failed')));
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(3);
    expect(statSync(join(dir, 'a', '.ha-provision')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const read = readHistory(file)!;
    expect(read.records.map((r) => [r.n, r.record.command, r.record.outcome])).toEqual([[1, 'up', 'ok'], [2, 'rollback', 'failed']]);
    expect(read.unreadable).toEqual([]);
  });

  it('skips a torn last line and says so; the next record starts on a line of its own', () => {
    const file = join(dir, 'torn.jsonl');
    writeFileSync(file, `${JSON.stringify(record('up', 'ok'))}\n`);
    appendFileSync(file, JSON.stringify(record('up', 'ok')).slice(0, 40)); // killed mid-write
    const torn = readHistory(file)!;
    expect(torn.records.map((r) => r.n)).toEqual([1]);
    expect(torn.unreadable).toEqual([{ n: 2, last: true }]);
    expect(formatListing(torn)).toContain('line 2 is torn (a run ended while writing its record?): skipped');
    appendRecord(file, JSON.stringify(record('rollout', 'stopped')));
    const after = readHistory(file)!;
    expect(after.records.map((r) => [r.n, r.record.command])).toEqual([[1, 'up'], [3, 'rollout']]);
    expect(after.unreadable).toEqual([{ n: 2, last: false }]);
  });

  it.each<[string, string, number[]]>([
    ['no file content', '', []],
    ['blank lines are not counted', `\n${JSON.stringify(record('up', 'ok'))}\n\n`, [1]],
    ['a line of JSON that is no record', '{"hello":1}\n', []],
  ])('parses %s', (_, text, ns) => {
    expect(parseHistory(text).records.map((r) => r.n)).toEqual(ns);
  });

  it('has no file before the first run', () => {
    expect(readHistory(join(dir, 'none.jsonl'))).toBeUndefined();
  });
});

describe('the listing', () => {
  const record = buildRecord(context, { kind: 'report', report, exitCode: 1 }, ended, SECRETS);
  const rollback = buildRecord(
    { ...context, command: 'rollback', sudoUser: undefined, flags: { to: '5', yes: true } },
    { kind: 'report', report: { hosts: [host('lb-1', { status: 'changed', versions: { before: 7, after: 8, target: 5 } }), host('lb-2', { status: 'changed', versions: { before: 7, after: 8, target: 5 } })], checks: [], aborted: false }, exitCode: 0 },
    ended,
    [],
  );

  it.each<[string, () => string, string]>([
    ['flags as typed', () => flagsText({ yes: true, 'dry-run': false, to: '5', window: 'Sat 02:00-04:00' }), '--yes --to 5 --window "Sat 02:00-04:00"'],
    ['hosts changed and failed, and the version written', () => hostsText(record), '1 changed, 1 failed, 1 in sync: version 7'],
    ['a rollback names the version it went back to', () => hostsText(rollback), '2 changed: version 8, back to 5'],
  ])('%s', (_, text, expected) => {
    expect(text()).toBe(expected);
  });

  it('is one line per run: N, start, duration, who, outcome, hosts, command', () => {
    const text = formatListing({ records: [{ n: 1, record }, { n: 2, record: rollback }], unreadable: [] });
    expect(text.split('\n')).toEqual([
      'N  started                 took  who                  outcome           hosts                                      command',
      '1  2026-05-02 10:00:00Z  12.3 s  alice as root@ctl-1  stopped (exit 1)  1 changed, 1 failed, 1 in sync: version 7  up --yes --limit lb-1,lb-2 --templates /srv/********/t',
      '2  2026-05-02 10:00:00Z  12.3 s  root@ctl-1           ok                2 changed: version 8, back to 5            rollback --to 5 --yes',
    ]);
  });

  it('shows one run in full, naming the version a rollback went back to', () => {
    const text = formatRecord({ n: 2, record: rollback });
    expect(text).toContain('Run 2: rollback, ok');
    expect(text).toContain('  rolled back to version 5: lb-1, lb-2');
    expect(text).toContain('lb-1: changed (version 7 → 8; put back as version 5 had it)');
    expect(formatRecord({ n: 1, record })).toContain("  version     7 on the hosts it changed; `rollback --to 6` puts back what they had before it");
  });
});
