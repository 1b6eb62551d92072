// `verify --failover`: a failover drill against the live fleet. With a probe sending requests through
// the VIP, it breaks the VIP holder in the ways a VIP exists to survive, measures how long requests
// failed, and puts everything back. It disturbs the live VIP on purpose, so: it refuses unless two lbs
// are healthy, every wait is bounded, and every fault is undone — by the `finally` on error or Ctrl-C,
// and by a systemd timer armed on the host before the fault, should this process die or lose the link.
import { setTimeout as sleep } from 'node:timers/promises';
import { HostError } from '../errors.js';
import { DEFAULT_CHECK, hasRole, type Host, type Inventory } from '../inventory/types.js';
import type { Transport } from '../transport/transport.js';
import { command, quote } from '../transport/quote.js';
import { sshConnector, type Connector } from '../agent/agent.js';
import { controllerChecks, settleWindowMs } from './verify.js';
import { startProbe, type Probe } from './probe.js';

export type FaultKind = 'node' | 'service' | 'backends';

export interface FaultResult {
  readonly fault: FaultKind;
  readonly action: string; // what was done where
  readonly holderBefore: string | null;
  readonly holdersDuring: readonly string[]; // once the fault had taken effect (after failover, if any)
  readonly holderAfter: string | null; // once restored
  /**
   * s from the fault until requests through the VIP were answered again (backends: only after restoring);
   * a request that failed or took 0.5 s or more was not answered. null: not within the drill's wait.
   */
  readonly gapSeconds: number | null;
  /** How long moving the VIP back to the preferred lb left requests unanswered (the same measure). */
  readonly restoreGapSeconds: number | null;
  readonly requests: { readonly sent: number; readonly failed: number }; // from the fault until restored
  readonly recovered: boolean; // requests answered again: node/service while the fault was on; backends after restoring
  readonly restored: boolean; // the VIP back on the preferred lb, requests succeeding
  readonly note?: string;
}

export interface DrillReport {
  readonly ok: boolean;
  readonly refused?: string; // the fleet was not fit for a drill: nothing was done
  readonly aborted?: boolean; // the user declined
  readonly interrupted?: boolean;
  readonly error?: string;
  readonly unrestored?: readonly string[]; // undo commands that failed: what may still be broken
  readonly preferred: readonly string[]; // the lb(s) with the highest priority
  readonly probe: { readonly url: string; readonly perSecond: number; readonly timeoutMs: number; readonly sent: number; readonly failed: number };
  readonly faults: readonly FaultResult[];
  readonly endedOnPreferred: boolean;
  readonly holderAtEnd: string | null;
}

/** What the drill stops on the VIP holder: the daemon that holds the VIP (a node failure) and the proxy. */
export interface DrillTargets {
  readonly node: string;
  readonly service: string;
}

export interface DrillOptions {
  /** From the layout's playbook (`drill:`); keepalived and haproxy when not given. */
  readonly targets?: DrillTargets;
  readonly backends?: boolean; // also run fault 3 (every backend unreachable from the lbs)
  readonly perSecond?: number; // default 20
  readonly timeoutMs?: number; // per request, default 2000
  readonly connector?: Connector;
  /** Asked once the fleet passed the health check, with what the drill will do; false aborts. */
  readonly confirm?: (what: string) => Promise<boolean>;
  readonly log?: (line: string) => void; // progress
}

interface Lb { readonly host: Host; readonly t: Transport }

const LABEL: Record<FaultKind, string> = { node: 'node failure', service: 'service failure', backends: 'all backends unreachable' };
const holderOf = (holders: readonly string[]): string | null => (holders.length === 1 ? holders[0]! : null);
const show = (holders: readonly string[]): string => holders.join('+') || '(none)';

/** The VIP holders, read on every lb as `ip addr` shows them (one light exec each). */
async function readHolders(lbs: readonly Lb[], vip: string): Promise<string[]> {
  const held = await Promise.all(lbs.map(async ({ host, t }) => {
    const r = await t.exec('ip -o -4 addr show');
    if (r.code !== 0) throw new HostError(host.name, `ip -o -4 addr show: exit ${r.code}: ${r.stderr.trim()}`);
    return r.stdout.includes(`inet ${vip}/`);
  }));
  return lbs.filter((_, i) => held[i]).map((lb) => lb.host.name);
}

