// The rolling strategy (`ha-provision rollout`): the planned fleet changes one wave at a time (waves.ts),
// with a gate through the VIP before each wave, a drain around every change that interrupts an lb, and a
// stop — between hosts, never inside one — when a step fails, a gate fails or the maintenance window has
// no room left. A stopped rollout leaves the fleet serving; the next run continues from where it stopped,
// since converged hosts have nothing to change.
import type { HostAgent } from '../agent/agent.js';
import type { Fleet, Strategy, StrategyOutcome, TimelineEvent } from '../agent/strategy.js';
import type { HostFacts } from '../facts/gather.js';
import { hasRole, type Inventory } from '../inventory/types.js';
import { drainsOn, runningServices } from '../playbook/playbook.js';
import { controllerChecks, hostChecks, vipHolders, type Check } from '../verify/verify.js';
import { describeWave, rolloutWaves, waveLabel, type Wave } from './waves.js';
import { formatInZone, hasRoom, systemClock, windowState, type Clock, type MaintenanceWindow } from './window.js';

export interface RollingOptions {
  readonly batch: number; // servers changed at once
  /** Between waves: wait this long, or until `enter` resolves (Enter on a TTY). */
  readonly pause?: { readonly seconds: number } | { readonly enter: () => Promise<void> };
  readonly window?: { readonly windows: readonly MaintenanceWindow[]; readonly timeZone: string };
  readonly clock?: Clock;
  /** How long a drain or an undrain may take to move the VIP, confirmed through it. */
  readonly moveTimeoutMs?: number;
  /** How long a gate waits for an lb's facts before counting it unreadable (a partitioned host hangs). */
  readonly readTimeoutMs?: number;
  /** Requests through the VIP, as a client sends them (injectable for tests). */
  readonly vipChecks?: (inventory: Inventory) => Promise<Check[]>;
}

// Before the first step is measured, a step is assumed to take this long when judging a window's room.
const ASSUMED_STEP_MS = 60_000;
const POLL_MS = 250;

