// What an interrupted run leaves on a host, read back by the facts exec (parsers against canned output;
// the journal filter run for real is in test/integration/journal.test.ts), and the plan-time guards that keep a fleet whole: the SSH path,
// peer-shared settings under --limit, secrets that could not be masked, and the VIP judged over every lb.
import { describe, expect, it } from 'vitest';
import { sshPathFact } from '../../src/facts/facts.js';
import { dpkgInterruptedFact, leftoverStagingFact, pendingReloadsFact, runLockFact } from '../../src/facts/leftovers.js';
import { freshHostFacts, type HostFacts } from '../../src/facts/gather.js';
import { sshPathProblems } from '../../src/plan/preflight.js';
import { peersLeftOut } from '../../src/plan/peers.js';
import type { Change } from '../../src/resources/types.js';
import type { Route } from '../../src/inventory/types.js';

describe('pending reloads', () => {
  it.each<[string, string, Record<string, string[]>]>([
    ['none (the glob matches nothing)', '', {}],
    ['one service and the files it has not loaded', '@pending keepalived\n/etc/keepalived/keepalived.conf\n/etc/keepalived/check_apiserver.sh\n', { keepalived: ['/etc/keepalived/keepalived.conf', '/etc/keepalived/check_apiserver.sh'] }],
    ['two services', '@pending haproxy\n/etc/haproxy/haproxy.cfg\n@pending keepalived\n/etc/keepalived/keepalived.conf\n', { haproxy: ['/etc/haproxy/haproxy.cfg'], keepalived: ['/etc/keepalived/keepalived.conf'] }],
  ])('%s', (_name, stdout, expected) => {
    expect(pendingReloadsFact.parse(stdout)).toEqual(expected);
  });
});

describe('leftover staging files', () => {
  const fact = leftoverStagingFact(['/etc/keepalived/keepalived.conf', '/etc/haproxy/haproxy.cfg']);
  it('looks for the staged copy and the validation twin of every managed file', () => {
    expect(fact.command).toContain("[ -e /etc/keepalived/.keepalived.conf.ha-provision-new ] && echo /etc/keepalived/.keepalived.conf.ha-provision-new");
    expect(fact.command).toContain("[ -e /etc/haproxy/.haproxy.cfg.ha-provision-check ]");
  });
  it.each<[string, string, string[]]>([
    ['none', '', []],
    ['a staged keepalived.conf', '/etc/keepalived/.keepalived.conf.ha-provision-new\n', ['/etc/keepalived/.keepalived.conf.ha-provision-new']],
    ['a line that is not one of ours is ignored', '/etc/passwd\n', []],
  ])('%s', (_name, stdout, expected) => {
    expect(fact.parse(stdout)).toEqual(expected);
  });
});

describe('dpkg interrupted', () => {
  it.each<[string, string, boolean]>([
    ['a clean dpkg', '', false],
    ['files in its journal (/var/lib/dpkg/updates)', 'journal\n', true],
  ])('%s', (_name, stdout, expected) => {
    expect(dpkgInterruptedFact.parse(stdout)).toBe(expected);
  });
});

describe('the run lock', () => {
  const LOCK = 'run=c0ffee01\ncontroller=ci-7\npid=4121\nuser=deploy\nstarted=2026-11-24T14:02:11Z\nscript_pid=3301\nscript_start=918273\n';
  // /proc/3301/stat of the holder; field 22 (the start time) tells it from a process that reused the pid.
  const stat = (start: number): string => `now_stat=3301 (sh) S 3300 3301 3301 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 ${start} 2764800 233 18446744073709551615\n`;
  const holder = 'controller ci-7 (pid 4121, user deploy), run c0ffee01, since 2026-11-24T14:02:11Z';
  it.each<[string, string, object | undefined]>([
    ['free', '', undefined],
    ['held by a running apply', LOCK + stat(918273), { holder, alive: true }],
    ['left by a script that is gone', LOCK, { holder, alive: false }],
    ['its pid reused by another process', LOCK + stat(999999), { holder, alive: false }],
  ])('%s', (_name, stdout, expected) => {
    expect(runLockFact.parse(stdout)).toEqual(expected);
  });
});

