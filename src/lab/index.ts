// `ha-provision lab …`: a local fleet of real test hosts. Each host is a systemd-booted Debian 12
// container (systemd-nspawn) on an overlay over one cached rootfs, with its own network namespace,
// address on a per-lab bridge, sshd, apt (a local repository, no internet) and, on servers, an
// apiserver stand-in on :6443. What this rests on (nspawn's cgroups, overlayfs, VRRP on a bridge) is said
// where it is used: prereqs.ts, image.ts, net.ts, vrrp.ts.
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LabError, UsageError } from '../errors.js';
import { ensureImage } from './image.js';
import { ensureStandinCert, labCaFile } from './cert.js';
import { renderInventory } from './inventory.js';
import {
  allLinks,
  deleteLink,
  ensureBridge,
  findLink,
  hostAddress,
  parseSubnet,
  subnetConflict,
  type Subnet,
} from './net.js';
import { cgroupDirs, execArgs, findInit, hostPublicKey, prepareRoot, removeCgroups, resolveVeth, spawnHost, stopHost, waitReady, cgroupPids, type HostFiles } from './host.js';
import { generateEd25519, isValidEd25519PublicKey } from './sshkey.js';
import { ensurePrereqs, raiseInotifyLimit, raiseNetBacklog, requireRootLinux } from './prereqs.js';
import {
  STATE_ROOT,
  bridgeName,
  checkLabName,
  hostPaths,
  labDir,
  loadState,
  saveState,
  sha256,
  virtualRouterId,
  withLabLock,
  type HostState,
  type LabState,
  type Role,
} from './state.js';
import { exists, isAlive, listDir, listSubdirs, must, run, safeRemove, unmountUnder } from './util.js';

export interface LabOptions {
  name: string;
  lbs: number;
  servers: number;
  subnet: string;
  inventoryFile?: string;
}

export interface LabHostStatus {
  name: string;
  address: string;
  roles: ('lb' | 'server')[];
  up: boolean;
  holdsVip: boolean;
}

const DEFAULTS = { name: 'lab', lbs: 2, servers: 3, subnet: '10.213.0.0/24' } as const;
/**
 * Address plan inside the subnet: bridge .1, lbs .11–.19, servers from .21 on, skipping the VIP at .100
 * (a /24 holds 233 servers; a larger subnet, up to 400).
 */
const GATEWAY = 1;
const LB_BASE = 10;
const SERVER_BASE = 20;
const VIP = 100;
const MAX_LBS = 9;
const MAX_SERVERS = 400;
/** Offset of server i (1-based) in the subnet: the VIP's offset is skipped. */
export const serverOffset = (i: number): number => SERVER_BASE + i + (SERVER_BASE + i >= VIP ? 1 : 0);

const noop = (): void => undefined;

// ---- shared pieces ----

interface LabNet {
  readonly subnet: Subnet;
  readonly gateway: string;
  readonly vip: string;
}

function labNet(subnet: string): LabNet {
  const s = parseSubnet(subnet);
  return { subnet: s, gateway: hostAddress(s, GATEWAY), vip: hostAddress(s, VIP) };
}

function desiredHosts(name: string, net: LabNet, lbs: number, servers: number): HostState[] {
  const hosts: HostState[] = [];
  for (let i = 1; i <= lbs; i += 1) hosts.push({ name: `${name}-lb-${i}`, address: hostAddress(net.subnet, LB_BASE + i), roles: ['lb'] });
  for (let i = 1; i <= servers; i += 1) hosts.push({ name: `${name}-server-${i}`, address: hostAddress(net.subnet, serverOffset(i)), roles: ['server'] });
  return hosts;
}

const keyFile = (name: string): string => join(labDir(name), 'id_ed25519');
const knownHostsFile = (name: string): string => join(labDir(name), 'known_hosts');

/**
 * The lab's SSH identity (ed25519, OpenSSH format, 0600), made once per lab. One that sshd would refuse
 * (a malformed key from an older version, see sshkey.ts) is made again.
 */
async function ensureLabKey(name: string): Promise<string> {
  const file = keyFile(name);
  const pub = await readFile(`${file}.pub`, 'utf8').catch(() => '');
  if (!(await exists(file)) || !isValidEd25519PublicKey(pub)) {
    const pair = generateEd25519(`ha-provision-lab-${name}`);
    await writeFile(file, pair.private, { mode: 0o600 });
    await writeFile(`${file}.pub`, `${pair.public}\n`, { mode: 0o644 });
  }
  await chmod(file, 0o600);
  return (await readFile(`${file}.pub`, 'utf8')).trim();
}

