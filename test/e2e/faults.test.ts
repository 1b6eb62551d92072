// The world misbehaving halfway through a run, on real hosts: a second run against the same hosts, a run
// killed outright on a host, and a config that passes `haproxy -c` but cannot load. Each says what is
// left on the hosts afterwards, and the VIP keeps serving.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { labExec, labHeal, labPartition } from '../../src/lab/index.js';
import { PROJECT_ROOT } from '../../src/playbook/playbook.js';
import { startProbe } from '../../src/verify/probe.js';
import { builtCli } from '../fixtures/built.js';
import { cli, expectOneStableHolder, labSuite, onHost, startTestLab, waitFor, type CliResult } from './harness.js';

const NAME = 'e2efault';
const SUBNET = '10.213.55.0/24';
const VIP = '10.213.55.100';
const lb1 = `${NAME}-lb-1`;
const lb2 = `${NAME}-lb-2`;
const sh = (node: string, script: string) => onHost(NAME, node, script);

let labInventory = ''; // as `lab up` wrote it
let inventory = ''; // what the fleet runs now
let dir = '';
/** The lab inventory with another haproxy client timeout: a reload-class change on both lbs. */
const withClientTimeout = (seconds: number): string => {
  const file = join(dir, `client-${seconds}.yaml`);
  writeFileSync(file, readFileSync(labInventory, 'utf8').replace(/^cluster:\n/m, `cluster:\n  haproxy: { timeouts: { client: ${seconds}s } }\n`));
  return file;
};
/** The built-in playbook, with haproxy's validation made slow: an apply that holds the lock for seconds. */
const slowPlaybook = (): string => {
  const file = join(dir, 'slow.yaml');
  const builtin = readFileSync(join(PROJECT_ROOT, 'playbooks/haproxy-keepalived.yaml'), 'utf8');
  writeFileSync(file, builtin.replace('validate: "haproxy -c -f %s"', 'validate: "sleep 4 && haproxy -c -f %s"'));
  return file;
};
/** `ha-provision ARGS` in the background, as a user's second terminal would run it. */
const background = (args: string[]): { child: ChildProcess; done: Promise<CliResult> } => {
  const child = spawn(process.execPath, [builtCli(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? 137, stdout, stderr })));
  return { child, done };
};
const lockOf = async (node: string) => (await labExec(NAME, node, ['cat', '/run/ha-provision.lock'])).stdout;
/** The controller's run history next to the inventories (they all live in `dir`), as `history --json` gives it. */
interface Recorded {
  n: number;
  command: string;
  outcome: string;
  pid: number;
  version?: number;
  hosts: { host: string; status: string; error?: string; versions?: { before: number; after: number; target?: number } }[];
}
const history = async (...args: string[]): Promise<Recorded[]> => {
  const listed = await cli(['history', ...args, '--json']);
  expect(listed.code, listed.stderr).toBe(0);
  return JSON.parse(listed.stdout) as Recorded[];
};

