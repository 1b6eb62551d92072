// The rolling strategy against a simulated fleet (simfleet.ts, behind the agents' Connector seam): the
// order it changes hosts in, where the VIP is at each step, and where it stops. The lab tests run the
// same rollouts against real haproxy and keepalived with a probe through the VIP.
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, type RunReport } from '../../src/agent/orchestrator.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT, type Playbook } from '../../src/playbook/playbook.js';
import { rolling, type RollingOptions } from '../../src/rollout/rolling.js';
import { parseWindows, type Clock } from '../../src/rollout/window.js';
import { impactOf } from '../../src/rollout/waves.js';
import type { Change, ServiceAction } from '../../src/resources/types.js';
import { SimFleet } from './simfleet.js';
import { rolloutStrategy } from '../../src/cli/rollout.js';
import { OutsideWindowError } from '../../src/errors.js';

const EXAMPLE = readFileSync(join(PROJECT_ROOT, 'inventory', 'example.yaml'), 'utf8');
const inventoryOf = (edit: (text: string) => string = (t) => t, pass = 'k33pal1v'): Inventory =>
  parseInventory(edit(EXAMPLE), '/inventory.yaml', { HA_KEEPALIVED_PASS: pass });
const builtin = () => loadPlaybook(builtinPlaybook('haproxy-keepalived'));

/** The built-in playbook plus a haproxy drop-in (LimitNOFILE) that takes effect only on a restart. */
async function withDropIn(limit: number): Promise<Playbook> {
  const dir = mkdtempSync(join(tmpdir(), 'ha-provision-rolling-'));
  mkdirSync(join(dir, 'system'));
  writeFileSync(join(dir, 'system', 'haproxy-limits.conf.hbs'), `[Service]\nLimitNOFILE=${limit}\n`);
  const text = readFileSync(builtinPlaybook('haproxy-keepalived'), 'utf8')
    .replace('  - name: haproxy running', '  - name: haproxy limits\n    on: lb\n    file: { path: /etc/systemd/system/haproxy.service.d/limits.conf, template: system/haproxy-limits.conf.hbs, mode: "0644", daemonReload: true }\n\n  - name: haproxy running')
    .replace('      reloadOn: [/etc/haproxy/haproxy.cfg]', '      reloadOn: [/etc/haproxy/haproxy.cfg]\n      restartOn: [/etc/systemd/system/haproxy.service.d/limits.conf]');
  writeFileSync(join(dir, 'playbook.yaml'), text);
  return loadPlaybook(join(dir, 'playbook.yaml'), dir);
}

/** A clock that moves only when told (each apply, in these tests). */
function fakeClock(start: string): Clock & { advance(ms: number): void } {
  let now = new Date(start).getTime();
  return { now: () => new Date(now), sleep: async (ms) => void (now += ms), advance: (ms) => void (now += ms) };
}

async function rollout(fleet: SimFleet, inventory: Inventory, playbook: Playbook, options: Partial<RollingOptions> = {}): Promise<RunReport> {
  const strategy = rolling({ batch: 1, moveTimeoutMs: 2_000, vipChecks: async () => [{ name: 'through the VIP', ok: fleet.holders().length === 1, detail: fleet.holders().join(',') }], ...options });
  return run(inventory, playbook, { apply: true, verify: false, concurrency: 20, connector: fleet.connector, strategy });
}

const status = (report: RunReport) => Object.fromEntries(report.hosts.map((h) => [h.host, h.status]));
const timeline = (report: RunReport) => report.rollout!.timeline.map((e) => `${e.host ?? '-'} ${e.step}`);

describe('what a change does to the service (impactOf)', () => {
  const upgrade = (name: string): Change => ({ kind: 'package', manager: 'apt-get', install: [], versions: { [name]: '2' }, upgrade: [{ name, from: '1', to: '2' }] });
  const service = (actions: ServiceAction[]): Change => ({ kind: 'service', name: 'haproxy', actions, why: '', loads: [], logFaults: [] });
  it.each<[string, Change[], string]>([
    ['a config reload', [service(['reload'])], 'reload'],
    ['a restart (a drop-in)', [service(['restart'])], 'restart'],
    ['a first start', [service(['enable', 'start'])], 'restart'],
    ["haproxy's upgrade: its postinst reloads it", [upgrade('haproxy')], 'reload'],
    ["keepalived's upgrade: its postinst restarts it", [upgrade('keepalived')], 'restart'],
    ['an upgrade of a package no service comes from', [upgrade('curl')], 'none'],
    ['a sysctl', [{ kind: 'sysctl', key: 'net.core.somaxconn', to: '4096' }], 'none'],
  ])('%s: %s', async (_name, changes, impact) => {
    expect(impactOf(changes, await builtin()).impact).toBe(impact);
  });
});

