// The inventory with an OpenSSH client config: which value wins (the inventory's keys, then the ssh
// config's first match, then the defaults), where each came from, jump chains, and the errors. Every case
// gets a fresh temp HOME (never the real one); `~` stands for it in the expectations.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { InventoryError } from '../../src/errors.js';
import { parseAndResolveInventory, parseInventory } from '../../src/inventory/load.js';
import { NOTHING_RESOLVED } from '../../src/inventory/resolve.js';
import type { Inventory } from '../../src/inventory/types.js';
import { jsonReport } from '../../src/cli/output.js';

const ENV = { HA_KEEPALIVED_PASS: 'k33pPass' } as NodeJS.ProcessEnv;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Inv = Record<string, any>;

/** Hosts written as ssh aliases, and no ssh: block at all. */
function base(): Inv {
  return {
    apiVersion: 'ha-provision/v1',
    cluster: { name: 'demo', vip: '10.10.10.100/24', keepalived: { authPass: { env: 'HA_KEEPALIVED_PASS' } } },
    hosts: {
      'lb-1': { address: 'lb-1', roles: ['lb'], interface: 'eth1', priority: 200 },
      'lb-2': { address: 'lb-2', roles: ['lb'], interface: 'eth1', priority: 100 },
      'server-1': { address: '10.10.10.50', roles: ['server'] },
    },
  };
}

/** Aliases for the two lbs, as most cases need them. */
const ALIASES = 'Host lb-1\n  HostName 10.10.10.98\nHost lb-2\n  HostName 10.10.10.99\n';

interface Setup {
  readonly config?: string; // ~/.ssh/config; absent: no such file
  readonly files?: Readonly<Record<string, string>>; // more files under HOME
  readonly edit?: (inv: Inv, home: string) => void;
}

