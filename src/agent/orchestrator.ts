// The orchestrator: one agent per host, run in parallel (p-limit). Phases are fleet-wide — every host
// is read and planned before any host changes — so the plan a user confirms is the plan applied.
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import pLimit from 'p-limit';
import { hasRole, inventorySecrets, type Inventory, type SshSources } from '../inventory/types.js';
import { runningServices, type Playbook } from '../playbook/playbook.js';
import type { Change } from '../resources/types.js';
import { redactor, type Redactor } from '../redact.js';
import { controllerChecks, hostChecks, settleWindowMs, vipHolders, type Check } from '../verify/verify.js';
import { peersLeftOut } from '../plan/peers.js';
import { describeVersions } from '../plan/rollback.js';
import type { PreflightOptions } from '../plan/preflight.js';
import type { HostFacts } from '../facts/gather.js';
import { HostError } from '../errors.js';
import { HostAgent, sshConnector, type Connector } from './agent.js';
import type { Retarget } from '../resources/types.js';
import type { RunIdentity } from '../apply/script.js';
import { parallel, type Fleet, type Strategy, type StrategyOutcome } from './strategy.js';

export type HostStatus = 'in-sync' | 'pending' | 'changed' | 'failed';

export interface HostReport {
  readonly host: string;
  readonly status: HostStatus;
  readonly changes: readonly Change[];
  readonly error?: string;
  readonly execs: number;
  readonly connections: number; // SSH connections opened (1 on a converged run)
  readonly notes: readonly string[]; // e.g. a run in progress, a stale lock taken over
  readonly history?: readonly string[]; // what was applied when, when the run read it (rollback)
  readonly ssh?: SshSources; // the effective SSH settings and where each came from
  readonly versions?: HostVersions;
}

/** The host's applied-version numbers (see src/facts/history.ts): what a rollback would go back to. */
export interface HostVersions {
  readonly before: number; // the newest version on the host when this run planned (0: none)
  readonly after: number; // the newest as last read; past `before` when this run wrote one
  readonly target?: number; // rollback: the version this host's files were put back to
}

export interface RunReport {
  readonly hosts: readonly HostReport[];
  readonly checks: readonly Check[];
  readonly aborted: boolean; // the user declined the plan
  readonly order?: readonly string[]; // a rolling strategy's order of work, as shown with the plan
  readonly rollout?: StrategyOutcome; // its timeline, and where it stopped
  readonly runId?: string; // as each changed host's version history names this run ("run 5f2c1a9b")
  /** Where the run's time went, in ms: reading and planning, the confirmation prompt, applying, verifying. */
  readonly phases?: Phases;
}

export interface Phases {
  readonly planMs: number;
  readonly confirmMs: number;
  readonly applyMs: number;
  readonly verifyMs: number;
}

export interface Progress {
  phase?(name: 'apply' | 'verify'): void;
  step(host: string, text: string): void;
  done(host: string, report: HostReport): void;
  close?(): Promise<void>; // resolves once its output is complete
}

export interface RunOptions {
  readonly apply: boolean; // false: plan only, nothing changes
  readonly verify: boolean; // run the checks at the end (after applying, if applying)
  readonly concurrency: number;
  readonly limit?: readonly string[];
  readonly connector?: Connector;
  readonly progress?: Progress;
  /** Asked once with the full plan (and the strategy's order) before anything changes; false aborts. Not asked if a host failed to plan. */
  readonly confirm?: (plan: readonly HostReport[], order: readonly string[]) => Promise<boolean>;
  /** How the planned hosts are changed: all at once (default) or rolling. */
  readonly strategy?: Strategy;
  /** A saved plan's check: throws (naming host and file) when the fresh plan is not the one approved. */
  readonly expectPlan?: (plan: readonly HostReport[]) => void;
  /** How long verification waits for the VIP to settle (keepalived elects within seconds). */
  readonly settleMs?: number;
  readonly preflight?: PreflightOptions;
  /** Apply even where another run's lock looks live: its apply script is stopped first. */
  readonly forceUnlock?: boolean;
  /** Desired state other than the playbook's (rollback). */
  readonly retarget?: Retarget;
  /** The id the hosts record this run under (random if not given): known before the run, for a record of a run cut short. */
  readonly runId?: string;
  /** Requests through the VIP, as a client sends them (injectable for tests). */
  readonly vipChecks?: (inventory: Inventory) => Promise<Check[]>;
}

