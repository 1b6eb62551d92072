// `ha-provision init`: flags → a commented inventory the real loader accepts; missing or bad flags are
// usage errors naming them; an existing file is refused and left as it was. The probe's parser is fed
// canned `ip -o -4 addr show` and os-release output.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { askMissing, checkSkeleton, generateAuthPass, missingFlags, readInitFlags, skeletonSpec, type InitAnswers } from '../../src/cli/init.js';
import { SCHEMA_FILE } from '../../src/inventory/schemaJson.js';
import { renderSkeleton, skeletonHosts, virtualRouterIdFor } from '../../src/inventory/skeleton.js';
import { parseLbProbe, vipInterface } from '../../src/facts/vipInterface.js';
import { PROJECT_ROOT } from '../../src/playbook/playbook.js';
import { builtCli } from '../fixtures/built.js';

const dir = mkdtempSync(join(tmpdir(), 'ha-init-'));
const resolver = async (name: string): Promise<string> => ({ 'cp1.example.com': '10.0.0.21', 'cp2.example.com': '10.0.0.22' })[name] ?? Promise.reject(new Error('NXDOMAIN'));

type Flags = Record<string, string | boolean>;
const render = (flags: Flags, file = join(dir, 'prod.yaml')): { answers: InitAnswers; text: string } => {
  const answers = readInitFlags(flags, [file]);
  return { answers, text: renderSkeleton(skeletonSpec(answers, 'Pw8chars')) };
};
const base: Flags = { lb: '10.0.0.11,10.0.0.12', server: '10.0.0.21,10.0.0.22,10.0.0.23', vip: '10.0.0.100/24', interface: 'eth1' };