function hostsFileFor(name: string, hosts: readonly HostState[]): string {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...hosts.map((h) => `${h.address}\t${h.name}`), ''].join('\n');
}

async function writeKnownHosts(state: LabState): Promise<void> {
  const lines: string[] = [];
  for (const h of Object.values(state.hosts)) {
    const key = await hostPublicKey(state.name, h.name);
    if (!key) continue;
    const [type, blob] = key.split(/\s+/);
    lines.push(`${h.address} ${type} ${blob}`);
  }
  await writeFile(knownHostsFile(state.name), `${lines.join('\n')}\n`, { mode: 0o644 });
}

const isUp = (h: HostState): boolean => isAlive(h.nspawn) && isAlive(h.init);

async function holdsVip(h: HostState, vip: string): Promise<boolean> {
  if (!isUp(h)) return false;
  const r = await run('nsenter', ['-t', String(h.init!.pid), '-n', 'ip', '-o', '-4', 'addr', 'show']);
  return r.code === 0 && r.stdout.includes(` inet ${vip}/`);
}

function ordered(state: LabState): HostState[] {
  const rank = (h: HostState): number => (h.roles.includes('lb') ? 0 : 1);
  const num = (h: HostState): number => Number(/-(\d+)$/.exec(h.name)?.[1] ?? 0);
  return Object.values(state.hosts).sort((a, b) => rank(a) - rank(b) || num(a) - num(b));
}

async function statusOf(state: LabState): Promise<LabHostStatus[]> {
  const { vip } = labNet(state.subnet);
  return Promise.all(
    ordered(state).map(async (h) => ({ name: h.name, address: h.address, roles: [...h.roles], up: isUp(h), holdsVip: await holdsVip(h, vip) })),
  );
}

async function requireState(name: string): Promise<LabState> {
  checkLabName(name);
  const state = await loadState(name);
  if (!state) throw new LabError(`there is no lab "${name}" (start one with \`ha-provision lab up --name ${name}\`)`);
  return state;
}

function requireHost(state: LabState, node: string): HostState {
  const h = state.hosts[node];
  if (!h) throw new LabError(`lab "${state.name}" has no host "${node}"; its hosts: ${ordered(state).map((x) => x.name).join(', ')}`);
  return h;
}

/** Boots share the machine's cores: 200 hosts on 2 cores take minutes. */
function readyTimeout(hosts: number): number {
  return Math.min(900_000, 30_000 + hosts * 4_000);
}

/**
 * The stand-in's certificate covers the lab's server addresses: at least the first 79, so that a lab that
 * grows a little keeps it (one made again is signed by the same CA, so servers booted earlier stay trusted).
 */
async function hostFiles(state: LabState, net: LabNet): Promise<HostFiles & { ca: string }> {
  const authorizedKey = await ensureLabKey(state.name);
  const servers = Object.values(state.hosts).filter((h) => h.roles.includes('server')).length;
  const serverIps = Array.from({ length: Math.max(79, servers) }, (_, i) => hostAddress(net.subnet, serverOffset(i + 1)));
  const tls = await ensureStandinCert(state.name, net.vip, serverIps);
  return { lab: state, prefix: net.subnet.prefix, authorizedKey, hostsFile: hostsFileFor(state.name, ordered(state)), tlsCert: tls.cert, tlsKey: tls.key, ca: tls.ca };
}

/** Hosts whose full description (console tail, inside state) one error about many hosts carries. */
const DETAILED_FAILURES = 3;

/**
 * Waits for every host, not only until the first one fails, so that one error says which hosts did not
 * come up (and that the others did), with the details of the first few. The details are read by
 * waitReady at the moment a host fails, before any caller can tear the lab down.
 */
async function waitAllReady(state: LabState, hosts: readonly HostState[], wait: (h: HostState) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(hosts.map(wait));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ host: hosts[i]!, error: r.reason as Error }] : []));
  if (failed.length === 0) return;
  if (hosts.length === 1) throw failed[0]!.error;
  const parts = failed.slice(0, DETAILED_FAILURES).map((f) => f.error.message);
  const rest = failed.slice(DETAILED_FAILURES).map((f) => f.error.message.split('\n')[0]);
  if (rest.length > 0) parts.push(`also not ready:\n${rest.map((l) => `  ${l}`).join('\n')}`);
  const ready = hosts.length - failed.length;
  parts.push(`lab "${state.name}": ${failed.length} of ${hosts.length} hosts not ready (${failed.map((f) => f.host.name).join(', ')})${ready > 0 ? `; the other ${ready} came up` : ''}`);
  throw new LabError(parts.join('\n'));
}

