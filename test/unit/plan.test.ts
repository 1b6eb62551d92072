// What a plan says: (resources, facts) → the one-line summaries a user reads, and file diffs that look
// like `diff -u` and never show a secret.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HostError } from '../../src/errors.js';
import type { FileFact, ServiceFact } from '../../src/facts/facts.js';
import type { HostFacts } from '../../src/facts/gather.js';
import { describeChange, fileDiff, formatHostPlan } from '../../src/plan/format.js';
import { MASK, redactor } from '../../src/redact.js';
import { diffResources } from '../../src/resources/diff.js';
import type { Change, Resource } from '../../src/resources/types.js';
import { preflight } from '../../src/plan/preflight.js';
import type { Host } from '../../src/inventory/types.js';
import { DIFF_U_HUNKS, HAPROXY_CFG, HAPROXY_CFG_EDITED, hunksOf } from '../fixtures/haproxyCfg.js';
import { file } from '../fixtures/changes.js';

const keepalivedConf = (pass: string, priority = 200): string => `vrrp_script check_apiserver {
    script "/etc/keepalived/check_apiserver.sh"
    interval 3
}

vrrp_instance VI_1 {
    state MASTER
    interface eth1
    virtual_router_id 51
    priority ${priority}
    authentication {
        auth_type PASS
        auth_pass ${pass}
    }
    virtual_ipaddress {
        10.10.10.100/24
    }
}
`;

const PASS = 'k33pPass';
const ROUTE = { to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' };

/** What the playbook asks of an lb (paths, modes and triggers as in haproxy-keepalived.yaml). */
const LB: Resource[] = [
  { kind: 'package', names: ['haproxy', 'keepalived', 'curl'], versions: {} },
  { kind: 'sysctl', key: 'net.ipv4.ip_nonlocal_bind', value: '1' },
  { kind: 'route', route: ROUTE, state: 'present' },
  { kind: 'file', path: '/etc/haproxy/haproxy.cfg', content: HAPROXY_CFG, mode: '0644', owner: 'root', group: 'root', validate: 'haproxy -c -q -f %s', daemonReload: false, secrets: [], peerShared: [], peers: ['lb-2'] },
  {
    kind: 'file',
    path: '/etc/keepalived/keepalived.conf',
    content: keepalivedConf(PASS),
    mode: '0640',
    owner: 'root',
    group: 'root',
    validate: 'keepalived -t -f %s',
    daemonReload: false,
    secrets: [/auth_pass\s+(\S+)/g],
    peerShared: [{ name: 'auth_pass', pattern: /auth_pass\s+(\S+)/g }, { name: 'virtual_router_id', pattern: /virtual_router_id\s+(\S+)/g }],
    peers: ['lb-2'],
  },
  { kind: 'service', name: 'haproxy', state: 'running', reloadOn: ['/etc/haproxy/haproxy.cfg'], onChange: 'reload', restartOn: [] },
  { kind: 'service', name: 'keepalived', state: 'running', reloadOn: ['/etc/keepalived/keepalived.conf'], onChange: 'reload', restartOn: [] },
];
/** A boot-time oneshot: only enabled, never started by the tool. */
const ONESHOT: Resource = { kind: 'service', name: 'ha-provision-routes', state: 'enabled', reloadOn: [], onChange: 'reload', restartOn: [] };

const fileFact = (content: string, mode: string, group = 'root', owner = 'root'): FileFact => ({
  content,
  sha256: createHash('sha256').update(content).digest('hex'),
  owner,
  group,
  mode,
});
const service = (active: string, enabled: string): ServiceFact => ({ active, enabled, mainPid: active === 'active' ? 1187 : 0, startedAt: '9204183' });
const RUNNING = service('active', 'enabled');
const ABSENT = service('inactive', ''); // what systemctl show prints for a unit that does not exist

/** An lb that already matches LB; each case overrides what differs. */
function facts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    os: { id: 'debian', versionId: '12', family: 'debian' },
    packageManager: 'apt-get',
    systemd: true,
    packages: { haproxy: '2.6.12-1+deb12u1', keepalived: '1:2.2.7-1+b2', curl: '7.88.1-10+deb12u14' },
    sysctls: { 'net.ipv4.ip_nonlocal_bind': '1' },
    routes: [{ to: 'default', via: '192.0.2.1', dev: 'eth0' }, { to: '192.168.20.0/24', dev: 'eth1' }, ROUTE],
    addresses: [{ dev: 'eth1', cidr: '192.168.20.11/24' }],
    files: {
      '/etc/haproxy/haproxy.cfg': fileFact(HAPROXY_CFG, '644'),
      '/etc/keepalived/keepalived.conf': fileFact(keepalivedConf(PASS), '640'),
    },
    services: { haproxy: RUNNING, keepalived: RUNNING, 'ha-provision-routes': service('inactive', 'enabled') },
    backends: {},
    pendingReloads: {},
    leftoverStaging: [],
    dpkgInterrupted: false,
    ...over,
  };
}

