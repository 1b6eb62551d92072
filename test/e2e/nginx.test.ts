// `topology: nginx` against real hosts: the k3s recipe's nginx stream proxy, with the keepalived VIP the
// recipe leaves out. What a user checks: it converges, curl through the VIP answers, a second run has
// nothing to do, and nginx dying on the holder moves the VIP.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { cli, expectFailoverAndBack, expectOneStableHolder, httpsGet, labSuite, onHost, startTestLab } from './harness.js';

const NAME = 'e2enginx';
const SUBNET = '10.213.60.0/24';
const VIP = '10.213.60.100';
const lbs = [`${NAME}-lb-1`, `${NAME}-lb-2`];
let inventory = '';

labSuite('topology: nginx, with a VIP', () => {
  beforeAll(async () => {
    const lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 2, servers: 2 });
    inventory = join(lab.dir, 'nginx.yaml');
    // With RKE2's supervisor port as an extra port: the stand-ins listen on 9345 too.
    writeFileSync(inventory, readFileSync(lab.inventoryFile, 'utf8').replace('topology: haproxy-keepalived', 'topology: nginx').replace('  backendPort: 6443', '  backendPort: 6443\n  extraPorts: [9345]'));
  });

  it('converges: curl through the VIP answers ok, nginx -t passes, and haproxy is not installed', async () => {
    const up = await cli(['up', inventory, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/pass {2}e2enginx-lb-1: nginx active: active/);
    expect(await httpsGet(`https://${VIP}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
    expect(await httpsGet(`https://${VIP}:9345/port`)).toEqual({ status: 200, body: '9345' }); // the second listener
    expect(up.stdout).toMatch(/pass {2}VIP accepts TCP on 10\.213\.60\.100:9345/);
    expect(await expectOneStableHolder(NAME, lbs, VIP, 3_000)).toBe(lbs[0]);
    for (const lb of lbs) {
      expect(await onHost(NAME, lb, 'nginx -t 2>&1; if dpkg -s haproxy >/dev/null 2>&1; then echo haproxy installed; else echo no haproxy; fi')).toMatch(/test is successful\nno haproxy\n$/);
    }
  });

  it('a second run has 0 changes, at one exec per host', async () => {
    const again = await cli(['up', inventory, '--yes', '--json']);
    const report = JSON.parse(again.stdout) as { hosts: { status: string; execs: number; changes: unknown[] }[] };
    expect(report.hosts.map((h) => [h.status, h.changes.length, h.execs])).toEqual(report.hosts.map(() => ['in-sync', 0, 1]));
  });

  it('nginx dying on the holder moves the VIP; up starts nginx again and the VIP comes back', async () => {
    const up = await expectFailoverAndBack(NAME, lbs, VIP, 'nginx', inventory);
    expect(up.stdout).toContain('start nginx');
  });
});
