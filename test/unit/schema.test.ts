// The shipped JSON Schema (schema/inventory.schema.json) against the loader: generated from the same zod
// source, so on the shape of an inventory they must agree; the rules between values (checks.ts) and the
// environment are the loader's alone.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { InventoryError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/load.js';
import { SCHEMA_FILE, inventorySchemaText } from '../../src/inventory/schemaJson.js';
import { renderInventory } from '../../src/lab/inventory.js';

const FILE = '/work/inv/cluster.yaml';
const HOME = '/home/tester';
const ENV = { HA_KEEPALIVED_PASS: 'k33pPass', SSH_PASS: 'x' } as NodeJS.ProcessEnv;
const RESOLVED = { ips: new Map([['cp1.example.com', '10.10.10.52']]), failures: new Map<string, string>() };
const EXAMPLE = fileURLToPath(new URL('../../inventory/example.yaml', import.meta.url));

const committed = readFileSync(SCHEMA_FILE, 'utf8');
const ajv = new Ajv2020({ allErrors: true, strict: true });
const validate = ajv.compile(JSON.parse(committed) as object);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Inv = Record<string, any>;

function minimal(): Inv {
  return {
    apiVersion: 'ha-provision/v1',
    cluster: { name: 'demo', vip: '10.10.10.100/24', keepalived: { authPass: 'Abc-1234' } },
    hosts: {
      'lb-1': { address: '10.10.10.98', roles: ['lb'], interface: 'eth1', priority: 200 },
      'server-1': { address: '10.10.10.50', roles: ['server'] },
    },
  };
}

/** Every key the inventory has, each set. */
function full(): Inv {
  const ssh = {
    user: 'ops', port: 2222, identityFile: '~/.ssh/id_ed25519', password: { env: 'SSH_PASS' }, sudoPassword: { env: 'SSH_PASS' },
    agent: false, knownHostsFile: 'known_hosts', hostKeyPolicy: 'accept-new', jumpHost: 'bastion.example.com:22',
    connectTimeout: '3s', commandTimeout: '10m', keepaliveInterval: '500ms',
  };
  return {
    apiVersion: 'ha-provision/v1',
    cluster: {
      name: 'demo', topology: 'haproxy-keepalived', mode: 'services', vip: '10.10.10.100/24', endpoint: 'k8s-api.example.com',
      frontendPort: 8443, backendPort: 6443, extraPorts: [9345], healthCheck: { path: '/readyz' },
      haproxy: { timeouts: { connect: '5s', client: '1m', server: '1m', check: '10s', queue: '24h' } },
      keepalived: { virtualRouterId: 7, authPass: { env: 'HA_KEEPALIVED_PASS' }, unicast: true, check: { interval: 2, fall: 2, rise: 2, weight: -150 } },
      kubeVip: { image: 'ghcr.io/kube-vip/kube-vip:v1.2.3', kubeconfig: '/etc/kubernetes/admin.conf' },
      staticPods: { keepalivedImage: 'registry.example.com/keepalived:2.2.8', haproxyImage: 'haproxy:2.8' },
    },
    ssh: { ...ssh, config: false },
    sysctls: { 'net.ipv4.ip_nonlocal_bind': 1, 'net.ipv4.conf.all.rp_filter': '2' },
    routes: [{ to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }],
    history: { keep: 20 },
    packages: { haproxy: '2.6.12-1+deb12u4' },
    maintenance: { windows: ['Sat 02:00-04:00'], timeZone: 'Europe/Berlin' },
    hosts: {
      'lb-1': { address: '10.10.10.98', roles: ['lb'], interface: 'eth1', priority: 200, ssh: { ...ssh, port: 22 } },
      'lb-2': { address: '10.10.10.99', roles: ['lb'], interface: 'eth1', priority: 100 },
      'server-1': { address: '10.10.10.50', roles: ['server'] },
      'server-2': { address: 'cp1.example.com', roles: ['server'] },
    },
  };
}

const edit = (f: (inv: Inv) => void, from: () => Inv = minimal): Inv => {
  const inv = from();
  f(inv);
  return inv;
};

/** What the loader says: 'ok', or the key paths of its problems. */
function loaderSays(inv: Inv): 'ok' | string[] {
  try {
    parseInventory(stringify(inv), FILE, ENV, HOME, RESOLVED);
    return 'ok';
  } catch (err) {
    if (err instanceof InventoryError) return err.problems.map((p) => p.path);
    throw err;
  }
}