labSuite('safe under faults and concurrency, against real hosts', () => {
  beforeAll(async () => {
    const lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 2, servers: 2 });
    labInventory = lab.inventoryFile;
    inventory = labInventory;
    dir = lab.dir;
    const up = await cli(['up', inventory, '--yes']);
    if (up.code !== 0) throw new Error(`the first up failed:\n${up.stdout}${up.stderr}`);
  });

  it('two concurrent ups: exactly one applies, the other stops naming the holder; plan says a run is in progress', async () => {
    const changed = withClientTimeout(31);
    const first = background(['up', changed, '--yes', '--playbook', slowPlaybook()]);
    expect(await waitFor(async () => (await lockOf(lb1)).includes('script_pid='))).toBe(true);
    const plan = await cli(['plan', changed]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`  ! a run is in progress on this host: controller `);
    const second = await cli(['up', changed, '--yes']);
    const firstResult = await first.done;
    expect(firstResult.code, firstResult.stdout + firstResult.stderr).toBe(0);
    expect(second.code, second.stdout + second.stderr).toBe(1);
    expect(second.stdout).toMatch(new RegExp(`${lb1}: cannot plan: a run is in progress on this host: controller \\S+ \\(pid ${first.child.pid}, user \\S+\\), run [0-9a-f]{8}, since `));
    expect(second.stdout).toContain('Aborted: some hosts could not be planned, so nothing was changed.');
    expect(await lockOf(lb1)).toBe(''); // released
    expect((await cli(['plan', changed])).code).toBe(0);
    // Both runs are in the controller's history: the refused one changed nothing, and says why.
    const [refused, applied] = (await history(dir)).slice(-2);
    expect([refused!.command, refused!.outcome]).toEqual(['up', 'aborted']);
    expect(refused!.hosts.find((h) => h.host === lb1)!.error).toMatch(/^a run is in progress on this host: controller /);
    expect([applied!.command, applied!.outcome, applied!.pid]).toEqual(['up', 'ok', first.child.pid]);
    inventory = changed;
  });

  it('an apply killed outright on a host leaves a stale lock: plan notes it, the next up takes it over and converges', async () => {
    const changed = withClientTimeout(32);
    const run = background(['up', changed, '--yes', '--playbook', slowPlaybook()]);
    expect(await waitFor(async () => (await lockOf(lb1)).includes('script_pid='))).toBe(true);
    const scriptPid = /^script_pid=(\d+)$/m.exec(await lockOf(lb1))![1]!;
    await sh(lb1, `kill -9 ${scriptPid}`);
    const killed = await run.done;
    expect(killed.code).toBe(1);
    const plan = await cli(['plan', changed, '--limit', lb1]);
    expect(plan.stdout).toMatch(/ {2}! a stale lock is left by controller \S+ \(pid \d+, user \S+\), run [0-9a-f]{8}, since \S+ \(its run ended without releasing it\)/);
    const up = await cli(['up', changed, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`${lb1}: took over a stale lock: the run of controller \\S+ \\(pid ${run.child.pid}, `));
    expect(await sh(lb1, 'ls -a /etc/haproxy /etc/keepalived')).not.toContain('ha-provision-new');
    expect((await cli(['plan', changed])).code).toBe(0);
    inventory = changed;
  });

  // Once a host has received its apply script it finishes it, whoever goes away: every file ends up as
  // the new version, loaded, never half of a change.
  it('the controller killed mid-apply: the hosts finish on their own, and plan then finds them in sync', async () => {
    const changed = withClientTimeout(34);
    const before = await sh(lb1, 'sha256sum < /etc/haproxy/haproxy.cfg');
    const run = background(['up', changed, '--yes', '--playbook', slowPlaybook()]);
    expect(await waitFor(async () => (await lockOf(lb1)).includes('script_pid=') && (await lockOf(lb2)).includes('script_pid='))).toBe(true);
    run.child.kill('SIGKILL');
    await run.done;
    expect(await waitFor(async () => (await lockOf(lb1)) === '' && (await lockOf(lb2)) === '')).toBe(true); // they finished
    for (const lb of [lb1, lb2]) {
      expect(await sh(lb, 'sha256sum < /etc/haproxy/haproxy.cfg')).not.toBe(before);
      expect(await sh(lb, 'cat /etc/haproxy/haproxy.cfg')).toContain('timeout client 34s');
      expect(await sh(lb, 'ls -A /var/lib/ha-provision/pending; ls -a /etc/haproxy /etc/keepalived')).not.toMatch(/^haproxy$|ha-provision-new/m);
    }
    const plan = await cli(['plan', changed]);
    expect(plan.code, plan.stdout).toBe(0);
    await expectOneStableHolder(NAME, [lb1, lb2], VIP, 3_000);
    inventory = changed;
  });

  it('Ctrl-C mid-apply: the run exits 130 and its record says interrupted, the lbs it was applying to unknown; they finish', async () => {
    const changed = withClientTimeout(33);
    const run = background(['up', changed, '--yes', '--playbook', slowPlaybook()]);
    expect(await waitFor(async () => (await lockOf(lb1)).includes('script_pid=') && (await lockOf(lb2)).includes('script_pid='))).toBe(true);
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(130);
    const interrupted = (await history(changed)).at(-1)!;
    expect([interrupted.command, interrupted.outcome, interrupted.pid]).toEqual(['up', 'interrupted', run.child.pid]);
    expect(interrupted.hosts.filter((h) => h.status === 'unknown').map((h) => h.host).sort()).toEqual([lb1, lb2]);
    expect(await waitFor(async () => (await lockOf(lb1)) === '' && (await lockOf(lb2)) === '')).toBe(true);
    expect((await cli(['plan', changed])).code).toBe(0);
    inventory = changed;
  });

  it('the link cut during apply: that host is reported lost within the keepalive window, it finishes, and a re-run converges', async () => {
    const changed = withClientTimeout(35);
    writeFileSync(changed, readFileSync(changed, 'utf8').replace(/^ssh:\n/m, 'ssh:\n  keepaliveInterval: 2s\n'));
    const run = background(['up', changed, '--yes', '--playbook', slowPlaybook()]);
    expect(await waitFor(async () => (await lockOf(lb2)).includes('script_pid='))).toBe(true);
    await labPartition(NAME, lb2);
    const cut = Date.now();
    let result: CliResult;
    try {
      result = await run.done;
      const reportedAfter = Date.now() - cut;
      process.stderr.write(`[${NAME}] link cut: the run ended ${(reportedAfter / 1000).toFixed(1)} s after the cut\n`);
      expect(reportedAfter).toBeLessThan(30_000); // 3 keepalives of 2 s, the settle wait, and slack
    } finally {
      await labHeal(NAME, lb2);
    }
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`${lb2}: .*(connection was lost|while applying).*later steps may have run`));
    const failed = (await history(dir)).at(-1)!;
    expect([failed.command, failed.outcome, failed.pid]).toEqual(['up', 'failed', run.child.pid]);
    expect(failed.hosts.find((h) => h.host === lb2)).toMatchObject({ status: 'failed', error: expect.stringMatching(/later steps may have run/) });
    expect(result.stdout).toMatch(new RegExp(`${lb1}\\s+changed`));
    // The host finished the script it had: the new file, loaded (no pending marker), nothing staged.
    expect(await waitFor(async () => (await lockOf(lb2)) === '')).toBe(true);
    expect(await sh(lb2, 'cat /etc/haproxy/haproxy.cfg')).toContain('timeout client 35s');
    expect(await sh(lb2, 'ls -A /var/lib/ha-provision/pending; ls -a /etc/haproxy')).not.toMatch(/^haproxy$|ha-provision-new/m);
    const up = await cli(['up', changed, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect((await cli(['plan', changed])).code).toBe(0);
    inventory = changed;
  });

  // The reload is checked, not trusted: haproxy's master keeps its old workers when the new config
  // cannot bind, stays "active", and says so only in its log.
  it('a config that passes haproxy -c but cannot bind is restored on that lb, and the VIP serves throughout', async () => {
    const templates = join(dir, 'extra-frontend');
    mkdirSync(join(templates, 'haproxy'), { recursive: true });
    const good = readFileSync(join(PROJECT_ROOT, 'templates/haproxy/haproxy.cfg.hbs'), 'utf8');
    writeFileSync(join(templates, 'haproxy/haproxy.cfg.hbs'), `${good}\nfrontend extra\n    bind *:7443\n    default_backend apiserver\n`);
    // Another process holds 7443 on lb-2 only.
    await sh(lb2, `nohup python3 -c 'import socket, time; s = socket.socket(); s.bind(("0.0.0.0", 7443)); s.listen(); time.sleep(300)' >/dev/null 2>&1 & echo $! > /run/test-occupier.pid`);
    const before = await sh(lb2, 'sha256sum /etc/haproxy/haproxy.cfg');
    const requests = startProbe({ address: VIP, port: 6443, path: '/healthz' }, 10, 3_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const up = await cli(['up', inventory, '--yes', '--templates', templates]);
    await new Promise((r) => setTimeout(r, 1_000));
    const seen = await requests.stop();
    process.stderr.write(`[${NAME}] port clash: ${seen.sent} requests through the VIP, ${seen.failed} failed\n`);
    try {
      expect(up.code).toBe(1);
      expect(up.stdout).toContain(`${lb2}: haproxy did not load its new config (step "reload haproxy"):`);
      expect(up.stdout).toMatch(/\[ALERT\].*Binding \[\/etc\/haproxy\/haproxy\.cfg:\d+\] for frontend extra: cannot bind socket \(Address already in use\) for \[0\.0\.0\.0:7443\]/);
      expect(up.stdout).toContain('Restored the previous /etc/haproxy/haproxy.cfg and reloaded haproxy: the host runs its previous config again.');
      expect(await sh(lb2, 'sha256sum /etc/haproxy/haproxy.cfg')).toBe(before);
      expect(await sh(lb2, 'ss -ltn')).toMatch(/:6443\s/);
      expect(seen.sent).toBeGreaterThanOrEqual(30);
      expect(seen.failures).toEqual([]);
      const plan = await cli(['plan', inventory, '--templates', templates, '--limit', lb2]);
      expect(plan.stdout).toContain('~ update /etc/haproxy/haproxy.cfg'); // still to do, once the port is free
    } finally {
      await sh(lb2, 'kill $(cat /run/test-occupier.pid); rm -f /run/test-occupier.pid');
    }
    expect((await cli(['up', inventory, '--yes'])).code).toBe(0);
    await expectOneStableHolder(NAME, [lb1, lb2], VIP, 3_000);
  });

  it('rollback --to N after two changes: every lb back on version N, plan shows exactly the diff to the inventory, and history names each run', async () => {
    const first = withClientTimeout(36);
    const second = withClientTimeout(37);
    const own = join(dir, 'rollback-history', 'runs.jsonl'); // these three runs only
    expect((await cli(['up', first, '--yes', '--history', own])).code).toBe(0);
    expect((await cli(['up', second, '--yes', '--history', own])).code).toBe(0);
    // What was applied when, per host: one run is one number on every host it changed.
    const listing = await cli(['rollback', second, '--dry-run']);
    expect(listing.stdout).toContain('versions on this host (newest last):');
    const versionsOf = (host: string): number[] => {
      const block = listing.stdout.split(/\n\n/).find((b) => b.startsWith(`${host}:`)) ?? '';
      return [...block.matchAll(/^ {4}(\d+) {2}run [0-9a-f]{8} by \S+ from controller \S+ at \S+: /gm)].map((m) => Number(m[1]));
    };
    const [firstChange, secondChange] = versionsOf(lb1).slice(-2);
    expect(versionsOf(lb2).slice(-2)).toEqual([firstChange, secondChange]);
    expect(listing.code).toBe(2); // the previous version differs from what runs: a plan, nothing applied

    const back = await cli(['rollback', second, '--to', String(firstChange), '--yes', '--history', own]);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    for (const lb of [lb1, lb2]) expect(await sh(lb, 'cat /etc/haproxy/haproxy.cfg')).toContain('timeout client 36s');
    const plan = await cli(['plan', second, '--json', '--limit', `${lb1},${lb2}`]);
    expect(plan.code).toBe(2);
    for (const host of JSON.parse(plan.stdout).hosts as { changes: { summary: string; diff?: string }[] }[]) {
      expect(host.changes.map((c) => c.summary)).toEqual(['update /etc/haproxy/haproxy.cfg', 'reload haproxy (/etc/haproxy/haproxy.cfg changed)']);
      expect(host.changes[0]!.diff!.split('\n').filter((l) => /^[+-](?![+-]{2})/.test(l))).toEqual(['-    timeout client 36s', '+    timeout client 37s']);
    }

    // The history, as a user reads it: one line per run, in order, each with its outcome.
    const runs = await cli(['history'], { env: { HA_PROVISION_HISTORY: own } });
    expect(runs.code, runs.stderr).toBe(0);
    const rows = runs.stdout.trim().split('\n').slice(1);
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.match(/^(\d+) .* (ok|failed) .* (up|rollback) /)?.slice(1))).toEqual([['1', 'ok', 'up'], ['2', 'ok', 'up'], ['3', 'ok', 'rollback']]);
    expect(rows[1]).toContain(`2 changed, 2 in sync: version ${secondChange}`);
    expect(rows[2]).toContain(`back to ${firstChange}`);
    const records = await history('--history', own);
    expect(records.map((r) => [r.command, r.outcome, r.version])).toEqual([['up', 'ok', firstChange], ['up', 'ok', secondChange], ['rollback', 'ok', secondChange! + 1]]);
    const shown = await cli(['history', 'show', '3', '--history', own]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`Run 3: rollback, ok`);
    expect(shown.stdout).toMatch(new RegExp(`^  rolled back to version ${firstChange}: .*${lb1}, ${lb2}`, 'm'));
    expect(shown.stdout).toContain(`${lb1}: changed, 2 changes (version ${secondChange} → ${secondChange! + 1}; put back as version ${firstChange} had it)`);
    expect(shown.stdout).toContain('+    timeout client 36s');
    // No record holds the keepalived password: not this file, nor the one next to the inventories, whose
    // first run created keepalived.conf (its diff shows the auth_pass line, masked).
    const authPass = /authPass: (\S+)/.exec(readFileSync(labInventory, 'utf8'))![1]!;
    const besideInventory = readFileSync(join(dir, '.ha-provision', 'history.jsonl'), 'utf8');
    expect(besideInventory).toContain('auth_pass ********');
    for (const raw of [readFileSync(own, 'utf8'), besideInventory]) expect(raw).not.toContain(authPass);

    expect((await cli(['up', second, '--yes'])).code).toBe(0);
    inventory = second;
  });

  // Targets that refuse: each gives a clear error and changes nothing (or, for one session at a time,
  // simply works: a run never opens two sessions on a host).
  it('a refusing target: one SSH session at a time works; a read-only or full /etc/haproxy, or a missing haproxy, change nothing and say why', async () => {
    const changed = withClientTimeout(38);
    await sh(lb1, "printf 'MaxSessions 1\\n' > /etc/ssh/sshd_config.d/90-test-sessions.conf && systemctl reload ssh");
    try {
      const up = await cli(['up', changed, '--yes', '--limit', lb1]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    } finally {
      await sh(lb1, 'rm -f /etc/ssh/sshd_config.d/90-test-sessions.conf && systemctl reload ssh');
    }
    const next = withClientTimeout(39);
    const cases: [string, string, string, RegExp][] = [
      ['read-only', 'mount --bind /etc/haproxy /etc/haproxy && mount -o remount,bind,ro /etc/haproxy', 'umount /etc/haproxy', /step "upload \/etc\/haproxy\/haproxy\.cfg" failed; nothing after it ran:[\s\S]*Read-only file system/],
      [
        'full',
        // A small tmpfs with everything of /etc/haproxy copied in first, then filled to the last byte.
        'cp -a /etc/haproxy /run/haproxy-saved && mount -t tmpfs -o size=1m tmpfs /etc/haproxy && cp -a /run/haproxy-saved/. /etc/haproxy/ && { dd if=/dev/zero of=/etc/haproxy/filler bs=1k count=4096 2>/dev/null; true; }',
        'umount /etc/haproxy && rm -rf /run/haproxy-saved',
        /step "upload \/etc\/haproxy\/haproxy\.cfg" failed; nothing after it ran:[\s\S]*No space left on device/,
      ],
      ['haproxy missing', 'mv /usr/sbin/haproxy /usr/sbin/haproxy.away', 'mv /usr/sbin/haproxy.away /usr/sbin/haproxy', /step "validate \/etc\/haproxy\/haproxy\.cfg" failed; nothing after it ran:[\s\S]*haproxy: not found/],
    ];
    for (const [what, breakIt, mendIt, message] of cases) {
      const before = await sh(lb2, 'sha256sum /etc/haproxy/haproxy.cfg');
      await sh(lb2, breakIt);
      try {
        const up = await cli(['up', next, '--yes', '--limit', `${lb1},${lb2}`]);
        expect(up.code, what).toBe(1);
        expect(up.stdout, what).toMatch(message);
        expect(await sh(lb2, 'sha256sum /etc/haproxy/haproxy.cfg'), what).toBe(before);
        expect(await sh(lb2, 'ls -a /etc/haproxy'), what).not.toContain('ha-provision-new');
      } finally {
        await sh(lb2, mendIt);
      }
    }
    expect((await cli(['up', next, '--yes'])).code).toBe(0);
    inventory = next;
  });
});