/** Boots the given (stopped) hosts in parallel and waits until each answers. */
async function bootHosts(state: LabState, hosts: readonly HostState[], files: HostFiles & { ca: string }): Promise<void> {
  if (hosts.length === 0) return;
  // Leftovers of a killed run (processes, mounts, veths, cgroups) go first.
  await Promise.all(hosts.map((h) => stopHost(state.name, h, 'crash')));
  await Promise.all(hosts.map((h) => prepareRoot(h, files)));
  for (const h of hosts) h.nspawn = await spawnHost(h, state);
  await saveState(state);
  try {
    await waitAllReady(state, hosts, (h) => waitReady(h, state, files.ca, readyTimeout(hosts.length)));
  } finally {
    for (const h of hosts) {
      h.init = findInit(h.nspawn);
      h.veth = await resolveVeth(h.name);
    }
    await saveState(state);
  }
}

// ---- the API ----

export async function labUp(opts: LabOptions, log: (line: string) => void = noop): Promise<{ inventoryFile: string; caFile: string; hosts: LabHostStatus[] }> {
  checkLabName(opts.name);
  for (const [flag, value, max] of [['lbs', opts.lbs, MAX_LBS], ['servers', opts.servers, MAX_SERVERS]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > max) throw new LabError(`--${flag} must be a whole number from 0 to ${max}, got ${String(value)}`);
  }
  if (opts.lbs + opts.servers === 0) throw new LabError('a lab needs at least one host (--lbs or --servers)');
  const net = labNet(opts.subnet);
  // The last server's address must lie inside the subnet, below its broadcast address.
  if (serverOffset(opts.servers) >= 2 ** (32 - net.subnet.prefix) - 1) {
    throw new LabError(`--servers ${opts.servers} does not fit in ${net.subnet.text}: give a larger subnet, e.g. --subnet ${net.subnet.text.replace(/\/\d+$/, '/23')}`);
  }
  const inventoryFile = resolve(opts.inventoryFile ?? join('inventory', `${opts.name}.yaml`));
  await ensurePrereqs(log);
  return withLabLock(opts.name, async () => {
    const started = Date.now();
    const image = await ensureImage(log);
    const bridge = bridgeName(opts.name);
    let state = await loadState(opts.name);
    if (state && state.subnet !== net.subnet.text) {
      throw new LabError(`lab "${opts.name}" already exists with subnet ${state.subnet}; use --subnet ${state.subnet}, or \`ha-provision lab down --name ${opts.name}\` first`);
    }
    for (const other of await listDir(STATE_ROOT)) {
      if (other === opts.name || other.startsWith('.')) continue;
      const o = await loadState(other);
      if (o && (o.subnet === net.subnet.text || o.bridge === bridge)) {
        throw new LabError(`lab "${other}" already uses ${o.subnet === net.subnet.text ? `subnet ${o.subnet}` : `bridge ${bridge}`}; pick another --subnet/--name or take it down first`);
      }
    }
    const conflict = await subnetConflict(net.subnet, bridge);
    if (conflict) throw new LabError(`subnet ${net.subnet.text} is already in use on this machine (${conflict}); pick another with --subnet`);

    if (state && state.rootfs !== image.rootfs && !(await exists(state.rootfs))) {
      // The image the overlays were made over is gone: their upper dirs no longer fit, start them fresh.
      log(`the lab's base image changed; its hosts start from the new one`);
      for (const h of Object.values(state.hosts)) {
        await stopHost(opts.name, h, 'poweroff');
        await safeRemove(hostPaths(opts.name, h.name).dir);
      }
      state = { ...state, rootfs: image.rootfs, repo: image.repo, hosts: {} };
    }
    state ??= { version: 1, name: opts.name, subnet: net.subnet.text, bridge, rootfs: image.rootfs, repo: image.repo, hosts: {} };
    const lab = state;

    const wanted = desiredHosts(opts.name, net, opts.lbs, opts.servers);
    const wantedNames = new Set(wanted.map((h) => h.name));
    const extra = Object.values(lab.hosts).filter((h) => !wantedNames.has(h.name));
    if (extra.length > 0) {
      log(`removing ${extra.map((h) => h.name).join(', ')} (not in --lbs ${opts.lbs} --servers ${opts.servers})`);
      await Promise.all(extra.map((h) => stopHost(opts.name, h, 'poweroff')));
      for (const h of extra) {
        await safeRemove(hostPaths(opts.name, h.name).dir);
        delete lab.hosts[h.name];
      }
    }
    for (const w of wanted) {
      const have = lab.hosts[w.name];
      if (!have || have.address !== w.address || have.roles.join() !== w.roles.join()) lab.hosts[w.name] = { ...w, nspawn: have?.nspawn, init: have?.init, veth: have?.veth };
    }
    await saveState(lab);

    let running = 0;
    for (const other of await listDir(STATE_ROOT)) {
      if (other !== opts.name && !other.startsWith('.')) running += Object.keys((await loadState(other))?.hosts ?? {}).length;
    }
    await raiseInotifyLimit(running + wanted.length, log);
    await raiseNetBacklog(running + wanted.length, log);
    await ensureBridge(bridge, net.gateway, net.subnet.prefix);

    const files = await hostFiles(lab, net);
    const hosts = ordered(lab);
    for (const h of hosts) {
      // A run killed between booting a host and recording its init left it running: adopt it.
      if (isAlive(h.nspawn) && !isAlive(h.init)) {
        h.init = findInit(h.nspawn);
        h.veth = await resolveVeth(h.name);
      }
    }
    const toBoot = hosts.filter((h) => !isUp(h));
    if (toBoot.length > 0) log(`booting ${toBoot.map((h) => h.name).join(', ')}`);
    await bootHosts(lab, toBoot, files);
    // Hosts that were already running are left alone: only their SSH is checked (a stand-in a test
    // marked unhealthy stays so), and a partitioned one is left cut off.
    const cut = await partitioned(lab);
    for (const h of cut) log(`${h} is partitioned (\`ha-provision lab heal ${h}\` connects it again); left as it is`);
    const kept = hosts.filter((h) => !toBoot.includes(h) && !cut.has(h.name));
    await waitAllReady(lab, kept, (h) => waitReady(h, lab, files.ca, readyTimeout(hosts.length), false));

    await writeKnownHosts(lab);
    const inventory = renderInventory({
      name: opts.name,
      vip: `${net.vip}/${net.subnet.prefix}`,
      gateway: net.gateway,
      virtualRouterId: virtualRouterId(opts.name),
      identityFile: keyFile(opts.name),
      knownHostsFile: knownHostsFile(opts.name),
      hosts,
    });
    await mkdir(dirname(inventoryFile), { recursive: true });
    await writeFile(inventoryFile, inventory);
    lab.inventoryFile = inventoryFile;
    lab.inventorySha256 = sha256(inventory);
    await saveState(lab);
    log(`lab "${opts.name}": ${hosts.length} hosts ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${toBoot.length} booted, ${hosts.length - toBoot.length} already running); inventory ${inventoryFile}`);
    return { inventoryFile, caFile: labCaFile(opts.name), hosts: await statusOf(lab) };
  });
}

