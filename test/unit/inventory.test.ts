import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { InventoryError, UsageError } from '../../src/errors.js';
import { loadInventory, parseAndResolveInventory, parseInventory } from '../../src/inventory/load.js';
import { resolveNames, type Resolver } from '../../src/inventory/resolve.js';
import { layoutProblems, readLayout } from '../../src/playbook/layout.js';
import { builtinPlaybook } from '../../src/playbook/playbook.js';

const FILE = '/work/inv/cluster.yaml';
const HOME = '/home/tester';
const ENV = { HA_KEEPALIVED_PASS: 'k33pPass' } as NodeJS.ProcessEnv;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Inv = Record<string, any>;

/** A valid inventory; every case below breaks one thing in a copy of it. */
function base(): Inv {
  return {
    apiVersion: 'ha-provision/v1',
    cluster: {
      name: 'demo',
      vip: '10.10.10.100/24',
      healthCheck: { path: '/healthz' },
      keepalived: { virtualRouterId: 51, authPass: { env: 'HA_KEEPALIVED_PASS' } },
    },
    ssh: { user: 'root', identityFile: '~/.ssh/id_ed25519' },
    routes: [{ to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }],
    hosts: {
      'lb-1': { address: '10.10.10.98', roles: ['lb'], interface: 'eth1', priority: 200 },
      'lb-2': { address: '10.10.10.99', roles: ['lb'], interface: 'eth1', priority: 100 },
      'server-1': { address: '10.10.10.50', roles: ['server'] },
      'server-2': { address: '10.10.10.51', roles: ['server'] },
    },
  };
}

/** The inventory as a run checks it: its own validation, then what its built-in layout asks of it. */
function parse(inv: Inv | string, env: NodeJS.ProcessEnv = ENV) {
  const inventory = parseInventory(typeof inv === 'string' ? inv : stringify(inv), FILE, env, HOME);
  const playbook = readFileSync(builtinPlaybook(inventory.cluster.topology, inventory.cluster.mode), 'utf8');
  const layout = readLayout((parseYaml(playbook) as { layout?: unknown }).layout, (where, what) => { throw new Error(`${where}: ${what}`); });
  const problems = layoutProblems(layout, inventory);
  if (problems.length > 0) throw new InventoryError(FILE, problems);
  return inventory;
}

/** The InventoryError thrown for `inv`; fails the test if it loads. */
function problemsOf(inv: Inv | string, env: NodeJS.ProcessEnv = ENV): InventoryError {
  try {
    parse(inv, env);
  } catch (err) {
    if (err instanceof InventoryError) return err;
    throw err;
  }
  throw new Error('expected an InventoryError, but the inventory loaded');
}

const edit = (f: (inv: Inv) => void): Inv => {
  const inv = base();
  f(inv);
  return inv;
};