async function run(lb: Lb, script: string): Promise<void> {
  const r = await lb.t.exec(script);
  if (r.code !== 0) throw new HostError(lb.host.name, `${script.split('\n').pop()}: exit ${r.code}: ${r.stderr.trim()}`);
}

/** Polls `done` every 200 ms until it holds or `limitMs` passed; false on the limit. */
async function waitFor(done: () => Promise<boolean>, limitMs: number, signal?: AbortSignal): Promise<boolean> {
  for (const end = Date.now() + limitMs; ; await sleep(200, undefined, signal ? { signal } : {})) {
    if (await done()) return true;
    if (Date.now() > end) return false;
  }
}

/** A fault on some lbs and how to take it back. */
interface Fault { readonly kind: FaultKind; readonly on: readonly Lb[]; readonly apply: string; readonly undo: string; readonly action: string }

// The undo, armed as a transient systemd timer before the fault: it fires only if the drill never
// got to restore (killed, link lost). Restoring stops it first.
const unitFor = (kind: FaultKind): string => `ha-provision-drill-undo-${kind}`;
const arm = (f: Fault, afterS: number): string => {
  const unit = unitFor(f.kind);
  return [
    `systemctl stop ${unit}.timer ${unit}.service 2>/dev/null; systemctl reset-failed ${unit}.timer ${unit}.service 2>/dev/null`,
    `systemd-run --quiet --unit=${unit} --on-active=${afterS} /bin/sh -c ${quote(f.undo)}`,
  ].join('\n');
};
// The timer is stopped only once the undo worked: if it did not, the host still tries later.
const disarm = (f: Fault): string => `(${f.undo}) && { systemctl stop ${unitFor(f.kind)}.timer 2>/dev/null; true; }`;

/** One fault as it happened: the moments the report is computed from once every request has ended. */
interface Ran {
  readonly kind: FaultKind;
  readonly action: string;
  readonly before: readonly string[];
  readonly during: readonly string[];
  readonly after: readonly string[];
  readonly restored: boolean;
  // Epoch ms: the fault command sent; it returned; `during` read; the undo returned; restored or given up.
  readonly t0: number; readonly tIn: number; readonly tSeen: number; readonly tRestored: number; readonly tEnd: number;
}

function faultResult(r: Ran, probe: Probe): FaultResult {
  const { sent, failed } = probe.between(r.t0, r.tEnd);
  // node/service: the VIP must move while the fault is on; backends: nothing can answer until restored.
  const out = probe.outage(r.t0, r.kind === 'backends' ? r.tEnd : r.tRestored);
  const recovered = out === undefined || out.endMs !== undefined;
  const back = probe.outage(r.tRestored, r.tEnd);
  const late = probe.between(r.tSeen - 3_000, r.tSeen);
  const note = r.kind !== 'backends' ? undefined
    : `while no backend was reachable the VIP was held by ${show(r.during)}${r.during.length === 0 ? ' (the failing check put every lb in FAULT; with a check weight it would stay held)' : ''} and ${late.failed}/${late.sent} requests in the 3 s before failed`;
  return {
    fault: r.kind, action: r.action, holderBefore: holderOf(r.before), holdersDuring: r.during, holderAfter: holderOf(r.after),
    gapSeconds: !recovered ? null : Number(((out ? out.endMs! - r.t0 : 0) / 1000).toFixed(2)),
    restoreGapSeconds: back === undefined ? 0 : back.endMs === undefined ? null : Number(((back.endMs - back.startMs) / 1000).toFixed(2)),
    requests: { sent, failed }, recovered, restored: r.restored, ...(note ? { note } : {}),
  };
}

