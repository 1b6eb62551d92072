// How a planned fleet is changed: every host at once (`up`), or host by host with gates (`rollout`,
// src/rollout/rolling.ts). The orchestrator plans, confirms and verifies; a strategy only orders the
// applies and decides when to stop.
import pLimit from 'p-limit';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/playbook.js';
import type { HostAgent } from './agent.js';

export interface Fleet {
  readonly inventory: Inventory;
  readonly playbook: Playbook;
  readonly agents: readonly HostAgent[]; // the hosts of this run, planned
  readonly observers: readonly HostAgent[]; // lbs a --limit leaves out: read, never changed
  readonly concurrency: number;
  /** Masks the inventory's secrets: whatever a strategy reports passes through it. */
  redact(text: string): string;
  step(host: string, text: string): void; // progress
  /** Applies one host's planned changes; false when it failed (the error is kept for the report). */
  applyHost(agent: HostAgent): Promise<boolean>;
  /** Why this host failed in this run (planning or applying), or undefined. */
  errorOf(host: string): string | undefined;
}

/** One line of a rollout's timeline. */
export interface TimelineEvent {
  readonly at: string; // ISO 8601
  readonly seconds: number; // since the rollout started
  readonly host?: string;
  readonly step: string; // gate, drain, apply, check, undrain, pause, window, stop
  readonly ok: boolean;
  readonly detail: string;
}

export interface StrategyOutcome {
  readonly timeline: readonly TimelineEvent[];
  /** Set when the strategy stopped before every host was changed: why, and whether a window closed. */
  readonly stopped?: { readonly reason: 'failed' | 'gate' | 'window'; readonly detail: string };
}

export interface Strategy {
  readonly name: 'parallel' | 'rolling';
  /** Whether its gates read what only verify otherwise reads (services' logged faults, the lbs' backend probes). */
  readonly readsHealth: boolean;
  /** The order of work, shown with the plan before confirmation (may read the lbs: one exec each). */
  preview(fleet: Fleet): Promise<string[]>;
  apply(fleet: Fleet): Promise<StrategyOutcome>;
}

/** `up`: every host with changes at once (bounded by --concurrency). */
export const parallel: Strategy = {
  name: 'parallel',
  readsHealth: false,
  preview: async () => [],
  async apply(fleet) {
    const limit = pLimit(Math.max(1, fleet.concurrency));
    await Promise.all(fleet.agents.filter((a) => fleet.errorOf(a.host.name) === undefined && a.changes.length > 0).map((a) => limit(() => fleet.applyHost(a))));
    return { timeline: [] };
  },
};
