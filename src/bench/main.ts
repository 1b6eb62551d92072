// `npm run bench -- --hosts 10,30`: for each fleet size (2 lbs + the rest servers, on a lab), medians of a
// first run on fresh hosts, a converged `up`, `plan` and `verify`, against two floors measured in the same
// rounds: bare ssh2 (one Node process, one connection and `true` per host: what this tool could cost at
// best) and OpenSSH (one `ssh HOST true` per host, in parallel). Rounds interleave the commands, since the
// machine is shared and noisy, in orders that change from round to round (order.ts). Writes JSON and a
// README table; exits 1 when up or plan exceeds --max-ratio times the ssh2 floor.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { labDown, labExec, labUp } from '../lab/index.js';
import { roundOrder, type Measurement } from './order.js';
import { formatSpread, hundredths, median, roundRatioSpread, type Spread } from './stats.js';
import { loadInventory } from '../inventory/load.js';
import { hasRole, type Inventory } from '../inventory/types.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT } from '../playbook/playbook.js';
import { factNeeds } from '../playbook/desired.js';
import { gatherScript } from '../facts/gather.js';
import { SshTransport } from '../transport/ssh.js';

const HELP = `Usage: npm run bench -- [--hosts N[,N…]] [--runs R] [--first-runs F] [--subnet CIDR] [--max-ratio X] [--out FILE] [--tcp-checks]

For each fleet size N (default 5: 2 lbs + N−2 servers) boots a lab "bench" and prints medians of: a first
\`up\` on fresh hosts (F labs, default 5), and R interleaved rounds (default 5) of a converged \`up\`,
\`plan\`, \`verify\`, the bare-ssh2 floor and the OpenSSH floor, in an order that changes each round (over
10 rounds each follows each other one twice: what ran just before a run slows it); the ratios to both
floors, and how far each round's own ratio to the ssh2 floor ranged (the noise a verdict stands in); SSH
execs per host; the CLI's peak RSS and RSS per host; the CPU time the facts exec takes on one lb. Writes
JSON to --out (default bench-results.json) and prints a README table. Exit 1 when converged up or plan is
above --max-ratio (default 1.3) times the ssh2 floor. --tcp-checks: haproxy checks servers by TCP,
not HTTPS (for big fleets on few cores, where the stand-ins' TLS checks load the machine). After each \`lab
up\` it waits (at most 3 minutes) for this machine's load to settle below 2 per core. Needs root (the lab);
tears the lab down at the end.`;

// The CLI as installed: the bundle (package.json's bin), not dist/cli/main.js.
const cli = join(PROJECT_ROOT, 'dist', 'cli', 'ha-provision.mjs');
const floorScript = join(PROJECT_ROOT, 'dist', 'bench', 'floor.js');
const rssModule = join(PROJECT_ROOT, 'dist', 'bench', 'rss.js');
const scratch = mkdtempSync(join(tmpdir(), 'ha-bench-'));

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ ms: number; code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      // --json puts the hosts' errors on stdout: say which, not only that it failed.
      const failed = (): string => {
        try {
          const report = JSON.parse(stdout) as { hosts?: { host: string; error?: string }[]; checks?: { name: string; ok: boolean; detail: string }[] };
          return [...(report.hosts ?? []).filter((h) => h.error).map((h) => `${h.host}: ${h.error}`), ...(report.checks ?? []).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`)].slice(0, 10).join('\n');
        } catch {
          return stdout.slice(-1000);
        }
      };
      if (code !== 0 && code !== 2) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}${failed()}`));
      else resolve({ ms, code: code ?? 0, stdout });
    });
  });
}

/**
 * Waits (at most 3 minutes) until this machine's 1-minute load is below 2 per core: hundreds of hosts
 * still starting their units right after `lab up` would be timed, not the tool (at a load of 100–250 on
 * 2 cores, SSH handshakes to the last hosts timed out).
 */
async function settled(log: (line: string) => void): Promise<void> {
  const started = Date.now();
  while (loadavg()[0]! > 2 * cpus().length && Date.now() - started < 180_000) await new Promise((r) => setTimeout(r, 5_000));
  if (Date.now() - started > 5_000) log(`waited ${Math.round((Date.now() - started) / 1000)} s for the load to settle (now ${loadavg()[0]!.toFixed(1)})`);
}

interface CliRun {
  readonly ms: number;
  readonly report: { hosts: { host: string; execs: number; changes: unknown[] }[]; phases?: { planMs: number; applyMs: number; verifyMs: number } };
  readonly rssKb: number;
}