export async function labDown(name: string, log: (line: string) => void = noop): Promise<void> {
  checkLabName(name);
  requireRootLinux();
  await withLabLock(name, async () => {
    const state = await loadState(name);
    const bridge = state?.bridge ?? bridgeName(name);
    // Hosts known from the state file, and any the state does not know (a run killed before saving it).
    const hosts = new Map<string, HostState>(Object.entries(state?.hosts ?? {}));
    const cgroupHosts = (await Promise.all(cgroupDirs(name).map(listSubdirs))).flat();
    for (const extra of [...cgroupHosts, ...(await listSubdirs(join(labDir(name), 'hosts')))]) {
      if (!hosts.has(extra)) hosts.set(extra, { name: extra, address: '', roles: [] });
    }
    const hadBridge = !!(await findLink(bridge));
    if (!state && hosts.size === 0 && !hadBridge && !(await exists(labDir(name)))) {
      log(`lab "${name}": nothing to remove`);
      return;
    }
    if (hosts.size > 0) log(`powering off ${[...hosts.keys()].join(', ')}`);
    await Promise.all([...hosts.values()].map((h) => stopHost(name, h, 'poweroff')));
    await unmountUnder(labDir(name));
    // Links still attached to the bridge can only be this lab's veths.
    for (const link of await allLinks()) if (link.master === bridge) await deleteLink(link.name);
    if (hadBridge) await deleteLink(bridge);
    await removeCgroups(cgroupDirs(name));
    for (const top of cgroupDirs(name).map((d) => dirname(d))) await rmdir(top).catch(() => undefined); // shared; only when empty
    if (state?.inventoryFile && state.inventorySha256) {
      const text = await readFile(state.inventoryFile, 'utf8').catch(() => undefined);
      if (text !== undefined && sha256(text) === state.inventorySha256) await rm(state.inventoryFile, { force: true });
    }
    await safeRemove(labDir(name));
    log(`lab "${name}" removed (${hosts.size} hosts, bridge ${bridge}); image caches kept`);
  });
}

