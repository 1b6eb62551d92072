// `verify --failover` against real hosts: the drill a platform engineer runs before trusting the VIP.
// What they look at: each fault recovered quickly, the VIP went back to the preferred lb, nothing the
// drill stopped is left stopped, and the exit code says so.
import { beforeAll, expect, it } from 'vitest';
import type { DrillReport } from '../../src/verify/drill.js';
import { cli, labSuite, onHost, startTestLab, vipHolders } from './harness.js';

const NAME = 'e2edrill';
const SUBNET = '10.213.57.0/24';
const VIP = '10.213.57.100';
const lb1 = `${NAME}-lb-1`; // priority 200: the preferred lb
const lb2 = `${NAME}-lb-2`;
let inventory = '';

/** Nothing the drill did is left behind on an lb: services up, no unreachable route, no undo timer. */
async function leftBehind(lb: string): Promise<string> {
  return onHost(NAME, lb, 'systemctl is-active haproxy keepalived; ip route show type unreachable; systemctl list-timers --all --no-legend | grep ha-provision-drill || true');
}

labSuite('verify --failover: a failover drill against real hosts', () => {
  beforeAll(async () => {
    const lab = await startTestLab({ name: NAME, subnet: SUBNET });
    inventory = lab.inventoryFile;
    const up = await cli(['up', inventory, '--yes']);
    if (up.code !== 0) throw new Error(`up failed:\n${up.stdout}${up.stderr}`);
  });

  it('outside a terminal it refuses without --yes, before connecting anywhere', async () => {
    const r = await cli(['verify', inventory, '--failover']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('verify --failover disturbs the live VIP and no terminal is here to confirm it: pass --yes');
  });

  it('node and service failure recover within 10 s each, all backends down is reported, and the VIP ends on the preferred lb', async () => {
    const r = await cli(['verify', inventory, '--failover', '--failover-backends', '--yes', '--json'], { timeoutMs: 400_000 });
    const doc = JSON.parse(r.stdout) as { ok: boolean; checks: { ok: boolean }[]; failover: DrillReport };
    const drill = doc.failover;
    for (const f of drill.faults) {
      process.stderr.write(`[${NAME}] ${f.fault}: gap ${f.gapSeconds ?? '-'} s, restore gap ${f.restoreGapSeconds ?? '-'} s, ${f.requests.failed}/${f.requests.sent} failed, ${f.holderBefore} → ${f.holdersDuring.join('+') || '(none)'} → ${f.holderAfter}${f.note ? `; ${f.note}` : ''}\n`);
    }
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.checks.every((c) => c.ok)).toBe(true); // the ordinary verify ran first
    expect(drill.faults.map((f) => f.fault)).toEqual(['node', 'service', 'backends']);
    for (const kind of ['node', 'service'] as const) {
      const f = drill.faults.find((x) => x.fault === kind)!;
      expect(f.recovered, kind).toBe(true);
      expect(f.gapSeconds, kind).not.toBeNull();
      expect(f.gapSeconds!, kind).toBeLessThan(10);
      expect([f.holderBefore, f.holdersDuring, f.holderAfter], kind).toEqual([lb1, [lb2], lb1]);
      expect(f.restored, kind).toBe(true);
    }
    // The derived check weight (the recipes' bootstrap behaviour): with no backend up, every lb's check
    // fails alike, and the preferred lb keeps the VIP.
    const backends = drill.faults.find((x) => x.fault === 'backends')!;
    expect(backends.holdersDuring).toEqual([lb1]);
    expect(backends.recovered && backends.restored).toBe(true);
    expect(drill.probe.perSecond).toBeGreaterThanOrEqual(20);
    expect(drill.endedOnPreferred).toBe(true);
    expect(drill.holderAtEnd).toBe(lb1);
    // As the user checks afterwards, on the hosts themselves.
    expect(await vipHolders(NAME, [lb1, lb2], VIP)).toEqual([lb1]);
    for (const lb of [lb1, lb2]) expect(await leftBehind(lb), lb).toBe('active\nactive\n');
  }, 420_000);

  it('the human form: one row per fault, and where the VIP ended', async () => {
    const r = await cli(['verify', inventory, '--failover', '--yes'], { timeoutMs: 300_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^fault +gap +restore gap +failed\/sent +VIP holder before → during → after/m);
    for (const fault of ['node failure', 'service failure']) {
      expect(r.stdout).toMatch(new RegExp(`^${fault} +\\d+\\.\\d s +\\d+\\.\\d s +\\d+/\\d+ +${lb1} → ${lb2} → ${lb1} +ok$`, 'm'));
    }
    expect(r.stdout).toContain(`VIP back on the preferred lb (${lb1}): yes`);
  }, 320_000);

  it('with one lb down it refuses with exit 1, and changes nothing', async () => {
    await onHost(NAME, lb2, 'systemctl stop keepalived');
    try {
      const r = await cli(['verify', inventory, '--failover', '--yes', '--json']);
      expect(r.code).toBe(1);
      const drill = (JSON.parse(r.stdout) as { failover: DrillReport }).failover;
      expect(drill.refused).toContain('a failover drill needs at least two healthy lbs (haproxy and keepalived active), found 1');
      expect(drill.refused).toContain(`${lb2}: keepalived not active`);
      expect(drill.faults).toEqual([]);
      expect(await vipHolders(NAME, [lb1, lb2], VIP)).toEqual([lb1]);
      expect(await leftBehind(lb1)).toBe('active\nactive\n');
    } finally {
      await onHost(NAME, lb2, 'systemctl start keepalived');
    }
  });
});