describe('parseInventory: valid input', () => {
  it('loads the base inventory with defaults applied', () => {
    const inv = parse(base());
    expect(inv.file).toBe(FILE);
    expect(inv.cluster).toEqual({
      name: 'demo',
      topology: 'haproxy-keepalived',
      mode: 'services',
      vip: { address: '10.10.10.100', prefix: 24 },
      frontendPort: 6443,
      backendPort: 6443,
      extraPorts: [],
      healthCheck: { path: '/healthz' },
      haproxy: { timeouts: { connect: '5s', client: '20s', server: '20s', check: '10s', queue: '20s' } },
      keepalived: {
        virtualRouterId: 51,
        authPass: { value: 'k33pPass', source: 'env HA_KEEPALIVED_PASS' },
        unicast: false,
        check: { interval: 3, fall: 3, rise: 2, weight: -101 }, // derived: priorities 200 and 100
      },
      kubeVip: { image: 'ghcr.io/kube-vip/kube-vip:v1.2.3', kubeconfig: '/etc/kubernetes/admin.conf' },
      staticPods: { keepalivedImage: '', haproxyImage: 'haproxy:2.8' },
    });
    expect(inv.sysctls).toEqual({ 'net.ipv4.ip_nonlocal_bind': '1' });
    expect(inv.routes).toEqual([{ to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }]);
    expect(inv.hosts.map((h) => h.name)).toEqual(['lb-1', 'lb-2', 'server-1', 'server-2']);
    expect(inv.hosts[0]).toEqual({
      name: 'lb-1',
      address: '10.10.10.98',
      ip: '10.10.10.98',
      roles: ['lb'],
      interface: 'eth1',
      priority: 200,
      ssh: {
        user: 'root',
        port: 22,
        identityFile: '/home/tester/.ssh/id_ed25519',
        useAgent: true,
        knownHostsFile: '/home/tester/.ssh/known_hosts',
        hostKeyPolicy: 'strict',
        connectTimeoutMs: 10_000,
        commandTimeoutMs: 300_000,
        keepaliveIntervalMs: 15_000,
      },
      sshSources: {
        config: null,
        hostName: { value: '10.10.10.98', from: 'inventory hosts.lb-1.address' },
        user: { value: 'root', from: 'inventory ssh.user' },
        port: { value: 22, from: 'default' },
        identityFile: { value: '/home/tester/.ssh/id_ed25519', from: 'inventory ssh.identityFile' },
        knownHostsFile: { value: '/home/tester/.ssh/known_hosts', from: 'default' },
        hostKeyPolicy: { value: 'strict', from: 'default' },
        connectTimeout: { value: '10s', from: 'default' },
        proxyJump: { value: null, from: 'default', hops: [] },
      },
    });
    expect(inv.hosts[2]).not.toHaveProperty('priority');
    expect(inv.hosts[2]).not.toHaveProperty('interface');
  });

  it('reads package pins and maintenance windows', () => {
    const inv = parse(edit((i) => {
      i.packages = { haproxy: '2.6.12-1+deb12u4' };
      i.maintenance = { windows: ['Sat 02:00-04:00', 'Sun 02:00-04:00'], timeZone: 'Europe/Berlin' };
    }));
    expect(inv.packages).toEqual({ haproxy: '2.6.12-1+deb12u4' });
    expect(inv.maintenance).toEqual({ windows: ['Sat 02:00-04:00', 'Sun 02:00-04:00'], timeZone: 'Europe/Berlin' });
    expect(parse(edit(() => undefined)).maintenance).toEqual({ windows: [] });
  });

  it('keeps the hosts in file order, even names that look like numbers', () => {
    const text = stringify(base()).replace('server-2:', '"2":').replace('server-1:', '"10":');
    expect(parse(text).hosts.map((h) => h.name)).toEqual(['lb-1', 'lb-2', '10', '2']);
  });

  it('reads every optional setting', () => {
    const inv = parse(edit((i) => {
      i.cluster.topology = 'haproxy-keepalived';
      i.cluster.frontendPort = 8443;
      i.cluster.backendPort = 6444;
      i.cluster.haproxy = { timeouts: { connect: '500ms', client: '1m', queue: '2h' } };
      i.cluster.keepalived = {
        virtualRouterId: 7, authPass: 'Abc-1234', unicast: true,
        check: { interval: 2, fall: 10, rise: 1, weight: -150 },
      };
      i.ssh = {
        user: 'admin', port: 2222, password: { env: 'SSH_PASS' }, agent: false, knownHostsFile: 'known',
        hostKeyPolicy: 'accept-new', jumpHost: 'bastion.example.com:2200',
        connectTimeout: '3s', commandTimeout: '10m', keepaliveInterval: '1m',
      };
      i.sysctls = { 'net.ipv4.ip_forward': 1, 'net.ipv4.conf.all.rp_filter': '2' };
    }), { ...ENV, SSH_PASS: 'pa ss word' });
    expect(inv.cluster.frontendPort).toBe(8443);
    expect(inv.cluster.backendPort).toBe(6444);
    expect(inv.cluster.haproxy.timeouts).toEqual({ connect: '500ms', client: '1m', server: '20s', check: '10s', queue: '2h' });
    expect(inv.cluster.keepalived).toEqual({
      virtualRouterId: 7,
      authPass: { value: 'Abc-1234', source: 'literal' },
      unicast: true,
      check: { interval: 2, fall: 10, rise: 1, weight: -150 },
    });
    expect(inv.hosts[0]?.ssh).toEqual({
      user: 'admin',
      port: 2222,
      password: { value: 'pa ss word', source: 'env SSH_PASS' },
      useAgent: false,
      knownHostsFile: '/work/inv/known',
      hostKeyPolicy: 'accept-new',
      jumpHost: 'bastion.example.com:2200',
      // ssh.jumpHost: the host's user and keys, as before; its own port.
      proxyJump: [{
        spec: 'bastion.example.com:2200', address: 'bastion.example.com', port: 2200, user: 'admin',
        password: { value: 'pa ss word', source: 'env SSH_PASS' }, useAgent: false, knownHostsFile: '/work/inv/known',
        hostKeyPolicy: 'accept-new', connectTimeoutMs: 3_000, keepaliveIntervalMs: 60_000,
      }],
      connectTimeoutMs: 3_000,
      commandTimeoutMs: 600_000,
      keepaliveIntervalMs: 60_000,
    });
    expect(inv.sysctls).toEqual({ 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.rp_filter': '2' });
  });

  it('resolves a relative identityFile against the inventory directory and ~ against the home directory', () => {
    const inv = parse(edit((i) => {
      i.ssh.identityFile = 'keys/id_lab';
      i.hosts['lb-1'].ssh = { identityFile: '../other/id', knownHostsFile: '~/kh' };
      i.hosts['lb-2'].ssh = { identityFile: '/etc/keys/id' };
      i.hosts['server-1'].ssh = { identityFile: '~' };
    }));
    const [lb1, lb2, s1, s2] = inv.hosts;
    expect(lb1?.ssh.identityFile).toBe('/work/other/id');
    expect(lb1?.ssh.knownHostsFile).toBe('/home/tester/kh');
    expect(lb2?.ssh.identityFile).toBe('/etc/keys/id');
    expect(s1?.ssh.identityFile).toBe('/home/tester');
    expect(s2?.ssh.identityFile).toBe('/work/inv/keys/id_lab');
  });

  it('resolves a relative inventory file name to an absolute path', () => {
    const inv = parseInventory(stringify(base()), 'inv.yaml', ENV, HOME);
    expect(inv.file).toBe(path.resolve('inv.yaml'));
    expect(inv.hosts[0]?.ssh.identityFile).toBe('/home/tester/.ssh/id_ed25519');
  });

  it('merges host ssh overrides over the inventory defaults, key by key', () => {
    const inv = parse(edit((i) => {
      i.ssh = { user: 'ops', port: 2200, hostKeyPolicy: 'accept-new', password: { env: 'SSH_PASS' }, sudoPassword: { env: 'SSH_PASS' } };
      i.hosts['lb-1'].ssh = { user: 'admin', connectTimeout: '30s' };
    }), { ...ENV, SSH_PASS: 'x' });
    const [lb1, lb2] = inv.hosts;
    expect(lb1?.ssh).toMatchObject({ user: 'admin', port: 2200, hostKeyPolicy: 'accept-new', connectTimeoutMs: 30_000 });
    expect(lb1?.ssh.password).toEqual({ value: 'x', source: 'env SSH_PASS' });
    expect(lb1?.ssh.sudoPassword).toEqual({ value: 'x', source: 'env SSH_PASS' }); // only from the environment
    expect(lb2?.ssh).toMatchObject({ user: 'ops', port: 2200, connectTimeoutMs: 10_000 });
  });

  it('resolves env secrets from the env it is given, not process.env', () => {
    const inv = parse(base(), { HA_KEEPALIVED_PASS: 'fromArg' });
    expect(inv.cluster.keepalived.authPass).toEqual({ value: 'fromArg', source: 'env HA_KEEPALIVED_PASS' });
  });

  it('accepts a co-located host when frontendPort differs from backendPort', () => {
    const inv = parse(edit((i) => {
      i.cluster.frontendPort = 8443;
      i.hosts['lb-1'].roles = ['lb', 'server'];
    }));
    expect(inv.hosts[0]?.roles).toEqual(['lb', 'server']);
  });

  // The recipes' bootstrap: one failing lb drops below every other, all failing together keep the VIP.
  it.each<[string, (i: any) => void, number | undefined]>([
    ['two lbs, 200 and 100', () => undefined, -101],
    ['three lbs, 200, 150 and 100', (i) => (i.hosts['lb-3'] = { address: '10.10.10.97', roles: ['lb'], interface: 'eth1', priority: 150 }), -101],
    ['lbs 120 and 110', (i) => (i.hosts['lb-1'].priority = 120) && (i.hosts['lb-2'].priority = 110), -11],
    ['weight: 0 chooses FAULT on a failing check', (i) => (i.cluster.keepalived.check = { weight: 0 }), undefined],
    ['one lb: nothing to move the VIP to', (i) => delete i.hosts['lb-2'], undefined],
  ])('without a weight key, the check weight is derived from the priorities: %s', (_name, change, weight) => {
    expect(parse(edit(change)).cluster.keepalived.check.weight).toBe(weight);
  });

  it('keeps cluster.endpoint, a DNS name (unset: absent)', () => {
    expect(parse(edit((i) => (i.cluster.endpoint = 'api.example.com'))).cluster.endpoint).toBe('api.example.com');
    expect('endpoint' in parse(base()).cluster).toBe(false);
  });

  it('accepts a check weight large enough to move the VIP', () => {
    const inv = parse(edit((i) => (i.cluster.keepalived.check = { weight: -101 })));
    expect(inv.cluster.keepalived.check.weight).toBe(-101);
  });

  it('keeps an explicitly empty sysctls map empty', () => {
    expect(parse(edit((i) => (i.sysctls = {}))).sysctls).toEqual({});
  });
});

// [what, broken inventory, env, path, message fragment]
const invalid: [string, Inv | string, NodeJS.ProcessEnv, string, string][] = [
  ['wrong apiVersion', edit((i) => (i.apiVersion = 'v2')), ENV, 'apiVersion', 'must be ha-provision/v1'],
  ['missing apiVersion', edit((i) => delete i.apiVersion), ENV, 'apiVersion', 'is required'],
  ['unknown top-level key', edit((i) => (i.clustr = {})), ENV, 'clustr', 'did you mean cluster?'],
  ['unknown cluster key', edit((i) => (i.cluster.frontEndPort = 1)), ENV, 'cluster.frontEndPort', 'allowed here: name, topology, vip'],
  ['unknown host key', edit((i) => (i.hosts['lb-1'].prio = 1)), ENV, 'hosts.lb-1.prio', 'allowed here: address, roles, interface, priority, ssh'],
  ['unknown ssh key', edit((i) => (i.ssh.key = 'x')), ENV, 'ssh.key', 'unknown key'],
  ['cluster is not a mapping', edit((i) => (i.cluster = 'demo')), ENV, 'cluster', 'must be a mapping'],
  ['missing hosts', edit((i) => delete i.hosts), ENV, 'hosts', 'is required'],
  ['cluster name with a space', edit((i) => (i.cluster.name = 'my demo')), ENV, 'cluster.name', 'letters, digits'],
  ['unknown topology', edit((i) => (i.cluster.topology = 'traefik')), ENV, 'cluster.topology', 'haproxy-keepalived, nginx, kube-vip'],
  ['unknown mode', edit((i) => (i.cluster.mode = 'pods')), ENV, 'cluster.mode', 'services, static-pod'],
  ['image with a space', edit((i) => (i.cluster.kubeVip = { image: 'kube-vip v1' })), ENV, 'cluster.kubeVip.image', 'an image reference like'],
  // What a layout asks of the inventory (its playbook's layout:), checked with the inventory.
  ['static pods without a keepalived image', edit((i) => (i.cluster.mode = 'static-pod')), ENV, 'cluster.staticPods.keepalivedImage', 'keepalived 2.1 or later'],
  ['kube-vip on an lb that is no control plane', edit((i) => { i.cluster.topology = 'kube-vip'; i.hosts['lb-1'].roles = ['lb', 'server']; }), ENV, 'hosts.lb-2.roles', 'lb-2 has role lb without server; use roles [lb, server]'],
  ['kube-vip with a frontendPort of its own', edit((i) => { i.cluster.topology = 'kube-vip'; i.cluster.frontendPort = 8443; i.hosts['lb-1'].roles = ['lb', 'server']; i.hosts['lb-2'].roles = ['lb', 'server']; }), ENV, 'cluster.frontendPort', 'frontendPort must equal backendPort (6443), got 8443'],
  ['unknown topology', edit((i) => (i.cluster.topology = 'envoy')), ENV, 'cluster.topology', 'must be one of haproxy-keepalived, nginx, kube-vip'],
  ['vip without prefix', edit((i) => (i.cluster.vip = '10.10.10.100')), ENV, 'cluster.vip', 'is missing its prefix length'],
  ['vip bad octet', edit((i) => (i.cluster.vip = '10.10.10.300/24')), ENV, 'cluster.vip', 'IPv4 address with a prefix length'],
  ['vip prefix 33', edit((i) => (i.cluster.vip = '10.10.10.100/33')), ENV, 'cluster.vip', 'prefix length 1–32'],
  ['vip equal to a host address', edit((i) => (i.cluster.vip = '10.10.10.50/24')), ENV, 'cluster.vip', 'is the address of host server-1'],
  ['vip outside the lb subnet', edit((i) => (i.cluster.vip = '10.10.20.100/24')), ENV, 'cluster.vip', 'not in the subnet of lb-1 (10.10.10.98), lb-2 (10.10.10.99)'],
  ['vip prefix too long for the lbs', edit((i) => (i.cluster.vip = '10.10.10.100/30')), ENV, 'cluster.vip', 'not in the subnet of lb-1'],
  ['vip is the network address', edit((i) => (i.cluster.vip = '10.10.10.0/24')), ENV, 'cluster.vip', 'is the network address of 10.10.10.0/24'],
  ['vip is the broadcast address', edit((i) => (i.cluster.vip = '10.10.10.255/24')), ENV, 'cluster.vip', 'is the broadcast address'],
  ['frontendPort too high', edit((i) => (i.cluster.frontendPort = 70000)), ENV, 'cluster.frontendPort', 'must be an integer 1–65535, got 70000'],
  ['backendPort zero', edit((i) => (i.cluster.backendPort = 0)), ENV, 'cluster.backendPort', 'must be an integer 1–65535, got 0'],
  ['port as a string', edit((i) => (i.cluster.frontendPort = '6443')), ENV, 'cluster.frontendPort', 'got "6443" (a string)'],
  ['ssh port too high', edit((i) => (i.ssh.port = 65536)), ENV, 'ssh.port', '1–65535'],
  ['host ssh port override', edit((i) => (i.hosts['lb-2'].ssh = { port: -1 })), ENV, 'hosts.lb-2.ssh.port', '1–65535, got -1'],
  ['healthCheck path without a slash', edit((i) => (i.cluster.healthCheck.path = 'healthz')), ENV, 'cluster.healthCheck.path', 'starting with "/"'],
  ['healthCheck path with a space', edit((i) => (i.cluster.healthCheck.path = '/healthz; reboot')), ENV, 'cluster.healthCheck.path', 'like /healthz'],
  ['endpoint as an IP address', edit((i) => (i.cluster.endpoint = '10.10.10.100')), ENV, 'cluster.endpoint', 'a DNS name clients reach the API by, like api.example.com'],
  ['endpoint as a URL', edit((i) => (i.cluster.endpoint = 'https://api.example.com:6443')), ENV, 'cluster.endpoint', 'a DNS name clients reach the API by'],
  ['haproxy timeout without a unit', edit((i) => (i.cluster.haproxy = { timeouts: { connect: 5 } })), ENV, 'cluster.haproxy.timeouts.connect', 'a unit is required'],
  ['haproxy timeout unknown key', edit((i) => (i.cluster.haproxy = { timeouts: { tunnel: '1h' } })), ENV, 'cluster.haproxy.timeouts.tunnel', 'allowed here: connect, client, server, check, queue'],
  ['virtualRouterId 256', edit((i) => (i.cluster.keepalived.virtualRouterId = 256)), ENV, 'cluster.keepalived.virtualRouterId', 'integer 1–255, got 256'],
  ['virtualRouterId 0', edit((i) => (i.cluster.keepalived.virtualRouterId = 0)), ENV, 'cluster.keepalived.virtualRouterId', 'integer 1–255'],
  ['missing authPass', edit((i) => delete i.cluster.keepalived.authPass), ENV, 'cluster.keepalived.authPass', 'is required'],
  ['missing keepalived', edit((i) => delete i.cluster.keepalived), ENV, 'cluster.keepalived', 'authPass'],
  ['empty literal authPass', edit((i) => (i.cluster.keepalived.authPass = '')), ENV, 'cluster.keepalived.authPass', 'the value is empty; use 1–8 characters'],
  ['authPass longer than 8', edit((i) => (i.cluster.keepalived.authPass = 'abcdefghi')), ENV, 'cluster.keepalived.authPass', 'keepalived uses at most 8 and silently cuts the rest'],
  ['authPass with a space', edit((i) => (i.cluster.keepalived.authPass = 'ab cd')), ENV, 'cluster.keepalived.authPass', 'without whitespace'],
  ['authPass with a #', edit((i) => (i.cluster.keepalived.authPass = 'ab#cd')), ENV, 'cluster.keepalived.authPass', 'treats # and ! as comments'],
  ['authPass as a number', edit((i) => (i.cluster.keepalived.authPass = 12345678)), ENV, 'cluster.keepalived.authPass', 'a number (quote it)'],
  ['authPass env unset', base(), {}, 'cluster.keepalived.authPass', 'environment variable HA_KEEPALIVED_PASS is not set'],
  ['authPass env empty', base(), { HA_KEEPALIVED_PASS: '' }, 'cluster.keepalived.authPass', 'environment variable HA_KEEPALIVED_PASS is empty'],
  ['authPass env name invalid', edit((i) => (i.cluster.keepalived.authPass = { env: 'HA-PASS' })), ENV, 'cluster.keepalived.authPass.env', 'environment variable name'],
  ['authPass env with extra key', edit((i) => (i.cluster.keepalived.authPass = { env: 'HA_KEEPALIVED_PASS', default: 'x' })), ENV, 'cluster.keepalived.authPass.default', 'allowed here: env'],
  ['unicast not a boolean', edit((i) => (i.cluster.keepalived.unicast = 'yes')), ENV, 'cluster.keepalived.unicast', 'must be true or false, got "yes"'],
  ['check weight out of range', edit((i) => (i.cluster.keepalived.check = { weight: -254 })), ENV, 'cluster.keepalived.check.weight', 'integer -253–253'],
  ['check weight too small to move the VIP', edit((i) => (i.cluster.keepalived.check = { weight: -2 })), ENV, 'cluster.keepalived.check.weight', 'cannot move the VIP'],
  ['check fall zero', edit((i) => (i.cluster.keepalived.check = { fall: 0 })), ENV, 'cluster.keepalived.check.fall', 'integer 1–100'],
  ['literal ssh password', edit((i) => (i.ssh.password = 'hunter2')), ENV, 'ssh.password', 'use { env: NAME }'],
  ['ssh password env unset', edit((i) => (i.hosts['lb-1'].ssh = { password: { env: 'LB1_PASS' } })), ENV, 'hosts.lb-1.ssh.password', 'LB1_PASS is not set'],
  ['literal sudo password', edit((i) => (i.ssh.sudoPassword = 'hunter2')), ENV, 'ssh.sudoPassword', 'use { env: NAME }'],
  ['sudo password env unset', edit((i) => (i.ssh.sudoPassword = { env: 'SUDO_PASS' })), ENV, 'ssh.sudoPassword', 'SUDO_PASS is not set'],
  ['bad hostKeyPolicy', edit((i) => (i.ssh.hostKeyPolicy = 'yes')), ENV, 'ssh.hostKeyPolicy', 'strict, accept-new, off'],
  ['ssh user with a ;', edit((i) => (i.ssh.user = 'root;id')), ENV, 'ssh.user', 'user name'],
  ['jumpHost with $()', edit((i) => (i.ssh.jumpHost = 'bastion$(id)')), ENV, 'ssh.jumpHost', 'host name or IPv4 address'],
  ['jumpHost port too high', edit((i) => (i.ssh.jumpHost = 'bastion:70000')), ENV, 'ssh.jumpHost', 'port must be an integer 1–65535'],
  ['ssh timeout without unit', edit((i) => (i.ssh.connectTimeout = 10)), ENV, 'ssh.connectTimeout', 'a unit is required'],
  ['ssh timeout with a bad unit', edit((i) => (i.ssh.commandTimeout = '5d')), ENV, 'ssh.commandTimeout', 'unit ms, s, m or h'],
  ['identityFile ~user', edit((i) => (i.ssh.identityFile = '~bob/.ssh/id')), ENV, 'ssh.identityFile', 'not ~user'],
  ['host address a DNS name', edit((i) => (i.hosts['server-1'].address = 'cp1.example.com')), ENV, 'hosts.server-1.address', 'is a host name and was not resolved'],
  ['host address bad octet', edit((i) => (i.hosts['server-1'].address = '10.0.0.300')), ENV, 'hosts.server-1.address', 'IPv4 address'],
  ['duplicate host address', edit((i) => (i.hosts['server-2'].address = '10.10.10.50')), ENV, 'hosts.server-2.address', 'also the address of server-1'],
  ['equal lb priorities', edit((i) => (i.hosts['lb-2'].priority = 200)), ENV, 'hosts.lb-2.priority', 'also the priority of lb-1'],
  ['no lb host', edit((i) => { delete i.hosts['lb-1']; delete i.hosts['lb-2']; }), ENV, 'hosts', 'no host has role lb'],
  ['no server host', edit((i) => { delete i.hosts['server-1']; delete i.hosts['server-2']; }), ENV, 'hosts', 'no host has role server'],
  ['empty roles', edit((i) => (i.hosts['server-1'].roles = [])), ENV, 'hosts.server-1.roles', 'non-empty list'],
  ['roles as a string', edit((i) => (i.hosts['server-1'].roles = 'server')), ENV, 'hosts.server-1.roles', 'like [lb] or [lb, server]'],
  ['unknown role', edit((i) => (i.hosts['server-1'].roles = ['master'])), ENV, 'hosts.server-1.roles[0]', 'must be one of lb, server'],
  ['duplicated role', edit((i) => (i.hosts['server-1'].roles = ['server', 'server'])), ENV, 'hosts.server-1.roles[1]', 'listed twice'],
  ['lb without interface', edit((i) => delete i.hosts['lb-1'].interface), ENV, 'hosts.lb-1.interface', 'is required'],
  ['lb priority 255', edit((i) => (i.hosts['lb-1'].priority = 255)), ENV, 'hosts.lb-1.priority', 'integer 1–254, got 255'],
  ['server with priority', edit((i) => (i.hosts['server-1'].priority = 50)), ENV, 'hosts.server-1.priority', 'only applies to hosts with role lb'],
  ['server with interface', edit((i) => (i.hosts['server-1'].interface = 'eth0')), ENV, 'hosts.server-1.interface', 'only applies to hosts with role lb'],
  ['interface longer than 15', edit((i) => (i.hosts['lb-1'].interface = 'enp0s31f6abcdefg')), ENV, 'hosts.lb-1.interface', 'at most 15'],
  ['interface with a newline', edit((i) => (i.hosts['lb-1'].interface = 'eth1\nreboot')), ENV, 'hosts.lb-1.interface', '"eth1\\nreboot"'],
  ['host name with a quote', edit((i) => (i.hosts["lb'3"] = { address: '10.10.10.97', roles: ['server'] })), ENV, "hosts.lb'3", 'a host name of letters'],
  ['co-located with equal ports', edit((i) => (i.hosts['lb-1'].roles = ['lb', 'server'])), ENV, 'cluster.frontendPort', 'pick a different frontendPort (e.g. 8443)'],
  // sshd holds the SSH port: haproxy could not bind it, and a backend probe to it would "pass" against sshd.
  ['frontendPort is the lbs\' SSH port', edit((i) => (i.cluster.frontendPort = 22)), ENV, 'cluster.frontendPort', '22 is the SSH port of lb-1, lb-2, where sshd already listens'],
  ['backendPort is the servers\' SSH port', edit((i) => (i.cluster.backendPort = 22)), ENV, 'cluster.backendPort', '22 is the SSH port of server-1, server-2, where sshd already listens; kube-apiserver needs a port of its own'],
  ['frontendPort is one lb\'s own SSH port', edit((i) => { i.cluster.frontendPort = 2222; i.hosts['lb-2'].ssh = { port: 2222 }; }), ENV, 'cluster.frontendPort', '2222 is the SSH port of lb-2,'],
  ['route with host bits', edit((i) => (i.routes[0].to = '10.244.0.1/16')), ENV, 'routes[0].to', 'did you mean 10.244.0.0/16?'],
  ['route to without prefix', edit((i) => (i.routes[0].to = 'default')), ENV, 'routes[0].to', 'like 10.244.0.0/16'],
  ['duplicate route destination', edit((i) => i.routes.push({ to: '10.244.0.0/16', via: '192.168.20.2', dev: 'eth1' })), ENV, 'routes[1].to', 'also the destination of routes[0]'],
  ['route via not an address', edit((i) => (i.routes[0].via = '192.168.20')), ENV, 'routes[0].via', 'IPv4 address'],
  ['route dev with a $', edit((i) => (i.routes[0].dev = 'eth$1')), ENV, 'routes[0].dev', 'interface name'],
  ['route missing dev', edit((i) => delete i.routes[0].dev), ENV, 'routes[0].dev', 'is required'],
  ['route unknown key', edit((i) => (i.routes[0].metric = 10)), ENV, 'routes[0].metric', 'allowed here: to, via, dev'],
  ['routes not a list', edit((i) => (i.routes = { to: '10.0.0.0/8' })), ENV, 'routes', 'must be a list'],
  ['sysctl bad name', edit((i) => (i.sysctls = { IPForward: 1 })), ENV, 'sysctls.IPForward', 'not a sysctl name'],
  ['sysctl value with a space', edit((i) => (i.sysctls = { 'net.ipv4.ip_local_port_range': '1024 65000' })), ENV, 'sysctls.net.ipv4.ip_local_port_range', 'integer or a plain value'],
  ['extra port not a list', edit((i) => (i.cluster.extraPorts = 9345)), ENV, 'cluster.extraPorts', 'must be a list of ports like [9345]'],
  ['extra port equal to the frontend port', edit((i) => (i.cluster.extraPorts = [9345, 6443])), ENV, 'cluster.extraPorts[1]', '6443 is already used'],
  ['extra port out of range', edit((i) => (i.cluster.extraPorts = [70000])), ENV, 'cluster.extraPorts[0]', 'integer 1–65535'],
  ['extra port on co-located hosts', edit((i) => ((i.cluster.extraPorts = [9345]), (i.cluster.frontendPort = 8443), (i.hosts['lb-1'].roles = ['lb', 'server']))), ENV, 'cluster.extraPorts', 'would both bind 9345'],
  ['package pin not a mapping', edit((i) => (i.packages = ['haproxy'])), ENV, 'packages', 'mapping of package name to version'],
  ['package pin an unquoted number', edit((i) => (i.packages = { haproxy: 2.6 })), ENV, 'packages.haproxy', 'a version in quotes'],
  ['package pin with a shell character', edit((i) => (i.packages = { haproxy: '2.6;reboot' })), ENV, 'packages.haproxy', 'a version in quotes'],
  ['package pin on a bad name', edit((i) => (i.packages = { HAProxy: '2.6.12-1' })), ENV, 'packages.HAProxy', 'not a package name'],
  ['maintenance window misspelt day', edit((i) => (i.maintenance = { windows: ['Sta 02:00-04:00'] })), ENV, 'maintenance', '"Sta" is not a day'],
  ['maintenance unknown time zone', edit((i) => (i.maintenance = { windows: 'daily 01:00-02:00', timeZone: 'Europe/Berlinn' })), ENV, 'maintenance', 'Europe/Berlinn'],
  ['maintenance unknown key', edit((i) => (i.maintenance = { window: 'daily' })), ENV, 'maintenance.window', 'allowed here: windows, timeZone'],
  ['duplicate YAML key', stringify(base()).replace('  server-2:', '  lb-1:'), ENV, 'hosts.lb-1', 'duplicate key "lb-1"'],
  ['empty document', '', ENV, '(top level)', 'the inventory is empty'],
  ['top level a list', '- a\n- b\n', ENV, '(top level)', 'must be a mapping'],
  ['alias cycle', stringify(base()).replace('cluster:', 'cluster: &c\n  self: *c'), ENV, 'cluster.self', 'a cycle'],
  ['undefined alias', stringify(base()).replace('name: demo', 'name: *nope'), ENV, 'cluster.name', 'alias *nope'],
];

describe('parseInventory: invalid input', () => {
  it('has at least 20 invalid cases', () => expect(invalid.length).toBeGreaterThanOrEqual(20));

  it.each(invalid)('%s', (_what, inv, env, expectedPath, fragment) => {
    const err = problemsOf(inv, env);
    expect(err.file).toBe(FILE);
    const matching = err.problems.filter((p) => p.path === expectedPath);
    expect(matching, JSON.stringify(err.problems, null, 2)).not.toHaveLength(0);
    expect(matching.map((p) => p.message).join('\n')).toContain(fragment);
    // One mistake, one problem: no cascades from a single broken value.
    expect(err.problems, JSON.stringify(err.problems, null, 2)).toHaveLength(1);
    expect(err.message).toContain(`${FILE}: ${expectedPath}: `);
  });
});

describe('parseInventory: reporting', () => {
  it('reports all problems at once, in file order', () => {
    const err = problemsOf(edit((i) => {
      i.cluster.frontendPort = 70000;
      i.hosts['lb-1'].priority = 0;
      i.routes[0].via = 'gateway';
    }));
    expect(err.problems.map((p) => p.path)).toEqual(['cluster.frontendPort', 'routes[0].via', 'hosts.lb-1.priority']);
  });

  it('adds the line of the offending key', () => {
    const text = stringify(base());
    const line = text.split('\n').findIndex((l) => l.includes('priority: 100')) + 1;
    const err = problemsOf(text.replace('priority: 100', 'priority: 300'));
    expect(err.problems[0]?.message).toMatch(new RegExp(`got 300 \\(line ${line}\\)$`));
  });

  it('points a duplicate key at the duplicate, naming the first', () => {
    const text = stringify(base()).replace('  server-2:', '  lb-1:');
    const lines = text.split('\n');
    const first = lines.indexOf('  lb-1:') + 1;
    const second = lines.lastIndexOf('  lb-1:') + 1;
    expect(second).toBeGreaterThan(first);
    const err = problemsOf(text);
    expect(err.problems).toEqual([{
      path: 'hosts.lb-1',
      message: `duplicate key "lb-1" (first defined at line ${first}); YAML keys must be unique (line ${second})`,
    }]);
  });

  it('points a missing key at its parent', () => {
    const text = stringify(edit((i) => delete i.cluster.vip));
    const err = problemsOf(text);
    expect(err.problems[0]?.message).toContain(`(line ${text.split('\n').indexOf('cluster:') + 1})`);
  });

  it('explains which weight would move the VIP', () => {
    const err = problemsOf(edit((i) => (i.cluster.keepalived.check = { weight: -2 })));
    expect(err.problems[0]?.message).toContain('drops to 198, not below the next lb (priority 100)');
    expect(err.problems[0]?.message).toContain('e.g. -101');
    expect(err.problems[0]?.message).toContain('omit weight');
  });

  it.each([
    ['a 9-character env password', { HA_KEEPALIVED_PASS: 'Zq9xWv7Kp' }],
    ['an env password with a space', { HA_KEEPALIVED_PASS: 'Zq9 xW' }],
    ['an env password with a quote', { HA_KEEPALIVED_PASS: `Zq9'xW` }],
  ])('never puts a secret in a message: %s', (_what, env) => {
    const secret = env.HA_KEEPALIVED_PASS;
    const err = problemsOf(base(), env);
    expect(err.problems[0]?.path).toBe('cluster.keepalived.authPass');
    expect(err.problems[0]?.message).toContain('HA_KEEPALIVED_PASS');
    expect(err.message).not.toContain(secret);
    expect(JSON.stringify(err.problems)).not.toContain(secret);
  });

  it('never echoes a literal secret either', () => {
    const err = problemsOf(edit((i) => (i.cluster.keepalived.authPass = 'Lit3ralPw')));
    expect(err.message).not.toContain('Lit3ralPw');
    const err2 = problemsOf(edit((i) => (i.ssh.password = 'hunter2')));
    expect(err2.message).not.toContain('hunter2');
  });

  it('throws a UsageError, naming the file and line, for text that is not YAML', () => {
    expect(() => parse('cluster:\n  name: "demo\n')).toThrow(UsageError);
    expect(() => parse('cluster:\n  name: "demo\n')).toThrow(/^\/work\/inv\/cluster\.yaml:\d+:\d+: not valid YAML/);
    expect(() => parse('a: 1\n---\nb: 2\n')).toThrow(UsageError);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const levels = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]'];
    for (const [prev, cur] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f']]) {
      levels.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    expect(() => parse(levels.join('\n'))).toThrow(/more than 100000 values/);
  });
});

describe('loadInventory', () => {
  const example = fileURLToPath(new URL('../../inventory/example.yaml', import.meta.url));

  it('loads inventory/example.yaml cleanly given HA_KEEPALIVED_PASS', async () => {
    const inv = await loadInventory(example, { HA_KEEPALIVED_PASS: 'exampl3' });
    expect(inv.file).toBe(example);
    expect(inv.cluster.name).toBe('demo');
    expect(inv.cluster.keepalived.authPass).toEqual({ value: 'exampl3', source: 'env HA_KEEPALIVED_PASS' });
    expect(inv.hosts.map((h) => h.name)).toEqual(['lb-1', 'lb-2', 'server-1', 'server-2', 'server-3']);
    expect(inv.hosts[0]?.ssh.jumpHost).toBe('bastion.example.com');
    expect(inv.sysctls).toEqual({ 'net.ipv4.ip_nonlocal_bind': '1' });
    expect(readFileSync(example, 'utf8')).toContain('{ env: HA_KEEPALIVED_PASS }');
  });

  it('reports the missing variable for the example without HA_KEEPALIVED_PASS', async () => {
    await expect(loadInventory(example, {})).rejects.toThrow(/cluster\.keepalived\.authPass: environment variable HA_KEEPALIVED_PASS is not set/);
  });

  it('throws a UsageError for a file that does not exist', async () => {
    await expect(loadInventory('/nonexistent/inventory.yaml', ENV)).rejects.toThrow(UsageError);
    await expect(loadInventory('/nonexistent/inventory.yaml', ENV)).rejects.toThrow('cannot read inventory /nonexistent/inventory.yaml: no such file');
  });
});

// Host names are resolved on the controller, after the rest is valid; here by a table, never by real DNS.
describe('host addresses written as names', () => {
  /** A resolver answering from `table`, ENOTFOUND (or the code given) otherwise; it records each question. */
  function resolverOf(table: Record<string, string | { code: string }>): Resolver & { calls: string[] } {
    const calls: string[] = [];
    const resolve = async (name: string): Promise<string> => {
      calls.push(name);
      const answer = table[name];
      if (typeof answer === 'string') return answer;
      throw Object.assign(new Error(`getaddrinfo ${answer?.code ?? 'ENOTFOUND'} ${name}`), { code: answer?.code ?? 'ENOTFOUND' });
    };
    return Object.assign(resolve, { calls });
  }

  const DNS = {
    'lb1.example.com': '10.10.10.98',
    'lb2.example.com': '10.10.10.99',
    'cp1.example.com': '10.10.10.50',
    'cp2.example.com': '10.10.10.51',
    'cp1-alias.example.com': '10.10.10.50',
    'far.example.com': '10.10.20.5',
    'vip.example.com': '10.10.10.100',
  };

  const load = (inv: Inv, resolver: Resolver = resolverOf(DNS)) => parseAndResolveInventory(stringify(inv), FILE, ENV, HOME, resolver);

  async function loadProblems(inv: Inv, resolver: Resolver = resolverOf(DNS)): Promise<InventoryError> {
    try {
      await load(inv, resolver);
    } catch (err) {
      if (err instanceof InventoryError) return err;
      throw err;
    }
    throw new Error('expected an InventoryError, but the inventory loaded');
  }

  it.each([
    ['a fully qualified name', 'cp1.example.com', '10.10.10.50'],
    ['a single label', 'cp1', '10.10.10.50'],
    ['upper case and hyphens', 'K8S-CP-1.Example.COM', '10.10.10.50'],
    ['a label of 63 characters', `${'a'.repeat(63)}.example.com`, '10.10.10.50'],
    ['a label starting with a digit', '1cp.example.com', '10.10.10.50'],
    ['a punycode label', 'xn--bcher-kva.example', '10.10.10.50'],
  ])('accepts %s (%s) and keeps it as written, next to the IP it resolves to', async (_what, name, ip) => {
    const inv = await load(edit((i) => (i.hosts['server-1'].address = name)), resolverOf({ [name]: ip }));
    const host = inv.hosts.find((h) => h.name === 'server-1');
    expect(host).toMatchObject({ address: name, ip });
    expect(inv.hosts.find((h) => h.name === 'server-2')).toMatchObject({ address: '10.10.10.51', ip: '10.10.10.51' });
  });

  it('asks nothing about IPv4 addresses: an inventory of IPs loads without a resolver answering', async () => {
    const resolver = resolverOf({});
    const inv = await load(base(), resolver);
    expect(resolver.calls).toEqual([]);
    expect(inv.hosts.map((h) => [h.address, h.ip])).toEqual([
      ['10.10.10.98', '10.10.10.98'], ['10.10.10.99', '10.10.10.99'], ['10.10.10.50', '10.10.10.50'], ['10.10.10.51', '10.10.10.51'],
    ]);
  });

  it('asks once per name, and only once the rest of the inventory is valid', async () => {
    const resolver = resolverOf(DNS);
    await load(edit((i) => {
      i.hosts['lb-1'].address = 'lb1.example.com';
      i.hosts['server-1'].address = 'cp1.example.com';
      i.hosts['server-2'].address = 'cp2.example.com';
    }), resolver);
    expect(resolver.calls.sort()).toEqual(['cp1.example.com', 'cp2.example.com', 'lb1.example.com']);

    const notAsked = resolverOf(DNS);
    const err = await loadProblems(edit((i) => {
      i.hosts['server-1'].address = 'cp1.example.com';
      i.cluster.frontendPort = 70000;
    }), notAsked);
    expect(err.problems.map((p) => p.path)).toEqual(['cluster.frontendPort']);
    expect(notAsked.calls).toEqual([]);
  });

  // [what, address as written]: structural, so parseInventory refuses them before any lookup.
  it.each([
    ['a port', 'cp1.example.com:6443'],
    ['an underscore', 'cp_1.example.com'],
    ['a leading hyphen', '-cp1.example.com'],
    ['a label ending in a hyphen', 'cp1-.example.com'],
    ['an empty label', 'cp1..example.com'],
    ['a trailing dot', 'cp1.example.com.'],
    ['a label of 64 characters', `${'a'.repeat(64)}.example.com`],
    ['more than 253 characters', `${'abcdefghi.'.repeat(25)}example`],
    ['a space', 'cp 1'],
    ['a shell character', 'cp1.example.com;reboot'],
    ['a URL', 'https://cp1.example.com'],
    ['an IPv4 address with a bad octet', '10.0.0.300'],
    ['a shorthand IPv4 address', '10.1'],
    ['digits only', '1234'],
  ])('refuses %s: %s', (_what, address) => {
    const err = problemsOf(edit((i) => (i.hosts['server-1'].address = address)));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]?.path).toBe('hosts.server-1.address');
    expect(err.problems[0]?.message).toContain('must be an IPv4 address like 10.10.10.98 or a host name like cp1.example.com (letters, digits and "-" in labels separated by dots); got');
    expect(err.message).toContain(`${FILE}: hosts.server-1.address: `);
  });

  it('reports every name that does not resolve at once, naming the file, the key, the name and the error code', async () => {
    const err = await loadProblems(edit((i) => {
      i.hosts['lb-2'].address = 'lb2.example.com'; // resolves
      i.hosts['server-1'].address = 'cp9.example.com';
      i.hosts['server-2'].address = 'cp8.example.com';
    }), resolverOf({ ...DNS, 'cp8.example.com': { code: 'EAI_AGAIN' } }));
    expect(err.file).toBe(FILE);
    expect(err.problems.map((p) => p.path)).toEqual(['hosts.server-1.address', 'hosts.server-2.address']);
    expect(err.message).toContain(`${FILE}: hosts.server-1.address: cannot resolve cp9.example.com to an IPv4 address on this machine (ENOTFOUND)`);
    expect(err.message).toContain(`${FILE}: hosts.server-2.address: cannot resolve cp8.example.com to an IPv4 address on this machine (EAI_AGAIN)`);
    expect(err.problems[0]?.message).toMatch(/\(line \d+\)$/);
  });

  it('refuses an answer that is not an IPv4 address', async () => {
    const err = await loadProblems(edit((i) => (i.hosts['server-1'].address = 'cp1.example.com')), resolverOf({ 'cp1.example.com': 'fd00::1' }));
    expect(err.problems).toEqual([{ path: 'hosts.server-1.address', message: expect.stringContaining('cannot resolve cp1.example.com to an IPv4 address on this machine (the answer "fd00::1" is not an IPv4 address)') }]);
  });

  // [what, change, path, message fragment]: the address rules, on resolved IPs.
  it.each<[string, (i: Inv) => void, string, string]>([
    ['two names resolving to one IP', (i) => {
      i.hosts['server-1'].address = 'cp1.example.com';
      i.hosts['server-2'].address = 'cp1-alias.example.com';
    }, 'hosts.server-2.address', 'cp1-alias.example.com resolves to 10.10.10.50, also the address of server-1 (cp1.example.com); each host needs its own address'],
    ['one name written for two hosts', (i) => {
      i.hosts['server-1'].address = 'cp1.example.com';
      i.hosts['server-2'].address = 'cp1.example.com';
    }, 'hosts.server-2.address', 'cp1.example.com is also the address of server-1; each host needs its own address'],
    ['a name resolving to another host\'s IPv4 address', (i) => (i.hosts['server-2'].address = 'cp1.example.com'), 'hosts.server-2.address', 'cp1.example.com resolves to 10.10.10.50, also the address of server-1;'],
    ['an IPv4 address another host\'s name resolves to', (i) => {
      i.hosts['server-1'].address = 'cp2.example.com';
    }, 'hosts.server-2.address', '10.10.10.51 is also the address of server-1 (cp2.example.com)'],
    ['an lb name resolving outside the VIP subnet', (i) => (i.hosts['lb-2'].address = 'far.example.com'), 'cluster.vip', '10.10.10.100/24 is not in the subnet of lb-2 (far.example.com resolves to 10.10.20.5); the VIP must be in the same 10.10.10.0/24 network'],
    ['a host name resolving to the VIP', (i) => (i.hosts['server-1'].address = 'vip.example.com'), 'cluster.vip', '10.10.10.100 is the address of host server-1 (vip.example.com); the VIP must be an unused address'],
  ])('refuses %s', async (_what, change, expectedPath, fragment) => {
    const err = await loadProblems(edit(change));
    expect(err.problems, JSON.stringify(err.problems, null, 2)).toHaveLength(1);
    expect(err.problems[0]?.path).toBe(expectedPath);
    expect(err.problems[0]?.message).toContain(fragment);
  });

  it('accepts lbs written as names inside the VIP subnet', async () => {
    const inv = await load(edit((i) => {
      i.hosts['lb-1'].address = 'lb1.example.com';
      i.hosts['lb-2'].address = 'lb2.example.com';
    }));
    expect(inv.hosts.filter((h) => h.roles.includes('lb')).map((h) => h.ip)).toEqual(['10.10.10.98', '10.10.10.99']);
  });

  it('parseInventory stays pure: a name takes its IP from the resolution it is given', async () => {
    const text = stringify(edit((i) => (i.hosts['server-1'].address = 'cp1.example.com')));
    const inv = parseInventory(text, FILE, ENV, HOME, await resolveNames(['cp1.example.com'], resolverOf(DNS)));
    expect(inv.hosts.find((h) => h.name === 'server-1')).toMatchObject({ address: 'cp1.example.com', ip: '10.10.10.50' });
  });

  it('loadInventory passes its resolver on', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ha-inv-'));
    const file = path.join(dir, 'names.yaml');
    writeFileSync(file, stringify(edit((i) => (i.hosts['server-1'].address = 'cp1.example.com'))));
    const inv = await loadInventory(file, ENV, resolverOf(DNS));
    expect(inv.hosts.find((h) => h.name === 'server-1')?.ip).toBe('10.10.10.50');
    await expect(loadInventory(file, ENV, resolverOf({}))).rejects.toThrow(`${file}: hosts.server-1.address: cannot resolve cp1.example.com to an IPv4 address on this machine (ENOTFOUND)`);
  });
});