export async function labStatus(name: string): Promise<LabHostStatus[]> {
  requireRootLinux();
  return statusOf(await requireState(name));
}

export async function labStop(name: string, node: string): Promise<void> {
  requireRootLinux();
  await withLabLock(name, async () => {
    const state = await requireState(name);
    const h = requireHost(state, node);
    await stopHost(name, h, 'crash');
    await saveState(state);
  });
}

export async function labStart(name: string, node: string): Promise<void> {
  requireRootLinux();
  await withLabLock(name, async () => {
    const state = await requireState(name);
    const h = requireHost(state, node);
    const net = labNet(state.subnet);
    const files = await hostFiles(state, net);
    await ensureBridge(state.bridge, net.gateway, net.subnet.prefix);
    if (isUp(h)) await waitReady(h, state, files.ca, readyTimeout(1));
    else await bootHosts(state, [h], files);
  });
}

async function setLink(name: string, node: string, upDown: 'up' | 'down'): Promise<void> {
  requireRootLinux();
  const state = await requireState(name);
  const h = requireHost(state, node);
  if (!isUp(h)) throw new LabError(`${node} is not running (\`ha-provision lab start ${node}\`)`);
  const veth = h.veth ?? (await resolveVeth(node));
  if (!veth || !(await findLink(veth))) throw new LabError(`${node}: its link vb-${node} is missing`);
  await must('ip', ['link', 'set', 'dev', veth, upDown]);
}

export async function labPartition(name: string, node: string): Promise<void> {
  await setLink(name, node, 'down');
}

export async function labHeal(name: string, node: string): Promise<void> {
  await setLink(name, node, 'up');
}

async function execTarget(name: string, node: string): Promise<HostState> {
  requireRootLinux();
  const state = await requireState(name);
  const h = requireHost(state, node);
  if (!isUp(h)) throw new LabError(`${node} is not running (\`ha-provision lab start ${node}\`)`);
  return h;
}

export async function labExec(name: string, node: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (argv.length === 0) throw new UsageError('lab exec needs a command');
  const h = await execTarget(name, node);
  const { cmd, args, env } = execArgs(name, h, argv);
  return run(cmd, args, { env });
}

// ---- the command line ----