export function rolling(options: RollingOptions): Strategy {
  const clock = options.clock ?? systemClock;
  const vipChecks = options.vipChecks ?? ((inventory: Inventory) => controllerChecks(inventory));
  const moveTimeoutMs = options.moveTimeoutMs ?? 15_000;
  const readTimeoutMs = options.readTimeoutMs ?? 10_000;

  /** Reads every lb (one exec each): its facts, or undefined when it cannot be read in time. */
  const readLbs = async (fleet: Fleet): Promise<Map<string, HostFacts | undefined>> => {
    const lbs = [...fleet.agents.filter((a) => hasRole(a.host, 'lb')), ...fleet.observers];
    const read = (a: HostAgent): Promise<HostFacts | undefined> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), readTimeoutMs)));
      return Promise.race([a.readFacts().catch(() => undefined), late]).finally(() => clearTimeout(timer));
    };
    return new Map(await Promise.all(lbs.map(async (a) => [a.host.name, await read(a)] as const)));
  };
  const known = (lbs: Map<string, HostFacts | undefined>) => new Map([...lbs].flatMap(([n, f]) => (f ? [[n, f] as const] : [])));
  /** Why an lb cannot take the VIP's traffic, or undefined when it can. */
  const unhealthy = (fleet: Fleet, name: string, facts: HostFacts | undefined): string | undefined => {
    if (!facts) return 'could not be read';
    // What the lb runs now, as its record says: before its step of a topology switch, the old layout's.
    const services = facts.managed.running.length > 0 ? facts.managed.running : runningServices(fleet.playbook, 'lb', fleet.inventory);
    const failing = hostChecks(fleet.inventory, new Map([[name, facts]]), services).filter((c) => c.name.startsWith(`${name}:`) && !c.ok);
    return failing.length ? failing.map((c) => `${c.name.slice(name.length + 2)} (${c.detail})`).join(', ') : undefined;
  };
  const preferredLb = (inventory: Inventory): string | undefined =>
    [...inventory.hosts].filter((h) => hasRole(h, 'lb')).sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))[0]?.name;

  const planWaves = async (fleet: Fleet): Promise<Wave[]> => {
    const holders = vipHolders(fleet.inventory, known(await readLbs(fleet)));
    const planned = fleet.agents.filter((a) => fleet.errorOf(a.host.name) === undefined).map((a) => ({ name: a.host.name, lb: hasRole(a.host, 'lb'), priority: a.host.priority ?? 0, changes: a.changes }));
    return rolloutWaves(planned, holders, fleet.playbook, options.batch);
  };

  return {
    name: 'rolling',
    readsHealth: true,
    async preview(fleet) {
      return (await planWaves(fleet)).map((w, i) => `${i + 1}. ${describeWave(w)}`);
    },
    async apply(fleet): Promise<StrategyOutcome> {
      const { inventory } = fleet;
      const started = clock.now().getTime();
      const timeline: TimelineEvent[] = [];
      const log = (step: string, ok: boolean, text: string, host?: string): void => {
        const detail = fleet.redact(text); // a drain's error output, say, is the host's own words
        const now = clock.now();
        timeline.push({ at: now.toISOString(), seconds: Math.round((now.getTime() - started) / 100) / 10, ...(host ? { host } : {}), step, ok, detail });
        fleet.step(host ?? 'rollout', `${step}: ${detail}`);
      };
      const stop = (reason: 'failed' | 'gate' | 'window', detail: string, host?: string): StrategyOutcome => {
        log('stop', false, detail, host);
        return { timeline, stopped: { reason, detail: fleet.redact(detail) } };
      };
      const agent = (name: string): HostAgent => fleet.agents.find((a) => a.host.name === name)!;

      /** Polls until `done` holds for the lbs and requests through the VIP succeed; false on timeout. */
      const waitFor = async (done: (holders: string[]) => boolean): Promise<{ ok: boolean; holders: string[]; ms: number }> => {
        const from = Date.now();
        for (;;) {
          const holders = vipHolders(inventory, known(await readLbs(fleet)));
          if (done(holders) && (await vipChecks(inventory)).every((c) => c.ok)) return { ok: true, holders, ms: Date.now() - from };
          if (Date.now() - from > moveTimeoutMs) return { ok: false, holders, ms: Date.now() - from };
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
      };

      /** Before a wave: the VIP serves, and the lbs not taken out by it leave at least one healthy lb. */
      /** Returns why the step may not run, or the lbs it read (the step starts from them). */
      const gate = async (label: string, leaving: readonly string[]): Promise<{ refused: string } | { lbs: Map<string, HostFacts> }> => {
        const [lbs, vip] = await Promise.all([readLbs(fleet), vipChecks(inventory)]);
        const failed = vip.filter((c) => !c.ok);
        if (failed.length) return { refused: `before ${label}: the VIP does not serve (${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')})` };
        const unread = leaving.filter((n) => !lbs.get(n));
        if (unread.length) return { refused: `before ${label}: ${unread.join(', ')} could not be read within ${readTimeoutMs / 1000} s (down or cut off?)` };
        const why = new Map([...lbs].map(([n, f]) => [n, unhealthy(fleet, n, f)]));
        const healthy = [...why].filter(([n, w]) => !w && !leaving.includes(n)).map(([n]) => n);
        const ill = [...why].flatMap(([n, w]) => (w ? [`${n}: ${w}`] : []));
        if (leaving.length > 0 && healthy.length === 0) return { refused: `before ${label}: it would leave no healthy lb${ill.length ? ` (${ill.join('; ')})` : ''}` };
        log('gate', true, `the VIP serves (held by ${vipHolders(inventory, known(lbs)).join(', ') || 'none'}); healthy lbs: ${healthy.join(', ') || 'none besides this one'}${ill.length ? `; not healthy: ${ill.join('; ')}` : ''}`);
        return { lbs: known(lbs) };
      };

      const drain = async (name: string): Promise<void> => {
        await agent(name).command(drainsOn(fleet.playbook, agent(name).host)!.run, 'drain');
      };
      const undrain = async (name: string): Promise<string | undefined> => {
        try {
          await agent(name).command(drainsOn(fleet.playbook, agent(name).host)!.undo, 'undrain');
          return undefined;
        } catch (error) {
          return (error as Error).message;
        }
      };
      /** After an undrain: the VIP goes back to the lb the inventory prefers, confirmed through the VIP. */
      const giveBack = async (name: string): Promise<void> => {
        const failed = await undrain(name);
        if (failed) return log('undrain', false, failed, name);
        if (preferredLb(inventory) !== name) return log('undrain', true, 'back in service', name);
        const back = await waitFor((h) => h.length === 1 && h[0] === name);
        log('undrain', back.ok, back.ok ? `back in service; the VIP is back on ${name} after ${(back.ms / 1000).toFixed(1)} s, confirmed through the VIP` : `back in service, but the VIP is on ${back.holders.join(', ') || 'no lb'} after ${moveTimeoutMs / 1000} s`, name);
      };

      const checkLb = (name: string): string | undefined => unhealthy(fleet, name, agent(name).facts);

      const runServers = async (hosts: readonly string[]): Promise<StrategyOutcome | undefined> => {
        const results = await Promise.all(hosts.map((h) => fleet.applyHost(agent(h))));
        const failed = hosts.filter((_, i) => !results[i]);
        for (const h of hosts) log('apply', !failed.includes(h), fleet.errorOf(h) ?? `${agent(h).changes.length === 0 ? 'converged' : 'applied'}`, h);
        if (failed.length) return stop('failed', `${failed.join(', ')} failed; the rollout stops here`);
        // The lbs' view of the servers just changed: the backend probes ride in their facts exec.
        const lbs = known(await readLbs(fleet));
        const port = inventory.cluster.backendPort;
        const unreachable = hosts.flatMap((h) => {
          const address = agent(h).host.address;
          return [...lbs].filter(([, f]) => f.backends[`${address}:${port}`] === false).map(([lb]) => `${h} from ${lb}`);
        });
        if (unreachable.length) return stop('gate', `the API of ${unreachable.join(', ')} is not reachable after the change`);
        log('check', true, `API port ${port} of ${hosts.join(', ')} reachable from ${[...lbs.keys()].join(', ')}`);
        return undefined;
      };

      const runLb = async (wave: Extract<Wave, { kind: 'lb' }>): Promise<StrategyOutcome | undefined> => {
        const name = wave.host;
        const drains = wave.impact === 'restart' && drainsOn(fleet.playbook, agent(name).host) !== undefined;
        if (drains) {
          await drain(name);
          const lbs = known(await readLbs(fleet));
          if (vipHolders(inventory, lbs).includes(name) || wave.holder) {
            const moved = await waitFor((h) => h.length === 1 && h[0] !== name);
            if (!moved.ok) {
              await undrain(name);
              return stop('gate', `draining ${name} did not move the VIP to another lb within ${moveTimeoutMs / 1000} s (held by ${moved.holders.join(', ') || 'none'}); ${name} is back in service, unchanged`, name);
            }
            log('drain', true, `the VIP moved to ${moved.holders[0]} in ${(moved.ms / 1000).toFixed(1)} s, confirmed through the VIP`, name);
          } else {
            log('drain', true, 'out of service (it does not hold the VIP)', name);
          }
        }
        const ok = await fleet.applyHost(agent(name));
        log('apply', ok, ok ? `applied: ${wave.why.join(', ') || 'no service interrupted'}` : fleet.errorOf(name) ?? 'failed', name);
        if (!ok) {
          if (drains) await giveBack(name);
          return stop('failed', `${name} failed; the rollout stops here`, name);
        }
        const ill = checkLb(name);
        if (ill) return stop('gate', `${name} is not healthy after its change: ${ill}${drains ? ' (left drained)' : ''}`, name);
        log('check', true, 'services active, config loaded without faults, every backend reachable', name);
        if (drains) await giveBack(name);
        return undefined;
      };

      const runTogether = async (wave: Extract<Wave, { kind: 'lbs-together' }>, lbs: Map<string, HostFacts>): Promise<StrategyOutcome | undefined> => {
        // While peers disagree on the shared settings they cannot hear each other, and a BACKUP would take
        // the VIP: drained, the BACKUPs stay silent until every lb has the new settings.
        const holders = vipHolders(inventory, lbs); // as the gate just read them
        const backups = wave.hosts.filter((h) => !holders.includes(h) && drainsOn(fleet.playbook, agent(h).host));
        await Promise.all(backups.map(drain));
        if (backups.length) log('drain', true, `${backups.join(', ')} out of service while the peers change together`);
        const results = await Promise.all(wave.hosts.map((h) => fleet.applyHost(agent(h))));
        const failed = wave.hosts.filter((_, i) => !results[i]);
        const after = vipHolders(inventory, known(await readLbs(fleet)));
        for (const h of wave.hosts) log('apply', !failed.includes(h), fleet.errorOf(h) ?? `applied together (${wave.settings.join(', ')})`, h);
        log('check', after.length === 1, `VIP held by ${after.join(', ') || 'no lb'} right after the change`);
        if (failed.length) {
          // Some lbs have the new settings and some the old: undraining would split them. Stay drained.
          return stop('failed', `${failed.join(', ')} failed in a step every lb must share; ${backups.length ? `${backups.join(', ')} left drained (peers disagree on ${wave.settings.join(', ')})` : 'the lbs may disagree'}: fix and run rollout again`);
        }
        const ill = wave.hosts.flatMap((h) => (checkLb(h) ? [`${h}: ${checkLb(h)}`] : []));
        if (ill.length) return stop('gate', `not healthy after the change: ${ill.join('; ')}`);
        for (const h of backups) await giveBack(h);
        return undefined;
      };

      const waves = await planWaves(fleet);
      let longest = 0;
      for (const [i, wave] of waves.entries()) {
        const label = waveLabel(wave);
        if (options.window) {
          const now = clock.now();
          const state = windowState(options.window.windows, now, options.window.timeZone);
          const expected = longest || ASSUMED_STEP_MS;
          if (!hasRoom(state, now, expected)) {
            const when = state.open ? `closes at ${formatInZone(state.closesAt, options.window.timeZone)}` : `is closed (next: ${formatInZone(state.nextStart, options.window.timeZone)})`;
            return { ...stop('window', `the maintenance window ${when}, and the next step (${label}) takes about ${Math.ceil(expected / 1000)} s: stopped before it; the next rollout continues from here`), stopped: { reason: 'window', detail: `stopped before ${label}: the window ${when}` } };
          }
        }
        const waveStarted = clock.now().getTime();
        const leaving = wave.kind === 'lb' ? [wave.host] : [];
        const gated = await gate(label, leaving);
        if ('refused' in gated) return stop('gate', gated.refused);
        let outcome: StrategyOutcome | undefined;
        try {
          outcome = wave.kind === 'servers' ? await runServers(wave.hosts) : wave.kind === 'lb' ? await runLb(wave) : await runTogether(wave, gated.lbs);
        } catch (error) {
          outcome = stop('failed', `${label}: ${(error as Error).message}`); // a drain that could not run
        }
        if (outcome) return outcome;
        longest = Math.max(longest, clock.now().getTime() - waveStarted);
        if (options.pause && i < waves.length - 1) {
          log('pause', true, 'seconds' in options.pause ? `${options.pause.seconds} s before the next step` : 'until Enter is pressed');
          if ('seconds' in options.pause) await clock.sleep(options.pause.seconds * 1000);
          else await options.pause.enter();
        }
      }
      return { timeline };
    },
  };
}
