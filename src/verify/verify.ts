// Verification: what a user would check by hand. On-host checks read the facts the agents already hold
// (the probes ride in the facts exec); controller checks connect to the VIP as a client would.
import { connect } from 'node:net';
import { lazyBuiltin } from '../lazyBuiltin.js';
import type { HostFacts } from '../facts/gather.js';
import { DEFAULT_CHECK, hasRole, type Inventory } from '../inventory/types.js';
import { FAULT_WINDOW_LINES } from '../facts/services.js';

// Loaded by the first check through the VIP: a plan makes none.
const https = lazyBuiltin<typeof import('node:https')>('node:https');

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string; // why it passed or failed
  /** Passed, but needs attention soon (a certificate close to expiry): printed as "warn", exit stays 0. */
  readonly warning?: boolean;
}

export const vipHolders = (inventory: Inventory, facts: ReadonlyMap<string, HostFacts>): string[] =>
  [...facts].filter(([, f]) => f.addresses.some((a) => a.cidr.split('/')[0] === inventory.cluster.vip.address)).map(([name]) => name);

/**
 * How long the VIP holder must stay the same after an lb changed: past keepalived's master-down
 * interval (3 adverts and a skew; advert_int is 1 s), and past the track script's rise plus two adverts,
 * by when an lb whose check came back has taken its VIP back. A pair that stopped hearing each other (a
 * split auth_pass) or a check that fails on the new config shows within it.
 */
export function settleWindowMs(inventory: Inventory): number {
  const advert = 1;
  const { interval, rise } = inventory.cluster.keepalived?.check ?? DEFAULT_CHECK;
  return Math.max(3 * advert + 1, rise * interval + 2 * advert) * 1000;
}

/**
 * Pure: checks answered by the hosts' facts. The VIP is judged over every lb; other checks per host read.
 * `services` are the units an lb must run: the playbook's (`runningServices`), so a layout brings its own.
 */
export function hostChecks(inventory: Inventory, facts: ReadonlyMap<string, HostFacts>, services: readonly string[]): Check[] {
  const lbs = inventory.hosts.filter((h) => hasRole(h, 'lb'));
  const checks: Check[] = [];
  const unread = lbs.filter((lb) => !facts.has(lb.name)).map((lb) => lb.name);
  const holders = vipHolders(inventory, facts);
  checks.push({
    name: `exactly one lb holds the VIP ${inventory.cluster.vip.address}`,
    ok: holders.length === 1 && unread.length === 0,
    detail: unread.length > 0
      ? `cannot tell: ${unread.join(', ')} could not be read${holders.length > 0 ? ` (held by ${holders.join(', ')})` : ''}`
      : holders.length === 0 ? 'no lb holds it' : `held by ${holders.join(', ')}`,
  });
  for (const lb of lbs) {
    const f = facts.get(lb.name);
    if (!f) continue;
    for (const service of services) {
      const state = f.services[service]?.active ?? 'unknown';
      checks.push({ name: `${lb.name}: ${service} active`, ok: state === 'active', detail: state });
    }
    for (const [service, { faults, faultsSinceLoad = true }] of Object.entries(f.services)) {
      if (!faults) continue; // no fault patterns for this service
      // Only what the lines read show: a unit that logged more since its last (re)load than they hold is
      // not said to be clean since then.
      const since = faultsSinceLoad ? 'since its last (re)load' : `in the last ${FAULT_WINDOW_LINES} lines of its journal (its last (re)load is further back)`;
      checks.push({
        name: `${lb.name}: ${service} runs its config without faults`,
        ok: faults.length === 0,
        detail: faults.length === 0 ? `nothing logged ${since}` : `logged ${since}: ${faults.join(' | ')}`,
      });
    }
    const unreachable = Object.entries(f.backends).filter(([, ok]) => !ok).map(([target]) => target);
    const total = Object.keys(f.backends).length;
    checks.push({
      name: `${lb.name}: reaches every backend (nc -z)`,
      ok: unreachable.length === 0 && total > 0,
      detail: unreachable.length === 0 ? `${total}/${total} reachable` : `cannot reach ${unreachable.join(', ')}`,
    });
  }
  return checks;
}

function tcpCheck(address: string, port: number, timeoutMs: number): Promise<Check> {
  const name = `VIP accepts TCP on ${address}:${port} (nc -z)`;
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: timeoutMs });
    const done = (ok: boolean, detail: string): void => {
      socket.destroy();
      resolve({ name, ok, detail });
    };
    socket.once('connect', () => done(true, 'connected'));
    socket.once('timeout', () => done(false, `no answer within ${timeoutMs} ms`));
    socket.once('error', (error) => done(false, error.message));
  });
}

function httpsCheck(address: string, port: number, path: string, timeoutMs: number): Promise<Check> {
  const name = `GET https://${address}:${port}${path} through the VIP (curl -k)`;
  return new Promise((resolve) => {
    const req = https().request({ host: address, port, path, method: 'GET', rejectUnauthorized: false, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk.slice(0, 200)));
      res.on('end', () => {
        const ok = res.statusCode === 200;
        resolve({ name, ok, detail: `${res.statusCode} ${body.trim().slice(0, 60)}` });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (error) => resolve({ name, ok: false, detail: error.message }));
    req.end();
  });
}

/** Checks run from this machine, as a client of the VIP. */
export async function controllerChecks(inventory: Inventory, timeoutMs = 3000): Promise<Check[]> {
  const { vip, frontendPort, healthCheck } = inventory.cluster;
  const tcp = await tcpCheck(vip.address, frontendPort, timeoutMs);
  const extra = await Promise.all(inventory.cluster.extraPorts.map((port) => tcpCheck(vip.address, port, timeoutMs)));
  if (!tcp.ok) return [tcp, ...extra];
  return [tcp, await httpsCheck(vip.address, frontendPort, healthCheck?.path ?? '/healthz', timeoutMs), ...extra];
}