/** What the JSON Schema says about the same YAML text, read as JSON would have it. */
function schemaSays(inv: Inv): 'ok' | string[] {
  if (validate(parseYaml(stringify(inv)))) return 'ok';
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

type Verdict = 'valid' | 'invalid' | 'checks only';
// [what, inventory, verdict]. valid: both accept. invalid: both refuse (the shape is wrong). checks only:
// a rule between values, or the environment: the loader refuses, the JSON Schema cannot know and accepts.
const cases: [string, Inv, Verdict][] = [
  ['the minimal inventory', minimal(), 'valid'],
  ['every key set', full(), 'valid'],
  ['no keepalived section (kube-vip), lbs without priority', edit((i) => {
    delete i.cluster.keepalived;
    i.cluster.topology = 'kube-vip';
    delete i.hosts['lb-1'].priority;
  }), 'valid'],
  ['ssh.config: false', edit((i) => (i.ssh = { config: false })), 'valid'],
  ['durations at the 24h limit in every unit', edit((i) => (i.ssh = { connectTimeout: '86400000ms', commandTimeout: '86400s', keepaliveInterval: '1440m' })), 'valid'],
  ['a maintenance window as one string', edit((i) => (i.maintenance = { windows: 'daily 01:00-02:00' })), 'valid'],
  // Wrong types
  ['a port as a string', edit((i) => (i.cluster.frontendPort = '6443')), 'invalid'],
  ['unicast as a string', edit((i) => (i.cluster.keepalived.unicast = 'yes')), 'invalid'],
  ['roles as a string', edit((i) => (i.hosts['server-1'].roles = 'server')), 'invalid'],
  ['hosts as a list', edit((i) => (i.hosts = ['lb-1'])), 'invalid'],
  ['cluster as a string', edit((i) => (i.cluster = 'demo')), 'invalid'],
  ['authPass as a number', edit((i) => (i.cluster.keepalived.authPass = 12345678)), 'invalid'],
  ['a literal ssh password', edit((i) => (i.ssh = { password: 'hunter2' })), 'invalid'],
  ['ssh.config: true', edit((i) => (i.ssh = { config: true })), 'invalid'],
  ['a package version as a number', edit((i) => (i.packages = { haproxy: 2.6 })), 'invalid'],
  ['a timeout without a unit', edit((i) => (i.ssh = { connectTimeout: 10 })), 'invalid'],
  // Unknown keys
  ['an unknown top-level key', edit((i) => (i.clustr = {})), 'invalid'],
  ['an unknown cluster key', edit((i) => (i.cluster.frontEndPort = 1)), 'invalid'],
  ['an unknown host key', edit((i) => (i.hosts['lb-1'].prio = 1)), 'invalid'],
  ['ssh.config on a host (top level only)', edit((i) => (i.hosts['lb-1'].ssh = { config: false })), 'invalid'],
  ['a second key beside env', edit((i) => (i.cluster.keepalived.authPass = { env: 'HA_KEEPALIVED_PASS', default: 'x' })), 'invalid'],
  // Missing required keys
  ['no apiVersion', edit((i) => delete i.apiVersion), 'invalid'],
  ['no cluster', edit((i) => delete i.cluster), 'invalid'],
  ['no hosts', edit((i) => delete i.hosts), 'invalid'],
  ['no cluster name', edit((i) => delete i.cluster.name), 'invalid'],
  ['no vip', edit((i) => delete i.cluster.vip), 'invalid'],
  ['no authPass', edit((i) => delete i.cluster.keepalived.authPass), 'invalid'],
  ['no host address', edit((i) => delete i.hosts['server-1'].address), 'invalid'],
  ['no roles', edit((i) => delete i.hosts['server-1'].roles), 'invalid'],
  ['a route without dev', edit((i) => (i.routes = [{ to: '10.244.0.0/16', via: '192.168.20.1' }])), 'invalid'],
  ['an env reference without env', edit((i) => (i.cluster.keepalived.authPass = {})), 'invalid'],
  // Bad enums and patterns
  ['an unknown topology', edit((i) => (i.cluster.topology = 'traefik')), 'invalid'],
  ['an unknown mode', edit((i) => (i.cluster.mode = 'pods')), 'invalid'],
  ['an unknown hostKeyPolicy', edit((i) => (i.ssh = { hostKeyPolicy: 'yes' })), 'invalid'],
  ['an unknown role', edit((i) => (i.hosts['server-1'].roles = ['master'])), 'invalid'],
  ['empty roles', edit((i) => (i.hosts['server-1'].roles = [])), 'invalid'],
  ['the wrong apiVersion', edit((i) => (i.apiVersion = 'v2')), 'invalid'],
  ['a vip without prefix', edit((i) => (i.cluster.vip = '10.10.10.100')), 'invalid'],
  ['a vip with prefix 0', edit((i) => (i.cluster.vip = '10.10.10.100/0')), 'invalid'],
  ['an octet above 255', edit((i) => (i.hosts['server-1'].address = '10.0.0.300')), 'invalid'],
  ['a host address of digits only', edit((i) => (i.hosts['server-1'].address = '1234')), 'invalid'],
  ['a port of 70000', edit((i) => (i.cluster.backendPort = 70000)), 'invalid'],
  ['a duration of 25h', edit((i) => (i.ssh = { commandTimeout: '25h' })), 'invalid'],
  ['a duration of 0s', edit((i) => (i.ssh = { commandTimeout: '0s' })), 'invalid'],
  ['a duration in days', edit((i) => (i.ssh = { commandTimeout: '5d' })), 'invalid'],
  ['a literal authPass of 9 characters', edit((i) => (i.cluster.keepalived.authPass = 'abcdefghi')), 'invalid'],
  ['a literal authPass with #', edit((i) => (i.cluster.keepalived.authPass = 'ab#cd')), 'invalid'],
  ['an env name with a hyphen', edit((i) => (i.cluster.keepalived.authPass = { env: 'HA-PASS' })), 'invalid'],
  ['an endpoint that is a URL', edit((i) => (i.cluster.endpoint = 'https://k8s.example.com')), 'invalid'],
  ['an endpoint with an underscore', edit((i) => (i.cluster.endpoint = 'k8s_api.example.com')), 'invalid'],
  ['an interface of 16 characters', edit((i) => (i.hosts['lb-1'].interface = 'enp0s31f6abcdefg')), 'invalid'],
  ['identityFile ~user', edit((i) => (i.ssh = { identityFile: '~bob/.ssh/id' })), 'invalid'],
  ['a sysctl name without a dot', edit((i) => (i.sysctls = { IPForward: 1 })), 'invalid'],
  ['a host name with a quote', edit((i) => (i.hosts["lb'3"] = { address: '10.10.10.97', roles: ['server'] })), 'invalid'],
  ['a route to without prefix', edit((i) => (i.routes = [{ to: 'default', via: '192.168.20.1', dev: 'eth1' }])), 'invalid'],
  // The loader's rules between values, and its environment: beyond any JSON Schema.
  ['equal lb priorities', edit((i) => (i.hosts['lb-2'] = { address: '10.10.10.99', roles: ['lb'], interface: 'eth1', priority: 200 })), 'checks only'],
  ['a vip outside the lb subnet', edit((i) => (i.cluster.vip = '10.10.20.100/24')), 'checks only'],
  ['a vip that is the network address', edit((i) => (i.cluster.vip = '10.10.10.0/24')), 'checks only'],
  ['a check weight too small to move the VIP', edit((i) => (i.cluster.keepalived.check = { weight: -2 }), full), 'checks only'],
  ['an ssh.config file that does not exist', edit((i) => (i.ssh = { config: '~/.ssh/config.d/none' })), 'checks only'],
  ['frontendPort on the lbs\' SSH port', edit((i) => (i.cluster.frontendPort = 22)), 'checks only'],
  ['two hosts at one address', edit((i) => (i.hosts['server-2'] = { address: '10.10.10.50', roles: ['server'] })), 'checks only'],
  ['an extra port equal to the frontend port', edit((i) => (i.cluster.extraPorts = [6443])), 'checks only'],
  ['a role listed twice', edit((i) => (i.hosts['server-1'].roles = ['server', 'server'])), 'checks only'],
  ['an lb without interface', edit((i) => delete i.hosts['lb-1'].interface), 'checks only'],
  ['a server with a priority', edit((i) => (i.hosts['server-1'].priority = 50)), 'checks only'],
  ['no lb', edit((i) => delete i.hosts['lb-1']), 'checks only'],
  ['a route with host bits', edit((i) => (i.routes = [{ to: '10.244.0.1/16', via: '192.168.20.1', dev: 'eth1' }])), 'checks only'],
  ['a jumpHost port of 70000', edit((i) => (i.ssh = { jumpHost: 'bastion:70000' })), 'checks only'],
  ['a misspelt maintenance day', edit((i) => (i.maintenance = { windows: ['Sta 02:00-04:00'] })), 'checks only'],
  ['an unknown time zone', edit((i) => (i.maintenance = { timeZone: 'Europe/Berlinn' })), 'checks only'],
  ['an env secret that is not set', edit((i) => (i.cluster.keepalived.authPass = { env: 'NOT_SET_ANYWHERE' })), 'checks only'],
];

describe('the JSON Schema and the loader agree on the shape of an inventory', () => {
  it('covers valid, invalid and checks-only cases', () => {
    for (const verdict of ['valid', 'invalid', 'checks only']) expect(cases.filter((c) => c[2] === verdict).length).toBeGreaterThanOrEqual(5);
  });

  it.each(cases)('%s', (_what, inv, verdict) => {
    const loader = loaderSays(inv);
    const schema = schemaSays(inv);
    if (verdict === 'valid') {
      expect(loader).toBe('ok');
      expect(schema).toBe('ok');
    } else {
      // Each case breaks one thing: the loader says so once.
      expect(loader).toHaveLength(1);
      if (verdict === 'invalid') expect(schema).not.toBe('ok');
      else expect(schema).toBe('ok');
    }
  });

  // YAML's `key:` with no value: the loader reads it as not given, as it always has; JSON has null, which
  // the schema does not allow, so an editor marks it. The one place where they differ.
  it('a key with no value: the loader takes it as not given, the JSON Schema refuses null', () => {
    const text = stringify(minimal()).replace('name: demo', 'name: demo\n  frontendPort:');
    expect(parseInventory(text, FILE, ENV, HOME).cluster.frontendPort).toBe(6443);
    expect(validate(parseYaml(text))).toBe(false);
  });
});

describe('schema/inventory.schema.json', () => {
  it('is what the zod schema generates now (if not: run `npm run schema` and commit the file)', () => {
    expect(committed, 'schema/inventory.schema.json is stale: run `npm run schema` and commit it').toBe(inventorySchemaText());
  });

  it('validates inventory/example.yaml, which names it for editors', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/inventory.schema.json');
    expect(path.resolve(path.dirname(EXAMPLE), '../schema/inventory.schema.json')).toBe(SCHEMA_FILE);
    expect(validate(parseYaml(text)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('describes every key, so editors can say what it takes', () => {
    const undescribed: string[] = [];
    const walk = (node: unknown, where: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as { properties?: Record<string, { description?: string }>; additionalProperties?: unknown; items?: unknown; anyOf?: unknown[] };
      for (const [key, child] of Object.entries(n.properties ?? {})) {
        if (!child.description) undescribed.push(`${where}.${key}`);
        walk(child, `${where}.${key}`);
      }
      walk(n.additionalProperties, `${where}.*`);
      walk(n.items, `${where}[]`);
      for (const option of n.anyOf ?? []) walk(option, where);
    };
    walk(JSON.parse(committed), '');
    expect(undescribed).toEqual([]);
  });
});

describe('the lab inventory', () => {
  const text = renderInventory({
    name: 'lab', vip: '10.213.0.100/24', gateway: '10.213.0.1', virtualRouterId: 51,
    identityFile: '/var/lib/lab/id_ed25519', knownHostsFile: '/var/lib/lab/known_hosts', schemaFile: SCHEMA_FILE,
    hosts: [
      { name: 'lb-1', address: '10.213.0.11', roles: ['lb'] },
      { name: 'lb-2', address: '10.213.0.12', roles: ['lb'] },
      { name: 'server-1', address: '10.213.0.21', roles: ['server'] },
    ],
  });

  it('names the installed schema file by its absolute path, and passes it and the loader', () => {
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${SCHEMA_FILE}`);
    expect(path.isAbsolute(SCHEMA_FILE) && existsSync(SCHEMA_FILE)).toBe(true);
    expect(validate(parseYaml(text)), JSON.stringify(validate.errors)).toBe(true);
    expect(parseInventory(text, '/var/lib/lab/lab.yaml', {}, HOME).hosts.map((h) => h.name)).toEqual(['lb-1', 'lb-2', 'server-1']);
  });
});

// Every message is the schema's own (what is allowed, what was given), never zod's default wording: a
// value of each odd kind at every key of the full inventory.
describe('messages', () => {
  function keyPaths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
    if (typeof value !== 'object' || value === null) return [at];
    const children = Object.entries(value).flatMap(([k, v]) => keyPaths(v, [...at, Array.isArray(value) ? Number(k) : k]));
    return at.length === 0 ? children : [at, ...children];
  }

  it('come from the schema for any odd value at any key', () => {
    const defaults: string[] = [];
    for (const at of keyPaths(full())) {
      for (const odd of [1e20, 1.5, [1], { a: 1 }]) {
        const inv = full();
        const parent = at.slice(0, -1).reduce((o, k) => o[k], inv);
        parent[at[at.length - 1] ?? ''] = odd;
        try {
          parseInventory(stringify(inv), FILE, ENV, HOME, RESOLVED);
        } catch (err) {
          if (!(err instanceof InventoryError)) throw err;
          for (const p of err.problems) {
            if (/^(Invalid|Too (big|small)|Unrecognized)/.test(p.message)) defaults.push(`${at.join('.')} = ${JSON.stringify(odd)}: ${p.path}: ${p.message}`);
          }
        }
      }
    }
    expect(defaults).toEqual([]);
  });
});
