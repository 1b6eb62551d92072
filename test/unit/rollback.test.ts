// Rollback's arithmetic on a host's history (pure): which version a target names, each file's content
// at that version, and the desired state that follows; and the history read back from the host.
import { describe, expect, it } from 'vitest';
import { historyFact, type Version } from '../../src/facts/history.js';
import { sha256, type FileFact } from '../../src/facts/facts.js';
import { filesAt, rollbackResources, rollbackTo, targetVersion } from '../../src/plan/rollback.js';
import { freshHostFacts } from '../../src/facts/gather.js';
import type { Resource } from '../../src/resources/types.js';

const fact = (content: string, mode = '644'): FileFact => ({ content, sha256: sha256(content), owner: 'root', group: 'root', mode });
const CFG = '/etc/haproxy/haproxy.cfg';
const CONF = '/etc/keepalived/keepalived.conf';
const version = (number: number, before: Record<string, string>, after: Record<string, string>): Version => ({
  number,
  run: `run r${number}`,
  before: Object.fromEntries(Object.entries(before).map(([p, c]) => [p, fact(c)])),
  after: Object.fromEntries(Object.entries(after).map(([p, c]) => [p, fact(c)])),
});
// 1: first up (both files new); 2: haproxy timeout 21s; 3: keepalived priority; 4: haproxy timeout 22s.
const HISTORY = [
  version(1, {}, { [CFG]: 'cfg 20s', [CONF]: 'conf p200' }),
  version(2, { [CFG]: 'cfg 20s' }, { [CFG]: 'cfg 21s' }),
  version(3, { [CONF]: 'conf p200' }, { [CONF]: 'conf p150' }),
  version(4, { [CFG]: 'cfg 21s' }, { [CFG]: 'cfg 22s' }),
];
const contents = (m: Map<string, FileFact | 'absent'>) => Object.fromEntries([...m].map(([p, f]) => [p, f === 'absent' ? 'absent' : f.content]));

describe('the version a rollback puts a host back to, as its run record names it', () => {
  it.each<[string, readonly Version[], number | 'previous', number | undefined]>([
    ['--to N: N, on every host', HISTORY, 2, 2],
    ['--to N on a host no run changed since an older version: still N, as N had it', HISTORY.slice(0, 1), 3, 3],
    ['the previous version: this host\'s', HISTORY, 'previous', 3],
    ['a version no longer kept: none', HISTORY.slice(2), 0, undefined],
    ['nothing ever applied here: none', [], 2, undefined],
  ])('%s', (_, history, target, expected) => {
    expect(rollbackTo(target).target?.({ ...freshHostFacts('debian'), history })).toBe(expected);
  });
});

describe('targetVersion', () => {
  it.each<[string, readonly Version[], number | 'previous', number | RegExp]>([
    ['the version before the last', HISTORY, 'previous', 3],
    ['a version asked for', HISTORY, 2, 2],
    ['0: before the first', HISTORY, 0, 0],
    ['one newer than this host\'s newest: no run changed it since, so its newest', HISTORY, 7, 4],
    ['one no longer kept', HISTORY.slice(2), 1, /no longer kept \(the oldest kept is 3; 2 is the state before it\)/],
    ['nothing recorded: nothing to put back', [], 'previous', 0],
    ['nothing recorded, a version asked for: nothing to put back', [], 3, 0],
  ])('%s', (_what, versions, target, expected) => {
    const n = targetVersion(versions, target);
    if (typeof expected === 'number') expect(n).toBe(expected);
    else expect(n).toMatch(expected);
  });
});

describe('filesAt', () => {
  it.each<[number, Record<string, string>]>([
    [4, { [CFG]: 'cfg 22s', [CONF]: 'conf p150' }],
    [3, { [CFG]: 'cfg 21s', [CONF]: 'conf p150' }],
    [2, { [CFG]: 'cfg 21s', [CONF]: 'conf p200' }],
    [1, { [CFG]: 'cfg 20s', [CONF]: 'conf p200' }],
    [0, { [CFG]: 'absent', [CONF]: 'absent' }], // before the first up, neither existed
  ])('version %i', (n, expected) => {
    expect(contents(filesAt(HISTORY, n))).toEqual(expected);
  });

  it('a file untouched by the versions still kept is as it is now (left out)', () => {
    expect(contents(filesAt(HISTORY.slice(3), 3))).toEqual({ [CFG]: 'cfg 21s' });
  });
});

describe('rollbackResources', () => {
  const file = (path: string, content: string): Resource => ({ kind: 'file', path, content, mode: '0644', owner: 'root', group: 'root', daemonReload: false, secrets: [], peerShared: [], peers: [] });
  const resources: Resource[] = [
    { kind: 'package', names: ['haproxy'], versions: {} },
    { kind: 'sysctl', key: 'net.ipv4.ip_nonlocal_bind', value: '1' },
    file(CFG, 'cfg 23s (the inventory)'),
    file(CONF, 'conf p150 (the inventory)'),
    file('/etc/ha-provision/routes', 'routes'),
    { kind: 'service', name: 'haproxy', state: 'running', reloadOn: [CFG], onChange: 'reload', restartOn: [], logFaults: [] },
    { kind: 'service', name: 'keepalived', state: 'running', reloadOn: [CONF], onChange: 'reload', restartOn: [], logFaults: [] },
  ];
  const now = { [CFG]: fact('cfg 22s'), [CONF]: fact('conf p150') };

  it('keeps the loaded config files, as they were then, and their services; nothing else', () => {
    const wanted = rollbackResources(resources, filesAt(HISTORY, 2), now);
    expect(wanted.map((r) => (r.kind === 'file' ? `${r.path}: ${r.content}` : r.kind === 'service' ? `service ${r.name}` : r.kind))).toEqual([
      `${CFG}: cfg 21s`,
      `${CONF}: conf p200`,
      'service haproxy',
      'service keepalived',
    ]);
  });

  it('a file that did not exist then is kept as it is now, not deleted', () => {
    const wanted = rollbackResources(resources, filesAt(HISTORY, 0), now);
    expect(wanted.flatMap((r) => (r.kind === 'file' ? [r.content] : []))).toEqual(['cfg 22s', 'conf p150']);
  });
});

describe('the history, read back from the host', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  it('parses each version: who and when, and each file before and after', () => {
    const stdout = [
      '@version 2', 'run=c0ffee02', 'controller=ci-7', 'user=deploy', 'started=2026-11-24T14:02:11Z',
      `@file before ${CFG}`, 'root root 644', b64('cfg 20s'),
      `@file after ${CFG}`, 'root root 644', b64('cfg 21s'),
      '@version 1', 'run=c0ffee01', 'controller=ci-7', 'user=deploy', 'started=2026-11-24T13:00:00Z',
      `@file after ${CFG}`, 'root root 640', b64('cfg 20s'),
      '',
    ].join('\n');
    const versions = historyFact([CFG]).parse(stdout);
    expect(versions.map((v) => [v.number, v.run, Object.keys(v.before), v.after[CFG]?.content, v.after[CFG]?.mode])).toEqual([
      [1, 'run c0ffee01 by deploy from controller ci-7 at 2026-11-24T13:00:00Z', [], 'cfg 20s', '640'],
      [2, 'run c0ffee02 by deploy from controller ci-7 at 2026-11-24T14:02:11Z', [CFG], 'cfg 21s', '644'],
    ]);
  });

  it('is not read at all unless asked for', () => {
    expect(historyFact([]).command).toBe('');
  });
});