export const newRunId = (): string => randomBytes(4).toString('hex');

/** This run, as a host's lock describes it to anyone who finds it held. */
export function runIdentity(forceUnlock = false, id: string = newRunId()): RunIdentity {
  return {
    id,
    controller: hostname(),
    pid: process.pid,
    user: userInfo().username,
    started: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(forceUnlock ? { forceUnlock } : {}),
  };
}

const silent: Progress = { step: () => undefined, done: () => undefined };

export const secretsOf = (inventory: Inventory): string[] => inventorySecrets(inventory).map((s) => s.value);

export async function run(inventory: Inventory, playbook: Playbook, options: RunOptions): Promise<RunReport> {
  const redact: Redactor = redactor(secretsOf(inventory));
  const progress = options.progress ?? silent;
  const inRun = (name: string): boolean => !options.limit || options.limit.includes(name);
  const connector = options.connector ?? sshConnector;
  const strategy = options.strategy ?? parallel;
  // Logged faults and the lbs' backend probes serve verify and a rollout's gates only.
  const readHealth = options.verify || strategy.readsHealth;
  const agents = inventory.hosts.filter((h) => inRun(h.name)).map((h) => new HostAgent(inventory, playbook, h, connector, { preflight: options.preflight, retarget: options.retarget, readHealth }));
  // The VIP is a property of every lb: verify and a rollout's gates read the lbs a --limit leaves out
  // too, read-only (an agent connects only when first used).
  const observers = inventory.hosts.filter((h) => !inRun(h.name) && hasRole(h, 'lb')).map((h) => new HostAgent(inventory, playbook, h, connector));
  const limit = pLimit(Math.max(1, options.concurrency));
  // The checks through the VIP start now, alongside reading the hosts: a run that changes nothing uses
  // their answer (the fleet is as it was), and one that changes something asks again after applying.
  const askVip = options.vipChecks ?? controllerChecks;
  const vipChecksAtStart = options.verify ? askVip(inventory) : undefined;
  const identity = runIdentity(options.forceUnlock, options.runId);
  const errors = new Map<string, string>();
  const applied = new Map<string, readonly Change[]>();
  const clock = { start: Date.now(), planned: 0, confirmed: 0, applied: 0 };
  const phases = (): Phases => {
    const now = Date.now();
    const planned = clock.planned || now;
    const confirmed = clock.confirmed || planned;
    const appliedAt = clock.applied || confirmed;
    return { planMs: planned - clock.start, confirmMs: confirmed - planned, applyMs: appliedAt - confirmed, verifyMs: now - appliedAt };
  };
  // Kept as planned: the facts are read again after applying, and a rollback's target would move with them.
  const versionsAtPlan = new Map<string, Pick<HostVersions, 'before' | 'target'>>();

  const report = (agent: HostAgent): HostReport => {
    const error = errors.get(agent.host.name);
    const done = applied.get(agent.host.name);
    const status: HostStatus = error ? 'failed' : done ? 'changed' : agent.changes.length > 0 ? 'pending' : 'in-sync';
    const history = agent.facts?.history.length ? { history: describeVersions(agent.facts.history) } : {};
    const atPlan = versionsAtPlan.get(agent.host.name);
    const versions = atPlan && agent.facts ? { versions: { ...atPlan, after: agent.facts.historyHead } } : {};
    return { host: agent.host.name, status, changes: done ?? agent.changes, ...(error ? { error } : {}), execs: agent.execCount, connections: agent.connectionCount, notes: agent.notes, ...history, ...versions, ...(agent.host.sshSources ? { ssh: agent.host.sshSources } : {}) };
  };
  const guarded = (agent: HostAgent, work: () => Promise<void>) =>
    limit(async () => {
      try {
        await work();
      } catch (error) {
        errors.set(agent.host.name, redact(error instanceof HostError ? error.reason : (error as Error).message));
      }
    });

  try {
    await Promise.all(
      agents.map((agent) =>
        guarded(agent, async () => {
          progress.step(agent.host.name, 'reading facts');
          const changes = await agent.refresh();
          const facts = agent.facts!;
          const target = options.retarget?.target?.(facts);
          versionsAtPlan.set(agent.host.name, { before: facts.historyHead, ...(target === undefined ? {} : { target }) });
          progress.step(agent.host.name, changes.length === 0 ? 'in sync' : `${changes.length} change(s) planned`);
          // A server planned in sync is done with (only the lbs are read again: verify, a rollout's
          // gates): its connection closes now, not with the fleet's at the end.
          if (changes.length === 0 && !hasRole(agent.host, 'lb')) agent.release();
        }),
      ),
    );
    const inThisRun = new Set(agents.map((a) => a.host.name));
    for (const agent of agents) {
      const split = errors.has(agent.host.name) ? undefined : peersLeftOut(agent.changes, inThisRun);
      if (split) errors.set(agent.host.name, redact(split));
      const lock = agent.facts?.runLock;
      if (lock?.alive && options.apply && !options.forceUnlock && !errors.has(agent.host.name)) {
        errors.set(agent.host.name, `a run is in progress on this host: ${lock.holder}; wait for it, or pass --force-unlock if it hangs`);
      } else if (lock) {
        agent.notes.push(lock.alive ? `a run is in progress on this host: ${lock.holder}` : `a stale lock is left by ${lock.holder} (its run ended without releasing it); the next up takes it over`);
      }
    }
    const planned = agents.map(report);
    clock.planned = Date.now();
    const anyChange = planned.some((r) => r.status === 'pending');
    // Half a fleet is not changed on a plan that could not see the other half (an lb left on an
    // old keepalived config beside a new one is how a VIP gets lost).
    const unplanned = planned.some((r) => r.status === 'failed');
    // One run, one history number on every host it changes: past the newest any of them has.
    const version = Math.max(0, ...agents.map((a) => a.facts?.historyHead ?? 0)) + 1;
    const fleet: Fleet = {
      inventory,
      playbook,
      agents,
      observers,
      concurrency: options.concurrency,
      redact,
      step: (host, text) => progress.step(host, text),
      errorOf: (host) => errors.get(host),
      applyHost: async (agent) => {
        let ok = false;
        await guarded(agent, async () => {
          progress.step(agent.host.name, `applying ${agent.changes.length} change(s)`);
          const changes = agent.changes;
          await agent.apply(redact, { ...identity, version });
          applied.set(agent.host.name, changes);
          ok = true;
        });
        return ok;
      },
    };
    // A rolling strategy's order reads every lb (who holds the VIP): only when something is to change.
    const order = anyChange && !unplanned ? await strategy.preview(fleet).catch((e: Error) => [`cannot order the rollout: ${redact(e.message)}`]) : [];
    if (options.expectPlan && !unplanned) options.expectPlan(planned);
    if (options.apply && (unplanned || (anyChange && options.confirm && !(await options.confirm(planned, order))))) {
      return { hosts: planned, checks: [], aborted: true, ...(order.length ? { order } : {}), phases: phases(), runId: identity.id };
    }
    clock.confirmed = Date.now();
    let outcome: StrategyOutcome | undefined;
    if (options.apply) {
      progress.phase?.('apply');
      outcome = await strategy.apply(fleet);
    }
    clock.applied = Date.now();
    if (options.verify) progress.phase?.('verify');
    // After an lb changed, the holder must stay put for a while: a split pair only shows seconds later.
    const lbChanged = agents.some((a) => applied.has(a.host.name) && hasRole(a.host, 'lb'));
    const settle = { deadlineMs: options.settleMs ?? 20_000, stableMs: lbChanged ? settleWindowMs(inventory) : 0 };
    const unchanged = applied.size === 0 ? vipChecksAtStart : undefined;
    const checks = options.verify ? await verify(inventory, runningServices(playbook, 'lb', inventory), agents, observers, errors, settle, guarded, askVip, unchanged) : [];
    const hostsReport = agents.map(report);
    for (const r of hostsReport) progress.done(r.host, r);
    return { hosts: hostsReport, checks, aborted: false, ...(order.length ? { order } : {}), ...(strategy.name === 'rolling' && outcome ? { rollout: outcome } : {}), phases: phases(), runId: identity.id };
  } finally {
    for (const agent of [...agents, ...observers]) agent.close();
  }
}