const plan = (resources: readonly Resource[], hostFacts: HostFacts): string[] => diffResources(resources, hostFacts, 'lb-1').map(describeChange);

describe('diffResources', () => {
  it.each<[string, Resource[], HostFacts, string[]]>([
    [
      'a bare host gets everything',
      LB,
      facts({
        packages: {},
        sysctls: { 'net.ipv4.ip_nonlocal_bind': '0' },
        routes: [{ to: 'default', via: '192.0.2.1', dev: 'eth0' }],
        files: { '/etc/haproxy/haproxy.cfg': undefined, '/etc/keepalived/keepalived.conf': undefined },
        services: { haproxy: ABSENT, keepalived: ABSENT },
      }),
      [
        'install haproxy, keepalived, curl (apt-get)',
        'sysctl net.ipv4.ip_nonlocal_bind: 0 → 1',
        'route add 10.244.0.0/16 via 192.168.20.1 dev eth1',
        'create /etc/haproxy/haproxy.cfg (mode 0644)',
        'create /etc/keepalived/keepalived.conf (mode 0640)',
        'enable + start haproxy (not installed yet; not running)',
        'enable + start keepalived (not installed yet; not running)',
      ],
    ],
    ['a converged host needs nothing (mode 644 is 0644)', LB, facts(), []],
    ['only the missing package is installed, with the host\'s manager', LB, facts({ packageManager: 'dnf', packages: { haproxy: '2.4.22-3.el9_3', curl: '7.76.1-26.el9_3.2' } }), ['install keepalived (dnf)']],
    [
      'only haproxy.cfg differs: update it and reload haproxy, keepalived untouched',
      LB,
      facts({ files: { ...facts().files, '/etc/haproxy/haproxy.cfg': fileFact(HAPROXY_CFG.replace('maxconn 4000', 'maxconn 2000'), '644') } }),
      ['update /etc/haproxy/haproxy.cfg', 'reload haproxy (/etc/haproxy/haproxy.cfg changed)'],
    ],
    [
      'only the mode differs',
      LB,
      facts({ files: { ...facts().files, '/etc/keepalived/keepalived.conf': fileFact(keepalivedConf(PASS), '644') } }),
      ['update /etc/keepalived/keepalived.conf (mode only) mode 644 → 0640', 'reload keepalived (/etc/keepalived/keepalived.conf changed)'],
    ],
    [
      'content and mode differ',
      LB,
      facts({ files: { ...facts().files, '/etc/keepalived/keepalived.conf': fileFact(keepalivedConf(PASS, 100), '600') } }),
      ['update /etc/keepalived/keepalived.conf mode 600 → 0640', 'reload keepalived (/etc/keepalived/keepalived.conf changed)'],
    ],
    ['a sysctl the kernel does not report', LB, facts({ sysctls: {} }), ['sysctl net.ipv4.ip_nonlocal_bind: (unset) → 1']],
    ['a route with another gateway is replaced', LB, facts({ routes: [{ ...ROUTE, via: '192.168.20.254' }] }), ['route add 10.244.0.0/16 via 192.168.20.1 dev eth1']],
    ['a route on another device is replaced', LB, facts({ routes: [{ ...ROUTE, dev: 'eth0' }] }), ['route add 10.244.0.0/16 via 192.168.20.1 dev eth1']],
    ['an active but disabled service is only enabled', LB, facts({ services: { haproxy: service('active', 'disabled'), keepalived: RUNNING } }), ['enable haproxy (is disabled)']],
    ['a failed service is started', LB, facts({ services: { haproxy: RUNNING, keepalived: service('failed', 'enabled') } }), ['start keepalived (is failed)']],
    ['a static unit needs no enable', LB, facts({ services: { haproxy: service('active', 'static'), keepalived: RUNNING } }), []],
    [
      'a stopped service whose config changed is started, not reloaded',
      LB,
      facts({
        files: { ...facts().files, '/etc/haproxy/haproxy.cfg': fileFact('old\n', '644') },
        services: { haproxy: service('inactive', 'enabled'), keepalived: RUNNING },
      }),
      ['update /etc/haproxy/haproxy.cfg', 'start haproxy (not running)'],
    ],
    ['a oneshot that is enabled needs nothing, though inactive', [ONESHOT], facts(), []],
    ['a oneshot that is disabled is enabled, not started', [ONESHOT], facts({ services: { 'ha-provision-routes': service('inactive', 'disabled') } }), ['enable ha-provision-routes (is disabled)']],
    ['no package manager, but nothing to install', LB, facts({ packageManager: undefined }), []],
  ])('%s', (_name, resources, hostFacts, expected) => {
    expect(plan(resources, hostFacts)).toEqual(expected);
  });

  // Owner and group are desired state: keepalived disables a track script it finds in a file not owned
  // by root, so a chown by hand must show in the plan and its reload must follow.
  it.each<[string, Partial<HostFacts>, string[]]>([
    [
      'a file owned by another user is given back to root, and its service reloads',
      { files: { ...facts().files, '/etc/haproxy/haproxy.cfg': fileFact(HAPROXY_CFG, '644', 'root', 'nobody') } },
      ['update /etc/haproxy/haproxy.cfg (owner only) owner nobody:root → root:root', 'reload haproxy (/etc/haproxy/haproxy.cfg changed)'],
    ],
    [
      'another group and mode',
      { files: { ...facts().files, '/etc/keepalived/keepalived.conf': fileFact(keepalivedConf(PASS), '644', 'haproxy') } },
      ['update /etc/keepalived/keepalived.conf (owner and mode only) owner root:haproxy → root:root, mode 644 → 0640', 'reload keepalived (/etc/keepalived/keepalived.conf changed)'],
    ],
  ])('%s', (_name, over, expected) => {
    expect(plan(LB, facts(over))).toEqual(expected);
    const owners = diffResources(LB, facts(over), 'lb-1').flatMap((c) => (c.kind === 'file' ? [`${c.owner}:${c.group}`] : []));
    expect(owners).toEqual(['root:root']);
  });

  // An earlier run installed the files, then died (or its reload failed) before the service loaded them.
  it.each<[string, Partial<HostFacts>, string[]]>([
    [
      'a running service with a pending-reload marker is reloaded, though its files are in place',
      { pendingReloads: { haproxy: ['/etc/haproxy/haproxy.cfg'] } },
      ['reload haproxy (has not loaded /etc/haproxy/haproxy.cfg since an earlier run installed it)'],
    ],
    [
      'a stopped one is started',
      { pendingReloads: { keepalived: ['/etc/keepalived/keepalived.conf'] }, services: { haproxy: RUNNING, keepalived: service('inactive', 'enabled') } },
      ['start keepalived (not running)'],
    ],
    [
      'a marker and a new change: one reload, both named',
      {
        pendingReloads: { keepalived: ['/etc/keepalived/check_apiserver.sh'] },
        files: { ...facts().files, '/etc/keepalived/keepalived.conf': fileFact(keepalivedConf(PASS, 150), '640') },
      },
      [
        'update /etc/keepalived/keepalived.conf',
        'reload keepalived (/etc/keepalived/keepalived.conf changed; has not loaded /etc/keepalived/check_apiserver.sh since an earlier run installed it)',
      ],
    ],
    ['staging files of a run that died are removed', { leftoverStaging: ['/etc/keepalived/.keepalived.conf.ha-provision-new'] }, ['remove /etc/keepalived/.keepalived.conf.ha-provision-new (left by an interrupted run)']],
    [
      'staging files of a run still in progress are its own, not leftovers',
      { leftoverStaging: ['/etc/keepalived/.keepalived.conf.ha-provision-new'], runLock: { holder: 'controller ci-7 (pid 1, user u), run r, since t', alive: true } },
      [],
    ],
    [
      'an interrupted dpkg is finished before anything is installed',
      { dpkgInterrupted: true, packages: { curl: '7.88.1' } },
      ['finish the interrupted dpkg run (dpkg --configure -a)', 'install haproxy, keepalived (apt-get)'],
    ],
    ['an interrupted dpkg is finished even when every package is in', { dpkgInterrupted: true }, ['finish the interrupted dpkg run (dpkg --configure -a)']],
  ])('%s', (_name, over, expected) => {
    expect(plan(LB, facts(over))).toEqual(expected);
  });

  it('a service that must load new files names them, so the apply can mark it until it has', () => {
    const changes = diffResources(LB, facts({ pendingReloads: { haproxy: ['/etc/haproxy/haproxy.cfg'] } }), 'lb-1');
    expect(changes).toEqual([{ kind: 'service', name: 'haproxy', actions: ['reload'], why: expect.any(String), loads: ['/etc/haproxy/haproxy.cfg'] }]);
  });

  it.each<[string, string, string[]]>([
    ['a new auth_pass', keepalivedConf('0ldPass1'), ['auth_pass']],
    ['a new virtual_router_id and auth_pass', keepalivedConf('0ldPass1').replace('virtual_router_id 51', 'virtual_router_id 52'), ['auth_pass', 'virtual_router_id']],
    ['only a priority', keepalivedConf(PASS, 150), []],
  ])('%s: the change names the peer-shared settings it alters', (_name, old, expected) => {
    const changes = diffResources(LB, facts({ files: { ...facts().files, '/etc/keepalived/keepalived.conf': fileFact(old, '640') } }), 'lb-1');
    const file = changes.find((c) => c.kind === 'file');
    expect(file?.kind === 'file' && file.peerShared).toEqual(expected);
  });

  it.each<[string, Resource[], Partial<HostFacts>, RegExp]>([
    ['no package manager to install with', LB, { packageManager: undefined, packages: { curl: '7.88.1' } }, /^lb-1: .*haproxy, keepalived/],
    ['no systemd to manage services with', LB, { systemd: false }, /^lb-1: .*haproxy/],
  ])('%s: a HostError naming the host', (_name, resources, over, message) => {
    const attempt = () => diffResources(resources, facts(over), 'lb-1');
    expect(attempt).toThrow(HostError);
    expect(attempt).toThrow(message);
  });
});

