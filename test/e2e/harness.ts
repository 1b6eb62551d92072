// Shared helpers for e2e tests against the lab fleet (real hosts: systemd-nspawn containers).
//
//   labSuite('…', () => {
//     beforeAll(async () => { lab = await startTestLab({ name: 'e2efoo', subnet: '10.213.53.0/24' }); });
//     it(…);
//   });
//
// Each test file uses its own lab name and subnet; the lab is torn down after the suite, pass or fail.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { labDown, labExec, labUp, type LabHostStatus } from '../../src/lab/index.js';
import { PROJECT_ROOT } from '../../src/playbook/playbook.js';
import { builtCli } from '../fixtures/built.js';

export { PROJECT_ROOT };

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
let skipNoted = false;

/**
 * Whether lab tests run here. In CI (CI=true) they always run: without root that is an error, never a
 * skip. Elsewhere they are skipped, with one line saying why, when not root on Linux.
 */
export function requireLab(): boolean {
  if (isRoot) return true;
  if (process.env.CI === 'true') {
    throw new Error('lab e2e tests must run in CI but need root on Linux (systemd-nspawn, overlay mounts, a bridge): run the tests as root');
  }
  if (!skipNoted) {
    skipNoted = true;
    process.stderr.write('lab e2e tests skipped: they need root on Linux (run them as root, or with CI=true to make this an error)\n');
  }
  return false;
}

/** describe() that runs only where the lab can run (see requireLab); in CI without root it fails loudly. */
export function labSuite(title: string, fn: () => void): void {
  let run: boolean;
  try {
    run = requireLab();
  } catch (error) {
    const message = (error as Error).message;
    describe(title, () => {
      it('needs root for the lab', () => {
        throw new Error(message);
      });
    });
    return;
  }
  describe.skipIf(!run)(title, fn);
}

export interface TestLab {
  readonly name: string;
  readonly subnet: string;
  readonly inventoryFile: string;
  readonly caFile: string; // the lab CA, which signs the servers' certificate
  readonly hosts: LabHostStatus[];
  readonly dir: string; // a temp dir for the test's own files; removed after the suite
}

export interface TestLabOptions {
  readonly name: string;
  readonly subnet: string;
  readonly lbs?: number; // default 2
  readonly servers?: number; // default 3
}

/** Labs this test file started (name → temp dir). */
const started = new Map<string, string>();

// Registered while the test file imports this module, i.e. on the file's root suite: it runs after
// every test of the file, also when tests or hooks failed. (afterAll called from inside a beforeAll
// would register nowhere, so startTestLab cannot register its own.)
afterAll(async () => {
  const errors: unknown[] = [];
  for (const [name, dir] of started) {
    try {
      await labDown(name);
    } catch (error) {
      errors.push(error);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      started.delete(name);
    }
  }
  if (errors.length > 0) throw errors[0];
});

/**
 * Boots a fresh lab (any earlier lab of that name is removed first) with its inventory in a temp dir,
 * and tears it down after the test file (pass or fail) — call it from beforeAll inside a labSuite.
 */
export async function startTestLab(opts: TestLabOptions): Promise<TestLab>;
export async function startTestLab(name: string, subnet: string, opts?: Omit<TestLabOptions, 'name' | 'subnet'>): Promise<TestLab>;
export async function startTestLab(a: TestLabOptions | string, subnet?: string, more?: Omit<TestLabOptions, 'name' | 'subnet'>): Promise<TestLab> {
  const opts: TestLabOptions = typeof a === 'string' ? { name: a, subnet: subnet!, ...more } : a;
  const dir = mkdtempSync(join(tmpdir(), `ha-e2e-${opts.name}-`));
  started.set(opts.name, dir); // torn down by the file-level afterAll below, pass or fail
  await labDown(opts.name); // leftovers of an earlier, interrupted run: start from fresh hosts
  const log = process.env.CI === 'true' ? (line: string) => process.stderr.write(`[lab ${opts.name}] ${line}\n`) : undefined;
  const { inventoryFile, caFile, hosts } = await labUp(
    { name: opts.name, subnet: opts.subnet, lbs: opts.lbs ?? 2, servers: opts.servers ?? 3, inventoryFile: join(dir, `${opts.name}.yaml`) },
    log,
  );
  return { name: opts.name, subnet: opts.subnet, inventoryFile, caFile, hosts, dir };
}

