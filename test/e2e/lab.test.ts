// The lab fleet itself: real hosts (systemd-nspawn containers) that the rest of the e2e tests rely on.
// A lab of 2 lbs + 3 servers, and a second small lab beside it.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { Client } from 'ssh2';
import { parse } from 'yaml';
import {
  bridgeName,
  labDir,
  labDown,
  labExec,
  labHeal,
  labPartition,
  labStart,
  labStatus,
  labStop,
  labUp,
} from '../../src/lab/index.js';
import { tcpOpen, sshBanner } from '../../src/lab/net.js';
import { generateEd25519, isValidEd25519PublicKey } from '../../src/lab/sshkey.js';
import { cli, httpsGet, labSuite, startTestLab, type TestLab } from './harness.js';

const NAME = 'e2elab';
const SUBNET = '10.213.50.0/24';
const NAME2 = 'e2elab2';
const SUBNET2 = '10.213.52.0/24';

const lb1 = `${NAME}-lb-1`;
const lb2 = `${NAME}-lb-2`;
const servers = [1, 2, 3].map((i) => `${NAME}-server-${i}`);
const addr = (n: number): string => `10.213.50.${n}`;

interface Inventory {
  cluster: { name: string; vip: string; keepalived: { virtualRouterId: number } };
  ssh: { identityFile: string; knownHostsFile: string; hostKeyPolicy: string };
  routes: { to: string; via: string; dev: string }[];
  hosts: Record<string, { address: string; roles: string[]; interface?: string; priority?: number }>;
}

let lab: TestLab;
let inv: Inventory;

/** OpenSSH with strict host-key checking, the lab's key and known_hosts; never prompts. */
function ssh(address: string, command: string, knownHosts = inv.ssh.knownHostsFile): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [
      '-i', inv.ssh.identityFile,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=5',
      `root@${address}`,
      command,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 255, stdout, stderr }));
  });
}

/** ssh2 with a host verifier that accepts exactly the key known_hosts lists for the address. */
function ssh2Exec(address: string, command: string): Promise<string> {
  const line = readFileSync(inv.ssh.knownHostsFile, 'utf8').split('\n').find((l) => l.startsWith(`${address} `));
  const expected = Buffer.from(line?.split(' ')[2] ?? '', 'base64');
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn
      .on('ready', () => {
        conn.exec(command, (err, stream) => {
          if (err) return reject(err);
          let out = '';
          stream.on('data', (d: Buffer) => (out += d.toString()));
          stream.stderr.on('data', () => undefined);
          stream.on('close', () => {
            conn.end();
            resolve(out);
          });
        });
      })
      .on('error', reject)
      .connect({
        host: address,
        port: 22,
        username: 'root',
        privateKey: readFileSync(inv.ssh.identityFile),
        hostVerifier: (key: Buffer) => expected.length > 0 && key.equals(expected),
        readyTimeout: 10_000,
      });
  });
}