const HELP: Record<string, string> = {
  lab: `Usage: ha-provision lab <command> [options]

A local fleet of real test hosts: systemd-booted Debian 12 containers (systemd-nspawn) on a bridge, each
with sshd, its own address, apt from a local repository (haproxy, keepalived, nginx; no internet) and,
on servers, an apiserver stand-in (HTTPS :6443 /healthz). Needs root on Linux; installs its own tools.

Commands:
  up                     boot the lab (idempotent) and write its inventory
  down                   remove everything the lab made (caches stay)
  status                 each host, its address, up/down and which lb holds the VIP
  stop NODE              crash a host (like power loss); its disk stays
  start NODE             boot a stopped host again with the same disk
  partition NODE         cut a host off the network (its link goes down)
  heal NODE              connect it again
  exec NODE -- CMD...    run a command inside a host (no SSH), exit with its code

Options: --name NAME (default lab); --help on every command.`,
  up: `Usage: ha-provision lab up [--name lab] [--lbs 2] [--servers 3] [--subnet 10.213.0.0/24] [--inventory FILE] [--json]

Builds (once, cached under ~/.cache/ha-provision/) a Debian 12 image and a local apt repository, then
boots the hosts in parallel and waits until each answers SSH (servers: the stand-in's /healthz).
Addresses: bridge .1, lbs .11…, servers .21…, VIP .100. Running hosts are left alone.
Writes the inventory to inventory/<name>.yaml (or --inventory FILE). For an existing lab the
counts and subnet default to what it has. The servers' certificate is signed by the lab's own CA,
/var/lib/ha-provision/lab/<name>/ca.crt (printed, and in --json as caFile): \`verify --ca\` takes it.`,
  down: `Usage: ha-provision lab down [--name lab]

Powers every host off and removes the lab's processes, mounts, bridge, veths, cgroups, state and
inventory. The image caches stay.`,
  status: `Usage: ha-provision lab status [--name lab] [--json]

Each host, its address, roles, up/down, whether its link is cut, and which lb holds the VIP.`,
  stop: `Usage: ha-provision lab stop NODE [--name LAB]

Crashes NODE (like power loss: its processes are killed); returns when they are gone. Its disk stays.`,
  start: `Usage: ha-provision lab start NODE [--name LAB]

Boots NODE again with the same disk; returns when it answers SSH (servers: the stand-in too).`,
  partition: `Usage: ha-provision lab partition NODE [--name LAB]

Cuts NODE off the lab network (ip link set vb-NODE down).`,
  heal: `Usage: ha-provision lab heal NODE [--name LAB]

Connects NODE again (ip link set vb-NODE up).`,
  exec: `Usage: ha-provision lab exec NODE [--name LAB] -- CMD [ARGS...]

Runs CMD inside NODE through nsenter (no SSH), with its output, and exits with its exit code.`,
};

/** The lab owning host `node`, when --name is not given. */
async function labOfNode(node: string): Promise<string> {
  for (const name of await listDir(STATE_ROOT)) {
    if (name.startsWith('.')) continue;
    if ((await loadState(name))?.hosts[node]) return name;
  }
  throw new LabError(`no lab has a host "${node}" (see \`ha-provision lab status --name LAB\`)`);
}

type Values = Record<string, string | boolean | undefined>;

function parse(sub: string, args: string[], options: Record<string, { type: 'string' | 'boolean' }>): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${HELP[sub] ?? HELP.lab}`);
  }
}

function count(value: string | boolean | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new UsageError(`--${flag} must be a whole number, got ${String(value)}`);
  return Number(value);
}

function printStatus(name: string, state: LabState, hosts: LabHostStatus[], cut: Set<string>): string {
  const { vip } = labNet(state.subnet);
  const holder = hosts.find((h) => h.holdsVip)?.name;
  const rows = [['HOST', 'ADDRESS', 'ROLES', 'STATE', 'VIP']];
  for (const h of hosts) rows.push([h.name, h.address, h.roles.join(','), h.up ? (cut.has(h.name) ? 'up (partitioned)' : 'up') : 'down', h.holdsVip ? vip : '']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  return `lab "${name}" on ${state.bridge} (${state.subnet}), VIP ${vip}: ${holder ? `held by ${holder}` : 'not held'}\n${table}\nCA of the servers' certificate: ${labCaFile(name)}\n`;
}

async function partitioned(state: LabState): Promise<Set<string>> {
  const cut = new Set<string>();
  for (const h of Object.values(state.hosts)) {
    const link = isUp(h) && h.veth ? await findLink(h.veth) : undefined;
    if (link && !link.up) cut.add(h.name);
  }
  return cut;
}