describe('pinned package versions and restart-only files', () => {
  const converged = (over: Partial<HostFacts> = {}) =>
    facts({ packages: { haproxy: '2.6.12-1+deb12u3', keepalived: '1:2.2.7-1+b2', curl: '7.88.1-10+deb12u12' }, ...over });
  const pinned = (versions: Record<string, string>): Resource => ({ kind: 'package', names: ['haproxy', 'keepalived', 'curl'], versions });
  it.each<[string, Resource, HostFacts, string[]]>([
    ['the installed version is the pinned one: nothing to do', pinned({ haproxy: '2.6.12-1+deb12u3' }), converged(), []],
    ['another version is pinned: the plan shows the upgrade', pinned({ haproxy: '2.6.12-1+deb12u4' }), converged(), ['change haproxy 2.6.12-1+deb12u3 → 2.6.12-1+deb12u4 (apt-get)']],
    ['an older one is pinned: the downgrade shows too', pinned({ curl: '7.88.1-10+deb12u5' }), converged(), ['change curl 7.88.1-10+deb12u12 → 7.88.1-10+deb12u5 (apt-get)']],
    ['a pinned package not installed yet is installed at that version', pinned({ haproxy: '2.6.12-1+deb12u4' }), converged({ packages: { keepalived: '1:2.2.7-1+b2', curl: '1' } }), ['install haproxy 2.6.12-1+deb12u4 (apt-get)']],
    ['no pin: any installed version will do', pinned({}), converged(), []],
  ])('%s', (_name, resource, hostFacts, expected) => {
    expect(plan([resource], hostFacts)).toEqual(expected);
  });

  const DROP_IN = '/etc/systemd/system/haproxy.service.d/limits.conf';
  const withDropIn = (content: string): Resource[] => [
    { kind: 'file', path: DROP_IN, content, mode: '0644', owner: 'root', group: 'root', daemonReload: true, secrets: [], peerShared: [], peers: [] },
    { kind: 'file', path: '/etc/haproxy/haproxy.cfg', content: HAPROXY_CFG, mode: '0644', owner: 'root', group: 'root', daemonReload: false, secrets: [], peerShared: [], peers: [] },
    { kind: 'service', name: 'haproxy', state: 'running', reloadOn: ['/etc/haproxy/haproxy.cfg'], onChange: 'reload', restartOn: [DROP_IN] },
  ];
  const files = (dropIn: string, cfg: string) => ({ [DROP_IN]: fileFact(dropIn, '0644'), '/etc/haproxy/haproxy.cfg': fileFact(cfg, '0644') });
  it.each<[string, HostFacts, string]>([
    ['a changed drop-in restarts the service', facts({ files: files('LimitNOFILE=1000\n', HAPROXY_CFG), services: { haproxy: RUNNING } }), `restart haproxy (${DROP_IN} changed (${DROP_IN} takes effect on a restart))`],
    ['a changed config alone reloads it', facts({ files: files('LimitNOFILE=2000\n', `${HAPROXY_CFG}#\n`), services: { haproxy: RUNNING } }), 'reload haproxy (/etc/haproxy/haproxy.cfg changed)'],
    ['both: one restart loads both', facts({ files: files('LimitNOFILE=1000\n', `${HAPROXY_CFG}#\n`), services: { haproxy: RUNNING } }), `restart haproxy (/etc/haproxy/haproxy.cfg, ${DROP_IN} changed (${DROP_IN} takes effect on a restart))`],
  ])('%s', (_name, hostFacts, expected) => {
    expect(plan(withDropIn('LimitNOFILE=2000\n'), hostFacts).filter((l) => l.includes(' haproxy ('))).toEqual([expected]);
  });
});

