// The kubeadm guide's co-located layout, for real: three control-plane hosts, each an lb and a server
// (`roles: [lb, server]`). haproxy listens on the VIP's 8443 and balances over every host's API server
// (the stand-in) on 6443; keepalived moves the VIP when haproxy dies on the holder. Then the layouts whose
// daemons kubelet runs, on the same control-plane hosts: haproxy + keepalived as static pods, then kube-vip.
// The lab has no kubelet (nor a registry for the images), so nothing runs them: what is checked is plan,
// apply and idempotence, the manifests and configs on disk, and that the services layout left.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { cli, httpsGet, labSuite, onHost, startTestLab, vipHolders, waitFor } from './harness.js';

const NAME = 'e2ecolo';
const SUBNET = '10.213.58.0/24';
const VIP = '10.213.58.100';
const cps = [1, 2, 3].map((i) => `${NAME}-server-${i}`);
let inventory = '';

const throughVip = () => httpsGet(`https://${VIP}:8443/healthz`).catch((e: Error) => ({ status: 0, body: e.message }));

labSuite('co-located: three hosts, each an lb and an API server', () => {
  beforeAll(async () => {
    // Three hosts that run the stand-in on 6443; the inventory makes each of them an lb as well.
    const lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 0, servers: 3 });
    const priorities = [200, 100, 90];
    const text = readFileSync(lab.inventoryFile, 'utf8')
      .replace('  frontendPort: 6443', '  frontendPort: 8443')
      .replace(/^( {2}(\S+): \{ address: [^,]+), roles: \[server\] \}$/gm, (_line, head: string, name: string) =>
        `${head}, roles: [lb, server], interface: host0, priority: ${priorities[cps.indexOf(name)]} }`);
    inventory = join(lab.dir, 'colocated.yaml');
    writeFileSync(inventory, text);
  });

  it('converges: the VIP on 8443 reaches the API servers on 6443, on the preferred host; a second run changes nothing', async () => {
    const up = await cli(['up', inventory, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await throughVip()).toEqual({ status: 200, body: 'ok' });
    expect(await vipHolders(NAME, cps, VIP)).toEqual([cps[0]]);
    const cfg = await onHost(NAME, cps[1]!, 'cat /etc/haproxy/haproxy.cfg');
    expect(cfg).toMatch(/bind \*:8443/);
    expect(cfg.match(/^\s+server \S+ \S+$/gm)?.map((l) => l.trim())).toEqual(cps.map((cp, i) => `server ${cp} 10.213.58.${21 + i}:6443`));
    const again = await cli(['up', inventory, '--yes', '--json']);
    const report = JSON.parse(again.stdout) as { hosts: { host: string; status: string; execs: number }[] };
    expect(report.hosts.map((h) => [h.host, h.status, h.execs])).toEqual(cps.map((cp) => [cp, 'in-sync', 1]));
  });

  it('haproxy dying on the holder moves the VIP to the next host; up brings haproxy and the VIP back', async () => {
    await onHost(NAME, cps[0]!, 'systemctl stop haproxy');
    expect(await waitFor(async () => (await vipHolders(NAME, cps, VIP)).join() === cps[1])).toBe(true);
    expect(await waitFor(async () => (await throughVip()).body === 'ok', 10_000)).toBe(true);
    const up = await cli(['up', inventory, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await waitFor(async () => (await vipHolders(NAME, cps, VIP)).join() === cps[0])).toBe(true);
    expect(await throughVip()).toEqual({ status: 200, body: 'ok' });
  });

  it('a rollout on co-located hosts changes the BACKUPs first and the holder last', async () => {
    const changed = join(inventory.replace(/colocated\.yaml$/, 'colocated-timeouts.yaml'));
    writeFileSync(changed, readFileSync(inventory, 'utf8').replace(/^cluster:\n/m, 'cluster:\n  haproxy: { timeouts: { client: 45s, server: 45s } }\n'));
    const r = await cli(['rollout', changed, '--yes', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const timeline = (JSON.parse(r.stdout) as { timeline: { host?: string; step: string }[] }).timeline;
    expect(timeline.filter((e) => e.step === 'apply').map((e) => e.host)).toEqual([cps[2], cps[1], cps[0]]);
    expect(await throughVip()).toEqual({ status: 200, body: 'ok' });
  });

  /** Manifests and configs on a host, and whether haproxy and keepalived run or start at boot as services. */
  const onDisk = (cp: string) =>
    onHost(NAME, cp, 'ls /etc/kubernetes/manifests/ 2>/dev/null | tr "\\n" " "; echo; for f in /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf; do [ -e $f ] && echo "$f"; done; ' +
      'for s in haproxy keepalived; do echo "$s $(systemctl is-active $s) $(systemctl is-enabled $s 2>/dev/null)"; done');

  it('mode static-pod: manifests for kubelet, configs where they mount them, the services stopped and disabled; then in sync', async () => {
    const staticPods = inventory.replace(/colocated\.yaml$/, 'colocated-static.yaml');
    writeFileSync(staticPods, readFileSync(inventory, 'utf8').replace('  topology: haproxy-keepalived', '  topology: haproxy-keepalived\n  mode: static-pod\n  staticPods: { keepalivedImage: registry.example.com/keepalived:2.2.8 }'));
    const plan = await cli(['plan', staticPods]);
    expect(plan.stdout).toMatch(/~ create \/etc\/kubernetes\/manifests\/haproxy\.yaml/);
    expect(plan.stdout).toMatch(/~ stop \+ disable keepalived \(ha-provision no longer manages it here; its package stays installed\)/);
    // No kubelet runs the pods, so nothing holds the VIP afterwards: verify would rightly fail.
    const up = await cli(['up', staticPods, '--yes', '--no-verify']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    for (const cp of cps) {
      expect(await onDisk(cp)).toBe('haproxy.yaml keepalived.yaml \n/etc/haproxy/haproxy.cfg\n/etc/keepalived/keepalived.conf\nhaproxy inactive disabled\nkeepalived inactive disabled\n');
    }
    expect(await onHost(NAME, cps[0]!, 'grep -c "monitor-uri /healthz" /etc/haproxy/haproxy.cfg; grep -c "file /run/ha-provision/drain" /etc/keepalived/keepalived.conf')).toBe('1\n1\n');
    const again = await cli(['up', staticPods, '--yes', '--no-verify', '--json']);
    const report = JSON.parse(again.stdout) as { hosts: { host: string; status: string; execs: number }[] };
    expect(report.hosts.map((h) => [h.host, h.status, h.execs])).toEqual(cps.map((cp) => [cp, 'in-sync', 1]));
  });

  it('topology kube-vip: its manifest on every control plane, the static pods and their configs gone; then in sync', async () => {
    const kubeVip = inventory.replace(/colocated\.yaml$/, 'colocated-kube-vip.yaml');
    // No proxy (the VIP leads to the API server's own port) and no keepalived section, hence no password.
    writeFileSync(kubeVip, readFileSync(inventory, 'utf8').replace('topology: haproxy-keepalived', 'topology: kube-vip').replace('  frontendPort: 8443\n', '').replace(/\n {2}keepalived:\n(?: {4}.*\n)+/, '\n'));
    const up = await cli(['up', kubeVip, '--yes', '--no-verify']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    for (const cp of cps) expect(await onDisk(cp)).toBe('kube-vip.yaml \nhaproxy inactive disabled\nkeepalived inactive disabled\n');
    const manifest = await onHost(NAME, cps[1]!, 'cat /etc/kubernetes/manifests/kube-vip.yaml');
    expect(manifest).toMatch(/- name: address\n\s+value: 10\.213\.58\.100\n/);
    expect(manifest).toMatch(/- name: vip_interface\n\s+value: host0\n/);
    const again = await cli(['up', kubeVip, '--yes', '--no-verify', '--json']);
    const report = JSON.parse(again.stdout) as { hosts: { host: string; status: string; execs: number }[] };
    expect(report.hosts.map((h) => [h.host, h.status, h.execs])).toEqual(cps.map((cp) => [cp, 'in-sync', 1]));
  });
});