/** CLI entry for `ha-provision lab ...` (args after "lab"); prints, returns the exit code; --help supported. */
export async function runLabCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const out = (s: string): void => void process.stdout.write(s);
  const progress = (line: string): void => void process.stderr.write(`${line}\n`);
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    out(`${HELP.lab}\n`);
    return sub ? 0 : 1;
  }
  switch (sub) {
    case 'up': {
      const { values, positionals } = parse(sub, rest, { name: { type: 'string' }, lbs: { type: 'string' }, servers: { type: 'string' }, subnet: { type: 'string' }, inventory: { type: 'string' }, json: { type: 'boolean' } });
      if (values.help) return out(`${HELP.up}\n`), 0;
      if (positionals.length > 0) throw new UsageError(`lab up takes no positional arguments\n\n${HELP.up}`);
      const name = (values.name as string | undefined) ?? DEFAULTS.name;
      checkLabName(name);
      const existing = process.getuid?.() === 0 ? await loadState(name) : undefined;
      const had = existing ? ordered(existing) : [];
      const result = await labUp(
        {
          name,
          lbs: count(values.lbs, 'lbs', existing ? had.filter((h) => h.roles.includes('lb')).length : DEFAULTS.lbs),
          servers: count(values.servers, 'servers', existing ? had.filter((h) => h.roles.includes('server')).length : DEFAULTS.servers),
          subnet: (values.subnet as string | undefined) ?? existing?.subnet ?? DEFAULTS.subnet,
          ...(values.inventory ? { inventoryFile: values.inventory as string } : existing?.inventoryFile ? { inventoryFile: existing.inventoryFile } : {}),
        },
        progress,
      );
      if (values.json) out(`${JSON.stringify(result, null, 2)}\n`);
      else {
        const state = await requireState(name);
        out(printStatus(name, state, result.hosts, new Set()));
        out(`inventory: ${result.inventoryFile}\nnext: npx ha-provision up ${result.inventoryFile}\n      npx ha-provision verify ${result.inventoryFile} --ca ${result.caFile}\n`);
      }
      return 0;
    }
    case 'down': {
      const { values, positionals } = parse(sub, rest, { name: { type: 'string' } });
      if (values.help) return out(`${HELP.down}\n`), 0;
      if (positionals.length > 0) throw new UsageError(`lab down takes no positional arguments\n\n${HELP.down}`);
      await labDown((values.name as string | undefined) ?? DEFAULTS.name, progress);
      return 0;
    }
    case 'status': {
      const { values, positionals } = parse(sub, rest, { name: { type: 'string' }, json: { type: 'boolean' } });
      if (values.help) return out(`${HELP.status}\n`), 0;
      if (positionals.length > 0) throw new UsageError(`lab status takes no positional arguments\n\n${HELP.status}`);
      const name = (values.name as string | undefined) ?? DEFAULTS.name;
      const hosts = await labStatus(name);
      const state = await requireState(name);
      const cut = await partitioned(state);
      if (values.json) {
        const { vip } = labNet(state.subnet);
        out(`${JSON.stringify({ name, subnet: state.subnet, bridge: state.bridge, vip, caFile: labCaFile(name), hosts: hosts.map((h) => ({ ...h, partitioned: cut.has(h.name) })) }, null, 2)}\n`);
      } else out(printStatus(name, state, hosts, cut));
      return 0;
    }
    case 'stop':
    case 'start':
    case 'partition':
    case 'heal': {
      const { values, positionals } = parse(sub, rest, { name: { type: 'string' } });
      if (values.help) return out(`${HELP[sub]}\n`), 0;
      const [node, ...more] = positionals;
      if (!node || more.length > 0) throw new UsageError(`lab ${sub} takes exactly one host name\n\n${HELP[sub]}`);
      const name = (values.name as string | undefined) ?? (await labOfNode(node));
      const fn = { stop: labStop, start: labStart, partition: labPartition, heal: labHeal }[sub];
      await fn(name, node);
      progress(`${node}: ${{ stop: 'stopped (crashed)', start: 'started', partition: 'partitioned (link down)', heal: 'healed (link up)' }[sub]}`);
      return 0;
    }
    case 'exec': {
      const dash = rest.indexOf('--');
      const before = dash >= 0 ? rest.slice(0, dash) : rest;
      const { values, positionals } = parse(sub, before, { name: { type: 'string' } });
      if (values.help) return out(`${HELP.exec}\n`), 0;
      const [node, ...cmdBefore] = positionals;
      const argv = dash >= 0 ? [...cmdBefore, ...rest.slice(dash + 1)] : cmdBefore;
      if (!node || argv.length === 0) throw new UsageError(`lab exec needs a host and a command\n\n${HELP.exec}`);
      const name = (values.name as string | undefined) ?? (await labOfNode(node));
      const h = await execTarget(name, node);
      const { cmd, args: cmdArgs, env } = execArgs(name, h, argv);
      return new Promise((resolveCode, reject) => {
        const child = spawn(cmd, cmdArgs, { env, stdio: 'inherit' });
        child.on('error', reject);
        child.on('close', (code, signal) => resolveCode(code ?? (signal ? 128 + 9 : 1)));
      });
    }
    default:
      throw new UsageError(`unknown lab command "${sub}"\n\n${HELP.lab}`);
  }
}

// Exposed for tests and tools that want to look deeper than the status.
export { cgroupPids, labDir, STATE_ROOT, bridgeName };
export type { Role };
