// Connections at scale: a host planned in sync gives its SSH connection back before the confirmation
// prompt, so a large fleet does not hold a session per host while a person reads the plan.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connector } from '../../src/agent/agent.js';
import { run } from '../../src/agent/orchestrator.js';
import { parseInventory } from '../../src/inventory/load.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT } from '../../src/playbook/playbook.js';
import { backendsFact } from '../../src/facts/facts.js';
import { SimFleet } from './simfleet.js';

const EXAMPLE = readFileSync(join(PROJECT_ROOT, 'inventory', 'example.yaml'), 'utf8');

/** The fleet's connector, noting which hosts' connections are open at any moment. */
function tracked(fleet: SimFleet): { connector: Connector; open: Set<string>; opened: Map<string, number> } {
  const open = new Set<string>();
  const opened = new Map<string, number>();
  const connector: Connector = async (host) => {
    const transport = await fleet.connector(host);
    open.add(host.name);
    opened.set(host.name, (opened.get(host.name) ?? 0) + 1);
    return { get execCount() { return transport.execCount; }, exec: (s) => transport.exec(s), close: () => void open.delete(host.name) };
  };
  return { connector, open, opened };
}

describe('connections of hosts planned in sync', () => {
  it('a server in sync is closed before the prompt; lbs and servers with changes stay open until the end', async () => {
    const inventory = parseInventory(EXAMPLE, '/inventory.yaml', { HA_KEEPALIVED_PASS: 'k33pal1v' });
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    const fleet = await SimFleet.converged(inventory, playbook);
    const servers = inventory.hosts.filter((h) => h.roles.includes('server') && !h.roles.includes('lb')).map((h) => h.name);
    const lbs = inventory.hosts.filter((h) => h.roles.includes('lb')).map((h) => h.name);
    expect(servers.length).toBeGreaterThan(1);
    fleet.sim(servers[0]!).sysctls = {}; // this server has a change to apply
    const { connector, open, opened } = tracked(fleet);
    let openAtPrompt: string[] = [];
    const report = await run(inventory, playbook, {
      apply: true,
      verify: false,
      concurrency: 20,
      connector,
      confirm: async () => {
        openAtPrompt = [...open].sort();
        await new Promise((r) => setTimeout(r, 60)); // a person reading the plan
        return true;
      },
    });
    // The report says where the time went; the prompt's wait is its own phase, not the apply's.
    expect(report.phases!.confirmMs).toBeGreaterThanOrEqual(50);
    expect(report.phases!.applyMs).toBeLessThan(report.phases!.confirmMs + 1000);
    expect(Object.keys(report.phases!)).toEqual(['planMs', 'confirmMs', 'applyMs', 'verifyMs']);
    expect(openAtPrompt).toEqual([...lbs, servers[0]!].sort());
    expect(open.size).toBe(0); // and every connection is closed at the end
    for (const r of report.hosts) {
      expect(r.connections, r.host).toBe(1);
      expect(opened.get(r.host), r.host).toBe(1);
      expect(r.execs, r.host).toBe(r.host === servers[0] ? 3 : 1); // facts; apply + facts again
    }
    expect(report.hosts.find((r) => r.host === servers[1])!.status).toBe('in-sync');
  });
});