async function sh(node: string, script: string, name = NAME): Promise<string> {
  const r = await labExec(name, node, ['sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

/** What a lab leaves on the machine: its nspawn processes, processes in its cgroups, mounts, links. */
function leftovers(name: string): { processes: number[]; mounts: string[]; links: string[]; cgroups: string[] } {
  const processes: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const m = args.indexOf('-M');
      const isOurNspawn = args[0]?.endsWith('systemd-nspawn') && m >= 0 && args[m + 1]?.startsWith(`${name}-`);
      if (isOurNspawn || cgroup.includes(`/ha-provision/${name}/`)) processes.push(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(`${labDir(name)}/`) || l.includes(`${labDir(name)} `));
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes(bridgeName(name)) || l.includes(`vb-${name}-`)); // altnames carry the full vb-<host>
  const cgroups = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup'].map((r) => join(r, 'ha-provision', name)).filter((d) => existsSync(d));
  return { processes, mounts, links, cgroups };
}

labSuite('lab: a local fleet of real hosts', () => {
  beforeAll(async () => {
    lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 2, servers: 3 });
    inv = parse(readFileSync(lab.inventoryFile, 'utf8')) as Inventory;
  });

  it('writes an inventory in the project schema, with a 0600 key and a known_hosts of real host keys', () => {
    expect(lab.hosts.map((h) => [h.name, h.address, h.roles, h.up])).toEqual([
      [lb1, addr(11), ['lb'], true],
      [lb2, addr(12), ['lb'], true],
      [servers[0], addr(21), ['server'], true],
      [servers[1], addr(22), ['server'], true],
      [servers[2], addr(23), ['server'], true],
    ]);
    expect(inv.cluster.name).toBe(NAME);
    expect(inv.cluster.vip).toBe('10.213.50.100/24');
    expect(inv.cluster.keepalived.virtualRouterId).toBeGreaterThanOrEqual(1);
    expect(inv.cluster.keepalived.virtualRouterId).toBeLessThanOrEqual(255);
    expect(inv.ssh.hostKeyPolicy).toBe('strict');
    expect(inv.routes).toEqual([{ to: '10.254.0.0/16', via: addr(1), dev: 'host0' }]);
    expect(inv.hosts[lb1]).toEqual({ address: addr(11), roles: ['lb'], interface: 'host0', priority: 200 });
    expect(inv.hosts[lb2]).toEqual({ address: addr(12), roles: ['lb'], interface: 'host0', priority: 100 });
    expect(inv.hosts[servers[2]!]).toEqual({ address: addr(23), roles: ['server'] });
    expect(statSync(inv.ssh.identityFile).mode & 0o777).toBe(0o600);
    const known = readFileSync(inv.ssh.knownHostsFile, 'utf8').trim().split('\n');
    expect(known).toHaveLength(5);
    for (const line of known) expect(line).toMatch(/^10\.213\.50\.\d+ ssh-ed25519 [A-Za-z0-9+/]+=*$/);
    expect(new Set(known.map((l) => l.split(' ')[2])).size).toBe(5); // every host its own key
  });

  it('init --probe on the fresh lab writes an inventory that plan takes as it is (changes pending), and never overwrites it', async () => {
    const file = join(lab.dir, 'init.yaml');
    const args = ['init', file, '--lb', [addr(11), addr(12)].join(','), '--server', [21, 22, 23].map(addr).join(','), '--vip', inv.cluster.vip,
      '--probe', '--identity-file', inv.ssh.identityFile, '--known-hosts', inv.ssh.knownHostsFile];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`next: ha-provision plan ${file}`);
    const written = readFileSync(file, 'utf8');
    expect(statSync(file).mode & 0o777).toBe(0o600); // it holds the generated keepalived password
    const doc = parse(written) as Inventory;
    // The interface each lb has in the VIP's subnet, and its OS, as the probe learned them.
    expect(doc.hosts['lb-1']).toEqual({ address: addr(11), roles: ['lb'], interface: 'host0', priority: 200 });
    expect(doc.hosts['lb-2']).toEqual({ address: addr(12), roles: ['lb'], interface: 'host0', priority: 100 });
    expect(doc.hosts['server-3']).toEqual({ address: addr(23), roles: ['server'] });
    expect(written).toMatch(/^ {2}lb-2: .*# debian 12 \(debian family\); host0 found by --probe$/m);
    const plan = await cli(['plan', file]);
    expect(plan.code, plan.stderr + plan.stdout).toBe(2);
    expect(plan.stdout).toContain('haproxy');
    const again = await cli(args);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists; init never overwrites a file');
    expect(readFileSync(file, 'utf8')).toBe(written);
  });

  it('makes well-formed ed25519 keys, also the 1 in 256 whose public key starts with a zero byte', () => {
    // ssh2's generateKeyPairSync('ed25519') drops that leading zero byte: sshd refuses such a host key
    // ("error in libcrypto"), ssh.service fails and the host never answers SSH (a flaky `lab up`).
    for (const line of readFileSync(inv.ssh.knownHostsFile, 'utf8').trim().split('\n')) expect(isValidEd25519PublicKey(line.split(' ').slice(1).join(' '))).toBe(true);
    expect(isValidEd25519PublicKey(readFileSync(`${inv.ssh.identityFile}.pub`, 'utf8'))).toBe(true);
    let pair = generateEd25519('root@zero');
    while (Buffer.from(pair.public.split(' ')[1]!, 'base64')[19] !== 0) pair = generateEd25519('root@zero'); // ~256 tries
    expect(isValidEd25519PublicKey(pair.public)).toBe(true);
    const file = join(lab.dir, 'zero_ed25519');
    writeFileSync(file, pair.private, { mode: 0o600 });
    const derived = spawnSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
    expect(derived.status, derived.stderr).toBe(0);
    expect(derived.stdout.trim().split(' ').slice(0, 2)).toEqual(pair.public.split(' ').slice(0, 2));
  });

  it('every host answers SSH with strict host-key checking (OpenSSH and ssh2), and refuses a wrong key', async () => {
    const names = Object.keys(inv.hosts);
    const viaOpenSsh = await Promise.all(names.map((n) => ssh(inv.hosts[n]!.address, 'hostname')));
    expect(viaOpenSsh.map((r) => [r.code, r.stdout.trim()])).toEqual(names.map((n) => [0, n]));
    const viaSsh2 = await Promise.all(names.map((n) => ssh2Exec(inv.hosts[n]!.address, 'cat /etc/hostname')));
    expect(viaSsh2.map((s) => s.trim())).toEqual(names);
    // lb-1's key listed for lb-2's address: strict checking must refuse to connect.
    const lines = readFileSync(inv.ssh.knownHostsFile, 'utf8').split('\n');
    const lb1Key = lines.find((l) => l.startsWith(`${addr(11)} `))!.split(' ').slice(1).join(' ');
    const wrong = join(lab.dir, 'wrong_known_hosts');
    writeFileSync(wrong, `${addr(12)} ${lb1Key}\n`);
    const refused = await ssh(addr(12), 'true', wrong);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('an lb installs haproxy with apt from the local repository (the hosts have no route out)', async () => {
    expect(await sh(lb1, 'ip -4 route show default')).toBe('');
    const r = await labExec(NAME, lb1, ['sh', '-c', 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy && haproxy -v']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/HAProxy version 2\.6/);
  });

  it('servers run the apiserver stand-in over HTTPS: ok, 404 elsewhere, 500 while marked unhealthy', async () => {
    for (const n of [21, 22, 23]) {
      for (const path of ['/healthz', '/readyz', '/livez']) expect(await httpsGet(`https://${addr(n)}:6443${path}`)).toEqual({ status: 200, body: 'ok' });
    }
    expect((await httpsGet(`https://${addr(21)}:6443/api`)).status).toBe(404);
    await sh(servers[0]!, 'touch /run/apiserver-standin/unhealthy');
    expect((await httpsGet(`https://${addr(21)}:6443/healthz`)).status).toBe(500);
    expect(await httpsGet(`https://${addr(22)}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
    await sh(servers[0]!, 'rm /run/apiserver-standin/unhealthy');
    expect(await httpsGet(`https://${addr(21)}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
    // A client that connects and never speaks TLS does not block the health checks of others.
    const { connect } = await import('node:net');
    const idle = connect({ host: addr(22), port: 6443 });
    await new Promise((r) => idle.once('connect', r));
    expect(await httpsGet(`https://${addr(22)}:6443/healthz`, { timeoutMs: 3000 })).toEqual({ status: 200, body: 'ok' });
    idle.destroy();
  });

  it('status shows each host up and which lb holds the VIP (also through the CLI, as JSON)', async () => {
    let status = await labStatus(NAME);
    expect(status.every((h) => h.up && !h.holdsVip)).toBe(true);
    await sh(lb2, 'ip addr add 10.213.50.100/24 dev host0');
    status = await labStatus(NAME);
    expect(status.filter((h) => h.holdsVip).map((h) => h.name)).toEqual([lb2]);
    const r = await cli(['lab', 'status', '--name', NAME, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as { vip: string; hosts: { name: string; up: boolean; holdsVip: boolean }[] };
    expect(json.vip).toBe('10.213.50.100');
    expect(json.hosts.filter((h) => h.holdsVip).map((h) => h.name)).toEqual([lb2]);
    await sh(lb2, 'ip addr del 10.213.50.100/24 dev host0');
    expect((await labStatus(NAME)).some((h) => h.holdsVip)).toBe(false);
    expect((await cli(['lab', 'stop', '--help'])).code).toBe(0);
  });

  it('stop crashes a host; start boots it again with the same disk', async () => {
    const node = servers[1]!;
    await sh(node, 'echo kept > /root/marker; touch /run/this-boot');
    await labStop(NAME, node);
    expect((await labStatus(NAME)).find((h) => h.name === node)?.up).toBe(false);
    expect(await tcpOpen(addr(22), 22, 1000)).toBe(false);
    await expect(labExec(NAME, node, ['true'])).rejects.toThrow(/not running/);
    await labStart(NAME, node);
    expect(await sshBanner(addr(22), 2000)).toMatch(/^SSH-2\.0-OpenSSH/);
    expect((await ssh(addr(22), 'cat /root/marker; ls /run/this-boot 2>/dev/null || echo rebooted')).stdout).toBe('kept\nrebooted\n');
    expect(await httpsGet(`https://${addr(22)}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
  });

  it('partition cuts a host off the network; heal connects it again', async () => {
    await labPartition(NAME, lb2);
    expect(await tcpOpen(addr(12), 22, 1000)).toBe(false);
    expect(await tcpOpen(addr(11), 22, 1000)).toBe(true);
    await labHeal(NAME, lb2);
    expect(await eventually(() => tcpOpen(addr(12), 22, 1000), 5000)).toBe(true);
    expect(await sh(lb2, 'ip -o -4 addr show dev host0')).toContain(`inet ${addr(12)}/24`);
  });

  it('lab up again leaves running hosts alone and repairs a host whose nspawn was killed', async () => {
    await Promise.all([lb1, servers[0]!].map((n) => sh(n, 'touch /run/this-boot')));
    await sh(servers[0]!, 'touch /run/apiserver-standin/unhealthy'); // a running host is not waited on for its stand-in
    const state = JSON.parse(readFileSync(join(labDir(NAME), 'state.json'), 'utf8')) as { hosts: Record<string, { nspawn: { pid: number } }> };
    process.kill(state.hosts[servers[2]!]!.nspawn.pid, 'SIGKILL'); // the worst leftover: its container keeps running
    const started = Date.now();
    const again = await labUp({ name: NAME, subnet: SUBNET, lbs: 2, servers: 3, inventoryFile: lab.inventoryFile });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(again.hosts.every((h) => h.up)).toBe(true);
    expect(await sh(lb1, 'ls /run/this-boot')).toBe('/run/this-boot\n'); // not rebooted
    expect(await sh(servers[0]!, 'ls /run/this-boot')).toBe('/run/this-boot\n');
    expect((await httpsGet(`https://${addr(21)}:6443/healthz`)).status).toBe(500);
    await sh(servers[0]!, 'rm /run/apiserver-standin/unhealthy');
    expect(await httpsGet(`https://${addr(23)}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
    expect((await ssh(addr(23), 'hostname')).stdout.trim()).toBe(servers[2]);
  });

  it('a second lab runs side by side; lab down removes all of it', async () => {
    const second = await labUp({ name: NAME2, subnet: SUBNET2, lbs: 1, servers: 1, inventoryFile: join(lab.dir, `${NAME2}.yaml`) });
    try {
      expect(second.hosts.map((h) => [h.name, h.address, h.up])).toEqual([
        [`${NAME2}-lb-1`, '10.213.52.11', true],
        [`${NAME2}-server-1`, '10.213.52.21', true],
      ]);
      const inv2 = parse(readFileSync(second.inventoryFile, 'utf8')) as Inventory;
      expect(inv2.cluster.keepalived.virtualRouterId).not.toBe(inv.cluster.keepalived.virtualRouterId);
      expect(await httpsGet('https://10.213.52.21:6443/healthz')).toEqual({ status: 200, body: 'ok' });
      expect(await sshBanner('10.213.52.11', 2000)).toMatch(/^SSH-/);
      expect((await labStatus(NAME)).every((h) => h.up)).toBe(true);
      const l = leftovers(NAME2);
      expect(l.processes.length).toBeGreaterThan(0);
      expect(l.mounts).toHaveLength(2);
    } finally {
      await labDown(NAME2);
    }
    expect(leftovers(NAME2)).toEqual({ processes: [], mounts: [], links: [], cgroups: [] });
    expect(existsSync(labDir(NAME2))).toBe(false);
    expect(existsSync(join(lab.dir, `${NAME2}.yaml`))).toBe(false);
    // The first lab is untouched.
    expect((await ssh(addr(11), 'hostname')).stdout.trim()).toBe(lb1);
  });

  it('lab down removes the first lab: no process, mount, bridge, veth or cgroup of it remains', async () => {
    expect(leftovers(NAME).processes.length).toBeGreaterThan(0);
    await labDown(NAME);
    expect(leftovers(NAME)).toEqual({ processes: [], mounts: [], links: [], cgroups: [] });
    expect(existsSync(labDir(NAME))).toBe(false);
    await expect(labStatus(NAME)).rejects.toThrow(/no lab "e2elab"/);
  });
});
