// Fact parsers against real command output (Debian 12 output captured on the test machine; RHEL-family
// and systemd output written as those tools print it). The fact commands run for real on this machine
// (the whole gather script, the backend probes) are in test/integration/facts.test.ts.
import { createHash } from 'node:crypto';
import { od } from '../fixtures/od.js';
import { describe, expect, it } from 'vitest';
import {
  addressesFact,
  backendsFact,
  filesFact,
  osFact,
  packageManagerFact,
  packagesFact,
  routesFact,
  networkFact,
  type NetworkFact,
  sysctlsFact,
  systemdFact,
  type OsFact,
  type ServiceFact,
} from '../../src/facts/facts.js';
import { servicesFact } from '../../src/facts/services.js';

describe('os', () => {
  const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;
  const UBUNTU_22_04 = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
`;
  const RHEL_9 = `NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9"
BUG_REPORT_URL="https://issues.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_BUGZILLA_PRODUCT_VERSION=9.4
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
`;
  const ROCKY_9 = `NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.3"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
`;
  const CENTOS_7 = `NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"

`;
  const ALPINE_3_19 = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`;

  it.each<[string, string, OsFact]>([
    ['Debian 12', DEBIAN_12, { id: 'debian', versionId: '12', family: 'debian' }],
    ['Ubuntu 22.04', UBUNTU_22_04, { id: 'ubuntu', versionId: '22.04', family: 'debian' }],
    ['RHEL 9', RHEL_9, { id: 'rhel', versionId: '9.4', family: 'rhel' }],
    ['Rocky 9', ROCKY_9, { id: 'rocky', versionId: '9.3', family: 'rhel' }],
    ['CentOS 7', CENTOS_7, { id: 'centos', versionId: '7', family: 'rhel' }],
    ['Alpine (not supported)', ALPINE_3_19, { id: 'alpine', versionId: '3.19.1', family: 'unknown' }],
    ['no /etc/os-release', '', { id: 'unknown', versionId: '', family: 'unknown' }],
  ])('%s', (_name, stdout, expected) => {
    expect(osFact.parse(stdout)).toEqual(expected);
  });
});

describe('package manager and systemd', () => {
  it.each([
    ['apt-get\n', 'apt-get'],
    ['dnf\n', 'dnf'],
    ['yum\n', 'yum'],
    ['', undefined],
  ])('package manager %j → %s', (stdout, expected) => {
    expect(packageManagerFact.parse(stdout)).toBe(expected);
  });

  it.each([
    ['yes\n', true],
    ['no\n', false],
    ['', false],
  ])('systemd %j → %s', (stdout, expected) => {
    expect(systemdFact.parse(stdout)).toBe(expected);
  });
});

describe('packages', () => {
  const fact = packagesFact(['bash', 'curl', 'openssh-client', 'haproxy', 'keepalived', 'cron']);

  it.each<[string, string, Record<string, string>]>([
    [
      // dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n' on Debian 12 (curl removed, config kept)
      'dpkg: "rc" (removed, config files left) is not installed',
      'bash\t5.2.15-2+b8\tii \ncurl\t7.88.1-10+deb12u14\trc \n',
      { bash: '5.2.15-2+b8' },
    ],
    [
      // a package that dpkg knows about but that was never installed ("un", no version)
      'dpkg: "un" is not installed',
      'bash\t5.2.15-2+b8\tii \ncron\t\tun \n',
      { bash: '5.2.15-2+b8' },
    ],
    [
      // `apt-mark hold openssh-client`: still installed, just pinned
      'dpkg: "hi" (installed, on hold) is installed',
      'bash\t5.2.15-2+b8\tii \nopenssh-client\t1:9.2p1-2+deb12u10\thi \n',
      { bash: '5.2.15-2+b8', 'openssh-client': '1:9.2p1-2+deb12u10' },
    ],
    [
      // rpm -q --qf '%{NAME}\t%{VERSION}-%{RELEASE}\tii\n' … | grep -v 'not installed' on Rocky 9
      'rpm',
      'haproxy\t2.4.22-3.el9_3\tii\ncurl\t7.76.1-26.el9_3.2\tii\n',
      { haproxy: '2.4.22-3.el9_3', curl: '7.76.1-26.el9_3.2' },
    ],
    [
      'rpm, if the "not installed" line got through',
      'haproxy\t1.5.18-9.el7_9.1\tii\npackage keepalived is not installed\n',
      { haproxy: '1.5.18-9.el7_9.1' },
    ],
    ['nothing installed', '', {}],
  ])('%s', (_name, stdout, expected) => {
    expect(fact.parse(stdout)).toEqual(expected);
  });

  // A host that manages no package (a server) reads none: dpkg-query with no names lists every package,
  // and those would all count as installed here.
  it('a host that needs no packages runs no command and reads none, whatever came back', () => {
    const none = packagesFact([]);
    expect(none.command).toBe('');
    expect(none.parse('bash\t5.2.15-2+b8\tii \ncurl\t7.88.1-10+deb12u14\tii \n')).toEqual({});
  });
});

