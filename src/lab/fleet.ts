// A lab's hosts as a whole, shared by the commands and the CLI: the lab's SSH identity and known_hosts,
// the files every host is given (hosts file, stand-in certificate), which hosts are up, hold the VIP or
// are cut off, looking a lab and a host up from the state, and booting hosts and waiting until they are
// ready (with one error naming every host that did not come up).
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LabError } from '../errors.js';
import { ensureStandinCert } from './cert.js';
import { findLink, hostAddress } from './net.js';
import { findInit, hostPublicKey, prepareRoot, resolveVeth, spawnHost, stopHost, waitReady, type HostFiles } from './host.js';
import { labNet, serverOffset, type LabNet } from './plan.js';
import { generateEd25519, isValidEd25519PublicKey } from './sshkey.js';
import { checkLabName, labDir, loadState, saveState, type HostState, type LabState } from './state.js';
import { exists, isAlive, run } from './util.js';

export interface LabHostStatus {
  name: string;
  address: string;
  roles: ('lb' | 'server')[];
  up: boolean;
  holdsVip: boolean;
}

export const keyFile = (name: string): string => join(labDir(name), 'id_ed25519');
export const knownHostsFile = (name: string): string => join(labDir(name), 'known_hosts');

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

export async function writeKnownHosts(state: LabState): Promise<void> {
  const lines: string[] = [];
  for (const h of Object.values(state.hosts)) {
    const key = await hostPublicKey(state.name, h.name);
    if (!key) continue;
    const [type, blob] = key.split(/\s+/);
    lines.push(`${h.address} ${type} ${blob}`);
  }
  await writeFile(knownHostsFile(state.name), `${lines.join('\n')}\n`, { mode: 0o644 });
}

export const isUp = (h: HostState): boolean => isAlive(h.nspawn) && isAlive(h.init);

async function holdsVip(h: HostState, vip: string): Promise<boolean> {
  if (!isUp(h)) return false;
  const r = await run('nsenter', ['-t', String(h.init!.pid), '-n', 'ip', '-o', '-4', 'addr', 'show']);
  return r.code === 0 && r.stdout.includes(` inet ${vip}/`);
}

export function ordered(state: LabState): HostState[] {
  const rank = (h: HostState): number => (h.roles.includes('lb') ? 0 : 1);
  const num = (h: HostState): number => Number(/-(\d+)$/.exec(h.name)?.[1] ?? 0);
  return Object.values(state.hosts).sort((a, b) => rank(a) - rank(b) || num(a) - num(b));
}

export async function statusOf(state: LabState): Promise<LabHostStatus[]> {
  const { vip } = labNet(state.subnet);
  return Promise.all(
    ordered(state).map(async (h) => ({ name: h.name, address: h.address, roles: [...h.roles], up: isUp(h), holdsVip: await holdsVip(h, vip) })),
  );
}

export async function requireState(name: string): Promise<LabState> {
  checkLabName(name);
  const state = await loadState(name);
  if (!state) throw new LabError(`there is no lab "${name}" (start one with \`ha-provision lab up --name ${name}\`)`);
  return state;
}

export function requireHost(state: LabState, node: string): HostState {
  const h = state.hosts[node];
  if (!h) throw new LabError(`lab "${state.name}" has no host "${node}"; its hosts: ${ordered(state).map((x) => x.name).join(', ')}`);
  return h;
}

/** Boots share the machine's cores: 200 hosts on 2 cores take minutes. */
export function readyTimeout(hosts: number): number {
  return Math.min(900_000, 30_000 + hosts * 4_000);
}

/**
 * The stand-in's certificate covers the lab's server addresses: at least the first 79, so that a lab that
 * grows a little keeps it (one made again is signed by the same CA, so servers booted earlier stay trusted).
 */
export async function hostFiles(state: LabState, net: LabNet): Promise<HostFiles & { ca: string }> {
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
export async function waitAllReady(state: LabState, hosts: readonly HostState[], wait: (h: HostState) => Promise<void>): Promise<void> {
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
export async function bootHosts(state: LabState, hosts: readonly HostState[], files: HostFiles & { ca: string }): Promise<void> {
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

export async function partitioned(state: LabState): Promise<Set<string>> {
  const cut = new Set<string>();
  for (const h of Object.values(state.hosts)) {
    const link = isUp(h) && h.veth ? await findLink(h.veth) : undefined;
    if (link && !link.up) cut.add(h.name);
  }
  return cut;
}
