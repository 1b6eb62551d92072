// `topology: nginx` against real hosts: the k3s recipe's nginx stream proxy, with the keepalived VIP the
// recipe leaves out. What a user checks: it converges, curl through the VIP answers, a second run has
// nothing to do, and nginx dying on the holder moves the VIP. The lab starts on haproxy-keepalived and
// switches to nginx and back: nothing of the layout that left may run, start at boot, or stay on disk.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { startProbe } from '../../src/verify/probe.js';
import { cli, expectFailoverAndBack, expectOneStableHolder, httpsGet, labSuite, onHost, startTestLab } from './harness.js';

const NAME = 'e2enginx';
const SUBNET = '10.213.60.0/24';
const VIP = '10.213.60.100';
const lbs = [`${NAME}-lb-1`, `${NAME}-lb-2`];
let inventory = '';
let haproxyInventory = '';

/** What a user looks for after a switch: the service's state, whether it starts at boot, the file, the package. */
const leftovers = (service: string, file: string, pkg: string): string =>
  `echo "$(systemctl is-active ${service}) $(systemctl is-enabled ${service} 2>/dev/null)"; [ -e ${file} ] && echo "${file} present" || echo "${file} absent"; ` +
  `dpkg -s ${pkg} >/dev/null 2>&1 && echo "${pkg} installed" || echo "${pkg} not installed"`;

/**
 * `up` or `rollout` to another topology, with requests through the VIP meanwhile. `up` swaps the proxies on
 * every lb at once (a gap); `rollout` one lb at a time, the holder drained first.
 */
async function switchTo(file: string, what: string, command: 'up' | 'rollout' = 'up') {
  const probe = startProbe({ address: VIP, port: 6443, path: '/healthz' }, 10);
  const run = await cli([command, file, '--yes']);
  const stats = await probe.stop();
  console.log(`switch to ${what} with ${command}: ${stats.failed}/${stats.sent} requests through the VIP failed`);
  return { ...run, stats };
}

labSuite('topology: nginx, with a VIP', () => {
  beforeAll(async () => {
    const lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 2, servers: 2 });
    haproxyInventory = lab.inventoryFile;
    inventory = join(lab.dir, 'nginx.yaml');
    // With RKE2's supervisor port as an extra port: the stand-ins listen on 9345 too.
    writeFileSync(inventory, readFileSync(lab.inventoryFile, 'utf8').replace('topology: haproxy-keepalived', 'topology: nginx').replace('  backendPort: 6443', '  backendPort: 6443\n  extraPorts: [9345]'));
  });

  it('starts on haproxy-keepalived', async () => {
    const up = await cli(['up', haproxyInventory, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await httpsGet(`https://${VIP}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
  });

  it('the plan to switch shows what leaves: haproxy stopped and disabled, haproxy.cfg removed', async () => {
    const plan = await cli(['plan', inventory]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(2); // changes pending
    for (const lb of lbs) {
      const block = plan.stdout.slice(plan.stdout.indexOf(`${lb}:`));
      expect(block).toMatch(/~ remove \/etc\/haproxy\/haproxy\.cfg \(ha-provision no longer manages it here\)/);
      expect(block).toMatch(/~ stop \+ disable haproxy \(ha-provision no longer manages it here; its package stays installed\)/);
    }
    expect(plan.stdout).toContain('e2enginx-server-1: in sync'); // a server's part of the layout is the same
  });

  it('switches: curl through the VIP answers ok, nginx -t passes, and of haproxy only the package is left', async () => {
    const up = await switchTo(inventory, 'nginx');
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/pass {2}e2enginx-lb-1: nginx active: active/);
    expect(await httpsGet(`https://${VIP}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
    expect(await httpsGet(`https://${VIP}:9345/port`)).toEqual({ status: 200, body: '9345' }); // the second listener
    expect(up.stdout).toMatch(/pass {2}VIP accepts TCP on 10\.213\.60\.100:9345/);
    expect(await expectOneStableHolder(NAME, lbs, VIP, 3_000)).toBe(lbs[0]);
    for (const lb of lbs) {
      expect(await onHost(NAME, lb, 'nginx -t 2>&1')).toMatch(/test is successful/);
      // Looked for: the haproxy service (running? enabled?), its config file, its package.
      expect(await onHost(NAME, lb, leftovers('haproxy', '/etc/haproxy/haproxy.cfg', 'haproxy'))).toBe('inactive disabled\n/etc/haproxy/haproxy.cfg absent\nhaproxy installed\n');
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

  it('switches back to haproxy-keepalived with a rollout: one lb at a time, the endpoint kept; nothing of nginx runs, starts at boot, or stays on disk; then in sync', async () => {
    const up = await switchTo(haproxyInventory, 'haproxy-keepalived', 'rollout');
    expect(up.code, up.stdout + up.stderr).toBe(0);
    // Requests in flight can be reset where the VIP moves (twice: to the BACKUP and back); none otherwise.
    expect(up.stats.failed, JSON.stringify(up.stats.failures)).toBeLessThanOrEqual(2);
    expect(up.stats.failures.every((f) => /ECONNRESET|socket hang up/.test(f.error)), JSON.stringify(up.stats.failures)).toBe(true);
    expect(up.stdout).toMatch(/pass {2}e2enginx-lb-1: haproxy active: active/);
    expect(await httpsGet(`https://${VIP}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
    expect(await expectOneStableHolder(NAME, lbs, VIP, 3_000)).toBe(lbs[0]);
    for (const lb of lbs) {
      expect(await onHost(NAME, lb, leftovers('nginx', '/etc/nginx/nginx.conf', 'nginx'))).toBe('inactive disabled\n/etc/nginx/nginx.conf absent\nnginx installed\n');
      // The host's record of what is managed names only the layout in place.
      expect(await onHost(NAME, lb, 'grep -E "nginx|haproxy" /etc/ha-provision/managed')).toBe('file /etc/haproxy/haproxy.cfg\nservice haproxy running\npackage haproxy\n');
    }
    const plan = await cli(['plan', haproxyInventory]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  });

  it('one lb and no keepalived section (the k3s recipe as written): its own address is the endpoint, and the plan warns', async () => {
    const single = join(haproxyInventory.replace(/[^/]+$/, ''), 'nginx-single.yaml');
    const text = readFileSync(inventory, 'utf8')
      .replace(/\n {2}keepalived:\n(?: {4}.*\n)+/, '\n')
      .replace(/^ {2}e2enginx-lb-2: .*\n/m, '')
      .replace(/vip: \S+/, 'vip: 10.213.60.11/24');
    writeFileSync(single, text);
    const plan = await cli(['plan', single]);
    expect(plan.stderr).toContain('warning: e2enginx-lb-1 is the only load balancer: a single point of failure for the API endpoint (10.213.60.11, no VIP that could move)');
    const up = await cli(['up', single, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await httpsGet('https://10.213.60.11:6443/healthz')).toEqual({ status: 200, body: 'ok' });
    // keepalived was part of the layout before; with no keepalived section it leaves (and verify does not ask for it).
    expect(await onHost(NAME, lbs[0]!, leftovers('keepalived', '/etc/keepalived/keepalived.conf', 'keepalived'))).toBe('inactive disabled\n/etc/keepalived/keepalived.conf absent\nkeepalived installed\n');
    expect(up.stdout).not.toMatch(/keepalived active/);
    const again = await cli(['plan', single]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });
});