describe('ssh path', () => {
  it.each<[string, string, object | undefined]>([
    ['direct on the same subnet', '10.213.0.1\n10.213.0.1 dev host0 src 10.213.0.11 uid 0 \n    cache \n', { peer: '10.213.0.1', dev: 'host0' }],
    ['through a gateway', '192.0.2.50\n192.0.2.50 via 10.0.0.1 dev eth0 src 10.0.0.11 uid 0 \n    cache \n', { peer: '192.0.2.50', via: '10.0.0.1', dev: 'eth0' }],
    ['no SSH_CLIENT (not over SSH)', '', undefined],
  ])('%s', (_name, stdout, expected) => {
    expect(sshPathFact.parse(stdout)).toEqual(expected);
  });
});

describe('a route that would move the SSH path back to the controller', () => {
  const facts = (over: Partial<HostFacts>): HostFacts => ({
    ...freshHostFacts('debian'),
    routes: [
      { to: 'default', via: '10.0.0.1', dev: 'eth0' },
      { to: '10.0.0.0/24', dev: 'eth0' },
      { to: '10.244.0.0/16', via: '10.0.0.1', dev: 'eth0' },
    ],
    sshPath: { peer: '192.0.2.50', via: '10.0.0.1', dev: 'eth0' },
    ...over,
  });
  const add = (route: Route): Change => ({ kind: 'route', route, action: 'add' });
  const del = (route: Route): Change => ({ kind: 'route', route, action: 'delete' });

  it.each<[string, Change[], Partial<HostFacts>, number]>([
    ['a /32 to the controller via a dead gateway', [add({ to: '192.0.2.50/32', via: '10.0.0.99', dev: 'eth0' })], {}, 1],
    ['a subnet holding the controller, via another gateway', [add({ to: '192.0.2.0/24', via: '10.0.0.99', dev: 'eth0' })], {}, 1],
    ['a route elsewhere', [add({ to: '10.245.0.0/16', via: '10.0.0.99', dev: 'eth0' })], {}, 0],
    ['a route holding the controller, via the gateway already used', [add({ to: '192.0.2.0/24', via: '10.0.0.1', dev: 'eth0' })], {}, 0],
    [
      'a less specific route than the one in use',
      [add({ to: '192.0.0.0/8', via: '10.0.0.99', dev: 'eth0' })],
      { routes: [{ to: '192.0.2.0/24', via: '10.0.0.1', dev: 'eth0' }] },
      0,
    ],
    [
      'deleting the route in use',
      [del({ to: '192.0.2.0/24', via: '10.0.0.1', dev: 'eth0' })],
      { routes: [{ to: 'default', via: '10.0.0.1', dev: 'eth0' }, { to: '192.0.2.0/24', via: '10.0.0.1', dev: 'eth0' }] },
      1,
    ],
    ['no SSH_CLIENT seen: nothing to judge', [add({ to: '192.0.2.50/32', via: '10.0.0.99', dev: 'eth0' })], { sshPath: undefined }, 0],
  ])('%s', (_name, changes, over, count) => {
    const problems = sshPathProblems(facts(over), changes);
    expect(problems).toHaveLength(count);
    if (count > 0) expect(problems[0]).toMatch(/would change how this host reaches the controller at 192\.0\.2\.50 .*--allow-ssh-path-change/);
  });
});

describe('peer-shared settings under --limit', () => {
  const conf = (peerShared: string[], peers = ['lb-2']): Change => ({
    kind: 'file',
    path: '/etc/keepalived/keepalived.conf',
    content: '',
    mode: '0640',
    owner: 'root',
    group: 'root',
    daemonReload: false,
    secrets: [],
    peerShared,
    peers,
  });
  it.each<[string, Change[], string[], RegExp | undefined]>([
    ['auth_pass changed, lb-2 left out', [conf(['auth_pass'])], ['lb-1'], /auth_pass in \/etc\/keepalived\/keepalived\.conf.*add lb-2 to --limit/],
    ['auth_pass changed, both lbs in the run', [conf(['auth_pass'])], ['lb-1', 'lb-2'], undefined],
    ['only a rollable setting changed', [conf([])], ['lb-1'], undefined],
    ['three lbs, two left out', [conf(['virtual_router_id'], ['lb-2', 'lb-3'])], ['lb-1'], /add lb-2, lb-3 to --limit/],
  ])('%s', (_name, changes, inRun, expected) => {
    const why = peersLeftOut(changes, new Set(inRun));
    if (expected) expect(why).toMatch(expected);
    else expect(why).toBeUndefined();
  });
});