describe('fileDiff', () => {
  const noRedact = redactor([]);
  const changeOf = (path: string, content: string, before?: FileFact, secrets: RegExp[] = []): Extract<Change, { kind: 'file' }> =>
    file(path, content, { secrets, ...(before ? { before } : {}) });

  it('shows a new file as all lines added, from /dev/null', () => {
    const diff = fileDiff(changeOf('/etc/haproxy/haproxy.cfg', 'global\n    maxconn 4000\n'), noRedact);
    expect(diff.split('\n').map((l) => l.trimEnd())).toEqual(['--- /dev/null', '+++ b/etc/haproxy/haproxy.cfg', '@@ -0,0 +1,2 @@', '+global', '+    maxconn 4000']);
  });

  it('has the same hunks as `diff -u` (captured; test/integration/diff.test.ts asks the real tool)', () => {
    const ours = fileDiff(changeOf('/etc/haproxy/haproxy.cfg', HAPROXY_CFG_EDITED, fileFact(HAPROXY_CFG, '644')), noRedact);
    expect(ours).toMatch(/^--- a\/etc\/haproxy\/haproxy\.cfg\s*\n\+\+\+ b\/etc\/haproxy\/haproxy\.cfg\s*\n@@ /);
    expect(hunksOf(ours)).toBe(DIFF_U_HUNKS);
  });
});

