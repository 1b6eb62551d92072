// The orchestrator: one agent per host, run in parallel (p-limit). Phases are fleet-wide — every host
// is read and planned before any host changes — so the plan a user confirms is the plan applied.
import pLimit from 'p-limit';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/playbook.js';
import type { Change } from '../resources/types.js';
import { redactor, type Redactor } from '../redact.js';
import { controllerChecks, hostChecks, type Check } from '../verify/verify.js';
import type { HostFacts } from '../facts/gather.js';
import { HostError } from '../errors.js';
import { HostAgent, sshConnector, type Connector } from './agent.js';

export type HostStatus = 'in-sync' | 'pending' | 'changed' | 'failed';

export interface HostReport {
  readonly host: string;
  readonly status: HostStatus;
  readonly changes: readonly Change[];
  readonly error?: string;
  readonly execs: number;
}

export interface RunReport {
  readonly hosts: readonly HostReport[];
  readonly checks: readonly Check[];
  readonly aborted: boolean; // the user declined the plan
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
  /** Asked once with the full plan before anything changes; false aborts. Not asked if a host failed to plan. */
  readonly confirm?: (plan: readonly HostReport[]) => Promise<boolean>;
  /** How long verification waits for the VIP to settle (keepalived elects within seconds). */
  readonly settleMs?: number;
}

const silent: Progress = { step: () => undefined, done: () => undefined };

export const secretsOf = (inventory: Inventory): string[] => [
  inventory.cluster.keepalived.authPass.value,
  ...inventory.hosts.flatMap((h) => (h.ssh.password ? [h.ssh.password.value] : [])),
];

export async function run(inventory: Inventory, playbook: Playbook, options: RunOptions): Promise<RunReport> {
  const redact: Redactor = redactor(secretsOf(inventory));
  const progress = options.progress ?? silent;
  const hosts = inventory.hosts.filter((h) => !options.limit || options.limit.includes(h.name));
  const agents = hosts.map((h) => new HostAgent(inventory, playbook, h, options.connector ?? sshConnector));
  const limit = pLimit(Math.max(1, options.concurrency));
  const errors = new Map<string, string>();
  const applied = new Map<string, readonly Change[]>();

  const report = (agent: HostAgent): HostReport => {
    const error = errors.get(agent.host.name);
    const done = applied.get(agent.host.name);
    const status: HostStatus = error ? 'failed' : done ? 'changed' : agent.changes.length > 0 ? 'pending' : 'in-sync';
    return { host: agent.host.name, status, changes: done ?? agent.changes, ...(error ? { error } : {}), execs: agent.execCount };
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
          progress.step(agent.host.name, changes.length === 0 ? 'in sync' : `${changes.length} change(s) planned`);
        }),
      ),
    );
    const planned = agents.map(report);
    const anyChange = planned.some((r) => r.status === 'pending');
    // Half a fleet is not changed on a plan that could not see the other half (an lb left on an
    // old keepalived config beside a new one is how a VIP gets lost).
    const unplanned = planned.some((r) => r.status === 'failed');
    if (options.apply && anyChange && (unplanned || (options.confirm && !(await options.confirm(planned))))) {
      return { hosts: planned, checks: [], aborted: true };
    }
    if (options.apply) {
      progress.phase?.('apply');
      await Promise.all(
        agents
          .filter((a) => !errors.has(a.host.name) && a.changes.length > 0)
          .map((agent) =>
            guarded(agent, async () => {
              progress.step(agent.host.name, `applying ${agent.changes.length} change(s)`);
              const changes = agent.changes;
              await agent.apply(redact);
              applied.set(agent.host.name, changes);
            }),
          ),
      );
    }
    if (options.verify) progress.phase?.('verify');
    const checks = options.verify ? await verify(inventory, agents, errors, options.settleMs ?? 20_000, guarded) : [];
    const hostsReport = agents.map(report);
    for (const r of hostsReport) progress.done(r.host, r);
    return { hosts: hostsReport, checks, aborted: false };
  } finally {
    for (const agent of agents) agent.close();
  }
}

/** Runs the checks; while the VIP is still settling, re-reads the lbs (one exec each) and tries again. */
async function verify(
  inventory: Inventory,
  agents: readonly HostAgent[],
  errors: ReadonlyMap<string, string>,
  settleMs: number,
  guarded: (agent: HostAgent, work: () => Promise<void>) => Promise<void>,
): Promise<Check[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const facts = new Map<string, HostFacts>();
    for (const a of agents) if (a.facts && !errors.has(a.host.name)) facts.set(a.host.name, a.facts);
    const checks = [...(await controllerChecks(inventory)), ...hostChecks(inventory, facts)];
    // Waiting only helps a fleet that converged: a failed host will not fix itself.
    if (checks.every((c) => c.ok) || errors.size > 0 || Date.now() > deadline) return checks;
    await new Promise((r) => setTimeout(r, 1000));
    const lbs = agents.filter((a) => a.host.roles.includes('lb') && !errors.has(a.host.name));
    await Promise.all(lbs.map((a) => guarded(a, async () => void (await a.refresh()))));
  }
}