describe('rolling updates on a simulated fleet', () => {
  it('a reload-class change goes to the BACKUP first, then the holder, and the VIP never moves', async () => {
    const before = inventoryOf();
    const fleet = await SimFleet.converged(before, await builtin());
    const changed = inventoryOf((t) => t.replace('  healthCheck: { path: /healthz }', '  healthCheck: { path: /healthz }\n  haproxy: { timeouts: { client: 50s, server: 50s } }'));
    const report = await rollout(fleet, changed, await builtin());
    expect(report.rollout?.stopped).toBeUndefined();
    expect(fleet.events.map((e) => `${e.host} ${e.what}`)).toEqual(['lb-2 apply', 'lb-2 reload haproxy', 'lb-1 apply', 'lb-1 reload haproxy']);
    expect(fleet.events.every((e) => e.holders.join() === 'lb-1')).toBe(true);
    expect(timeline(report)).toEqual(['- gate', 'lb-2 apply', 'lb-2 check', '- gate', 'lb-1 apply', 'lb-1 check']);
  });

  it('a restart-class change drains the holder last: the VIP is on the BACKUP while it restarts, and comes back', async () => {
    const inventory = inventoryOf();
    const fleet = await SimFleet.converged(inventory, await withDropIn(100_000));
    const report = await rollout(fleet, inventory, await withDropIn(200_000));
    expect(report.rollout?.stopped).toBeUndefined();
    expect(fleet.events.map((e) => `${e.host} ${e.what} [${e.holders.join()}]`)).toEqual([
      'lb-2 drain [lb-1]',
      'lb-2 apply [lb-1]',
      'lb-2 restart haproxy [lb-1]',
      'lb-2 undrain [lb-1]',
      'lb-1 drain [lb-2]', // the holder is out: the VIP went to the BACKUP that already has the change
      'lb-1 apply [lb-2]',
      'lb-1 restart haproxy [lb-2]',
      'lb-1 undrain [lb-1]', // given back where the inventory prefers it
    ]);
    expect(report.rollout!.timeline.find((e) => e.host === 'lb-1' && e.step === 'drain')?.detail).toMatch(/^the VIP moved to lb-2 in .* s, confirmed through the VIP$/);
    expect(report.rollout!.timeline.at(-1)?.detail).toMatch(/the VIP is back on lb-1/);
  });

  it('a drain that fails stops the rollout before the host changes, and what the host printed is masked', async () => {
    const inventory = inventoryOf();
    const fleet = await SimFleet.converged(inventory, await withDropIn(100_000));
    fleet.sim('lb-2').failDrain = 'cannot write /run/ha-provision-drain (auth_pass k33pal1v)';
    const report = await rollout(fleet, inventory, await withDropIn(200_000));
    expect(report.rollout?.stopped).toEqual({ reason: 'failed', detail: 'BACKUP lb-2: lb-2: drain failed (exit 1): cannot write /run/ha-provision-drain (auth_pass ********)' });
    expect(JSON.stringify(report.rollout)).not.toContain('k33pal1v');
    expect(status(report)).toMatchObject({ 'lb-1': 'pending', 'lb-2': 'pending' });
    expect(fleet.events).toEqual([]); // nothing applied anywhere
  });

  it('a peer-coupled change (auth_pass) goes to every lb in one step, the BACKUP drained so that no lb takes the VIP twice', async () => {
    const fleet = await SimFleet.converged(inventoryOf(), await builtin());
    const report = await rollout(fleet, inventoryOf(undefined, 'n3wpass1'), await builtin());
    expect(report.order ?? []).toEqual([expect.stringMatching(/^1\. every lb at once \(lb-1, lb-2\): auth_pass must match/)]);
    const applies = fleet.events.filter((e) => e.what === 'apply' || e.what.startsWith('reload'));
    expect(applies.map((e) => e.holders)).toEqual(applies.map(() => ['lb-1']));
    expect(fleet.events.map((e) => `${e.host} ${e.what}`).filter((e) => /drain/.test(e))).toEqual(['lb-2 drain', 'lb-2 undrain']);
    expect(status(report)).toMatchObject({ 'lb-1': 'changed', 'lb-2': 'changed' });
  });

  it('servers go first, --batch at a time, each batch checked from the lbs before the lbs change', async () => {
    const fleet = await SimFleet.converged(inventoryOf(), await builtin());
    const changed = inventoryOf((t) => t.replace('  net.ipv4.ip_nonlocal_bind: 1', '  net.ipv4.ip_nonlocal_bind: 1\n  net.core.somaxconn: 4096'));
    const report = await rollout(fleet, changed, await builtin(), { batch: 2 });
    expect(report.order).toEqual([
      '1. servers server-1, server-2; then their API health from the lbs',
      '2. servers server-3; then their API health from the lbs',
      '3. BACKUP lb-2: change in place (reload; the VIP stays)',
      '4. VIP holder lb-1: change in place (reload; the VIP stays)',
    ]);
    expect(fleet.events.filter((e) => e.what === 'apply').map((e) => e.host)).toEqual(['server-1', 'server-2', 'server-3', 'lb-2', 'lb-1']);
    expect(report.rollout!.timeline.filter((e) => e.step === 'check' && !e.host).map((e) => e.detail)).toEqual([
      'API port 6443 of server-1, server-2 reachable from lb-1, lb-2',
      'API port 6443 of server-3 reachable from lb-1, lb-2',
    ]);
  });

  it('a change that fails on the first lb stops the rollout there: that lb is restored, the holder keeps the old config and the VIP', async () => {
    const fleet = await SimFleet.converged(inventoryOf(), await builtin());
    fleet.sim('lb-2').failLoading = 'haproxy';
    const changed = inventoryOf((t) => t.replace('  healthCheck: { path: /healthz }', '  healthCheck: { path: /healthz }\n  haproxy: { timeouts: { client: 50s } }'));
    const report = await rollout(fleet, changed, await builtin());
    expect(report.rollout?.stopped).toMatchObject({ reason: 'failed', detail: 'lb-2 failed; the rollout stops here' });
    expect(status(report)).toMatchObject({ 'lb-1': 'pending', 'lb-2': 'failed' });
    expect(fleet.events.map((e) => `${e.host} ${e.what}`)).toEqual(['lb-2 apply', 'lb-2 failed reload haproxy', 'lb-2 restore', 'lb-2 reload-or-restart haproxy']);
    expect(fleet.holders()).toEqual(['lb-1']);
  });

  // Before its own step, an lb still runs the old layout: the gate judges it by what its managed record
  // says it runs (nginx), not by what the new playbook will run there (haproxy, not installed yet).
  it('a topology switch (nginx to haproxy) rolls one lb at a time, each judged by what its record says it runs', async () => {
    const nginx = inventoryOf((t) => t.replace('topology: haproxy-keepalived', 'topology: nginx'));
    const fleet = await SimFleet.converged(nginx, await loadPlaybook(builtinPlaybook('nginx')));
    expect(fleet.sim('lb-1').running()).toContain('nginx');

    const report = await rollout(fleet, inventoryOf(), await builtin());

    expect(report.rollout?.stopped).toBeUndefined();
    const gates = report.rollout!.timeline.filter((e) => e.step === 'gate').map((e) => e.detail);
    expect(gates).toEqual([
      expect.stringContaining('healthy lbs: lb-1'), // before lb-2's step: lb-1 still runs nginx
      expect.stringContaining('healthy lbs: lb-2'), // before lb-1's step: lb-2 runs haproxy now
    ]);
    expect(fleet.events.filter((e) => e.what === 'apply').map((e) => e.host)).toEqual(['lb-2', 'lb-1']);
    expect(fleet.events.every((e) => e.holders.length === 1)).toBe(true); // the VIP served throughout
    for (const lb of ['lb-1', 'lb-2']) {
      expect(fleet.sim(lb).services.get('nginx')).toBe('inactive');
      expect(fleet.sim(lb).services.get('haproxy')).toBe('active');
    }
  });

  it('refuses a step that would leave no healthy lb', async () => {
    const fleet = await SimFleet.converged(inventoryOf(), await builtin());
    // While the servers change, haproxy dies on lb-1: the VIP moves to lb-2, the next wave's host.
    fleet.onApply = (host) => void (host === 'server-3' && fleet.sim('lb-1').services.set('haproxy', 'failed'));
    const changed = inventoryOf((t) => t.replace('  net.ipv4.ip_nonlocal_bind: 1', '  net.ipv4.ip_nonlocal_bind: 1\n  net.core.somaxconn: 4096'));
    const report = await rollout(fleet, changed, await builtin());
    expect(report.rollout?.stopped?.reason).toBe('gate');
    expect(report.rollout?.stopped?.detail).toMatch(/^before BACKUP lb-2: it would leave no healthy lb \(lb-1: haproxy active \(failed\)/);
    expect(status(report)).toMatchObject({ 'server-3': 'changed', 'lb-1': 'pending', 'lb-2': 'pending' });
  });

  it('stops between hosts when the window has no room for the next step, and the next rollout finishes the rest', async () => {
    const fleet = await SimFleet.converged(inventoryOf(), await builtin());
    const clock = fakeClock('2026-11-28T02:00:00Z'); // a Saturday
    fleet.onApply = () => clock.advance(25 * 60_000); // each host takes 25 minutes
    const window = { windows: parseWindows('Sat 02:00-03:00'), timeZone: 'UTC' };
    const changed = inventoryOf((t) => t.replace('  net.ipv4.ip_nonlocal_bind: 1', '  net.ipv4.ip_nonlocal_bind: 1\n  net.core.somaxconn: 4096'));
    const first = await rollout(fleet, changed, await builtin(), { clock, window });
    expect(first.rollout?.stopped).toMatchObject({ reason: 'window', detail: 'stopped before servers server-3: the window closes at Sat 2026-11-28 03:00 UTC' });
    expect(status(first)).toMatchObject({ 'server-1': 'changed', 'server-2': 'changed', 'server-3': 'pending', 'lb-1': 'pending' });

    clock.advance(7 * 24 * 3600_000 - 50 * 60_000); // the next Saturday, 02:00
    fleet.onApply = () => clock.advance(5 * 60_000);
    const second = await rollout(fleet, changed, await builtin(), { clock, window });
    expect(second.rollout?.stopped).toBeUndefined();
    expect(status(second)).toEqual({ 'lb-1': 'changed', 'lb-2': 'changed', 'server-1': 'in-sync', 'server-2': 'in-sync', 'server-3': 'changed' });
  });
});

describe('rollout outside its maintenance window', () => {
  const inventory = inventoryOf((t) => `${t}\nmaintenance: { windows: ["Sat 02:00-04:00"], timeZone: UTC }\n`);
  it.each<[string, Record<string, string | boolean>, RegExp]>([
    ['the inventory window', {}, /^outside the maintenance window \(Sat 02:00-04:00, UTC\): the next one starts Sat 2026-11-28 02:00 UTC; nothing was changed/],
    ['a flag overrides it', { window: 'daily 23:00-01:00', tz: 'Europe/Berlin' }, /^outside the maintenance window \(daily 23:00-01:00, Europe\/Berlin\): the next one starts Fri 2026-11-27 23:00 Europe\/Berlin;/],
  ])('%s: refused with exit 4 (OutsideWindowError), naming the next start', async (_name, values, message) => {
    const clock = fakeClock('2026-11-27T10:00:00Z'); // a Friday
    const refused = await rolloutStrategy(values, inventory, () => undefined, true, clock).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OutsideWindowError);
    expect((refused as Error).message).toMatch(message);
  });

  it('--wait-for-window waits for the start, then rolls; a dry run never waits', async () => {
    const clock = fakeClock('2026-11-27T10:00:00Z');
    const lines: string[] = [];
    await rolloutStrategy({ 'wait-for-window': true }, inventory, (l) => lines.push(l), true, clock);
    expect(clock.now().toISOString()).toBe('2026-11-28T02:00:00.000Z');
    expect(lines).toEqual(['waiting for the maintenance window: it starts Sat 2026-11-28 02:00 UTC']);
    const dry = fakeClock('2026-11-27T10:00:00Z');
    await rolloutStrategy({}, inventory, () => undefined, false, dry);
    expect(dry.now().toISOString()).toBe('2026-11-27T10:00:00.000Z');
  });
});