export async function runDrill(inventory: Inventory, options: DrillOptions = {}): Promise<DrillReport> {
  const { vip, frontendPort, healthCheck, keepalived } = inventory.cluster;
  const perSecond = options.perSecond ?? 20;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const target = { address: vip.address, port: frontendPort, path: healthCheck?.path ?? '/healthz' };
  const url = `https://${target.address}:${target.port}${target.path}`;
  const log = options.log ?? (() => undefined);
  const lbHosts = inventory.hosts.filter((h) => hasRole(h, 'lb'));
  const servers = inventory.hosts.filter((h) => hasRole(h, 'server'));
  const top = Math.max(...lbHosts.map((h) => h.priority ?? 0));
  const preferred = lbHosts.filter((h) => (h.priority ?? 0) === top).map((h) => h.name);
  // Bounded waits, longer for slow checks: a failing check needs fall × interval to act, a mended one
  // rise × interval, and haproxy's own server checks (inter 3 s, fall 3, rise 2) come on top.
  const { interval, fall, rise } = keepalived?.check ?? DEFAULT_CHECK;
  const { node: vipDaemon, service: proxy } = options.targets ?? { node: 'keepalived', service: 'haproxy' };
  const limitMs = Math.max(30_000, 2 * settleWindowMs(inventory) + (fall + rise) * interval * 1000 + 10_000);
  const undoAfterS = Math.ceil((2 * limitMs) / 1000) + 30; // past the longest a fault stays on
  const ran: Ran[] = [];
  const lbs: Lb[] = [];
  const active = new Set<Fault>(); // applied and not yet undone
  const unrestored: string[] = [];
  let probe: Probe | undefined;
  let holderAtEnd: string | null = null;
  let current = 'the health check'; // what the drill was doing, for an error's message
  const holdersNow = () => readHolders(lbs, vip.address);

  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) {
      process.stderr.write(`\nleaving now: each host undoes the drill's fault itself within ${undoAfterS} s (systemd timers ${unitFor('node')}, …)\n`);
      process.exit(130);
    }
    process.stderr.write("\ninterrupted: restoring what the drill changed (Ctrl-C again to leave it to the hosts' own undo timers)\n");
    abort.abort(new Error('interrupted'));
  };
  const restoreAll = async (): Promise<void> => {
    for (const fault of [...active]) {
      await Promise.all(fault.on.map((lb) => run(lb, disarm(fault)).catch((e: Error) => {
        unrestored.push(`${LABEL[fault.kind]}: ${e.message} (the host retries within ${undoAfterS} s of the fault: systemd timer ${unitFor(fault.kind)})`);
        log(`could not restore: ${e.message}`);
      })));
      active.delete(fault);
    }
  };
  const report = async (extra: Partial<DrillReport> = {}): Promise<DrillReport> => {
    const total = await probe?.stop(); // every request has ended: the figures are final
    const faults = probe ? ran.map((r) => faultResult(r, probe!)) : [];
    const endedOnPreferred = holderAtEnd !== null && preferred.includes(holderAtEnd);
    const ok = endedOnPreferred && unrestored.length === 0 && faults.length === (options.backends ? 3 : 2) && faults.every((f) => f.recovered && f.restored);
    return {
      ok, preferred, faults, endedOnPreferred, holderAtEnd, ...(unrestored.length > 0 ? { unrestored } : {}),
      probe: { url, perSecond, timeoutMs, sent: total?.sent ?? 0, failed: total?.failed ?? 0 },
      ...extra, ...(extra.ok === false || extra.refused || extra.aborted ? { ok: false } : {}),
    };
  };

  try {
    // ---- is the fleet fit for a drill? ----
    const unreachable: string[] = [];
    await Promise.all(lbHosts.map((host) => (options.connector ?? sshConnector)(host).then(
      (t) => void lbs.push({ host, t }),
      (error: Error) => void unreachable.push(`${host.name}: ${error instanceof HostError ? error.reason : error.message}`),
    )));
    lbs.sort((a, b) => lbHosts.indexOf(a.host) - lbHosts.indexOf(b.host));
    const states = await Promise.all(lbs.map(async ({ host, t }) => {
      const r = await t.exec(`for s in ${quote(proxy)} ${quote(vipDaemon)}; do printf "%s=%s\\n" "$s" "$(systemctl is-active "$s" 2>/dev/null)"; done`);
      return { name: host.name, bad: [proxy, vipDaemon].filter((s) => !r.stdout.includes(`${s}=active\n`)) };
    }));
    const healthy = states.filter((s) => s.bad.length === 0).map((s) => s.name);
    const holders = await holdersNow();
    holderAtEnd = holderOf(holders);
    const problems = [
      ...unreachable,
      ...states.filter((s) => s.bad.length > 0).map((s) => `${s.name}: ${s.bad.join(' and ')} not active`),
      ...(holders.length !== 1 ? [`the VIP ${vip.address} is held by ${holders.length === 0 ? 'no lb' : holders.join(' and ')}, not exactly one`] : []),
      ...(holders.length === 1 && !preferred.includes(holders[0]!) ? [`the VIP is on ${holders[0]}, not on the preferred lb (${preferred.join(' or ')}, priority ${top})`] : []),
      ...(await controllerChecks(inventory)).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    ];
    if (options.backends) {
      // Unreachable routes on the lbs cut exactly lb → backend traffic; a host that is both, or a
      // server the lbs are reached through, would cut VRRP or this drill's own SSH with it.
      const stacked = servers.filter((s) => hasRole(s, 'lb')).map((s) => s.name);
      const jumps = lbHosts.filter((h) => (h.ssh.proxyJump ?? []).some((hop) => servers.some((s) => [s.address, s.ip].includes(hop.address)))).map((h) => h.name);
      if (servers.length === 0) problems.push('--failover-backends: the inventory has no server hosts');
      if (stacked.length > 0) problems.push(`--failover-backends: ${stacked.join(', ')} are lbs and servers at once, so their backends cannot be cut off from the lbs alone`);
      if (jumps.length > 0) problems.push(`--failover-backends: ${jumps.join(', ')} are reached through a server (ssh.jumpHost or ProxyJump)`);
    }
    if (healthy.length < 2 || problems.length > 0) {
      const why = healthy.length < 2
        ? `a failover drill needs at least two healthy lbs (${proxy} and ${vipDaemon} active), found ${healthy.length}${healthy.length ? ` (${healthy.join(', ')})` : ''}`
        : 'the fleet is not fit for a failover drill';
      return await report({ refused: `${why}: ${problems.join('; ') || 'nothing else is wrong'}` });
    }
    const what = `The drill stops ${vipDaemon}, then ${proxy}, on ${holders[0]} (the VIP holder)${options.backends ? `, then makes every backend (${servers.map((s) => (s.address === s.ip ? s.ip : `${s.address} at ${s.ip}`)).join(', ')}) unreachable from the lbs` : ''}, restoring each before the next; requests through ${vip.address} fail for seconds each time.`;
    if (options.confirm && !(await options.confirm(what))) return await report({ aborted: true });

    // ---- the faults, one after another ----
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const { signal } = abort;
    probe = startProbe(target, perSecond, timeoutMs);
    current = 'the baseline second of requests';
    await sleep(1_000, undefined, { signal }); // a baseline: requests succeed before any fault
    for (const kind of ['node', 'service', ...(options.backends ? ['backends' as const] : [])] as const) {
      const before = await holdersNow();
      const holder = lbs.find((lb) => before.length === 1 && lb.host.name === before[0]);
      if (!holder) throw new Error(`before the ${LABEL[kind]}: the VIP is held by ${show(before)}, not by exactly one lb`);
      // Routes take IPs: a server written as a name is cut off at the IP the inventory resolved it to.
      const routes = servers.map((s) => `${s.ip}/32`);
      const fault: Fault =
        kind === 'node' ? { kind, on: [holder], apply: command('systemctl', 'stop', vipDaemon), undo: command('systemctl', 'start', vipDaemon), action: `systemctl stop ${vipDaemon} on ${holder.host.name}` }
        : kind === 'service' ? { kind, on: [holder], apply: command('systemctl', 'stop', proxy), undo: command('systemctl', 'start', proxy), action: `systemctl stop ${proxy} on ${holder.host.name}` }
        : {
          kind, on: lbs,
          apply: routes.map((r) => `ip route add unreachable ${r}`).join(' && '),
          undo: `${routes.map((r) => `ip route del unreachable ${r} 2>/dev/null`).join('; ')}; true`,
          action: `ip route add unreachable ${routes.join(', ')} on ${lbs.map((l) => l.host.name).join(', ')}`,
        };
      current = LABEL[kind];
      log(`${current}: ${fault.action}`);
      active.add(fault); // from here on, restoreAll undoes it (and stops the timers) whatever happens
      await Promise.all(fault.on.map((lb) => run(lb, arm(fault, undoAfterS))));
      const t0 = Date.now();
      await Promise.all(fault.on.map((lb) => run(lb, fault.apply)));
      const tIn = Date.now();
      if (kind === 'backends') {
        // Nothing can recover while no backend answers: watch what the VIP does until both haproxy
        // (inter 3 s × fall 3) and keepalived's check (interval × fall) have seen the failure.
        await sleep((Math.max(fall * interval, 9) + 5) * 1000, undefined, { signal });
      } else {
        // Until requests are answered again, and have been for longer than a request may take (those
        // in flight are counted only once they end); none unanswered within 5 s: a seamless failover.
        await waitFor(async () => {
          const now = Date.now();
          const out = probe!.outage(t0, now);
          return out === undefined ? now - tIn >= 5_000 : out.endMs !== undefined && now - out.endMs >= timeoutMs + 500;
        }, limitMs, signal);
      }
      const during = await holdersNow();
      const tSeen = Date.now();
      log(`  VIP now on ${show(during)}; restoring`);
      await restoreAll();
      const tRestored = Date.now();
      // Back where it started: the preferred lb has held the VIP for 3 s (a preempting lb takes it
      // back within an advert or two) and requests through it succeed.
      let since = 0;
      const restored = await waitFor(async () => {
        const h = holderOf(await holdersNow());
        since = h && preferred.includes(h) ? since || Date.now() : 0;
        return since > 0 && Date.now() - since >= 3_000 && probe!.recoveredAfter(since) !== undefined;
      }, limitMs, signal);
      const after = await holdersNow();
      ran.push({ kind, action: fault.action, before, during, after, t0, tIn, tSeen, tRestored, tEnd: Date.now(), restored });
      log(`  ${restored ? 'restored' : 'NOT restored'}: VIP on ${show(after)}`);
      if (!restored) break; // the next fault would start from an unknown place
    }
    holderAtEnd = holderOf(await holdersNow());
    return await report();
  } catch (error) {
    const interrupted = abort.signal.aborted;
    await restoreAll();
    // Where it ended, bounded: the user must know where their VIP is.
    await waitFor(async () => {
      holderAtEnd = holderOf(await holdersNow());
      return holderAtEnd !== null && preferred.includes(holderAtEnd);
    }, interrupted ? 5_000 : limitMs).catch(() => undefined);
    return await report({ ok: false, ...(interrupted ? { interrupted } : {}), error: `${interrupted ? 'interrupted' : (error as Error).message} (during ${current})` });
  } finally {
    await restoreAll();
    await probe?.stop();
    for (const lb of lbs) lb.t.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const seconds = (s: number | null): string => (s === null ? 'none' : `${s.toFixed(1)} s`);

/** The human table: one row per fault, then where the VIP ended. */
export function formatDrill(r: DrillReport): string {
  if (r.refused) return `Failover drill refused: ${r.refused}`;
  if (r.aborted) return 'Failover drill aborted: nothing was changed.';
  const rows = r.faults.map((f) => [
    LABEL[f.fault], seconds(f.gapSeconds), seconds(f.restoreGapSeconds), `${f.requests.failed}/${f.requests.sent}`,
    `${f.holderBefore ?? '(none)'} → ${show(f.holdersDuring)} → ${f.holderAfter ?? '(none)'}`, f.recovered && f.restored ? 'ok' : f.recovered ? 'NOT RESTORED' : 'NOT RECOVERED',
  ]);
  const head = ['fault', 'gap', 'restore gap', 'failed/sent', 'VIP holder before → during → after', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    `Failover drill: ${r.probe.perSecond} requests/s through ${r.probe.url}, each on a new connection (${r.probe.failed}/${r.probe.sent} failed in all)`,
    line(head), ...rows.map(line),
    ...r.faults.flatMap((f) => (f.note ? [`${LABEL[f.fault]}: ${f.note}`] : [])),
    ...(r.error ? [`Stopped early: ${r.error}.`] : []),
    ...(r.unrestored ?? []).map((u) => `NOT RESTORED: ${u}`),
    `VIP back on the preferred lb (${r.preferred.join(' or ')}): ${r.endedOnPreferred ? 'yes' : `NO, it is on ${r.holderAtEnd ?? 'no single lb'}`}`,
  ].join('\n');
}