function home(setup: Setup): string {
  const dir = mkdtempSync(join(tmpdir(), 'ha-sshconfig-home-'));
  mkdirSync(join(dir, '.ssh'));
  if (setup.config !== undefined) writeFileSync(join(dir, '.ssh', 'config'), setup.config);
  for (const [rel, text] of Object.entries(setup.files ?? {})) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

function load(setup: Setup): { inventory: Inventory; home: string } {
  const dir = home(setup);
  const inv = base();
  setup.edit?.(inv, dir);
  return { inventory: parseInventory(stringify(inv), join(dir, 'inv', 'cluster.yaml'), ENV, dir, NOTHING_RESOLVED, existsSync), home: dir };
}

/** HOME/ in expected paths → that case's HOME (sources show files under it as ~/…, values are absolute). */
const at = (dir: string, v: unknown): unknown => JSON.parse(JSON.stringify(v).replaceAll('HOME/', `${dir}/`));

describe('ssh config: effective settings and where they came from', () => {
  const cases: [string, Setup, string, Record<string, unknown>][] = [
    ['an alias gives the address, and the rest stays default',
      { config: ALIASES }, 'lb-1',
      { config: '~/.ssh/config', alias: 'lb-1', hostName: { value: '10.10.10.98', from: '~/.ssh/config:2 (Host lb-1)' }, user: { value: 'root', from: 'default' }, port: { value: 22, from: 'default' }, proxyJump: { value: null, from: 'default', hops: [] } }],
    ['a wildcard Host applies; the first value wins, later sections fill what is unset',
      { config: `${ALIASES}Host lb-*\n  User first\nHost *\n  User second\n  Port 2200\n` }, 'lb-2',
      { user: { value: 'first', from: '~/.ssh/config:6 (Host lb-*)' }, port: { value: 2200, from: '~/.ssh/config:9 (Host *)' } }],
    ['keywords are case-insensitive; a negated pattern excludes a host',
      { config: `Host lb-2\n  hostname 10.10.10.99\nHOST lb-1\n  HOSTNAME 10.10.10.98\nHost * !lb-2\n  user deploy\n` }, 'lb-2',
      { hostName: { value: '10.10.10.99', from: '~/.ssh/config:2 (Host lb-2)' }, user: { value: 'root', from: 'default' } }],
    ['an address written as an IP is looked up too (Host patterns over addresses)',
      { config: `${ALIASES}Host 10.10.10.5*\n  User backend\n  ConnectTimeout 5\n` }, 'server-1',
      { hostName: { value: '10.10.10.50', from: 'inventory hosts.server-1.address' }, user: { value: 'backend', from: '~/.ssh/config:6 (Host 10.10.10.5*)' }, connectTimeout: { value: '5s', from: '~/.ssh/config:7 (Host 10.10.10.5*)' } }],
    ['the inventory wins over the file, only for the keys it writes: host level, then top level',
      { config: `${ALIASES}Host *\n  User cfg\n  Port 2200\n  StrictHostKeyChecking no\n`, edit: (i) => { i.ssh = { user: 'top' }; i.hosts['lb-1'].ssh = { port: 2222 }; } }, 'lb-1',
      { user: { value: 'top', from: 'inventory ssh.user' }, port: { value: 2222, from: 'inventory hosts.lb-1.ssh.port' }, hostKeyPolicy: { value: 'off', from: '~/.ssh/config:8 (Host *)' } }],
    ['~ and % tokens in IdentityFile and UserKnownHostsFile; the first IdentityFile and known_hosts file',
      { config: `${ALIASES}Host lb-*\n  User deploy\n  IdentityFile ~/.ssh/%n_%r_%p\n  IdentityFile ~/.ssh/second\n  UserKnownHostsFile %d/kh/%h /etc/other\n`, files: { '.ssh/lb-1_deploy_22': 'key' } }, 'lb-1',
      { identityFile: { value: 'HOME/.ssh/lb-1_deploy_22', from: '~/.ssh/config:7 (Host lb-*)' }, knownHostsFile: { value: 'HOME/kh/10.10.10.98', from: '~/.ssh/config:9 (Host lb-*)' } }],
    ['an IdentityFile that does not exist is skipped, as ssh skips it',
      { config: `${ALIASES}Host *\n  IdentityFile ~/.ssh/id_missing\n` }, 'lb-1',
      { identityFile: { value: null, from: '~/.ssh/config:6 (Host *): HOME/.ssh/id_missing does not exist, skipped as ssh does' } }],
    ['Match host sees the HostName',
      { config: `${ALIASES}Match host 10.10.10.9*\n  Port 2201\n` }, 'lb-2',
      { port: { value: 2201, from: '~/.ssh/config:6 (Match host 10.10.10.9*)' } }],
    ['Match user sees the user the inventory names',
      { config: `${ALIASES}Match user deploy\n  Port 2202\n`, edit: (i) => { i.hosts['lb-1'].ssh = { user: 'deploy' }; } }, 'lb-1',
      { port: { value: 2202, from: '~/.ssh/config:6 (Match user deploy)' } }],
    ['Include (relative to ~/.ssh, globbed) at the top of the file',
      { config: `Include conf.d/*.conf\n${ALIASES}`, files: { '.ssh/conf.d/10-lb.conf': 'Host lb-*\n  User included\n' } }, 'lb-1',
      { user: { value: 'included', from: '~/.ssh/conf.d/10-lb.conf:2 (Host lb-*)' } }],
    ['a ProxyJump list: each hop with its own settings, a user@ and :port in the list winning',
      { config: `${ALIASES}Host lb-*\n  ProxyJump ops@bastion:2222,jump2\nHost bastion\n  HostName 10.9.0.1\n  User nobody\n  IdentityFile ~/.ssh/bastion\n  StrictHostKeyChecking accept-new\n  UserKnownHostsFile ~/.ssh/bastion_known\nHost jump2\n  HostName 10.9.0.2\n`, files: { '.ssh/bastion': 'key' } }, 'lb-1',
      { proxyJump: { value: 'ops@bastion:2222,jump2', from: '~/.ssh/config:6 (Host lb-*)', hops: [
        { hop: 'ops@bastion:2222', hostName: { value: '10.9.0.1', from: '~/.ssh/config:8 (Host bastion)' }, user: { value: 'ops', from: '~/.ssh/config:6 (Host lb-*) (ops@bastion:2222)' }, port: { value: 2222, from: '~/.ssh/config:6 (Host lb-*) (ops@bastion:2222)' }, identityFile: { value: 'HOME/.ssh/bastion', from: '~/.ssh/config:10 (Host bastion)' }, hostKeyPolicy: { value: 'accept-new', from: '~/.ssh/config:11 (Host bastion)' }, knownHostsFile: { value: 'HOME/.ssh/bastion_known', from: '~/.ssh/config:12 (Host bastion)' } },
        { hop: 'jump2', hostName: { value: '10.9.0.2', from: '~/.ssh/config:14 (Host jump2)' }, user: { value: 'root', from: 'default' }, port: { value: 22, from: 'default' }, identityFile: { value: null, from: 'default' }, hostKeyPolicy: { value: 'strict', from: 'default' } },
      ] } }],
    ['the first hop\'s own ProxyJump is followed (two hops from one alias)',
      { config: `${ALIASES}Host lb-*\n  ProxyJump inner\nHost inner\n  HostName 10.9.0.2\n  ProxyJump outer\nHost outer\n  HostName 10.9.0.1\n` }, 'lb-1',
      { proxyJump: { value: 'inner', hops: [{ hop: 'outer', hostName: { value: '10.9.0.1' } }, { hop: 'inner', hostName: { value: '10.9.0.2' } }] } }],
    ['ProxyJump none ends the chain before a later Host * sets one',
      { config: `${ALIASES}Host lb-1\n  ProxyJump none\nHost * !10.9.0.1\n  ProxyJump 10.9.0.1\n` }, 'lb-1',
      { proxyJump: { value: 'none', from: '~/.ssh/config:6 (Host lb-1)', hops: [] } }],
    ['the inventory\'s jumpHost wins over ProxyJump, with the host\'s user and keys',
      { config: `${ALIASES}Host lb-*\n  User deploy\n  ProxyJump 10.9.0.1\n`, edit: (i) => { i.ssh = { jumpHost: '10.9.0.7:2200' }; } }, 'lb-1',
      { proxyJump: { value: '10.9.0.7:2200', from: 'inventory ssh.jumpHost', hops: [{ hop: '10.9.0.7:2200', user: { value: 'deploy', from: 'as the host\'s (ssh.jumpHost: same user and keys)' }, port: { value: 2200 } }] } }],
    ['jumpHost: none turns a ProxyJump off',
      { config: `${ALIASES}Host * !10.9.0.1\n  ProxyJump 10.9.0.1\n`, edit: (i) => { i.hosts['lb-1'].ssh = { jumpHost: 'none' }; } }, 'lb-1',
      { proxyJump: { value: 'none', from: 'inventory hosts.lb-1.ssh.jumpHost', hops: [] } }],
    ['ssh.config: false reads no file, even one that exists',
      { config: 'Host *\n  User deploy\n', edit: (i) => { i.hosts['lb-1'].address = '10.10.10.98'; i.hosts['lb-2'].address = '10.10.10.99'; i.ssh = { config: false }; } }, 'lb-1',
      { config: null, user: { value: 'root', from: 'default' } }],
    ['no ~/.ssh/config: no ssh config, no problem',
      { edit: (i) => { i.hosts['lb-1'].address = '10.10.10.98'; i.hosts['lb-2'].address = '10.10.10.99'; } }, 'lb-1',
      { config: null, hostName: { value: '10.10.10.98', from: 'inventory hosts.lb-1.address' } }],
    ['an explicit ssh.config, relative to the inventory file',
      { files: { 'inv/ssh_config': `${ALIASES}Host *\n  User fromexplicit\n` }, edit: (i) => { i.ssh = { config: 'ssh_config' }; } }, 'lb-1',
      { config: '~/inv/ssh_config', user: { value: 'fromexplicit', from: '~/inv/ssh_config:6 (Host *)' } }],
  ];

  it.each(cases)('%s', (_title, setup, hostName, expected) => {
    const { inventory, home: dir } = load(setup);
    const host = inventory.hosts.find((h) => h.name === hostName)!;
    expect(host.sshSources).toMatchObject(at(dir, expected) as object);
  });

  it.each([
    ['yes', 'strict'], ['ask', 'strict'], ['accept-new', 'accept-new'], ['no', 'off'], ['off', 'off'], ['Yes', 'strict'],
  ])('StrictHostKeyChecking %s → %s', (value, policy) => {
    const { inventory } = load({ config: `${ALIASES}Host *\n  StrictHostKeyChecking ${value}\n` });
    expect(inventory.hosts[0]!.ssh.hostKeyPolicy).toBe(policy);
  });

  it('an alias is where the host is: address, ip, backends and known_hosts use its HostName', () => {
    const { inventory } = load({ config: ALIASES });
    expect(inventory.hosts.map((h) => [h.address, h.ip])).toEqual([['10.10.10.98', '10.10.10.98'], ['10.10.10.99', '10.10.10.99'], ['10.10.10.50', '10.10.10.50']]);
  });

  it('the settings connect with: ssh.proxyJump holds each hop with its own user, port, key and known_hosts', () => {
    const { inventory, home: dir } = load({ config: `${ALIASES}Host lb-*\n  ProxyJump b\nHost b\n  HostName bastion.example.com\n  User jump\n  Port 2022\n  IdentityFile ~/.ssh/b\n  ConnectTimeout 3\n`, files: { '.ssh/b': 'key' } });
    expect(inventory.hosts[0]!.ssh.proxyJump).toEqual([{
      spec: 'b', address: 'bastion.example.com', port: 2022, user: 'jump', identityFile: `${dir}/.ssh/b`, useAgent: true,
      knownHostsFile: `${dir}/.ssh/known_hosts`, hostKeyPolicy: 'strict', connectTimeoutMs: 3_000, keepaliveIntervalMs: 15_000,
    }]);
    expect(inventory.hosts[2]!.ssh.proxyJump).toBeUndefined();
  });

  it('plan --json carries each host\'s settings and sources, as loaded', () => {
    const { inventory } = load({ config: `${ALIASES}Host lb-*\n  User deploy\n` });
    const hosts = inventory.hosts.map((h) => ({ host: h.name, status: 'in-sync' as const, changes: [], execs: 1, connections: 1, notes: [], ...(h.sshSources ? { ssh: h.sshSources } : {}) }));
    const json = JSON.parse(jsonReport({ hosts, checks: [], aborted: false }, (s) => s, 'plan')) as { hosts: { ssh: { user: unknown } }[] };
    expect(json.hosts[0]!.ssh.user).toEqual({ value: 'deploy', from: '~/.ssh/config:6 (Host lb-*)' });
    expect(json.hosts[2]!.ssh.user).toEqual({ value: 'root', from: 'default' });
  });

  it('a host name HostName is resolved, not the alias', async () => {
    const dir = home({ config: 'Host lb-1\n  HostName lb1.example.com\nHost lb-2\n  HostName 10.10.10.99\n' });
    const asked: string[] = [];
    const inventory = await parseAndResolveInventory(stringify(base()), join(dir, 'cluster.yaml'), ENV, dir, async (name) => {
      asked.push(name);
      return '10.10.10.98';
    });
    expect(asked).toEqual(['lb1.example.com']);
    expect(inventory.hosts[0]).toMatchObject({ address: 'lb1.example.com', ip: '10.10.10.98' });
  });
});

describe('ssh config: problems name the file, the key and what is allowed', () => {
  const problemsOf = async (setup: Setup): Promise<{ messages: string[] }> => {
    const dir = home(setup);
    const inv = base();
    setup.edit?.(inv, dir);
    try {
      await parseAndResolveInventory(stringify(inv), join(dir, 'cluster.yaml'), ENV, dir, async (name) => {
        throw Object.assign(new Error(`no ${name}`), { code: 'ENOTFOUND' });
      });
    } catch (error) {
      if (!(error instanceof InventoryError)) throw error;
      return { messages: error.problems.map((p) => `${p.path}: ${p.message}`) };
    }
    throw new Error('expected an InventoryError');
  };

  it.each<[string, Setup, string]>([
    ['an explicit ssh.config that cannot be read', { config: ALIASES, edit: (i) => { i.ssh = { config: 'missing_config' }; } }, 'ssh.config: cannot read ~/missing_config: no such file'],
    ['a bad Port', { config: `${ALIASES}Host lb-1\n  Port ssh\n` }, 'hosts.lb-1.address: lb-1: ~/.ssh/config:6 (Host lb-1): Port ssh: must be an integer 1–65535'],
    ['a bad StrictHostKeyChecking', { config: `${ALIASES}Host *\n  StrictHostKeyChecking maybe\n` }, 'hosts.lb-1.address: lb-1: ~/.ssh/config:6 (Host *): StrictHostKeyChecking maybe: must be yes, ask, accept-new, no or off'],
    ['a HostName that is no address', { config: 'Host lb-1\n  HostName lb_1!\n' }, 'hosts.lb-1.address: lb-1: ~/.ssh/config:2 (Host lb-1): HostName lb_1!: must be an IPv4 address or a host name'],
    ['an alias that is not in the file and does not resolve', { config: 'Host lb-2\n  HostName 10.10.10.99\n' }, 'hosts.lb-1.address: cannot resolve lb-1 to an IPv4 address on this machine (ENOTFOUND) (it is no Host alias with a HostName in ~/.ssh/config either)'],
    ['a ProxyJump that loops', { config: `${ALIASES}Host *\n  ProxyJump bastion\nHost bastion\n  HostName 10.9.0.1\n` }, 'hosts.lb-1.address: ~/.ssh/config:6 (Host *): ProxyJump loops or is longer than 8 hops (bastion → bastion); leave the jump host out of the Host pattern that sets it, e.g. Host * !bastion'],
    ['a ProxyJump hop that is no address', { config: `${ALIASES}Host lb-1\n  ProxyJump ops@[::1]:22\n` }, 'hosts.lb-1.address: ~/.ssh/config:6 (Host lb-1): jump host "ops@[::1]:22" must be [user@]host[:port]'],
    ['an Include with sections inside a Host block', { config: `${ALIASES}Host lb-1\n  Include extra\n`, files: { '.ssh/extra': 'Host x\n  User y\n' } }, 'ssh.config: ~/.ssh/config:6 (Host lb-1): ~/.ssh/extra has Host or Match sections, and is included inside "Host lb-1"'],
    ['ssh.config on a host', { config: ALIASES, edit: (i) => { i.hosts['lb-1'].ssh = { config: '/x' }; } }, 'hosts.lb-1.ssh.config: unknown key; allowed here: user, port'],,
  ])('%s', async (_title, setup, expected) => {
    // Files under the test's HOME are shown as ~/…, as a user's own are.
    expect((await problemsOf(setup)).messages.join('\n')).toContain(expected);
  });
});