describe('sysctls', () => {
  const fact = sysctlsFact(['net.ipv4.ip_nonlocal_bind', 'net.ipv4.ip_forward', 'net.ipv4.ip_local_port_range', 'net.ipv4.no_such_key', 'kernel.ostype']);

  it.each<[string, string, Record<string, string>]>([
    [
      'single values; a key the kernel does not have is absent',
      'net.ipv4.ip_nonlocal_bind\t0\nnet.ipv4.ip_forward\t1\nnet.ipv4.no_such_key\t\nkernel.ostype\tLinux\n',
      { 'net.ipv4.ip_nonlocal_bind': '0', 'net.ipv4.ip_forward': '1', 'kernel.ostype': 'Linux' },
    ],
    [
      // /proc/sys/net/ipv4/ip_local_port_range holds "32768\t60999"; sysctl(8) shows "32768 60999"
      'a multi-value key keeps every value, space-separated',
      'net.ipv4.ip_local_port_range\t32768\t60999\n',
      { 'net.ipv4.ip_local_port_range': '32768 60999' },
    ],
    ['no output', '', {}],
  ])('%s', (_name, stdout, expected) => {
    expect(fact.parse(stdout)).toEqual(expected);
  });

});

describe('routes', () => {
  // `ip -4 route show table main` in a network namespace with two veths (note the trailing spaces).
  const REAL = [
    'default via 10.213.0.1 dev host0 ',
    '10.96.0.1 via 192.168.20.1 dev eth1 ',
    '10.96.0.2 via 192.168.20.1 dev eth1 proto static metric 100 ',
    '10.213.0.0/24 dev host0 proto kernel scope link src 10.213.0.11 ',
    '10.244.0.0/16 via 192.168.20.1 dev eth1 ',
    '192.168.20.0/24 dev eth1 proto kernel scope link src 192.168.20.11 ',
    '',
  ].join('\n');

  it('reads destinations, gateways and devices', () => {
    expect(routesFact.parse(REAL)).toEqual([
      { to: 'default', via: '10.213.0.1', dev: 'host0' },
      { to: '10.96.0.1/32', via: '192.168.20.1', dev: 'eth1' }, // ip prints a /32 without its prefix
      { to: '10.96.0.2/32', via: '192.168.20.1', dev: 'eth1' },
      { to: '10.213.0.0/24', dev: 'host0' }, // connected route: no gateway
      { to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' },
      { to: '192.168.20.0/24', dev: 'eth1' },
    ]);
  });

  it('reads no routes from no output', () => {
    expect(routesFact.parse('')).toEqual([]);
  });
});

describe('addresses', () => {
  it.each([
    [
      // `ip -o -4 addr show` in the same namespace; 10.213.0.100 is a keepalived-style secondary
      'one line per address, secondaries included',
      [
        '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
        '3: host0    inet 10.213.0.11/24 scope global host0\\       valid_lft forever preferred_lft forever',
        '3: host0    inet 10.213.0.100/24 scope global secondary host0\\       valid_lft forever preferred_lft forever',
        '5: eth1    inet 192.168.20.11/24 scope global eth1\\       valid_lft forever preferred_lft forever',
        '',
      ].join('\n'),
      [
        { dev: 'lo', cidr: '127.0.0.1/8' },
        { dev: 'host0', cidr: '10.213.0.11/24' },
        { dev: 'host0', cidr: '10.213.0.100/24' },
        { dev: 'eth1', cidr: '192.168.20.11/24' },
      ],
    ],
    [
      // written by hand: a link name with its peer suffix, as `ip` prints veths and vlans
      'a name@peer suffix is not part of the device name',
      '2: host0@if5    inet 10.213.0.12/24 brd 10.213.0.255 scope global host0\\       valid_lft forever preferred_lft forever\n',
      [{ dev: 'host0', cidr: '10.213.0.12/24' }],
    ],
    ['no output', '', []],
  ])('%s', (_name, stdout, expected) => {
    expect(addressesFact.parse(stdout)).toEqual(expected);
  });
});

describe('network: routes, addresses and the route to the controller from one `ip -batch`', () => {
  // `ip -4 -o -force -batch -` on a lab server (route show table main; addr show; route get PEER).
  const ROUTES = ['10.213.91.0/24 dev host0 proto kernel scope link src 10.213.91.21 ', '10.254.0.0/16 via 10.213.91.1 dev host0 '];
  const ADDRS = [
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    '2: host0    inet 10.213.91.21/24 brd 10.213.91.255 scope global host0\\       valid_lft forever preferred_lft forever',
  ];
  const routes = [{ to: '10.213.91.0/24', dev: 'host0' }, { to: '10.254.0.0/16', via: '10.213.91.1', dev: 'host0' }];
  const addresses = [{ dev: 'lo', cidr: '127.0.0.1/8' }, { dev: 'host0', cidr: '10.213.91.21/24' }];
  it.each<[string, string[], NetworkFact]>([
    ['the peer on the link', ['@peer 10.213.91.1', ...ROUTES, ...ADDRS, '10.213.91.1 dev host0 src 10.213.91.21 uid 0 \\    cache '], { routes, addresses, sshPath: { peer: '10.213.91.1', dev: 'host0' } }],
    ['the peer behind a gateway', ['@peer 10.254.0.7', ...ROUTES, ...ADDRS, '10.254.0.7 via 10.213.91.1 dev host0 src 10.213.91.21 uid 0 \\    cache '], { routes, addresses, sshPath: { peer: '10.254.0.7', via: '10.213.91.1', dev: 'host0' } }],
    // RTNETLINK "Network is unreachable" goes to stderr; -force still printed the rest.
    ['the peer unreachable', ['@peer 10.99.0.1', ...ROUTES, ...ADDRS], { routes, addresses, sshPath: { peer: '10.99.0.1' } }],
    ['no SSH_CLIENT (a local shell): no route get', ['@peer ', ...ROUTES, ...ADDRS], { routes, addresses }],
    ['no routes at all', ['@peer ', ...ADDRS], { routes: [], addresses }],
    ['no ip on the host', ['@peer 10.213.91.1'], { routes: [], addresses: [] }],
  ])('%s', (_name, stdout, expected) => {
    expect(networkFact.parse(`${stdout.join('\n')}\n`)).toEqual(expected);
  });
});

describe('files', () => {
  const HAPROXY_CFG = 'global\n    log /dev/log local0\n    maxconn 4000\n\nfrontend kube-apiserver\n    bind 10.10.10.100:6443\n    mode tcp\n    default_backend kube-apiserver\n';
  // The fact's own command's output (paths renamed): one stat for all (size last), then one `od` of all
  // contents as hex, cut apart by size.
  const OUTPUT = [
    '@missing /etc/keepalived/keepalived.conf',
    '@file /etc/haproxy/haproxy.cfg',
    'root nogroup 640 148',
    '@file /etc/ha-provision/empty.conf',
    'root root 644 0',
    '@content',
    od(HAPROXY_CFG),
    '',
  ].join('\n');
  const parsed = filesFact(['/etc/haproxy/haproxy.cfg', '/etc/keepalived/keepalived.conf', '/etc/ha-provision/empty.conf']).parse(OUTPUT);

  it('a file whose size changed between stat and cat is not guessed at', () => {
    expect(() => filesFact(['/a']).parse('@file /a\nroot root 644 10\n@content\n 61 62 63\n')).toThrow(/files changed while they were read/);
  });

  it('an output cut off in the middle of a byte is not guessed at either', () => {
    expect(() => filesFact(['/a']).parse('@file /a\nroot root 644 2\n@content\n 61 6\n')).toThrow(/files changed while they were read/);
  });

  it('a file with bytes that are not UTF-8 keeps them: its hash is of the bytes on disk', () => {
    const bytes = Buffer.from([0x68, 0xe9, 0x00, 0x0a]);
    const [file] = Object.values(filesFact(['/b']).parse(`@file /b\nroot root 644 4\n@content\n${od(bytes)}\n`));
    expect(file?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it.each([
    [
      'a present file (hex over several lines)',
      '/etc/haproxy/haproxy.cfg',
      { content: HAPROXY_CFG, sha256: '4621d919b86177acee4a0a8bf160c9ce155613d65ad7b6cbaa51fcc11479052d', owner: 'root', group: 'nogroup', mode: '640' },
    ],
    ['a missing file', '/etc/keepalived/keepalived.conf', undefined],
    [
      'an empty file',
      '/etc/ha-provision/empty.conf',
      { content: '', sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', owner: 'root', group: 'root', mode: '644' },
    ],
  ])('%s', (_name, path, expected) => {
    expect(parsed).toHaveProperty([path]);
    expect(parsed[path]).toEqual(expected);
  });
});

describe('services', () => {
  const fact = servicesFact(['haproxy', 'keepalived', 'ha-provision-routes', 'nginx']);
  // `systemctl show -p ActiveState,UnitFileState,MainPID,ExecMainStartTimestampMonotonic A.service B.service …`:
  // a block per unit in the order asked, blank lines between (systemd orders the properties its own way).
  const OUTPUT = [
    '@show haproxy keepalived ha-provision-routes nginx',
    'MainPID=1187',
    'ExecMainStartTimestampMonotonic=9204183',
    'ActiveState=active',
    'UnitFileState=enabled',
    '',
    'MainPID=0',
    'ExecMainStartTimestampMonotonic=9211050',
    'ActiveState=failed',
    'UnitFileState=enabled',
    '',
    'MainPID=0',
    'ExecMainStartTimestampMonotonic=6612877',
    'ActiveState=inactive',
    'UnitFileState=enabled',
    '',
    'MainPID=0',
    'ExecMainStartTimestampMonotonic=0',
    'ActiveState=inactive',
    'UnitFileState=',
    '',
  ].join('\n');

  it.each<[string, string, string, ServiceFact]>([
    ['a running, enabled service', OUTPUT, 'haproxy', { active: 'active', enabled: 'enabled', mainPid: 1187, startedAt: '9204183' }],
    ['a failed service', OUTPUT, 'keepalived', { active: 'failed', enabled: 'enabled', mainPid: 0, startedAt: '9211050' }],
    ['an enabled oneshot that has run', OUTPUT, 'ha-provision-routes', { active: 'inactive', enabled: 'enabled', mainPid: 0, startedAt: '6612877' }],
    ['a unit that does not exist', OUTPUT, 'nginx', { active: 'inactive', enabled: '', mainPid: 0, startedAt: '0' }],
    // without systemd the command prints nothing after the marker
    ['no systemd', '@show haproxy keepalived ha-provision-routes nginx\n', 'haproxy', { active: 'unknown', enabled: '', mainPid: 0, startedAt: '0' }],
    ['a shell cut off before it asked', '', 'haproxy', { active: 'unknown', enabled: '', mainPid: 0, startedAt: '0' }],
  ])('%s', (_name, stdout, name, expected) => {
    expect(fact.parse(stdout)[name]).toEqual(expected);
  });

  // A unit wanted only enabled is looked up by its install links first; systemctl answers for the rest.
  describe('enabled-only units', () => {
    const mixed = servicesFact(['haproxy', 'ha-provision-routes'], {}, ['ha-provision-routes']);
    it('asks systemctl only about the units the links did not show enabled', () => {
      expect(mixed.command).toMatch(/^hp_services\(\) \{\n {2}set -- haproxy$/m);
      expect(mixed.command).toMatch(/for u in ha-provision-routes; do if hp_enabled "\$u\.service"/);
    });
    it.each<[string, string, Record<string, ServiceFact>]>([
      [
        'links show it enabled: systemd is not asked how it runs',
        '@enabled ha-provision-routes\n@show haproxy\nActiveState=active\nUnitFileState=enabled\n',
        { 'ha-provision-routes': { active: 'unread', enabled: 'enabled', mainPid: 0, startedAt: '0' }, haproxy: { active: 'active', enabled: 'enabled', mainPid: 0, startedAt: '0' } },
      ],
      [
        'links do not: systemctl answers for it, in the order asked',
        '@show haproxy ha-provision-routes\nActiveState=active\nUnitFileState=enabled\n\nActiveState=inactive\nUnitFileState=disabled\n',
        { 'ha-provision-routes': { active: 'inactive', enabled: 'disabled', mainPid: 0, startedAt: '0' }, haproxy: { active: 'active', enabled: 'enabled', mainPid: 0, startedAt: '0' } },
      ],
    ])('%s', (_name, stdout, expected) => {
      expect(mixed.parse(stdout)).toEqual(expected);
    });
  });
});

describe('backends', () => {
  it('parses ok/fail per target', () => {
    const stdout = '10.10.10.51:6443 fail\n10.10.10.50:6443 ok\n'; // probes run in parallel: any order
    expect(backendsFact(['10.10.10.50:6443', '10.10.10.51:6443']).parse(stdout)).toEqual({ '10.10.10.50:6443': true, '10.10.10.51:6443': false });
  });
});
