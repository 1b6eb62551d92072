// What an interrupted or partial run leaves on real hosts, and what the next run makes of it: each case
// here was a way to lose the VIP, hold it twice, or switch failover off while `plan` said "in sync".
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { labExec } from '../../src/lab/index.js';
import { builtCli } from '../fixtures/built.js';
import { cli, expectOneStableHolder, labSuite, onHost, startTestLab, vipHolders, waitFor } from './harness.js';

const NAME = 'e2edef';
const SUBNET = '10.213.54.0/24';
const VIP = '10.213.54.100';
const lb1 = `${NAME}-lb-1`;
const lb2 = `${NAME}-lb-2`;
const lbs = [lb1, lb2];
const sh = (node: string, script: string) => onHost(NAME, node, script);

let inventory = '';
let dir = '';
/** The lab inventory with another keepalived password (the lab's own is labpass1). */
const withPassword = (pass: string): string => {
  const file = join(dir, `pass-${pass}.yaml`);
  writeFileSync(file, readFileSync(inventory, 'utf8').replace(/authPass: \S+/, `authPass: ${pass}`));
  return file;
};
const exists = async (node: string, path: string) => (await labExec(NAME, node, ['test', '-e', path])).code === 0;

labSuite('defects of partial runs, against real hosts', () => {
  beforeAll(async () => {
    const lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 2, servers: 2 });
    inventory = lab.inventoryFile;
    dir = lab.dir;
  });

  // The first up on fresh hosts, SIGKILLed as soon as keepalived.conf is in place on lb-1. The old
  // remote shell died of SIGPIPE there, before any reload: keepalived stayed down, haproxy on its stock
  // config, and every later run said "in sync".
  it('a first up killed mid-apply: the next up converges to one stable VIP holder', async () => {
    const child = spawn(process.execPath, [builtCli(), 'up', inventory, '--yes'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('close', resolve));
    const placed = await waitFor(() => exists(lb1, '/etc/keepalived/keepalived.conf'), 120_000);
    child.kill('SIGKILL');
    await exited;
    expect(placed).toBe(true);
    // The hosts finish the script they received on their own (until then a run would find them locked).
    const released = async (node: string) => (await labExec(NAME, node, ['cat', '/run/ha-provision.lock'])).stdout === '';
    expect(await waitFor(async () => (await released(lb1)) && (await released(lb2)), 60_000)).toBe(true);
    const up = await cli(['up', inventory, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await expectOneStableHolder(NAME, lbs, VIP)).toBe(lb1);
    expect((await cli(['plan', inventory])).code).toBe(0);
  });

  // An auth_pass rotation whose run dies on lb-2 between the rename and the reload (the apply script
  // killed outright while keepalived's reload hangs): the new file is on disk, the daemon runs the old
  // password, and both lbs hold the VIP. plan must see the reload that never happened.
  it('a reload that never happened after its file landed is planned again, and the split pair is healed', async () => {
    const dropIn = '/etc/systemd/system/keepalived.service.d/zz-test-reload-hangs.conf';
    await sh(lb2, `mkdir -p ${join(dropIn, '..')} && printf '[Service]\\nExecReload=\\nExecReload=/bin/sleep 6\\n' > ${dropIn} && systemctl daemon-reload`);
    const rotated = withPassword('rot8ted1');
    const run = spawn(process.execPath, [builtCli(), 'up', rotated, '--yes'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => run.on('close', resolve));
    try {
      const reloading = async () => (await labExec(NAME, lb2, ['systemctl', 'is-active', 'keepalived'])).stdout.trim() === 'reloading';
      expect(await waitFor(reloading, 60_000)).toBe(true);
      // The whole apply (its process group: the script and the step it runs), as a crash would.
      const lock = (await labExec(NAME, lb2, ['cat', '/run/ha-provision.lock'])).stdout;
      await sh(lb2, `pg=$(ps -o pgid= -p ${/^script_pid=(\d+)$/m.exec(lock)![1]} | tr -d ' '); [ "$pg" -gt 1 ] && /bin/kill -KILL -- "-$pg"`);
      await exited;
    } finally {
      await sh(lb2, `rm -f ${dropIn} && systemctl daemon-reload`);
    }
    expect(await waitFor(async () => (await labExec(NAME, lb2, ['systemctl', 'is-active', 'keepalived'])).stdout.trim() === 'active')).toBe(true);
    expect(await sh(lb2, 'grep auth_pass /etc/keepalived/keepalived.conf')).toContain('rot8ted1'); // on disk, never loaded
    const plan = await cli(['plan', rotated, '--limit', lb2]);
    expect(plan.code, plan.stdout).toBe(2);
    expect(plan.stdout).toContain('~ reload keepalived (has not loaded /etc/keepalived/keepalived.conf since an earlier run installed it)');
    const up = await cli(['up', rotated, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/pass {2}the VIP stays on one lb for \d+ s after the change: held by /);
    expect(await expectOneStableHolder(NAME, lbs, VIP)).toBe(lb1);
    expect((await cli(['plan', rotated])).code).toBe(0);
    inventory = rotated; // the fleet now runs this password
  });

  it('--limit to one lb refuses a password rotation, naming the peer; verify still reads every lb', async () => {
    const before = await sh(lb1, 'sha256sum /etc/keepalived/keepalived.conf');
    const up = await cli(['up', withPassword('sp1itpas'), '--yes', '--limit', lb1]);
    expect(up.code).toBe(1);
    expect(up.stdout).toContain(`${lb1}: cannot plan: this changes auth_pass in /etc/keepalived/keepalived.conf`);
    expect(up.stdout).toContain(`add ${lb2} to --limit, or drop --limit`);
    expect(up.stdout + up.stderr).not.toContain('sp1itpas');
    expect(await sh(lb1, 'sha256sum /etc/keepalived/keepalived.conf')).toBe(before);
    const verify = await cli(['verify', inventory, '--limit', lb1]);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toContain(`pass  exactly one lb holds the VIP ${VIP}: held by ${lb1}`);
    expect(verify.stdout).toContain(`pass  ${lb2}: keepalived active`);
  });

  // keepalived disables a track script it finds unsafe, silently: then haproxy can die on the holder
  // and the VIP stays there. A file's owner is desired state, and verify reads keepalived's own words.
  it('a check script chowned by hand: verify fails, plan shows the owner, up restores it and failover works', async () => {
    await sh(lb1, 'chown nobody /etc/keepalived/check_apiserver.sh && systemctl reload keepalived');
    const broken = await cli(['verify', inventory]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(new RegExp(`FAIL {2}${lb1}: keepalived runs its config without faults: .*Disabling track script check_apiserver`));
    const plan = await cli(['plan', inventory, '--limit', lb1]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('~ update /etc/keepalived/check_apiserver.sh (owner only) owner nobody:root → root:root');
    expect(plan.stdout).toContain('~ reload keepalived (/etc/keepalived/check_apiserver.sh changed)');
    expect((await cli(['up', inventory, '--yes'])).code).toBe(0);
    expect((await cli(['verify', inventory])).code).toBe(0);
    // The track script moves the VIP again when haproxy dies on the holder.
    await sh(lb1, 'systemctl stop haproxy');
    expect(await waitFor(async () => (await vipHolders(NAME, lbs, VIP)).join() === lb2, 20_000)).toBe(true);
    expect((await cli(['up', inventory, '--yes'])).code).toBe(0);
    // lb1 preempts once its track script has seen haproxy up for its rise interval; then it must stay.
    expect(await waitFor(async () => (await vipHolders(NAME, lbs, VIP)).join() === lb1, 15_000)).toBe(true);
    expect(await expectOneStableHolder(NAME, lbs, VIP, 5_000)).toBe(lb1);
  });

  it('staging files a dead run left behind are planned for removal and removed', async () => {
    const staged = '/etc/keepalived/.keepalived.conf.ha-provision-new';
    await sh(lb2, `umask 077; echo 'auth_pass leftover' > ${staged}`);
    const plan = await cli(['plan', inventory]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`~ remove ${staged} (left by an interrupted run)`);
    expect((await cli(['up', inventory, '--yes'])).code).toBe(0);
    expect(await exists(lb2, staged)).toBe(false);
    expect((await cli(['plan', inventory])).code).toBe(0);
  });

  it('a route whose gateway changed is replaced in the first run', async () => {
    const moved = join(dir, 'moved-gateway.yaml');
    writeFileSync(moved, readFileSync(inventory, 'utf8').replace('via: 10.213.54.1,', 'via: 10.213.54.2,'));
    const up = await cli(['up', moved, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await sh(`${NAME}-server-1`, 'ip -4 route show')).toMatch(/^10\.254\.0\.0\/16 via 10\.213\.54\.2 dev host0/m);
    expect((await cli(['plan', moved])).code).toBe(0);
    expect((await cli(['up', inventory, '--yes'])).code).toBe(0); // and back
  });

  it('a route that would take over the path to the controller is refused before anything changes', async () => {
    const cutting = join(dir, 'cutting-route.yaml');
    writeFileSync(cutting, readFileSync(inventory, 'utf8').replace(/^routes:\n/m, 'routes:\n  - { to: 10.213.54.1/32, via: 10.213.54.9, dev: host0 }\n'));
    const up = await cli(['up', cutting, '--yes']);
    expect(up.code).toBe(1);
    expect(up.stdout).toContain('Aborted: some hosts could not be planned, so nothing was changed.');
    expect(up.stdout).toMatch(/cannot plan: route add 10\.213\.54\.1\/32 via 10\.213\.54\.9 dev host0 would change how this host reaches the controller at 10\.213\.54\.1/);
    expect(await sh(`${NAME}-server-1`, 'ip -4 route show')).not.toContain('10.213.54.1 via');
  });

  // dpkg killed mid-install leaves its journal: apt then refuses every install ("dpkg was interrupted").
  it('an interrupted dpkg is finished as a planned step, and the next up converges', async () => {
    await sh(lb2, 'dpkg --unpack /srv/repo/haproxy_*.deb >/dev/null 2>&1; dpkg-query -s haproxy > /var/lib/dpkg/updates/0001');
    const plan = await cli(['plan', inventory, '--limit', lb2]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('~ finish the interrupted dpkg run (dpkg --configure -a)');
    const up = await cli(['up', inventory, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect((await sh(lb2, "dpkg-query -W -f='${db:Status-Abbrev}' haproxy")).trim()).toBe('ii');
    expect((await cli(['plan', inventory])).code).toBe(0);
    expect(await expectOneStableHolder(NAME, lbs, VIP, 3_000)).toBe(lb1);
  });
});
