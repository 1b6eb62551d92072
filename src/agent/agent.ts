// One agent per host: it owns that host's single SSH connection and walks it through
// facts → plan → apply → facts again. It never prints; the orchestrator reports.
import { gatherFacts, type FactNeeds, type HostFacts } from '../facts/gather.js';
import type { Host, Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/playbook.js';
import { factNeeds, resourcesFor } from '../playbook/desired.js';
import { diffResources } from '../resources/diff.js';
import type { Change, Resource, Retarget } from '../resources/types.js';
import { applyScript, applySteps, HOST_PATHS, parseApplyOutput, withRealPaths, type HostPaths, type RunIdentity } from '../apply/script.js';
import { restoreChanges } from '../apply/restore.js';
import { HostError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { SshTransport } from '../transport/ssh.js';
import type { Redactor } from '../redact.js';
import { describeChange } from '../plan/format.js';
import { preflight, type PreflightOptions } from '../plan/preflight.js';

export type Connector = (host: Host) => Promise<Transport>;
export const sshConnector: Connector = (host) => SshTransport.open(host);

export interface AgentOptions {
  readonly preflight?: PreflightOptions;
  /** Desired state other than the playbook's (rollback). */
  readonly retarget?: Retarget;
  /** Whether the facts include what only verify and a rollout's gates read (default yes): logged faults, backend probes. */
  readonly readHealth?: boolean;
}

export class HostAgent {
  #transport?: Transport;
  #needs?: FactNeeds;
  #paths: HostPaths;
  facts?: HostFacts;
  resources: Resource[] = [];
  changes: Change[] = [];
  /** What the user should know about this host besides its changes (a run in progress, a stale lock). */
  notes: string[] = [];

  constructor(
    readonly inventory: Inventory,
    readonly playbook: Playbook,
    readonly host: Host,
    private readonly connector: Connector = sshConnector,
    private readonly options: AgentOptions = {},
  ) {
    this.#paths = { ...HOST_PATHS, keepVersions: inventory.history.keep };
  }

  get execCount(): number {
    return this.#execsBefore + (this.#transport?.execCount ?? 0);
  }

  /** SSH connections opened to this host (attempts included): the round-trip budget is one per run. */
  get connectionCount(): number {
    return this.#connections;
  }

  #connections = 0;
  #execsBefore = 0; // execs on connections already released
  #connecting?: Promise<Transport>;

  private async transport(): Promise<Transport> {
    if (this.#transport) return this.#transport;
    // One connection however many steps ask for it at once; a failed one may be tried again later.
    if (!this.#connecting) {
      this.#connections += 1;
      this.#connecting = this.connector(this.host).catch((error: unknown) => {
        this.#connecting = undefined;
        throw error;
      });
    }
    this.#transport = await this.#connecting;
    return this.#transport;
  }

  /** Reads every fact (and the lb's backend probes) in one exec, without planning: for observers. */
  async readFacts(): Promise<HostFacts> {
    const transport = await this.transport();
    // Worked out once connected, not when the agent is made: the fleet's first connects wait for no host's needs.
    this.#needs ??= factNeeds(this.playbook, this.inventory, this.host, { history: this.options.retarget?.history ?? false, health: this.options.readHealth ?? true });
    this.facts = await gatherFacts(this.host.name, transport, this.#needs);
    return this.facts;
  }

  /** Reads every fact (and the lb's backend probes) in one exec, then plans against them. */
  async refresh(): Promise<Change[]> {
    const facts = await this.readFacts();
    const rendered = await resourcesFor(this.playbook, this.inventory, this.host, facts);
    const { retarget } = this.options;
    this.resources = retarget ? retarget.resources(rendered, facts, this.host.name) : rendered;
    const changes = diffResources(this.resources, facts, this.host.name);
    const problems = preflight(this.host, facts, changes, this.options.preflight);
    if (problems.length > 0) throw new HostError(this.host.name, problems.join('; '));
    this.changes = changes;
    return this.changes;
  }

  /**
   * Applies the planned changes in one exec, then re-reads the host: what remains is not converged.
   * Notes what the host said about its lock (a stale one taken over) in `notes`.
   */
  async apply(redact: Redactor, run: RunIdentity): Promise<void> {
    if (this.changes.length === 0) return;
    let executed;
    try {
      executed = await this.execute(this.changes, run);
    } catch (error) {
      // The host has the script (or none of it) and finishes it on its own: we cannot know how far it got.
      const why = error instanceof HostError ? error.reason : (error as Error).message;
      throw new HostError(this.host.name, redact(`${why} while applying; the host finishes the steps it received on its own, so later steps may have run: run plan to see where it stands`));
    }
    const { steps, result, outcome } = executed;
    if (outcome.tookOverFrom) this.notes.push(`took over a stale lock: the run of ${outcome.tookOverFrom} ended without releasing it`);
    if (outcome.lockedBy) throw new HostError(this.host.name, redact(`another run holds this host's lock: ${outcome.lockedBy}; nothing was changed (wait for it, or pass --force-unlock if it hangs)`));
    if (outcome.ok && result.code !== 0) throw new HostError(this.host.name, redact(`apply script exited ${result.code}: ${result.stderr.trim()}`));
    if (!outcome.ok) {
      const step = steps[outcome.failedStep ?? 0]?.label ?? 'apply';
      if (outcome.lost) {
        throw new HostError(
          this.host.name,
          redact(`the connection was lost during step "${step}"; the host finishes the steps it received on its own, so later steps may have run: run plan to see where it stands`),
        );
      }
      const detail = withRealPaths(outcome.output || result.stderr, this.changes).trim().split('\n').slice(-25).join('\n');
      const service = steps[outcome.failedStep ?? 0]?.loads;
      if (service) {
        const restored = await this.restore(run);
        throw new HostError(this.host.name, redact(`${service} did not load its new config (step "${step}"):\n${detail}\n${restored}`));
      }
      throw new HostError(this.host.name, redact(`step "${step}" failed; nothing after it ran${detail ? `:\n${detail}` : ''}`));
    }
    // The same facts exec carries verify's probes, so this costs nothing extra when verifying.
    let remaining = await this.refresh();
    // A package's maintainer script may have just reloaded its service (haproxy's postinst does): while
    // systemd still says "reloading", read again, once a second, for at most 15 s.
    for (let waited = 0; remaining.length > 0 && this.servicesSettling() && waited < 15; waited += 1) {
      await new Promise((r) => setTimeout(r, 1000));
      remaining = await this.refresh();
    }
    if (remaining.length > 0) {
      throw new HostError(this.host.name, redact(`applied, but still not converged: ${remaining.map(describeChange).join('; ')}`));
    }
  }

  private servicesSettling(): boolean {
    return Object.values(this.facts?.services ?? {}).some((s) => ['reloading', 'activating', 'deactivating'].includes(s.active));
  }

  /**
   * After a service failed to load this run's files: puts the previous versions back and makes the
   * services load them (one more exec, only on this path), then re-reads the host. Says what it did.
   */
  private async restore(run: RunIdentity): Promise<string> {
    const changes = restoreChanges(this.changes);
    const paths = changes.flatMap((c) => (c.kind === 'file' ? [c.path] : []));
    if (changes.length === 0) return 'Nothing to restore: every file of this run is new on this host.';
    let executed;
    try {
      executed = await this.execute(changes, run);
    } catch (error) {
      return `Restoring the previous version could not run: ${error instanceof HostError ? error.reason : (error as Error).message}.`;
    }
    const { steps, outcome } = executed;
    await this.readFacts().catch(() => undefined); // the report shows the host as it is now
    if (outcome.ok) {
      const services = changes.flatMap((c) => (c.kind === 'service' ? [c.name] : []));
      const files = paths.length > 0 ? `Restored the previous ${paths.join(', ')} and reloaded` : 'Started again';
      return `${files} ${services.join(', ') || 'nothing'}: the host runs its previous config again.`;
    }
    const step = steps[outcome.failedStep ?? 0]?.label ?? 'restore';
    return `Restoring the previous version failed too, at step "${step}": ${withRealPaths(outcome.output ?? '', changes).trim()}`;
  }

  /** Runs a playbook-declared command (a drain, say) in one exec; throws with its output if it fails. */
  async command(script: string, what: string): Promise<void> {
    const result = await (await this.transport()).exec(script);
    if (result.code !== 0) throw new HostError(this.host.name, `${what} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 500)}`);
  }

  /** One apply exec: the changes as one script, and what its markers say. */
  private async execute(changes: readonly Change[], run: RunIdentity) {
    const steps = applySteps(changes, this.#paths);
    const result = await (await this.transport()).exec(applyScript(steps, changes, run, this.#paths));
    return { steps, result, outcome: parseApplyOutput(result.stdout, steps.length) };
  }

  close(): void {
    this.#transport?.close();
  }

  /**
   * Closes the connection now, for a host the run needs no more (planned in sync): a fleet of hundreds
   * does not hold hundreds of sessions open while the confirmation prompt waits. Used again, it reconnects
   * (and the report counts that connection).
   */
  release(): void {
    if (!this.#transport) return;
    this.#execsBefore += this.#transport.execCount;
    this.#transport.close();
    this.#transport = undefined;
    this.#connecting = undefined;
  }
}
