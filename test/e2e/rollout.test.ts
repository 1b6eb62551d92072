// Rolling updates against real haproxy and keepalived, with 20 HTTPS requests a second through the VIP,
// each on a new connection, and a watch-like stream held open through it. What a user checks: not one
// request fails, the stream survives a reload, the VIP holder changes last, and a rollout that cannot go
// on stops between hosts with the VIP still serving.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { labHeal, labPartition } from '../../src/lab/index.js';
import { labPackageVersions } from '../../src/lab/image.js';
import { PROJECT_ROOT } from '../../src/playbook/playbook.js';
import { startProbe, type Probe } from '../../src/verify/probe.js';
import { builtCli } from '../fixtures/built.js';
import { cli, expectOneStableHolder, labSuite, onHost, startTestLab, vipHolders, type CliResult } from './harness.js';

const NAME = 'e2eroll';
const SUBNET = '10.213.56.0/24';
const VIP = '10.213.56.100';
const [lb1, lb2, server3] = [`${NAME}-lb-1`, `${NAME}-lb-2`, `${NAME}-server-3`];
const LBS = [lb1, lb2];

let dir = '';
let labInventory = '';
let versions: string[] = [];

interface Edit {
  readonly file: string;
  readonly servers3?: boolean; // include server-3
  readonly haproxyVersion?: string;
  readonly clientTimeout?: number;
  readonly authPass?: string;
}
/** The lab inventory, edited as a user would edit theirs. */
function inventory(edit: Edit): string {
  let text = readFileSync(labInventory, 'utf8');
  if (!edit.servers3) text = text.replace(new RegExp(`^  ${server3}:.*\\n`, 'm'), '');
  if (edit.clientTimeout) text = text.replace(/^cluster:\n/m, `cluster:\n  haproxy: { timeouts: { client: ${edit.clientTimeout}s } }\n`);
  if (edit.authPass) text = text.replace(/authPass: \S+/, `authPass: ${edit.authPass}`);
  text += `packages:\n  haproxy: "${edit.haproxyVersion ?? versions[0]}"\n`;
  const file = join(dir, edit.file);
  writeFileSync(file, text);
  return file;
}

/**
 * Flags for the built-in playbook plus haproxy's LimitNOFILE as a systemd drop-in (it takes effect only
 * on a restart), with templates of their own: the drop-in's, and haproxy.cfg's with `haproxyExtra` added.
 */
function withDropIn(limit: number, haproxyExtra = ''): string[] {
  const templates = join(dir, `templates-${limit}${haproxyExtra ? '-extra' : ''}`);
  mkdirSync(join(templates, 'system'), { recursive: true });
  mkdirSync(join(templates, 'haproxy'), { recursive: true });
  writeFileSync(join(templates, 'system', 'haproxy-limits.conf.hbs'), `[Service]\nLimitNOFILE=${limit}\n`);
  writeFileSync(join(templates, 'haproxy', 'haproxy.cfg.hbs'), `${readFileSync(join(PROJECT_ROOT, 'templates/haproxy/haproxy.cfg.hbs'), 'utf8')}${haproxyExtra}`);
  const playbook = readFileSync(join(PROJECT_ROOT, 'playbooks/haproxy-keepalived.yaml'), 'utf8')
    .replace('  - name: haproxy running', '  - name: haproxy limits\n    on: lb\n    file: { path: /etc/systemd/system/haproxy.service.d/limits.conf, template: system/haproxy-limits.conf.hbs, mode: "0644", daemonReload: true }\n\n  - name: haproxy running')
    .replace('      reloadOn: [/etc/haproxy/haproxy.cfg]', '      reloadOn: [/etc/haproxy/haproxy.cfg]\n      restartOn: [/etc/systemd/system/haproxy.service.d/limits.conf]');
  writeFileSync(join(templates, 'playbook.yaml'), playbook);
  return ['--playbook', join(templates, 'playbook.yaml'), '--templates', templates];
}

/** A rollout (or any command) with the probe running from before it starts until 2 s after it ends. */
async function probed(args: string[]): Promise<{ result: CliResult; sent: number; failed: number; failures: string[]; failedAt: number[] }> {
  const probe: Probe = startProbe({ address: VIP, port: 6443, path: '/healthz' }, 20);
  await new Promise((r) => setTimeout(r, 1000));
  const result = await cli(args, { timeoutMs: 240_000 });
  await new Promise((r) => setTimeout(r, 2000));
  const stats = await probe.stop();
  process.stderr.write(`[${NAME}] ${expect.getState().currentTestName?.split(' > ').at(-1)}: ${args[0]}: ${stats.sent} requests sent through the VIP, ${stats.failed} failed\n`);
  return { result, sent: stats.sent, failed: stats.failed, failures: stats.failures.map((f) => `${new Date(f.atMs).toISOString()} ${f.error}`), failedAt: stats.failures.map((f) => f.atMs) };
}