let rssRuns = 0;
async function runCli(args: string[]): Promise<CliRun> {
  const rssFile = join(scratch, `rss-${rssRuns++}`);
  const r = await timed(process.execPath, ['--import', rssModule, cli, ...args, '--json'], { HA_PROVISION_RSS_FILE: rssFile });
  return { ms: r.ms, report: JSON.parse(r.stdout), rssKb: Number(readFileSync(rssFile, 'utf8')) };
}

/** OpenSSH: one `ssh HOST true` per host, all at once. */
async function opensshFloor(inventory: Inventory): Promise<number> {
  const start = process.hrtime.bigint();
  await Promise.all(inventory.hosts.map((h) =>
    timed('ssh', ['-i', h.ssh.identityFile ?? '', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${h.ssh.knownHostsFile}`, '-o', 'ControlMaster=no', `${h.ssh.user}@${h.address}`, 'true']),
  ));
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The lab's hosts as the ssh2 floor reads them. */
function floorSpec(inventory: Inventory): string {
  const file = join(scratch, 'floor.json');
  const key = inventory.hosts[0]!.ssh.identityFile ?? '';
  writeFileSync(file, JSON.stringify({ privateKey: key, hosts: inventory.hosts.map((h) => ({ host: h.ip, port: h.ssh.port, username: h.ssh.user })) }));
  return file;
}

/** CPU seconds (user + system, the shell and what it forks) of one facts exec on one lb, from sh's `times`. */
async function factsCpuSeconds(inventory: Inventory): Promise<number> {
  const playbook = await loadPlaybook(builtinPlaybook(inventory.cluster.topology, inventory.cluster.mode));
  const lb = inventory.hosts.find((h) => hasRole(h, 'lb'))!;
  const transport = await SshTransport.open(lb);
  try {
    const r = await transport.exec(`${gatherScript(factNeeds(playbook, inventory, lb))}times\n`);
    const tail = r.stdout.trim().split('\n').slice(-2).join(' ');
    const seconds = [...tail.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m = '0', s = '0']) => Number(m) * 60 + Number(s));
    return seconds.reduce((a, b) => a + b, 0);
  } finally {
    transport.close();
  }
}

/** Where a first run's time went on the lbs: apt's own run (its history log) and the VRRP election (keepalived's journal). */
interface FirstRunBreakdown {
  readonly planMs: number;
  readonly applyMs: number;
  readonly verifyMs: number;
  readonly aptSeconds: number; // the longest apt run on an lb (the lbs install in parallel); 1 s resolution
  readonly electionSeconds: number; // keepalived's start to MASTER on the lb that took the VIP
}

// One shell per lb: apt's Start/End dates (history.log) as epoch seconds, then keepalived's start and MASTER lines.
const FIRST_RUN_READ = [
  'sed -n "s/^\\(Start\\|End\\)-Date: //p" /var/log/apt/history.log 2>/dev/null | while read -r d; do date -d "$d" +%s; done | paste -sd" "',
  'journalctl -u keepalived -o short-unix --no-pager 2>/dev/null | grep -m1 "Starting keepalived" | cut -d" " -f1',
  'journalctl -u keepalived -o short-unix --no-pager 2>/dev/null | grep -m1 "Entering MASTER STATE" | cut -d" " -f1',
].join('; ');

async function firstRunBreakdown(lab: string, report: CliRun['report']): Promise<FirstRunBreakdown> {
  const lbs = report.hosts.map((h) => h.host).filter((h) => /-lb-\d+$/.test(h));
  const read = await Promise.all(lbs.map(async (lb) => (await labExec(lab, lb, ['sh', '-c', FIRST_RUN_READ])).stdout.split('\n')));
  let apt = 0;
  let election = NaN;
  for (const [dates = '', started = '', master = ''] of read) {
    const t = dates.trim().split(' ').filter(Boolean).map(Number);
    for (let i = 0; i + 1 < t.length; i += 2) apt = Math.max(apt, t[i + 1]! - t[i]!);
    if (started && master) election = Number(master) - Number(started);
  }
  const phases = report.phases ?? { planMs: NaN, applyMs: NaN, verifyMs: NaN };
  return { planMs: phases.planMs, applyMs: phases.applyMs, verifyMs: phases.verifyMs, aptSeconds: apt, electionSeconds: hundredths(election) };
}

interface FleetResult {
  readonly hosts: number;
  readonly firstRun: number;
  readonly firstRunBreakdown: FirstRunBreakdown; // medians
  readonly up: number;
  readonly plan: number;
  readonly verify: number;
  readonly ssh2Floor: number;
  readonly opensshFloor: number;
  readonly ratios: { readonly up: number; readonly plan: number; readonly verify: number; readonly upToOpenssh: number };
  /** Each round's own ratio to the ssh2 floor of that round: how far the ratios above move with the noise. */
  readonly roundRatios: { readonly up: Spread; readonly plan: Spread };
  readonly execsPerHost: { readonly up: number; readonly verify: number };
  readonly peakRssMiB: number;
  readonly rssPerHostKiB: number;
  readonly factsCpuSeconds: number;
  readonly runs: number;
  readonly firstRuns: number;
}

/**
 * `tcpChecks`: haproxy checks the servers by TCP instead of HTTPS /healthz. At 200 hosts on 2 cores, two
 * lbs' TLS checks of 198 stand-ins every 3 s are load enough to starve keepalived's adverts (both lbs took
 * the VIP) and delay first contacts past the probes' 2 s.
 */
async function benchFleet(total: number, runs: number, firstRuns: number, subnet: string, log: (line: string) => void, tcpChecks = false): Promise<FleetResult> {
  const lab = { name: 'bench', lbs: 2, servers: total - 2, subnet, inventoryFile: join(scratch, `bench-${total}.yaml`) };
  const first: number[] = [];
  const breakdowns: FirstRunBreakdown[] = [];
  const series = { up: [] as number[], plan: [] as number[], verify: [] as number[], ssh2: [] as number[], openssh: [] as number[] };
  let peakRss = 0;
  let execs = { up: 0, verify: 0 };
  let factsCpu = NaN;
  try {
    for (let i = 0; i < firstRuns; i += 1) {
      await labDown(lab.name).catch(() => undefined);
      await labUp(lab, (line) => { if (/ready in|sysctl/.test(line)) log(line); });
      await settled(log);
      if (tcpChecks) writeFileSync(lab.inventoryFile, readFileSync(lab.inventoryFile, 'utf8').replace(/^ {2}healthCheck: .*\n/m, ''));
      const r = await runCli(['up', lab.inventoryFile, '--yes']);
      first.push(r.ms);
      const b = await firstRunBreakdown(lab.name, r.report);
      breakdowns.push(b);
      peakRss = Math.max(peakRss, r.rssKb);
      log(`${total} hosts: first run ${i + 1}/${firstRuns}: ${(r.ms / 1000).toFixed(2)} s (plan ${(b.planMs / 1000).toFixed(2)} s, apply ${(b.applyMs / 1000).toFixed(2)} s of which apt ${b.aptSeconds} s, verify ${(b.verifyMs / 1000).toFixed(2)} s; VRRP election ${b.electionSeconds} s)`);
    }
    const inventory = await loadInventory(lab.inventoryFile);
    const spec = floorSpec(inventory);
    for (let i = 0; i < runs; i += 1) {
      const cli: Partial<Record<Measurement, CliRun>> = {};
      let ssh2 = { ms: NaN };
      let openssh = NaN;
      const order = roundOrder(i);
      for (const m of order) {
        if (m === 'ssh2') ssh2 = await timed(process.execPath, [floorScript, spec]);
        else if (m === 'openssh') openssh = await opensshFloor(inventory);
        else cli[m] = await runCli(m === 'up' ? ['up', lab.inventoryFile, '--yes'] : [m, lab.inventoryFile]);
      }
      const { up, plan, verify } = cli as Record<'up' | 'plan' | 'verify', CliRun>;
      const changes = up.report.hosts.reduce((n, h) => n + h.changes.length, 0);
      if (changes !== 0) throw new Error(`converged run was not converged: ${changes} changes`);
      series.up.push(up.ms);
      series.plan.push(plan.ms);
      series.verify.push(verify.ms);
      series.ssh2.push(ssh2.ms);
      series.openssh.push(openssh);
      peakRss = Math.max(peakRss, up.rssKb, plan.rssKb, verify.rssKb);
      const perHost = (r: CliRun): number => Math.max(...r.report.hosts.map((h) => h.execs));
      execs = { up: Math.max(execs.up, perHost(up)), verify: Math.max(execs.verify, perHost(verify)) };
      log(`${total} hosts: round ${i + 1}/${runs} (${order.join(', ')}): up ${(up.ms / 1000).toFixed(2)} s, plan ${(plan.ms / 1000).toFixed(2)} s, verify ${(verify.ms / 1000).toFixed(2)} s, ssh2 floor ${(ssh2.ms / 1000).toFixed(2)} s, OpenSSH floor ${(openssh / 1000).toFixed(2)} s`);
    }
    factsCpu = await factsCpuSeconds(inventory);
  } finally {
    await labDown(lab.name).catch(() => undefined);
  }
  const roundRatios = { up: roundRatioSpread(series.up, series.ssh2), plan: roundRatioSpread(series.plan, series.ssh2) };
  log(`${total} hosts: per round, up / ssh2 floor ${formatSpread(roundRatios.up)}, plan / ssh2 floor ${formatSpread(roundRatios.plan)}`);
  const m = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, median(v)])) as Record<keyof typeof series, number>;
  const ratio = (x: number, floor: number): number => hundredths(x / floor);
  return {
    hosts: total,
    firstRun: median(first),
    firstRunBreakdown: {
      planMs: median(breakdowns.map((b) => b.planMs)),
      applyMs: median(breakdowns.map((b) => b.applyMs)),
      verifyMs: median(breakdowns.map((b) => b.verifyMs)),
      aptSeconds: median(breakdowns.map((b) => b.aptSeconds)),
      electionSeconds: median(breakdowns.map((b) => b.electionSeconds)),
    },
    up: m.up,
    plan: m.plan,
    verify: m.verify,
    ssh2Floor: m.ssh2,
    opensshFloor: m.openssh,
    ratios: { up: ratio(m.up, m.ssh2), plan: ratio(m.plan, m.ssh2), verify: ratio(m.verify, m.ssh2), upToOpenssh: ratio(m.up, m.openssh) },
    roundRatios,
    execsPerHost: execs,
    peakRssMiB: Number((peakRss / 1024).toFixed(1)),
    rssPerHostKiB: Math.round(peakRss / total),
    factsCpuSeconds: factsCpu,
    runs,
    firstRuns,
  };
}

function readmeTable(results: readonly FleetResult[], date: string): string {
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  return [
    `Measured ${date} on ${cpus().length} cores (\`npm run bench -- --hosts ${results.map((r) => r.hosts).join(',')}\`; medians, ratios to the bare-ssh2 floor):`,
    '',
    '| hosts | first run | converged up | plan | verify | ssh2 floor | OpenSSH floor | up / ssh2 | plan / ssh2 | execs per host (up, verify) | peak RSS | facts exec CPU (one lb) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) =>
      `| ${r.hosts} | ${s(r.firstRun)} | ${s(r.up)} | ${s(r.plan)} | ${s(r.verify)} | ${s(r.ssh2Floor)} | ${s(r.opensshFloor)} | ${r.ratios.up} | ${r.ratios.plan} | ${r.execsPerHost.up}, ${r.execsPerHost.verify} | ${r.peakRssMiB} MiB | ${r.factsCpuSeconds.toFixed(2)} s |`),
    '',
    'First run, median (plan = read + plan; apply includes apt; verify waits for one VIP holder, then holds it for the stable window):',
    '',
    '| hosts | first run | plan | apply | of which apt (longest lb) | verify | VRRP election (keepalived start → MASTER) |',
    '|---|---|---|---|---|---|---|',
    ...results.map((r) => {
      const b = r.firstRunBreakdown;
      return `| ${r.hosts} | ${s(r.firstRun)} | ${s(b.planMs)} | ${s(b.applyMs)} | ${b.aptSeconds} s | ${s(b.verifyMs)} | ${b.electionSeconds.toFixed(2)} s |`;
    }),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string' }, runs: { type: 'string' }, 'first-runs': { type: 'string' }, subnet: { type: 'string' },
      'max-ratio': { type: 'string' }, out: { type: 'string' }, 'tcp-checks': { type: 'boolean' }, help: { type: 'boolean' },
    },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const sizes = (values.hosts ?? '5').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 3)) throw new Error(`--hosts: fleet sizes of at least 3 (2 lbs + servers), got ${values.hosts}`);
  const runs = Number(values.runs ?? 5);
  const firstRuns = Number(values['first-runs'] ?? 5);
  const maxRatio = Number(values['max-ratio'] ?? 1.3);
  const subnet = values.subnet ?? '10.213.60.0/24';
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const results: FleetResult[] = [];
  for (const size of sizes) results.push(await benchFleet(size, runs, firstRuns, subnet, log, Boolean(values['tcp-checks'])));
  const date = new Date().toISOString().slice(0, 10);
  const out = values.out ?? 'bench-results.json';
  writeFileSync(out, `${JSON.stringify({ date, cores: cpus().length, node: process.version, maxRatio, results }, null, 2)}\n`);
  process.stdout.write(readmeTable(results, date));
  const over = results.filter((r) => r.ratios.up > maxRatio || r.ratios.plan > maxRatio);
  if (over.length > 0) {
    process.stderr.write(`bench: above ${maxRatio}× the ssh2 floor at ${over.map((r) => `${r.hosts} hosts (up ${r.ratios.up}, plan ${r.ratios.plan})`).join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 1;
});
