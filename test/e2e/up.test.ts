// `plan` and `up` against a real lab (2 lbs + 4 servers; the inventory starts with 3 of them): what a
// platform engineer checks before trusting the tool with their API endpoint.
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labExec, labHeal, labPartition, labStart, labStop } from '../../src/lab/index.js';
import { FAULT_WINDOW_LINES } from '../../src/facts/services.js';
import { PROJECT_ROOT } from '../../src/playbook/playbook.js';
import { cli, httpsGet, labSuite, startTestLab } from './harness.js';

const NAME = 'e2eup';
const SUBNET = '10.213.51.0/24';
const VIP = '10.213.51.100';
const SECRET = 'labpass1'; // the lab inventory's authPass: it must never be printed
const lb1 = `${NAME}-lb-1`;
const lb2 = `${NAME}-lb-2`;
const lbs = [lb1, lb2];
const work = mkdtempSync(join(tmpdir(), 'ha-e2e-up-'));

let full = ''; // the lab's inventory: 4 servers
let three = ''; // the same without server-4: what the fleet starts with
let hosts: string[] = [];

async function sh(node: string, script: string): Promise<string> {
  const r = await labExec(NAME, node, ['sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** What must not change under `plan`: every file under /etc and every unit's state. */
const snapshot = (node: string) =>
  sh(node, 'find /etc -type f -print0 | sort -z | xargs -0 sha256sum; systemctl list-units --all --no-legend --plain | sort');

/** Main PID and start time: a restart changes both, a reload neither. */
const serviceIdentity = (node: string, unit: string) =>
  sh(node, `systemctl show -p MainPID,ExecMainStartTimestampMonotonic ${unit}`);

labSuite('up and plan against real hosts', () => {
  beforeAll(async () => {
    const lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 2, servers: 4 });
    full = lab.inventoryFile;
    hosts = lab.hosts.map((h) => h.name);
    three = join(work, 'three.yaml');
    writeFileSync(three, readFileSync(full, 'utf8').replace(/^.*-server-4:.*\n/m, ''));
  });

  it('plan on fresh hosts exits 2, lists installs and new files, and changes nothing', async () => {
    const before = await Promise.all(hosts.map(snapshot));
    const r = await cli(['plan', three]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toContain(`${lb1}: `);
    expect(r.stdout).toContain('install haproxy, keepalived (apt-get)'); // curl is in the lab's base image
    expect(r.stdout).toContain('create /etc/haproxy/haproxy.cfg');
    expect(r.stdout).toContain('+++ b/etc/keepalived/keepalived.conf');
    expect(r.stdout).toMatch(/^\s+\+\s+auth_pass \*{8}$/m);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(await Promise.all(hosts.map(snapshot))).toEqual(before);
  });

  it('up converges: the VIP sits on the priority-200 lb and serves the stand-in through haproxy', async () => {
    const r = await cli(['up', three, '--yes']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(await sh(lb1, 'ip -o -4 addr show')).toContain(`inet ${VIP}/24`);
    expect(await sh(lb2, 'ip -o -4 addr show')).not.toContain(`inet ${VIP}/`);
    expect(await httpsGet(`https://${VIP}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
  });

  // The round-trip budget: a converged run, verify included, is one SSH connection and one exec per host.
  it('a second up changes nothing, restarts nothing and costs one connection and one exec per host, verify included; plan exits 0', async () => {
    const before = await Promise.all(lbs.flatMap((n) => [serviceIdentity(n, 'haproxy'), serviceIdentity(n, 'keepalived')]));
    const r = await cli(['up', three, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { hosts: { host: string; changes: unknown[]; execs: number; connections: number }[]; checks: { ok: boolean }[] };
    expect(report.hosts.map((h) => [h.host, h.changes.length, h.connections, h.execs])).toEqual(hosts.filter((h) => !h.endsWith('-4')).map((h) => [h, 0, 1, 1]));
    expect(report.checks.length).toBeGreaterThan(0);
    expect(report.checks.every((c) => c.ok)).toBe(true);
    expect(await Promise.all(lbs.flatMap((n) => [serviceIdentity(n, 'haproxy'), serviceIdentity(n, 'keepalived')]))).toEqual(before);
    expect((await cli(['plan', three])).code).toBe(0);
  });

  it('adding a server and changing a timeout: plan shows exactly those lines; up reloads haproxy only', async () => {
    const changed = join(work, 'four.yaml');
    writeFileSync(changed, readFileSync(full, 'utf8').replace(/^cluster:\n/m, 'cluster:\n  haproxy: { timeouts: { client: 45s } }\n'));
    const plan = await cli(['plan', changed, '--json', `--limit=${lb1},${lb2}`]);
    expect(plan.code, plan.stderr).toBe(2);
    for (const host of JSON.parse(plan.stdout).hosts as { changes: { kind: string; summary: string; diff?: string }[] }[]) {
      expect(host.changes.map((c) => c.summary)).toEqual(['update /etc/haproxy/haproxy.cfg', 'reload haproxy (/etc/haproxy/haproxy.cfg changed)']);
      const edits = host.changes[0]!.diff!.split('\n').filter((l) => /^[+-](?![+-]{2})/.test(l));
      expect(edits).toEqual(['-    timeout client 20s', '+    timeout client 45s', `+    server ${NAME}-server-4 10.213.51.24:6443`]);
    }
    const haproxyBefore = await Promise.all(lbs.map((n) => serviceIdentity(n, 'haproxy')));
    const keepalivedBefore = await Promise.all(lbs.map((n) => serviceIdentity(n, 'keepalived')));
    const up = await cli(['up', changed, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await Promise.all(lbs.map((n) => serviceIdentity(n, 'haproxy')))).toEqual(haproxyBefore); // reloaded: same master
    expect(await Promise.all(lbs.map((n) => serviceIdentity(n, 'keepalived')))).toEqual(keepalivedBefore);
    expect(await sh(lb1, 'cat /etc/haproxy/haproxy.cfg')).toContain(`server ${NAME}-server-4 10.213.51.24:6443`);
    expect((await cli(['plan', changed])).code).toBe(0);
  });

  it('a haproxy config that fails validation replaces nothing and the VIP keeps serving', async () => {
    const templates = join(work, 'broken-templates');
    mkdirSync(join(templates, 'haproxy'), { recursive: true });
    const good = readFileSync(join(PROJECT_ROOT, 'templates/haproxy/haproxy.cfg.hbs'), 'utf8');
    writeFileSync(join(templates, 'haproxy/haproxy.cfg.hbs'), good.replace('    balance roundrobin', '    balance roundrobin\n    no-such-keyword here'));
    const before = await sh(lb1, 'sha256sum /etc/haproxy/haproxy.cfg');
    const r = await cli(['up', full, '--yes', '--templates', templates]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('step "validate /etc/haproxy/haproxy.cfg" failed');
    // haproxy's own words, with the line number in the file the user knows (not the staged copy).
    expect(r.stdout + r.stderr).toMatch(/\[ALERT\].*parsing \[\/etc\/haproxy\/haproxy\.cfg:\d+\] : unknown keyword 'no-such-keyword' in 'backend' section/);
    expect(await sh(lb1, 'sha256sum /etc/haproxy/haproxy.cfg')).toBe(before);
    expect(await sh(lb1, 'ls -a /etc/haproxy')).not.toContain('ha-provision-new');
    expect(await httpsGet(`https://${VIP}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
  });

  it('verify passes on the converged fleet; a stopped haproxy fails it and up starts it again', async () => {
    const ok = await cli(['verify', full]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toContain(`pass  exactly one lb holds the VIP ${VIP}: held by ${lb1}`);
    await sh(lb2, 'systemctl stop haproxy');
    const bad = await cli(['verify', full]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`FAIL  ${lb2}: haproxy active: inactive`);
    const plan = await cli(['plan', full, '--limit', lb2]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('~ start haproxy (not running)');
    expect((await cli(['up', full, '--yes'])).code).toBe(0);
    expect((await sh(lb2, 'systemctl is-active haproxy')).trim()).toBe('active');
  });

  // haproxy logs every connection (over syslog). Its fault check reads what it printed on stderr and
  // systemd's lines, so traffic through the VIP does not push its last reload out of the lines read.
  it("haproxy's fault check still reaches back to its last reload after more requests than the lines it reads", async () => {
    for (let sent = 0; sent < FAULT_WINDOW_LINES + 20; sent += 20) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => httpsGet(`https://${VIP}:6443/healthz`)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    }
    const r = await cli(['verify', full]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`pass  ${lb1}: haproxy runs its config without faults: nothing logged since its last (re)load`);
  });

  it('haproxy health-checks /healthz over TLS: a sick stand-in gets no traffic through the VIP', async () => {
    const sick = `${NAME}-server-1`;
    await sh(sick, 'mkdir -p /run/apiserver-standin && touch /run/apiserver-standin/unhealthy');
    try {
      // Round robin over 4 servers without working checks answers 500 every 4th request; with them,
      // once haproxy marks the sick one down (fall 3 × inter 3s), every request is served.
      let streak = 0;
      for (const deadline = Date.now() + 30_000; streak < 12 && Date.now() < deadline; ) {
        const r = await httpsGet(`https://${VIP}:6443/healthz`);
        streak = r.status === 200 ? streak + 1 : 0;
        if (streak === 0) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(streak).toBe(12);
    } finally {
      await sh(sick, 'rm -f /run/apiserver-standin/unhealthy');
    }
  });

  // `kubeadm init --control-plane-endpoint VIP:port` needs the VIP before any API server is healthy.
  it('bootstrap: with every stand-in unhealthy, exactly one lb holds the VIP and it accepts TCP; once healthy, curl answers ok', async () => {
    const servers = hosts.filter((h) => h.includes('-server-'));
    await Promise.all(servers.map((s) => sh(s, 'mkdir -p /run/apiserver-standin && touch /run/apiserver-standin/unhealthy')));
    try {
      await new Promise((r) => setTimeout(r, 15_000)); // haproxy marks them down (3 × 3 s), the lbs' checks fail (2 × 2 s)
      const samples: string[] = [];
      for (let i = 0; i < 10; i++, await new Promise((r) => setTimeout(r, 500))) {
        const held = await Promise.all(lbs.map(async (lb) => (await sh(lb, 'ip -o -4 addr show')).includes(`inet ${VIP}/`)));
        samples.push(lbs.filter((_, j) => held[j]).join(',') || '(none)');
      }
      expect(new Set(samples)).toEqual(new Set([lb1]));
      expect((await labExec(NAME, servers[0]!, ['nc', '-z', '-w', '2', VIP, '6443'])).code).toBe(0); // a client of the VIP
      expect((await sh(lb1, "journalctl -u keepalived -n 50 --no-pager | grep -c 'check_apiserver) failed' || true")).trim()).not.toBe('0');
    } finally {
      await Promise.all(servers.map((s) => sh(s, 'rm -f /run/apiserver-standin/unhealthy')));
    }
    let answer = { status: 0, body: '' };
    for (const deadline = Date.now() + 30_000; answer.body !== 'ok' && Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      answer = await httpsGet(`https://${VIP}:6443/healthz`).catch(() => ({ status: 0, body: '' }));
    }
    expect(answer).toEqual({ status: 200, body: 'ok' });
  });

  it('an extra port (RKE2 9345) through the VIP reaches the stand-ins\' second listener, health-checked by haproxy', async () => {
    const withExtra = join(work, 'extra-port.yaml');
    writeFileSync(withExtra, readFileSync(full, 'utf8').replace('  backendPort: 6443', '  backendPort: 6443\n  extraPorts: [9345]'));
    const up = await cli(['up', withExtra, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/pass {2}VIP accepts TCP on 10\.213\.51\.100:9345/);
    expect(await httpsGet(`https://${VIP}:9345/port`)).toEqual({ status: 200, body: '9345' });
    expect(await httpsGet(`https://${VIP}:6443/port`)).toEqual({ status: 200, body: '6443' });
    const back = await cli(['up', full, '--yes']); // the frontend goes with the key
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(await sh(lb1, 'cat /etc/haproxy/haproxy.cfg')).not.toContain('9345');
  });

  it('keepalived tracks the lb: haproxy down on lb-1 moves the VIP to lb-2; up brings it back', async () => {
    const holds = async (node: string) => (await sh(node, 'ip -o -4 addr show')).includes(`inet ${VIP}/`);
    const waitFor = async (what: () => Promise<boolean>) => {
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) if (await what()) return true;
      return false;
    };
    await sh(lb1, 'systemctl stop haproxy');
    expect(await waitFor(async () => (await holds(lb2)) && !(await holds(lb1)))).toBe(true);
    expect(await httpsGet(`https://${VIP}:6443/healthz`)).toEqual({ status: 200, body: 'ok' });
    const up = await cli(['up', full, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain(`start haproxy (not running)`);
    expect(await waitFor(() => holds(lb1))).toBe(true); // the priority-200 lb takes it back
    expect(await holds(lb2)).toBe(false);
  });

  it('when one host cannot be read, up changes no host at all and says why', async () => {
    const node = `${NAME}-server-2`;
    const file = join(work, 'unreachable.yaml');
    writeFileSync(file, readFileSync(full, 'utf8').replace(/^ssh:\n/m, 'ssh:\n  connectTimeout: 2s\n').replace(/^cluster:\n/m, 'cluster:\n  haproxy: { timeouts: { client: 50s } }\n'));
    const before = await sh(lb1, 'sha256sum /etc/haproxy/haproxy.cfg');
    await labPartition(NAME, node);
    try {
      const r = await cli(['up', file, '--yes']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('Aborted: some hosts could not be planned, so nothing was changed.');
      expect(r.stdout).toMatch(new RegExp(`${node}: cannot plan: ssh 10\\.213\\.51\\.22:22: Timed out`));
      expect(r.stdout).toContain('~ update /etc/haproxy/haproxy.cfg'); // the plan is still shown
    } finally {
      await labHeal(NAME, node);
    }
    expect(await sh(lb1, 'sha256sum /etc/haproxy/haproxy.cfg')).toBe(before);
  });

  it('a route added to the inventory is added; dropped from it, it is deleted (now and at boot)', async () => {
    const node = `${NAME}-server-2`;
    const extra = join(work, 'extra-route.yaml');
    writeFileSync(extra, readFileSync(full, 'utf8').replace(/^routes:\n/m, 'routes:\n  - { to: 10.253.0.0/16, via: 10.213.51.1, dev: host0 }\n'));
    expect((await cli(['up', extra, '--yes'])).code).toBe(0);
    expect(await sh(node, 'ip -4 route show')).toMatch(/^10\.253\.0\.0\/16 via 10\.213\.51\.1 dev host0/m);
    const plan = await cli(['plan', full, '--limit', node]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('~ route delete 10.253.0.0/16 via 10.213.51.1 dev host0');
    expect((await cli(['up', full, '--yes'])).code).toBe(0);
    expect(await sh(node, 'ip -4 route show')).not.toContain('10.253.0.0/16');
    expect(await sh(node, 'cat /etc/ha-provision/routes.sh')).not.toContain('10.253.0.0/16');
    expect((await cli(['plan', full])).code).toBe(0);
  });

  it('after a crash and boot, a host has its sysctls and routes back', async () => {
    const node = `${NAME}-server-1`;
    await labStop(NAME, node);
    await labStart(NAME, node);
    expect((await sh(node, 'cat /proc/sys/net/ipv4/ip_nonlocal_bind')).trim()).toBe('1');
    // The route unit runs after network-online: give the boot a few seconds to get there.
    let routes = '';
    for (let i = 0; i < 30 && !routes.includes('10.254.0.0/16'); i += 1) {
      routes = await sh(node, 'ip -4 route show');
      if (!routes.includes('10.254.0.0/16')) await new Promise((r) => setTimeout(r, 500));
    }
    expect(routes).toMatch(/^10\.254\.0\.0\/16 via 10\.213\.51\.1 dev host0/m);
    expect((await cli(['plan', full, '--limit', node])).code).toBe(0);
  });
});