// Keys other features build on: read and resolved here, used elsewhere.
describe('ssh.config and cluster.endpoint', () => {
  // The ssh config is read when the inventory is loaded (its aliases decide where hosts are): these
  // files exist, in a directory of their own, as home and the inventory's directory.
  const withExisting = (inv: Inv, existing: string[]) => {
    const root = mkdtempSync(join(tmpdir(), 'ha-provision-sshconfig-'));
    for (const f of existing) {
      mkdirSync(dirname(join(root, f)), { recursive: true });
      writeFileSync(join(root, f), 'Host unused\n  User nobody\n');
    }
    const at = (f: string | undefined) => (f === undefined ? undefined : join(root, f));
    return { inv: parseInventory(stringify(inv), join(root, 'inv', 'cluster.yaml'), ENV, join(root, 'home'), undefined, (f) => existing.some((e) => join(root, e) === f)), at };
  };

  it.each<[string, unknown, string[], string | undefined]>([
    ['absent, no ~/.ssh/config', undefined, [], undefined],
    ['absent, ~/.ssh/config exists', undefined, ['home/.ssh/config'], 'home/.ssh/config'],
    ['false, though ~/.ssh/config exists', false, ['home/.ssh/config'], undefined],
    ['a path under ~', '~/.ssh/lab_config', ['home/.ssh/lab_config'], 'home/.ssh/lab_config'],
    ['a path relative to the inventory', 'ssh/config', ['inv/ssh/config'], 'inv/ssh/config'],
  ])('ssh.config %s', (_what, config, existing, expected) => {
    const { inv, at } = withExisting(edit((i) => { if (config !== undefined) i.ssh.config = config; }), existing);
    expect(inv.sshConfig).toBe(at(expected));
  });

  it('an ssh.config the inventory names but that cannot be read is a problem at ssh.config, naming the file', () => {
    const err = problemsOf(edit((i) => (i.ssh.config = '/nonexistent/ssh_config')));
    expect(err.problems).toEqual([{ path: 'ssh.config', message: expect.stringContaining('/nonexistent/ssh_config') }]);
  });

  it('parseInventory alone takes no file to exist, so it does not depend on this machine', () => {
    expect(parse(base()).sshConfig).toBeUndefined();
  });

  it.each<[string, unknown, string, string]>([
    ['ssh.config true', true, 'ssh.config', 'must be a file path (absolute, relative to the inventory file, or starting with ~/) or false, got true'],
    ['ssh.config ~user', '~bob/config', 'ssh.config', 'not ~user'],
  ])('refuses %s', (_what, config, expectedPath, fragment) => {
    const err = problemsOf(edit((i) => (i.ssh.config = config)));
    expect(err.problems).toEqual([{ path: expectedPath, message: expect.stringContaining(fragment) }]);
  });

  it('ssh.config is a top-level key only', () => {
    const err = problemsOf(edit((i) => (i.hosts['lb-1'].ssh = { config: false })));
    expect(err.problems).toEqual([{ path: 'hosts.lb-1.ssh.config', message: expect.stringContaining('unknown key; allowed here: user, port') }]);
  });

  it('reads cluster.endpoint as written, and leaves it out when absent', () => {
    expect(parse(edit((i) => (i.cluster.endpoint = 'k8s-api.example.com'))).cluster.endpoint).toBe('k8s-api.example.com');
    expect(parse(base()).cluster).not.toHaveProperty('endpoint');
  });

  it.each(['https://k8s.example.com', 'k8s_api.example.com', '10.10.10.100', 'api.example.com.', 42])('refuses the endpoint %s', (endpoint) => {
    const err = problemsOf(edit((i) => (i.cluster.endpoint = endpoint)));
    expect(err.problems).toEqual([{ path: 'cluster.endpoint', message: expect.stringContaining('must be a DNS name clients reach the API by, like api.example.com') }]);
  });
});
