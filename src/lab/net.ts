// The lab's network: IPv4 subnet arithmetic, the per-lab bridge, the hosts' veths, and the probes that
// tell when a host answers. Traffic goes only to the lab's own bridge subnet.
import { connect } from 'node:net';
import { request } from 'node:https';
import { LabError } from '../errors.js';
import { must, run } from './util.js';

export interface Subnet {
  readonly network: number; // as an unsigned 32-bit number
  readonly prefix: number;
  readonly text: string; // normalised a.b.c.d/p
}

const toInt = (ip: string): number | undefined => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
};

export const toIp = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

export function parseSubnet(text: string): Subnet {
  const [ip, p] = text.split('/');
  const network = ip === undefined ? undefined : toInt(ip);
  const prefix = Number(p);
  if (network === undefined || !/^\d+$/.test(p ?? '') || prefix < 8 || prefix > 24) {
    throw new LabError(`--subnet ${text}: expected an IPv4 network with a prefix from /8 to /24, e.g. 10.213.0.0/24`);
  }
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  if ((network & mask) >>> 0 !== network) {
    throw new LabError(`--subnet ${text}: host bits are set; did you mean ${toIp((network & mask) >>> 0)}/${prefix}?`);
  }
  return { network, prefix, text: `${toIp(network)}/${prefix}` };
}

/** The address `offset` into the subnet (.1 bridge, .11… lbs, .21… servers, .100 VIP). */
export const hostAddress = (subnet: Subnet, offset: number): string => toIp((subnet.network + offset) >>> 0);

export function inSubnet(subnet: Subnet, ip: string, prefix = 32): boolean {
  const n = toInt(ip);
  if (n === undefined) return false;
  // Two networks overlap when either contains the other's network address.
  const p = Math.min(prefix, subnet.prefix);
  const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
  return (n & mask) >>> 0 === (subnet.network & mask) >>> 0;
}

// ---- links ----

export interface Link {
  readonly name: string;
  readonly index: number;
  readonly up: boolean; // administratively up
  readonly master?: string | undefined;
}

function parseLinks(text: string): Link[] {
  const links: Link[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):\s+([^:@\s]+)(?:@[^:\s]+)?:\s+<([^>]*)>(.*)$/.exec(line);
    if (!m) continue;
    const master = /\bmaster (\S+)/.exec(m[4]!)?.[1];
    links.push({ name: m[2]!, index: Number(m[1]), up: m[3]!.split(',').includes('UP'), master });
  }
  return links;
}

/** The link named `name` — an altname works too (nspawn gives long veth names as altnames). */
export async function findLink(name: string): Promise<Link | undefined> {
  const r = await run('ip', ['-o', 'link', 'show', 'dev', name]);
  return r.code === 0 ? parseLinks(r.stdout)[0] : undefined;
}

export async function allLinks(): Promise<Link[]> {
  return parseLinks(await must('ip', ['-o', 'link', 'show']));
}

/** Creates the lab's bridge with the gateway address, or repairs one left from an earlier run. */
export async function ensureBridge(bridge: string, gateway: string, prefix: number): Promise<void> {
  if (!(await findLink(bridge))) {
    const r = await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    if (r.code !== 0 && !(await findLink(bridge))) throw new LabError(`cannot create bridge ${bridge}: ${r.stderr.trim()}`);
  }
  const addrs = await must('ip', ['-o', '-4', 'addr', 'show', 'dev', bridge]);
  if (!addrs.includes(` ${gateway}/${prefix} `) || addrs.trim().split('\n').length !== 1) {
    await must('ip', ['addr', 'flush', 'dev', bridge]);
    await must('ip', ['addr', 'add', `${gateway}/${prefix}`, 'dev', bridge]);
  }
  await must('ip', ['link', 'set', 'dev', bridge, 'up']);
}

export async function deleteLink(name: string): Promise<void> {
  if (await findLink(name)) await run('ip', ['link', 'del', 'dev', name]);
}

/** Any IPv4 address on this machine, outside the lab's own bridge, that overlaps the subnet. */
export async function subnetConflict(subnet: Subnet, ownBridge: string): Promise<string | undefined> {
  const text = await must('ip', ['-o', '-4', 'addr', 'show']);
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line);
    if (!m || m[1] === ownBridge) continue;
    if (inSubnet(subnet, m[2]!, Number(m[3]))) return `${m[2]}/${m[3]} on ${m[1]}`;
  }
  return undefined;
}

// ---- probes from the controller ----

/** Resolves true once a TCP connection to address:port succeeds within `timeoutMs`. */
export function tcpOpen(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The SSH identification line sshd sends first (e.g. "SSH-2.0-OpenSSH_9.2p1 …"), or undefined. */
export function sshBanner(address: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 22 });
    let buf = '';
    const done = (v: string | undefined): void => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const line = buf.split('\r\n')[0];
      if (buf.includes('\n') && line?.startsWith('SSH-')) done(line.trim());
      else if (buf.length > 1024) done(undefined);
    });
    socket.once('error', () => done(undefined));
    socket.once('end', () => done(undefined));
  });
}

/**
 * GET https://address:port/path, trusting only `ca` (the lab CA that signs the stand-in's certificate,
 * whose SANs carry the servers' addresses), so no check is ever switched off.
 */
export function httpsGet(address: string, port: number, path: string, ca: string, timeoutMs: number): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: address, port, path, method: 'GET', ca, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
