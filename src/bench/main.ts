// `npm run bench -- --servers N`: on a lab of 2 lbs + N servers, medians of a first run (fresh hosts),
// a converged run, a plan, and the floor: OpenSSH itself, one connection + `true` to every host in parallel.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { labDown, labUp } from '../lab/index.js';
import { loadInventory } from '../inventory/load.js';
import { PROJECT_ROOT } from '../playbook/playbook.js';

const HELP = `Usage: npm run bench -- [--servers N] [--runs R] [--first-runs F] [--subnet CIDR]

Boots a lab "bench" of 2 lbs + N servers (default 3) and prints medians of: a first run of
\`up\` on fresh hosts (F labs, default 3), a converged \`up\` (R runs, default 5), \`plan\` (R runs),
and the OpenSSH floor (one connection + \`true\` to every host in parallel, R runs); then the ratio
converged/floor and the CLI's peak memory. Needs root (the lab). Tears the lab down at the end.`;

const cli = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');
const rssModule = join(PROJECT_ROOT, 'dist', 'bench', 'rss.js');
const scratch = mkdtempSync(join(tmpdir(), 'ha-bench-'));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

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
      if (code !== 0 && code !== 2) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ ms, code: code ?? 0, stdout });
    });
  });
}

let rssRuns = 0;
async function runCli(args: string[]): Promise<{ ms: number; code: number; report: { hosts: { execs: number; changes: unknown[] }[] }; rssKb: number }> {
  const rssFile = join(scratch, `rss-${rssRuns++}`);
  const r = await timed(process.execPath, ['--import', rssModule, cli, ...args, '--json'], { HA_PROVISION_RSS_FILE: rssFile });
  return { ms: r.ms, code: r.code, report: JSON.parse(r.stdout), rssKb: Number(readFileSync(rssFile, 'utf8')) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { servers: { type: 'string' }, runs: { type: 'string' }, 'first-runs': { type: 'string' }, subnet: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const servers = Number(values.servers ?? 3);
  const runs = Number(values.runs ?? 5);
  const firstRuns = Number(values['first-runs'] ?? 3);
  const subnet = values.subnet ?? '10.213.60.0/24';
  const lab = { name: 'bench', lbs: 2, servers, subnet, inventoryFile: join(scratch, 'bench.yaml') };
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const first: number[] = [];
  const converged: number[] = [];
  const plans: number[] = [];
  const floor: number[] = [];
  let peakRss = 0;
  try {
    for (let i = 0; i < firstRuns; i += 1) {
      await labDown(lab.name).catch(() => undefined);
      const { inventoryFile } = await labUp(lab);
      const r = await runCli(['up', inventoryFile, '--yes']);
      first.push(r.ms);
      peakRss = Math.max(peakRss, r.rssKb);
      log(`first run ${i + 1}/${firstRuns}: ${(r.ms / 1000).toFixed(2)} s`);
    }
    const inventory = await loadInventory(lab.inventoryFile);
    for (let i = 0; i < runs; i += 1) {
      const up = await runCli(['up', lab.inventoryFile, '--yes']);
      const execs = up.report.hosts.map((h) => h.execs);
      const changes = up.report.hosts.reduce((n, h) => n + h.changes.length, 0);
      if (changes !== 0 || execs.some((e) => e !== 1)) throw new Error(`converged run was not converged: ${changes} changes, execs ${execs.join(',')}`);
      converged.push(up.ms);
      const plan = await runCli(['plan', lab.inventoryFile]);
      plans.push(plan.ms);
      peakRss = Math.max(peakRss, up.rssKb, plan.rssKb);
      const ssh = inventory.hosts.map((h) =>
        timed('ssh', ['-i', h.ssh.identityFile ?? '', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${h.ssh.knownHostsFile}`, '-o', 'ControlMaster=no', `${h.ssh.user}@${h.address}`, 'true']),
      );
      const start = process.hrtime.bigint();
      await Promise.all(ssh);
      floor.push(Number(process.hrtime.bigint() - start) / 1e6);
      log(`round ${i + 1}/${runs}: converged ${(up.ms / 1000).toFixed(2)} s, plan ${(plan.ms / 1000).toFixed(2)} s, floor ${(floor.at(-1)! / 1000).toFixed(2)} s`);
    }
  } finally {
    await labDown(lab.name).catch(() => undefined);
  }
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  process.stdout.write(
    [
      `hosts: ${2 + servers} (2 lbs + ${servers} servers); medians`,
      `  first run (fresh hosts, ${firstRuns} labs): ${s(median(first))}`,
      `  converged up (${runs} runs):              ${s(median(converged))}`,
      `  plan (${runs} runs):                      ${s(median(plans))}`,
      `  OpenSSH floor (${runs} runs):             ${s(median(floor))}`,
      `  converged / floor:                     ${(median(converged) / median(floor)).toFixed(2)}`,
      `  CLI peak RSS:                          ${(peakRss / 1024).toFixed(0)} MiB`,
      '',
    ].join('\n'),
  );
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 1;
});
