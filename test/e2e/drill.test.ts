// `verify --failover` against real hosts: the drill a platform engineer runs before trusting the VIP.
// What they look at: each fault recovered quickly, the VIP went back to the preferred lb, nothing the
// drill stopped is left stopped, and the exit code says so.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { signWithLabCa } from '../../src/lab/cert.js';
import { labDir } from '../../src/lab/index.js';
import type { Check } from '../../src/verify/verify.js';
import type { DrillReport } from '../../src/verify/drill.js';
import { cli, httpsGet, labSuite, onHost, startTestLab, vipHolders, waitFor, type TestLab } from './harness.js';

const NAME = 'e2edrill';
const SUBNET = '10.213.57.0/24';
const VIP = '10.213.57.100';
const lb1 = `${NAME}-lb-1`; // priority 200: the preferred lb
const lb2 = `${NAME}-lb-2`;
let inventory = '';
let lab: TestLab;

/** Nothing the drill did is left behind on an lb: services up, no unreachable route, no undo timer. */
async function leftBehind(lb: string): Promise<string> {
  return onHost(NAME, lb, 'systemctl is-active haproxy keepalived; ip route show type unreachable; systemctl list-timers --all --no-legend | grep ha-provision-drill || true');
}

labSuite('verify --failover: a failover drill against real hosts', () => {
  beforeAll(async () => {
    lab = await startTestLab({ name: NAME, subnet: SUBNET });
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

  // Last in the file: it swaps the servers' certificate (and puts the lab's back at the end).
  describe('verify --ca: the API server certificate through the VIP', () => {
    const servers = () => lab.hosts.filter((h) => h.roles.includes('server'));
    /** The inventory with cluster.endpoint set to the DNS name the lab's certificate carries. */
    const withEndpoint = (): string => {
      const file = join(lab.dir, 'endpoint.yaml');
      writeFileSync(file, readFileSync(inventory, 'utf8').replace(/^cluster:\n/m, `cluster:\n  endpoint: api.${NAME}.lab.internal\n`));
      return file;
    };
    /** Gives every server this certificate, one after the other, each serving again before the next. */
    async function serve(tls: { cert: string; key: string }): Promise<void> {
      for (const server of servers()) {
        await onHost(NAME, server.name, `printf '%s' '${tls.cert}' > /etc/apiserver-standin/tls.crt && printf '%s' '${tls.key}' > /etc/apiserver-standin/tls.key && systemctl restart apiserver-standin`);
        const serving = await waitFor(async () => (await httpsGet(`https://${server.address}:6443/healthz`).catch(() => ({ body: '' }))).body === 'ok', 15_000);
        if (!serving) throw new Error(`${server.name}: the stand-in does not serve again`);
      }
      if (!(await waitFor(async () => (await httpsGet(`https://${VIP}:6443/healthz`).catch(() => ({ body: '' }))).body === 'ok', 15_000))) throw new Error('the VIP does not serve');
    }

    it('with the lab CA it passes: the chain verifies, the certificate covers the VIP and cluster.endpoint; a wrong CA fails by name', async () => {
      const r = await cli(['verify', withEndpoint(), '--ca', lab.caFile, '--json']);
      const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const cert = checks.filter((c) => c.name.startsWith('API server certificate'));
      expect(cert.map((c) => [c.name, c.ok])).toEqual([
        [`API server certificate through the VIP ${VIP}:6443 chains to the CA in ${lab.caFile}`, true],
        [`API server certificate covers the VIP ${VIP} (IP SAN)`, true],
        [`API server certificate covers cluster.endpoint api.${NAME}.lab.internal (DNS SAN; sent as SNI)`, true],
        ['API server certificate valid now and for 30 days more', true],
      ]);
      expect(cert[0]!.detail).toBe(`issued by ha-provision lab ${NAME} CA (3 of 3 connections, 1 distinct certificate)`);

      const wrong = await cli(['verify', inventory, '--ca', join(import.meta.dirname, '..', 'unit', 'fixtures', 'certs', 'ca.crt')]);
      expect(wrong.code).toBe(1);
      expect(wrong.stdout).toMatch(/^FAIL {2}API server certificate through the VIP .* chains to the CA in .*: not issued by the CA in .*\(node: UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/m);
    });

    it('a CA-signed certificate without the VIP and the endpoint: exit 1, naming certSANs and tls-san', async () => {
      // Signed by the lab CA (openssl on this machine), valid for the servers' own addresses only.
      const narrow = await signWithLabCa(NAME, servers().map((s) => `IP:${s.address}`).join(','));
      await serve(narrow);
      try {
        const r = await cli(['verify', withEndpoint(), '--ca', lab.caFile]);
        expect(r.code, r.stdout + r.stderr).toBe(1);
        const failed = r.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
        expect(failed.map((l) => l.split(':')[0])).toEqual([
          `FAIL  API server certificate covers the VIP ${VIP} (IP SAN)`,
          `FAIL  API server certificate covers cluster.endpoint api.${NAME}.lab.internal (DNS SAN; sent as SNI)`,
        ]);
        for (const line of failed) {
          expect(line).toContain(`not among its SANs (${servers().map((s) => `IP:${s.address}`).join(', ')})`);
          expect(line).toContain('apiServer.certSANs');
          expect(line).toContain('tls-san');
        }
        expect(r.stdout).toMatch(/^pass {2}API server certificate through the VIP .* chains to the CA/m);
      } finally {
        await serve({ cert: readFileSync(join(labDir(NAME), 'standin.crt'), 'utf8'), key: readFileSync(join(labDir(NAME), 'standin.key'), 'utf8') });
      }
      const again = await cli(['verify', inventory, '--ca', lab.caFile]);
      expect(again.code, again.stdout + again.stderr).toBe(0);
    });
  });
});