/** A long-lived GET /watch through the VIP, like a kubelet's watch: counts lines, notes any break. */
function watch(): { lines: () => number; broken: () => string | undefined; close: () => void } {
  let lines = 0;
  let broken: string | undefined;
  const req = request({ host: VIP, port: 6443, path: '/watch', rejectUnauthorized: false, agent: false }, (res) => {
    res.on('data', (chunk: Buffer) => (lines += chunk.toString().split('\n').length - 1));
    res.on('end', () => (broken ??= 'the stream ended'));
    res.on('error', (e) => (broken ??= e.message));
  });
  req.on('error', (e) => (broken ??= e.message));
  req.end();
  return { lines: () => lines, broken: () => broken, close: () => req.destroy() };
}

/** Samples who holds the VIP (on both lbs, as `ip addr` shows it) every 200 ms until stopped. */
function sampleHolders(): { stop: () => Promise<string[][]> } {
  const samples: string[][] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(await vipHolders(NAME, LBS, VIP));
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return { stop: async () => ((running = false), await loop, samples) };
}

type Timeline = { at: string; host?: string; step: string; ok: boolean; detail: string }[];
const timelineOf = (result: CliResult): Timeline => (JSON.parse(result.stdout) as { timeline: Timeline }).timeline;

labSuite('rolling updates through a live VIP, against real hosts', () => {
  beforeAll(async () => {
    const lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 2, servers: 3 });
    [dir, labInventory] = [lab.dir, lab.inventoryFile];
    versions = (await labPackageVersions()).haproxy;
    const up = await cli(['up', inventory({ file: 'start.yaml' }), '--yes']);
    if (up.code !== 0) throw new Error(`the first up failed:\n${up.stdout}${up.stderr}`);
  });

  it('a reload-class rollout (a server added, haproxy timeouts, authPass rotated): no request fails and a watch stays open', async () => {
    const stream = watch();
    await new Promise((r) => setTimeout(r, 500));
    const file = inventory({ file: 'r1.yaml', servers3: true, clientTimeout: 50, authPass: 'r0tated1' });
    const holders = sampleHolders();
    const { result, sent, failed, failures } = await probed(['rollout', file, '--yes', '--json']);
    const samples = await holders.stop();
    process.stderr.write(`[${NAME}] authPass rotated: ${samples.length} samples of the VIP holders, ${samples.filter((h) => h.length > 1).length} with two holders, ${samples.filter((h) => h.length === 0).length} with none\n`);
    expect(samples.filter((h) => h.length !== 1)).toEqual([]); // never held twice, never dropped
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const timeline = timelineOf(result);
    // The server first; then both lbs in one step (auth_pass is shared), the BACKUP drained meanwhile.
    expect(timeline.filter((e) => e.step === 'apply').map((e) => e.host)).toEqual([server3, lb1, lb2]);
    expect(timeline.find((e) => e.step === 'drain')?.detail).toBe(`${lb2} out of service while the peers change together`);
    expect(failed, failures.join('\n')).toBe(0);
    expect(sent).toBeGreaterThanOrEqual(100);
    const linesAfter = stream.lines();
    await new Promise((r) => setTimeout(r, 1000));
    expect(stream.broken()).toBeUndefined();
    expect(stream.lines()).toBeGreaterThan(linesAfter); // still streaming, through the same connection
    stream.close();
    for (const lb of LBS) expect(await onHost(NAME, lb, 'cat /etc/haproxy/haproxy.cfg')).toContain(`server ${server3} `);
    expect((await cli(['plan', file])).code).toBe(0);
  });

  it('a pinned haproxy upgrade rolls BACKUP first, holder last, with no VIP move and no failed request', async () => {
    const file = inventory({ file: 'r2.yaml', servers3: true, clientTimeout: 50, authPass: 'r0tated1', haproxyVersion: versions.at(-1) });
    const plan = await cli(['rollout', file, '--dry-run']);
    expect(plan.stdout).toContain(`change haproxy ${versions[0]} → ${versions.at(-1)} (apt-get)`);
    expect(plan.stdout).toMatch(new RegExp(`1\\. BACKUP ${lb2}: change in place \\(reload; the VIP stays\\) — upgrading haproxy reloads haproxy\\n  2\\. VIP holder ${lb1}: `));
    const { result, failed, failures } = await probed(['rollout', file, '--yes', '--json']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(failed, failures.join('\n')).toBe(0);
    expect(timelineOf(result).filter((e) => e.step === 'apply').map((e) => e.host)).toEqual([lb2, lb1]);
    for (const lb of LBS) expect((await onHost(NAME, lb, "dpkg-query -W -f='${Version}' haproxy")).trim()).toBe(versions.at(-1));
  });

  // No request is refused: the holder restarts only after the VIP is confirmed on the BACKUP. What a VIP
  // move cannot spare (VRRP has no connection sync) is a request in flight at that instant: the new holder
  // resets it. So the only failures allowed are resets at the two planned moves, one or two each.
  it('a restart-class rollout (a LimitNOFILE drop-in): the holder goes last, after its drain moved the VIP; nothing is refused', async () => {
    const file = inventory({ file: 'r3.yaml', servers3: true, clientTimeout: 50, authPass: 'r0tated1', haproxyVersion: versions.at(-1) });
    const { result, failed, failures, failedAt } = await probed(['rollout', file, '--yes', '--json', ...withDropIn(200_000)]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const moves = timelineOf(result).filter((e) => e.host === lb1 && (e.step === 'drain' || e.step === 'undrain')).map((e) => Date.parse(e.at));
    expect(moves).toHaveLength(2);
    // Where the VIP moves, a request in flight is reset, or its SYN goes to the lb that just let the VIP go
    // and it times out: either, only at the two planned moves, and few.
    expect(failures.every((f) => f.endsWith('read ECONNRESET') || /no answer within \d+ ms$/.test(f)), failures.join('\n')).toBe(true);
    expect(failedAt.every((at) => moves.some((m) => at <= m && at >= m - 5_000)), failures.join('\n')).toBe(true);
    expect(failed, failures.join('\n')).toBeLessThanOrEqual(4);
    const steps = timelineOf(result).filter((e) => e.host === lb1 || e.host === lb2).map((e) => `${e.host} ${e.step}`);
    expect(steps).toEqual([`${lb2} drain`, `${lb2} apply`, `${lb2} check`, `${lb2} undrain`, `${lb1} drain`, `${lb1} apply`, `${lb1} check`, `${lb1} undrain`]);
    const drained = timelineOf(result).find((e) => e.host === lb1 && e.step === 'drain')!;
    expect(drained.detail).toMatch(new RegExp(`^the VIP moved to ${lb2} in [\\d.]+ s, confirmed through the VIP$`));
    expect(timelineOf(result).at(-1)?.detail).toMatch(new RegExp(`the VIP is back on ${lb1} after`));
    for (const lb of LBS) expect(await onHost(NAME, lb, 'systemctl show -p LimitNOFILE haproxy')).toBe('LimitNOFILE=200000\n');
    expect(await expectOneStableHolder(NAME, LBS, VIP, 3_000)).toBe(lb1);
    // For comparison only (the README quotes it): the same kind of change by a plain parallel up.
    const parallel = await probed(['up', file, '--yes', ...withDropIn(300_000)]);
    expect(parallel.result.code, parallel.result.stdout + parallel.result.stderr).toBe(0);
  });

  it('a change that passes haproxy -c but cannot bind stops the rollout at the first lb, which is restored; the VIP serves throughout', async () => {
    const clash = withDropIn(300_000, '\nfrontend clash\n    bind *:22\n    default_backend apiserver\n');
    const file = inventory({ file: 'r3.yaml', servers3: true, clientTimeout: 50, authPass: 'r0tated1', haproxyVersion: versions.at(-1) });
    const before = await onHost(NAME, lb2, 'sha256sum < /etc/haproxy/haproxy.cfg');
    const { result, failed, failures } = await probed(['rollout', file, '--yes', '--json', ...clash]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { stopped: { reason: string; detail: string }; hosts: { host: string; status: string }[] };
    expect(report.stopped).toEqual({ reason: 'failed', detail: `${lb2} failed; the rollout stops here` });
    expect(Object.fromEntries(report.hosts.map((h) => [h.host, h.status]))).toMatchObject({ [lb2]: 'failed', [lb1]: 'pending' });
    expect(await onHost(NAME, lb2, 'sha256sum < /etc/haproxy/haproxy.cfg')).toBe(before); // restored
    expect(await onHost(NAME, lb1, 'cat /etc/haproxy/haproxy.cfg')).not.toContain('frontend clash');
    expect(failed, failures.join('\n')).toBe(0);
    const text = await cli(['rollout', file, '--yes', ...clash]);
    expect(text.stdout).toContain(`Rollout stopped: ${lb2} failed; the rollout stops here\n  on the new config: `);
    expect(text.stdout).toMatch(new RegExp(`  still on the old config: ${lb1}, ${lb2} \\(${lb2} failed and was restored`));
  });

  it('an lb cut off mid-rollout stops it before that lb; the other keeps the VIP, failures last no longer than one failover', async () => {
    const file = inventory({ file: 'r5.yaml', servers3: true, clientTimeout: 55, authPass: 'r0tated1', haproxyVersion: versions.at(-1) });
    const probe = startProbe({ address: VIP, port: 6443, path: '/healthz' }, 20);
    const child = spawn(process.execPath, [builtCli(), 'rollout', file, '--yes', '--pause', '6', '--no-verify', ...withDropIn(300_000)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const done = new Promise<string>((resolve) => child.on('close', (code, signal) => resolve(signal ?? `exit ${code}`)));
    const bound = setTimeout(() => child.kill('SIGKILL'), 60_000); // the test must not outlive a hang
    // lb-2 (the BACKUP) changes first; during the pause after it, the holder is cut off.
    for (const end = Date.now() + 60_000; !/pause: /.test(stderr) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
    await labPartition(NAME, lb1);
    try {
      expect(await done).toBe('exit 1'); // on its own: a host cut off does not keep the CLI waiting
      expect(stdout).toMatch(new RegExp(`Rollout stopped: before VIP holder ${lb1}: ${lb1} could not be read within 10 s`));
      expect(stdout).toMatch(new RegExp(`  on the new config: [^\\n]*${lb2}`));
      const stats = await probe.stop();
      // Failures only while the VIP moved: no run of failed requests longer than one failover gap.
      const times = stats.failures.map((f) => f.atMs);
      const span = times.length ? Math.max(...times) - Math.min(...times) : 0;
      process.stderr.write(`[${NAME}] lb cut off: ${stats.sent} sent, ${stats.failed} failed over ${(span / 1000).toFixed(1)} s\n`);
      expect(span).toBeLessThan(6_000);
      expect((await onHost(NAME, lb2, 'ip -o -4 addr show')).includes(`inet ${VIP}/`)).toBe(true);
    } finally {
      clearTimeout(bound);
      await labHeal(NAME, lb1);
    }
  });

  it('a saved plan: refused after a hand edit on one lb, naming host and file; applied unchanged, it converges', async () => {
    await expectOneStableHolder(NAME, LBS, VIP, 3_000);
    const file = inventory({ file: 'r6.yaml', servers3: true, clientTimeout: 56, authPass: 'r0tated1', haproxyVersion: versions.at(-1) });
    const planFile = join(dir, 'change-4711.plan');
    expect((await cli(['plan', file, '--out', planFile, ...withDropIn(300_000)])).code).toBe(2);
    expect(readFileSync(planFile, 'utf8')).not.toContain('r0tated1');
    await onHost(NAME, lb2, "echo '# hand edit' >> /etc/haproxy/haproxy.cfg");
    const refused = await cli(['rollout', file, '--yes', '--plan', planFile, ...withDropIn(300_000)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${planFile}: the hosts are not as the saved plan saw them; nothing was changed:\n  ${lb2}: /etc/haproxy/haproxy.cfg changed on the host since the plan was saved`);
    await onHost(NAME, lb2, "sed -i '/^# hand edit$/d' /etc/haproxy/haproxy.cfg");
    const applied = await cli(['rollout', file, '--plan', planFile, ...withDropIn(300_000)]); // no --yes: the plan was approved
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect((await cli(['plan', file, ...withDropIn(300_000)])).code).toBe(0);
  });

  it('outside its maintenance window a rollout is refused with exit 4, naming the next start', async () => {
    const file = inventory({ file: 'r7.yaml', servers3: true, clientTimeout: 57, authPass: 'r0tated1', haproxyVersion: versions.at(-1) });
    const tomorrow = new Date(Date.now() + 24 * 3600_000).toLocaleDateString('en-US', { weekday: 'short', timeZone: 'UTC' });
    const result = await cli(['rollout', file, '--yes', '--window', `${tomorrow} 03:00-04:00`, '--tz', 'UTC', ...withDropIn(300_000)]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(new RegExp(`outside the maintenance window \\(${tomorrow} 03:00-04:00, UTC\\): the next one starts ${tomorrow} \\d{4}-\\d\\d-\\d\\d 03:00 UTC; nothing was changed`));
    expect((await cli(['plan', file, ...withDropIn(300_000)])).code).toBe(2); // still pending
  });
});