describe("an lb's backend probes are bounded", () => {
  const targets = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:6443`);
  it.each([
    [3, 1],
    [16, 2],
    [40, 3],
    [200, 13],
  ])('%i servers: curl runs at most 64 at once, the fallback at most 16 (%i waits)', (n, waits) => {
    const command = backendsFact(targets(n)).command;
    expect(command).toContain('--parallel-max 64');
    expect(command.split('\n').filter((l) => l.trim() === 'wait')).toHaveLength(waits);
    const probes = command.split('\n').filter((l) => l.trim().startsWith('( if reach'));
    expect(probes).toHaveLength(n);
  });
});

describe("an lb's backend probes and journal reads run only where their answer is used", () => {
  // A plan alone shows changes: no lb needs to open a connection to every backend, or read its services' logs, for it.
  it.each([
    ['plan', { apply: false, verify: false }, false],
    ['verify', { apply: false, verify: true }, true],
    ['up', { apply: true, verify: true }, true],
    ['up --no-verify', { apply: true, verify: false }, false],
  ])('%s: probes %s', async (_name, how, probes) => {
    const inventory = parseInventory(EXAMPLE, '/inventory.yaml', { HA_KEEPALIVED_PASS: 'k33pal1v' });
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    const fleet = await SimFleet.converged(inventory, playbook);
    const scripts = new Map<string, string[]>();
    const connector: Connector = async (host) => {
      const transport = await fleet.connector(host);
      return { get execCount() { return transport.execCount; }, exec: (s) => (scripts.set(host.name, [...(scripts.get(host.name) ?? []), s]), transport.exec(s)), close: () => transport.close() };
    };
    const report = await run(inventory, playbook, { ...how, concurrency: 20, connector, settleMs: 0, vipChecks: async () => [] });
    expect(report.hosts.every((h) => h.status === 'in-sync')).toBe(true);
    const lbs = inventory.hosts.filter((h) => h.roles.includes('lb')).map((h) => h.name);
    for (const lb of lbs) {
      expect(scripts.get(lb)!.some((s) => s.includes('hp_reach_all')), lb).toBe(probes);
      expect(scripts.get(lb)!.some((s) => s.includes('journalctl')), lb).toBe(probes);
    }
    if (probes && how.verify) {
      expect(report.checks.find((c) => c.name.includes('reaches every backend'))?.ok).toBe(true);
      expect(report.checks.find((c) => c.name.includes('runs its config without faults'))?.ok).toBe(true);
    }
  });
});

describe('the checks through the VIP', () => {
  // They start with the run, alongside reading the hosts. Their answer stands for a run that changed
  // nothing; after a run changed something it is stale (the VIP may have moved, haproxy reloaded), so the
  // VIP is asked again and the report shows that second answer.
  it.each([
    ['plan', { apply: false, verify: false }, false, []],
    ['verify', { apply: false, verify: true }, false, ['at the start']],
    ['up, converged', { apply: true, verify: true }, false, ['at the start']],
    ['up --no-verify, a server changed', { apply: true, verify: false }, true, []],
    ['up, a server changed', { apply: true, verify: true }, true, ['at the start', 'after applying']],
  ])('%s: asked %j', async (_name, how, change, asked) => {
    const inventory = parseInventory(EXAMPLE, '/inventory.yaml', { HA_KEEPALIVED_PASS: 'k33pal1v' });
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    const fleet = await SimFleet.converged(inventory, playbook);
    const server = inventory.hosts.find((h) => h.roles.includes('server') && !h.roles.includes('lb'))!.name;
    if (change) fleet.sim(server).sysctls = {};
    let applying = false;
    const calls: string[] = [];
    const vipChecks = async () => {
      const when = applying ? 'after applying' : 'at the start';
      calls.push(when);
      return [{ name: 'through the VIP', ok: true, detail: when }];
    };
    const connector: Connector = async (host) => {
      const transport = await fleet.connector(host);
      return {
        get execCount() { return transport.execCount; },
        exec: (s) => {
          if (s.includes('DEBIAN_FRONTEND')) applying = true; // only an apply script sets it
          return transport.exec(s);
        },
        close: () => transport.close(),
      };
    };
    const report = await run(inventory, playbook, { ...how, concurrency: 20, connector, settleMs: 0, vipChecks });
    expect(report.hosts.find((h) => h.host === server)!.status).toBe(change && how.apply ? 'changed' : 'in-sync');
    expect(calls).toEqual(asked);
    expect(report.checks.find((c) => c.name === 'through the VIP')?.detail).toBe(asked.at(-1));
  });
});