// ---- running the CLI ----

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ha-provision ARGS…` as a user would (node dist/cli/ha-provision.mjs, package.json's bin), bounded in time. */
export function cli(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const main = builtCli();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [main, ...args], { cwd: opts.cwd ?? PROJECT_ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 150_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** GET over HTTPS without verifying the certificate (like `curl -k`); rejects on connection errors. */
export function httpsGet(url: string, opts: { timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { method: 'GET', rejectUnauthorized: false, agent: false, timeout: opts.timeoutMs ?? 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * What a user checks of a VIP: `service` stopped on the holder (lbs[0]) moves the VIP to lbs[1], which
 * serves `url`; `up` then starts it again and the VIP comes back to lbs[0]. Returns up's result.
 */
export async function expectFailoverAndBack(lab: string, lbs: readonly string[], vip: string, service: string, inventory: string): Promise<CliResult> {
  await onHost(lab, lbs[0]!, `systemctl stop ${service}`);
  if (!(await waitFor(async () => (await vipHolders(lab, lbs, vip)).join() === lbs[1]))) throw new Error(`${service} stopped on ${lbs[0]}: the VIP did not move to ${lbs[1]}`);
  const serves = await waitFor(async () => (await httpsGet(`https://${vip}:6443/healthz`).catch(() => ({ body: '' }))).body === 'ok', 10_000);
  if (!serves) throw new Error(`the VIP on ${lbs[1]} does not serve /healthz`);
  const up = await cli(['up', inventory, '--yes']);
  if (up.code !== 0) throw new Error(`up after the failover: exit ${up.code}\n${up.stdout}${up.stderr}`);
  // up returns once haproxy runs again; keepalived's track script then needs its rise interval before
  // lbs[0] preempts, so the VIP is given time to come back before it must stay put.
  if (!(await waitFor(async () => (await vipHolders(lab, lbs, vip)).join() === lbs[0], 15_000))) throw new Error(`the VIP did not come back to ${lbs[0]}`);
  if ((await expectOneStableHolder(lab, lbs, vip, 3_000)) !== lbs[0]) throw new Error(`the VIP did not stay on ${lbs[0]}`);
  return up;
}

/** Polls `what` every `everyMs` until it holds (true) or `ms` pass (false). */
export async function waitFor(what: () => Promise<boolean>, ms = 30_000, everyMs = 100): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, everyMs))) if (await what()) return true;
  return false;
}

/** Runs a shell script on a lab host (no SSH); its stdout, or an error naming the host and the exit. */
export async function onHost(lab: string, node: string, script: string): Promise<string> {
  const r = await labExec(lab, node, ['sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Which of these lbs hold the VIP now (read on each host, as `ip addr` shows it). */
export async function vipHolders(lab: string, lbs: readonly string[], vip: string): Promise<string[]> {
  const held = await Promise.all(lbs.map(async (lb) => (await onHost(lab, lb, 'ip -o -4 addr show')).includes(`inet ${vip}/`)));
  return lbs.filter((_, i) => held[i]);
}

/**
 * What a user checks after a change: exactly one lb holds the VIP, the same one, for `ms` (sampled
 * every 500 ms), and the API answers through it. Returns the holder.
 */
export async function expectOneStableHolder(lab: string, lbs: readonly string[], vip: string, ms = 10_000): Promise<string> {
  const samples: string[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
    samples.push((await vipHolders(lab, lbs, vip)).join(',') || '(none)');
  }
  const distinct = [...new Set(samples)];
  if (distinct.length !== 1 || distinct[0]!.includes(',') || distinct[0] === '(none)') {
    throw new Error(`the VIP was not held by exactly one lb for ${ms / 1000} s: ${samples.join(' ')}`);
  }
  const answer = await httpsGet(`https://${vip}:6443/healthz`);
  if (answer.status !== 200 || answer.body !== 'ok') throw new Error(`through the VIP: ${answer.status} ${answer.body}`);
  return distinct[0]!;
}