/**
 * Runs the checks; while the VIP is still settling, re-reads the lbs (one exec each) once a second and
 * tries again. With a stable window, the checks pass only once one holder has held the VIP that long.
 */
async function verify(
  inventory: Inventory,
  lbServices: readonly string[],
  agents: readonly HostAgent[],
  observers: readonly HostAgent[],
  errors: ReadonlyMap<string, string>,
  settle: { readonly deadlineMs: number; readonly stableMs: number },
  guarded: (agent: HostAgent, work: () => Promise<void>) => Promise<void>,
  askVip: (inventory: Inventory) => Promise<Check[]>,
  vipChecks?: Promise<Check[]>, // the checks through the VIP already under way, for the first round
): Promise<Check[]> {
  const started = Date.now();
  const deadline = started + settle.deadlineMs + settle.stableMs;
  const unread = new Set<string>();
  // lbs that failed in this run still hold (or not) the VIP: they are read like observers.
  const failedLbs = agents.filter((a) => errors.has(a.host.name) && hasRole(a.host, 'lb'));
  const readOnly = [...observers, ...failedLbs];
  const readObservers = () =>
    Promise.all(
      readOnly.map(async (o) => {
        try {
          await o.readFacts();
          unread.delete(o.host.name);
        } catch {
          unread.add(o.host.name); // reported by the one-holder check as "could not be read"
        }
      }),
    );
  await readObservers();
  let holding = { holders: [] as string[], since: started };
  for (;;) {
    const facts = new Map<string, HostFacts>();
    for (const a of [...agents, ...observers]) if (a.facts && !unread.has(a.host.name) && (!errors.has(a.host.name) || failedLbs.includes(a))) facts.set(a.host.name, a.facts);
    const checks = [...(await (vipChecks ?? askVip(inventory))), ...hostChecks(inventory, facts, lbServices)];
    vipChecks = undefined;
    const holders = vipHolders(inventory, facts);
    if (holders.join() !== holding.holders.join()) holding = { holders, since: Date.now() };
    const heldFor = Date.now() - holding.since;
    if (settle.stableMs > 0 && errors.size === 0) {
      checks.push({
        name: `the VIP stays on one lb for ${settle.stableMs / 1000} s after the change`,
        ok: holders.length === 1 && heldFor >= settle.stableMs,
        detail: holders.length === 0 ? 'no lb holds it' : `held by ${holders.join(', ')} for ${(heldFor / 1000).toFixed(1)} s`,
      });
    }
    // Waiting only helps a fleet that converged: a failed host will not fix itself.
    if (checks.every((c) => c.ok) || errors.size > 0 || Date.now() > deadline) return checks;
    await new Promise((r) => setTimeout(r, 1000));
    const lbs = agents.filter((a) => hasRole(a.host, 'lb') && !errors.has(a.host.name));
    await Promise.all([...lbs.map((a) => guarded(a, async () => void (await a.refresh()))), readObservers()]);
  }
}