describe('formatHostPlan', () => {
  const path = '/etc/keepalived/keepalived.conf';
  const SECRETS = [/auth_pass\s+(\S+)/g];
  const change = (oldConf: string, newConf: string): Change => ({
    kind: 'file',
    path,
    before: fileFact(oldConf, '640'),
    content: newConf,
    mode: '0640',
    owner: 'root',
    group: 'root',
    daemonReload: false,
    secrets: SECRETS,
  });

  it('says a host in sync is in sync', () => {
    expect(formatHostPlan('lb-1', [], redactor([]))).toBe('lb-1: in sync');
  });

  it('counts changes and shows each one, files with their diff', () => {
    const text = formatHostPlan('lb-1', [{ kind: 'package', manager: 'apt-get', install: ['haproxy'], versions: {}, upgrade: [] }, change(keepalivedConf(PASS, 100), keepalivedConf(PASS, 200))], redactor([PASS]));
    expect(text).toContain('lb-1: 2 changes\n  ~ install haproxy (apt-get)\n  ~ update /etc/keepalived/keepalived.conf\n');
    expect(text).toContain('    -    priority 100\n    +    priority 200');
  });

  // The inventory knows the new password (the redactor); the old one only the file's secret patterns catch.
  it.each([
    ['the password changed', 'oldPa55', 'n3wPa55', redactor(['n3wPa55'])],
    ['the password changed, no redactor', 'oldPa55', 'n3wPa55', redactor([])],
    ['the old password also appears in "auth_pass"', 'pass', 'n3wPa55', redactor(['n3wPa55'])],
  ])('%s: neither password appears', (_name, oldPass, newPass, redact) => {
    const text = formatHostPlan('lb-1', [change(keepalivedConf(oldPass), keepalivedConf(newPass))], redact);
    expect(text).toContain(`update ${path}`);
    const withoutKeyword = text.replaceAll('auth_pass', ''); // so a password like "pass" can be looked for
    expect(withoutKeyword).not.toContain(oldPass);
    expect(withoutKeyword).not.toContain(newPass);
  });

  // format.ts promises "a changed one shows only masks": the plan says the file changes, so its diff
  // should show which line, masked.
  it('shows a changed password as a masked line', () => {
    const text = formatHostPlan('lb-1', [change(keepalivedConf('oldPa55'), keepalivedConf('n3wPa55'))], redactor(['n3wPa55']));
    expect(text).toMatch(/^ {4}-.*auth_pass/m);
    expect(text).toMatch(/^ {4}\+.*auth_pass/m);
  });

  it('shows no line for an unchanged password when another line changed', () => {
    const text = formatHostPlan('lb-1', [change(keepalivedConf(PASS, 100), keepalivedConf(PASS, 200))], redactor([PASS]));
    const changed = text.split('\n').filter((l) => /^ {4}[-+](?![-+])/.test(l));
    expect(changed).toEqual(['    -    priority 100', '    +    priority 200']);
    expect(text).not.toContain(PASS);
  });
});