describe('init: flags → an inventory the loader accepts', () => {
  it.each<[string, Flags, Record<string, { roles: string[]; interface?: string; priority?: number }>, (inv: Awaited<ReturnType<typeof checkSkeleton>>) => void]>([
    ['two lbs, three servers', base,
      { 'lb-1': { roles: ['lb'], interface: 'eth1', priority: 200 }, 'lb-2': { roles: ['lb'], interface: 'eth1', priority: 100 }, 'server-1': { roles: ['server'] }, 'server-2': { roles: ['server'] }, 'server-3': { roles: ['server'] } },
      (inv) => {
        expect(inv.cluster).toMatchObject({ name: 'prod', topology: 'haproxy-keepalived', frontendPort: 6443, vip: { address: '10.0.0.100', prefix: 24 } });
        expect(inv.cluster.keepalived).toMatchObject({ virtualRouterId: 100, authPass: { value: 'Pw8chars', source: 'literal' } });
        expect(inv.hosts[0]!.ssh).toMatchObject({ user: 'root', port: 22, hostKeyPolicy: 'strict' });
      }],
    ['DNS names: each host named by its first label', { ...base, server: 'cp1.example.com,cp2.example.com' },
      { 'lb-1': { roles: ['lb'], interface: 'eth1', priority: 200 }, 'lb-2': { roles: ['lb'], interface: 'eth1', priority: 100 }, cp1: { roles: ['server'] }, cp2: { roles: ['server'] } },
      (inv) => expect(inv.hosts.map((h) => h.ip)).toEqual(['10.0.0.11', '10.0.0.12', '10.0.0.21', '10.0.0.22'])],
    ['an address in both lists: one host with both roles, the VIP on 8443', { ...base, lb: '10.0.0.21,10.0.0.22,10.0.0.23', server: '10.0.0.21,10.0.0.22,10.0.0.23' },
      { 'node-1': { roles: ['lb', 'server'], interface: 'eth1', priority: 200 }, 'node-2': { roles: ['lb', 'server'], interface: 'eth1', priority: 100 }, 'node-3': { roles: ['lb', 'server'], interface: 'eth1', priority: 90 } },
      (inv) => expect([inv.cluster.frontendPort, inv.cluster.backendPort]).toEqual([8443, 6443])],
    ['nginx, a non-root user, another SSH port, a key and known_hosts', { ...base, topology: 'nginx', name: 'edge', user: 'ops', 'ssh-port': '2222', 'identity-file': 'keys/id', 'known-hosts': '~/kh' },
      { 'lb-1': { roles: ['lb'], interface: 'eth1', priority: 200 }, 'lb-2': { roles: ['lb'], interface: 'eth1', priority: 100 }, 'server-1': { roles: ['server'] }, 'server-2': { roles: ['server'] }, 'server-3': { roles: ['server'] } },
      (inv) => {
        expect(inv.cluster).toMatchObject({ name: 'edge', topology: 'nginx' });
        // A relative path is taken from where init runs, and written absolute: the file may live elsewhere.
        expect(inv.hosts[0]!.ssh).toMatchObject({ user: 'ops', port: 2222, identityFile: join(process.cwd(), 'keys/id'), knownHostsFile: expect.stringMatching(/\/kh$/) });
      }],
    ['the password kept in an environment variable not set yet', { ...base, 'auth-pass-env': 'HA_INIT_TEST_UNSET' }, {},
      (inv) => expect(inv.cluster.keepalived?.authPass.source).toBe('env HA_INIT_TEST_UNSET')],
  ])('%s', async (_what, flags, hosts, more) => {
    const { answers, text } = render(flags);
    const inventory = await checkSkeleton(text, answers, {}, resolver);
    const doc = parse(text) as { hosts: Record<string, unknown> };
    for (const [name, expected] of Object.entries(hosts)) expect(doc.hosts[name]).toMatchObject(expected);
    if (Object.keys(hosts).length > 0) expect(Object.keys(doc.hosts)).toEqual(Object.keys(hosts));
    more(inventory);
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${join(PROJECT_ROOT, 'schema', 'inventory.schema.json')}`);
    expect(SCHEMA_FILE.startsWith('/')).toBe(true);
  });

  it('the password kept in the environment is written as { env: NAME }, never as a value', () => {
    const { text } = render({ ...base, 'auth-pass-env': 'HA_PW' });
    expect(text).toMatch(/^ {4}authPass: \{ env: HA_PW \}/m);
    expect(text).not.toContain('Pw8chars');
  });

  it('generated passwords: 8 letters and digits, different each time', () => {
    const made = Array.from({ length: 20 }, generateAuthPass);
    for (const p of made) expect(p).toMatch(/^[A-Za-z0-9]{8}$/);
    expect(new Set(made).size).toBe(20);
  });

  it.each([
    ['10.0.0.100/24', 100], ['192.168.1.7/16', 7], ['10.1.0.0/16', 51], ['10.1.1.255/16', 255],
  ])('virtualRouterId of the VIP %s is %i', (vip, id) => expect(virtualRouterIdFor(vip)).toBe(id));

  it('a name two DNS hosts share falls back to role numbering', () => {
    expect(skeletonHosts(['a.x.com', 'a.y.com'], ['b.x.com']).map((h) => h.name)).toEqual(['lb-1', 'lb-2', 'b']);
  });

  it('a VIP outside the lbs\' subnet is the loader\'s error, naming the key', async () => {
    const { answers, text } = render({ ...base, vip: '10.9.0.100/24' });
    await expect(checkSkeleton(text, answers, {}, resolver)).rejects.toThrow(/cluster\.vip: 10\.9\.0\.100\/24 is not in the subnet of lb-1/);
  });
});

describe('init: usage errors', () => {
  it.each<[string, Flags, string[]]>([
    ['nothing', {}, ['--lb', '--server', '--vip', '--interface (or --probe)']],
    ['only --lb', { lb: '10.0.0.11' }, ['--server', '--vip', '--interface (or --probe)']],
    ['--probe instead of --interface', { lb: '10.0.0.11', server: '10.0.0.21', vip: '10.0.0.100/24', probe: true }, []],
    ['everything', base, []],
  ])('missing after %s: %j', (_what, flags, missing) => {
    expect(missingFlags(readInitFlags(flags, ['x.yaml']))).toEqual(missing);
  });

  it.each<[Flags, RegExp]>([
    [{ vip: '10.0.0.100' }, /--vip: the virtual IP with the prefix length/],
    [{ lb: '10.0.0.11,,10.0.0.12' }, /--lb: a comma-separated list/],
    [{ server: '10.0.0.21,10.0.0.21' }, /--server: 10\.0\.0\.21 is listed twice/],
    [{ topology: 'kube-vip' }, /--topology: one of haproxy-keepalived, nginx/],
    [{ 'ssh-port': '70000' }, /--ssh-port: a port 1–65535/],
    [{ 'auth-pass-env': '1BAD' }, /--auth-pass-env: an environment variable name/],
    [{ name: 'a b' }, /--name: letters, digits/],
    [{ interface: 'eth1', probe: true }, /--interface and --probe: give one/],
  ])('%j is refused: %s', (flags, message) => {
    expect(() => readInitFlags(flags, ['x.yaml'])).toThrow(message);
  });

  it('takes exactly one file', () => {
    expect(() => readInitFlags(base, [])).toThrow(/init takes exactly one file to write/);
    expect(() => readInitFlags(base, ['a.yaml', 'b.yaml'])).toThrow(/init takes exactly one file to write/);
  });
});

describe('init: questions on a terminal', () => {
  const asked = async (flags: Flags, replies: string[]): Promise<{ answers: InitAnswers; questions: string[] }> => {
    const questions: string[] = [];
    const answers = await askMissing(readInitFlags(flags, [join(dir, 'lab.yaml')]), async (q) => {
      questions.push(q);
      return replies.shift() ?? '';
    }, new Set(Object.keys(flags)));
    return { answers, questions };
  };

  it('asks only what the flags did not give; Enter keeps a default; an empty interface means --probe', async () => {
    const { answers, questions } = await asked({ lb: '10.0.0.11,10.0.0.12' }, ['10.0.0.21', '10.0.0.100/24', '', 'prod', '', '', '']);
    expect(questions.map((q) => q.split(' ')[0])).toEqual(['API', 'virtual', 'lb', 'cluster', 'SSH', 'SSH', 'known_hosts']);
    expect(answers).toMatchObject({ lbs: ['10.0.0.11', '10.0.0.12'], servers: ['10.0.0.21'], vip: '10.0.0.100/24', probe: true, name: 'prod', user: 'root' });
    expect(missingFlags(answers)).toEqual([]);
  });

  it('asks again after an invalid answer, and gives up after three', async () => {
    const { vip: _vip, ...withoutVip } = base;
    const { answers } = await asked(withoutVip, ['10.0.0.100', '10.0.0.100/24', '', '', '', '']);
    expect(answers.vip).toBe('10.0.0.100/24');
    await expect(asked({ lb: '10.0.0.11' }, ['a,,b', 'a,,b', 'a,,b'])).rejects.toThrow(/--server: a comma-separated list/);
  });
});

describe('init --probe: the interface that holds the VIP\'s subnet', () => {
  const output = (addrs: string, osRelease = 'ID=debian\nVERSION_ID="12"\n'): string => `${addrs}\n@@ha-provision-probe os\n${osRelease}`;
  const lo = '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever';
  it.each<[string, string, string, { dev: string } | RegExp]>([
    ['the lab\'s host0', output(`${lo}\n2: host0@if7    inet 10.213.50.11/24 brd 10.213.50.255 scope global host0`), '10.213.50.100/24', { dev: 'host0' }],
    ['the second of two NICs', output(`${lo}\n2: eth0    inet 192.168.1.5/24 scope global eth0\n3: eth1    inet 10.0.0.11/24 scope global eth1`), '10.0.0.100/24', { dev: 'eth1' }],
    ['a holder already carrying the VIP', output(`2: eth1    inet 10.0.0.11/24 scope global eth1\n2: eth1    inet 10.0.0.100/24 scope global secondary eth1`), '10.0.0.100/24', { dev: 'eth1' }],
    ['no address in the subnet', output(`${lo}\n2: eth0    inet 192.168.1.5/24 scope global eth0`), '10.0.0.100/24', /no interface has an address in the subnet of the VIP 10\.0\.0\.100\/24 \(its IPv4 addresses: eth0 192\.168\.1\.5\/24\)/],
    ['two interfaces in it', output('2: eth0    inet 10.0.0.11/24 scope global eth0\n3: br0    inet 10.0.0.12/24 scope global br0'), '10.0.0.100/24', /several interfaces .* \(eth0, br0\)/],
  ])('%s', (_what, stdout, vip, expected) => {
    const found = vipInterface(parseLbProbe(stdout), vip);
    if (expected instanceof RegExp) expect('problem' in found && found.problem).toMatch(expected);
    else expect(found).toEqual(expected);
  });

  it('reads the OS family, and refuses output without the os-release section', () => {
    expect(parseLbProbe(output('', 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n')).os).toEqual({ id: 'rocky', versionId: '9.3', family: 'rhel' });
    expect(() => parseLbProbe('2: eth0 inet 10.0.0.1/24')).toThrow(/no os-release section/);
  });
});

describe('ha-provision init (the CLI, outside a terminal)', () => {
  const cli = builtCli();
  const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const flags = ['--lb', '10.0.0.11,10.0.0.12', '--server', '10.0.0.21', '--vip', '10.0.0.100/24', '--interface', 'eth1'];

  it('writes the file (0600), says so and what to run next, without printing the password', async () => {
    const file = join(dir, 'fresh.yaml');
    const r = await run(['init', file, ...flags]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`next: ha-provision plan ${file}`);
    const password = /authPass: "([^"]+)"/.exec(readFileSync(file, 'utf8'))?.[1];
    expect(password).toMatch(/^[A-Za-z0-9]{8}$/);
    expect(r.stdout + r.stderr).not.toContain(password);
  });

  it('refuses an existing file and leaves it untouched', async () => {
    const file = join(dir, 'existing.yaml');
    writeFileSync(file, 'mine\n');
    const r = await run(['init', file, ...flags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file} already exists; init never overwrites a file`);
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
  });

  it('names the missing flags (no terminal to ask), and writes nothing for an invalid result', async () => {
    const missing = await run(['init', join(dir, 'm.yaml'), '--lb', '10.0.0.11']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('init needs --server, --vip, --interface (or --probe) (no terminal here to ask)');
    const file = join(dir, 'invalid.yaml');
    const invalid = await run(['init', file, ...flags.slice(0, 4), '--vip', '10.9.0.100/24', '--interface', 'eth1']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('cluster.vip: 10.9.0.100/24 is not in the subnet of lb-1');
    expect(existsSync(file)).toBe(false);
  });
});