describe('redactor', () => {
  it.each<[string, string[], string, string]>([
    ['masks every occurrence', ['k33pPass'], 'auth_pass k33pPass # k33pPass', `auth_pass ${MASK} # ${MASK}`],
    ['masks several secrets', ['k33pPass', 'sshPw!'], 'a=k33pPass b=sshPw!', `a=${MASK} b=${MASK}`],
    ['masks the longer of two overlapping secrets whole', ['abc', 'abcdef'], 'x abcdef y abc', `x ${MASK} y ${MASK}`],
    ['treats regex characters literally', ['p.a$s*'], 'pxa$s* p.a$s*', `pxa$s* ${MASK}`],
    ['ignores an empty secret', [''], 'nothing to hide', 'nothing to hide'],
    ['leaves text without secrets alone', ['k33pPass'], 'install haproxy', 'install haproxy'],
  ])('%s', (_name, secrets, text, expected) => {
    expect(redactor(secrets)(text)).toBe(expected);
  });
});

describe('preflight', () => {
  const lb = { name: 'lb-1', address: '10.0.0.11', roles: ['lb'], interface: 'eth1', priority: 200 } as unknown as Host;
  const server = { name: 'server-1', address: '10.0.0.21', roles: ['server'] } as unknown as Host;
  it.each([
    ['an lb whose interface has an address', lb, [{ dev: 'eth1', cidr: '10.0.0.11/24' }], []],
    ['an lb whose interface is missing', lb, [{ dev: 'eth0', cidr: '10.0.0.11/24' }], ['interface eth1 has no IPv4 address on this host (interfaces with one: eth0)']],
    ['a server (no interface to check)', server, [], []],
  ])('%s', (_what, host, addresses, expected) => {
    expect(preflight(host, facts({ addresses }))).toEqual(expected);
  });
});
