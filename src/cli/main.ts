#!/usr/bin/env node
// argv → command. The only place that prints and exits; one top-level catch maps typed errors to codes:
// 0 ok / in sync, 1 error, 2 (plan) changes pending.
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InventoryError, LabError, UsageError, HostError, OutsideWindowError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT, unusedPins, type Playbook } from '../playbook/playbook.js';
import { resourcesFor } from '../playbook/desired.js';
import { run, secretsOf, type HostReport, type RunReport } from '../agent/orchestrator.js';
import { redactor } from '../redact.js';
import { refuseExposedSecrets } from '../plan/leaks.js';
import { layoutWarnings, refuseLayoutProblems } from '../playbook/layout.js';
import { factsSummary, failures, formatChecks, formatPlan, formatSummary, formatTimeline, formatWhereStopped, jsonError, jsonReport, painter, useColour } from './output.js';
import { planDrift, readPlan, savePlan, writePlan } from '../plan/saved.js';
import { rolloutStrategy } from './rollout.js';
import { HELP } from './help.js';
import { plainProgress } from './progress.js';
import { rollbackTo, type Target } from '../plan/rollback.js';
import { askSecret, asksFirst, confirmOnTty } from './confirm.js';
import { HostAgent } from '../agent/agent.js';
import { freshHostFacts } from '../facts/gather.js';
import { OPTIONS } from './options.js';
import { runContext, startRecording } from '../history/recorder.js';
import { historyCommand, historyFileFor } from './history.js';

type Values = Record<string, string | boolean | undefined>;

const DEFAULT_CONCURRENCY = 100;

interface Prepared {
  readonly inventory: Inventory;
  readonly playbook: Playbook;
  readonly hosts: { readonly concurrency: number; readonly limit?: readonly string[] };
}

/**
 * --ask-sudo-password: one prompt per run, for every non-root host that has no ssh.sudoPassword. The
 * answer lives in memory only and reaches sudo on each channel's stdin.
 */
async function withSudoPassword(inventory: Inventory, ask: boolean): Promise<Inventory> {
  if (!ask) return inventory;
  const needing = inventory.hosts.filter((h) => h.ssh.user !== 'root' && !h.ssh.sudoPassword);
  if (needing.length === 0) return inventory;
  if (!process.stdin.isTTY) throw new UsageError('--ask-sudo-password needs a terminal; outside one, set ssh.sudoPassword: { env: NAME } in the inventory');
  const users = [...new Set(needing.map((h) => h.ssh.user))].join(', ');
  const value = await askSecret(`sudo password for ${users}: `);
  const sudoPassword = { value, source: 'the --ask-sudo-password prompt' };
  return { ...inventory, hosts: inventory.hosts.map((h) => (needing.includes(h) ? { ...h, ssh: { ...h.ssh, sudoPassword } } : h)) };
}

/** Everything a command needs before it may connect anywhere: flags, inventory and playbook, all checked. */
async function prepare(values: Values, positionals: string[], command: string): Promise<Prepared> {
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError(`${command} takes exactly one inventory file\n\n${HELP[command]}`);
  // 100 at once: measured against 20 on 80 lab hosts, converged plans finished sooner (more round trips in
  // flight hide each host's latency); a cap all the same, so that handshakes on a fleet of thousands do
  // not all wait for one busy controller at once and time out.
  const concurrency = values.concurrency === undefined ? DEFAULT_CONCURRENCY : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number ≥ 1, got ${String(values.concurrency)}`);
  const inventory = await withSudoPassword(await loadInventory(resolve(file)), Boolean(values['ask-sudo-password']));
  const { topology, mode } = inventory.cluster;
  const playbookFile = typeof values.playbook === 'string' ? resolve(values.playbook) : builtinPlaybook(topology, mode);
  if (typeof values.playbook !== 'string' && !existsSync(playbookFile)) {
    throw new InventoryError(inventory.file, [{ path: 'cluster.mode', message: `topology ${topology} has no ${mode} layout (no ${playbookFile}); use mode: services, or --playbook FILE` }]);
  }
  const playbook = await loadPlaybook(playbookFile, typeof values.templates === 'string' ? values.templates : undefined);
  refuseLayoutProblems(playbook.layout, inventory);
  for (const warning of layoutWarnings(inventory)) process.stderr.write(`warning: ${warning}\n`);
  await refuseExposedSecrets(playbook, inventory);
  const unused = unusedPins(playbook, inventory);
  if (unused.length > 0) {
    throw new UsageError(`${inventory.file}: packages: ${unused.join(', ')}: no task of ${playbook.file} installs ${unused.length === 1 ? 'it' : 'them'}, so a pin would do nothing`);
  }
  const limit = typeof values.limit === 'string' ? values.limit.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const unknown = limit?.filter((name) => !inventory.hosts.some((h) => h.name === name)) ?? [];
  if (unknown.length > 0) throw new UsageError(`--limit: no host named ${unknown.join(', ')} in ${inventory.file}; hosts: ${inventory.hosts.map((h) => h.name).join(', ')}`);
  return { inventory, playbook, hosts: { concurrency, ...(limit ? { limit } : {}) } };
}

type Mode = 'plan' | 'up' | 'rollback' | 'rollout';

/** rollback --to N (a version number ≥ 0), or the version before the last. */
function rollbackTarget(values: Values): Target {
  if (values.to === undefined) return 'previous';
  const n = Number(values.to);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--to must be a version number (0 or more; rollback lists them), got ${String(values.to)}`);
  return n;
}

async function planOrUp(command: Mode, values: Values, positionals: string[]): Promise<number> {
  const apply = command !== 'plan' && !values['dry-run'];
  const retarget = command === 'rollback' ? rollbackTo(rollbackTarget(values)) : undefined;
  // A saved plan was reviewed when it was saved (terraform's apply PLANFILE): it is not asked again.
  const saved = typeof values.plan === 'string' ? await readPlan(resolve(values.plan)) : undefined;
  // Nobody is there to read the plan: a pipeline must say --yes (terraform's rule).
  if (apply && !values.yes && !saved && !(process.stdin.isTTY && process.stderr.isTTY)) {
    throw new UsageError(`${command} changes hosts and no terminal is here to confirm the plan: review it with \`${command === 'up' ? 'ha-provision plan' : 'ha-provision rollback --dry-run'}\`, then pass --yes`);
  }
  const { inventory, playbook, hosts } = await prepare(values, positionals, command);
  const redact = redactor(secretsOf(inventory));
  const paint = painter(useColour(process.stdout) && !values.json);
  const json = Boolean(values.json);
  const interactive = asksFirst({ tty: Boolean(process.stdin.isTTY && process.stderr.isTTY), yes: Boolean(values.yes || saved) });
  // With --json, stdout carries only the report: the plan shown before the question goes to stderr.
  const log = (text: string): void => void (json ? process.stderr : process.stdout).write(`${text}\n`);
  const progress = json
    ? undefined
    : process.stderr.isTTY && command !== 'rollout' // a rollout's steps read best as lines, as they happen
      ? (await import('./progressTty.js')).ttyProgress(inventory, hosts.limit)
      : plainProgress((l) => process.stderr.write(`${l}\n`));
  const strategy = command === 'rollout' ? await rolloutStrategy(values, inventory, log, apply) : undefined;
  // From here on hosts may change: the run is recorded in the controller's history however it ends.
  const recording = apply ? startRecording(runContext(command, values, inventory.file, playbook.file), { file: historyFileFor(values, inventory.file), secrets: secretsOf(inventory), warn: (l) => process.stderr.write(`warning: ${l}\n`) }) : undefined;
  try {
    const expectPlan = saved && ((plan: readonly HostReport[]) => {
      const drift = planDrift(saved, plan, secretsOf(inventory), redact);
      if (drift.length > 0) throw new UsageError(`${String(values.plan)}: the hosts are not as the saved plan saw them; nothing was changed:\n  ${drift.join('\n  ')}`);
    });
    const watched = recording ? recording.observe(progress) : progress;
    const report = await run(inventory, playbook, {
      ...hosts,
      apply,
      ...(strategy ? { strategy } : {}),
      ...(expectPlan ? { expectPlan } : {}),
      verify: apply && !values['no-verify'],
      ...(watched ? { progress: watched } : {}),
      ...(values['allow-ssh-path-change'] ? { preflight: { allowSshPathChange: true } } : {}),
      ...(values['force-unlock'] ? { forceUnlock: true } : {}),
      ...(retarget ? { retarget } : {}),
      ...(recording ? { runId: recording.runId } : {}),
      confirm: async (plan: readonly HostReport[], order: readonly string[]) => {
        recording?.planned(plan);
        if (json && !interactive) return true;
        log(formatPlan(plan, redact, paint));
        if (order.length > 0) log(`\nRollout order:\n${order.map((l) => `  ${redact(l)}`).join('\n')}`);
        return interactive ? confirmOnTty(`\nApply these changes to ${plan.filter((h) => h.status === 'pending').length} host(s)? [y/N] `) : true;
      },
    });
    await progress?.close?.();
    if (typeof values.out === 'string') {
      const text = formatPlan(report.hosts, redact, painter(false));
      await writePlan(resolve(values.out), savePlan(report.hosts, { cluster: inventory.cluster.name, inventory: inventory.file, secrets: secretsOf(inventory), redact, text }));
      log(`plan saved to ${values.out}: apply exactly this plan with \`ha-provision up|rollout ${positionals[0]} --plan ${values.out}\``);
    }
    const code = finish(command, report, redact, paint, json, apply);
    recording?.end(report, code);
    return code;
  } catch (error) {
    recording?.fail(error);
    throw error;
  } finally {
    recording?.close();
  }
}

function finish(command: Mode | 'verify', report: RunReport, redact: ReturnType<typeof redactor>, paint: ReturnType<typeof painter>, json: boolean, apply: boolean): number {
  const failed = failures(report);
  const checksFailed = report.checks.some((c) => !c.ok);
  const pending = report.hosts.some((h) => h.status === 'pending');
  if (json) {
    process.stdout.write(`${jsonReport(report, redact, command)}\n`);
  } else {
    const out: string[] = [];
    const planShown = apply && !(report.aborted && failed.length > 0); // up printed it before asking
    if (command !== 'verify' && !planShown) out.push(formatPlan(report.hosts, redact, paint), '');
    if (!apply && report.order?.length) out.push('Rollout order:', ...report.order.map((l) => `  ${redact(l)}`), '');
    if (report.rollout?.timeline.length) out.push('Timeline:', formatTimeline(report.rollout, redact, paint), '');
    if (report.aborted) {
      out.push(failed.length > 0 ? 'Aborted: some hosts could not be planned, so nothing was changed.' : 'Aborted: nothing was changed.');
    }
    if (apply || command === 'verify') out.push(formatSummary(report.hosts, paint));
    const notes = apply ? report.hosts.flatMap((h) => h.notes.map((n) => `${h.host}: ${redact(n)}`)) : [];
    if (notes.length > 0) out.push('', paint.yellow('Notes:'), ...notes);
    if (report.checks.length > 0) out.push('', formatChecks(report.checks, paint));
    if (failed.length > 0 && (apply || command === 'verify')) out.push('', paint.red('Failed:'), ...failed);
    const where = formatWhereStopped(report);
    if (where.length) out.push('', ...where.map((l, i) => (i === 0 ? paint.red(l) : l)));
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (report.rollout?.stopped?.reason === 'window' && failed.length === 0) return 4;
  if (failed.length > 0 || checksFailed || report.aborted || report.rollout?.stopped) return 1;
  return !apply && command !== 'verify' && pending ? 2 : 0;
}

async function verifyCommand(values: Values, positionals: string[]): Promise<number> {
  const failover = Boolean(values.failover || values['failover-backends']);
  if (failover && values.limit !== undefined) throw new UsageError('--failover drills the whole fleet: it cannot be combined with --limit');
  // The drill disturbs the live VIP: like up, it asks on a terminal and needs --yes elsewhere.
  const tty = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (failover && !values.yes && !tty) throw new UsageError('verify --failover disturbs the live VIP and no terminal is here to confirm it: pass --yes');
  const { inventory, playbook, hosts } = await prepare(values, positionals, 'verify');
  if (failover && !playbook.drill) throw new UsageError(`verify --failover: ${playbook.file} declares no drill (its daemons are not services this tool stops: kubelet runs them)`);
  // --ca: the file is read and checked before anything connects; its checks join the others.
  const caCheck = typeof values.ca === 'string' ? await (await import('../verify/certificate.js')).certificateCheck(resolve(values.ca)) : undefined;
  const ran = await run(inventory, playbook, { ...hosts, apply: false, verify: true, settleMs: 0 });
  const report = caCheck ? { ...ran, checks: [...ran.checks, ...(await caCheck(inventory))] } : ran;
  const redact = redactor(secretsOf(inventory));
  const json = Boolean(values.json);
  if (!failover) return finish('verify', report, redact, painter(useColour(process.stdout) && !json), json, false);
  const { formatDrill, runDrill } = await import('../verify/drill.js');
  // The ordinary checks first: printed now (a human sees them before the question), or kept for the JSON.
  const code = json
    ? failures(report).length > 0 || report.checks.some((c) => !c.ok) ? 1 : 0
    : finish('verify', report, redact, painter(useColour(process.stdout)), false, false);
  const interactive = asksFirst({ tty, yes: Boolean(values.yes) });
  const drill = await runDrill(inventory, {
    targets: playbook.drill,
    backends: Boolean(values['failover-backends']),
    log: (line) => process.stderr.write(`${redact(line)}\n`),
    ...(interactive ? { confirm: (what: string) => confirmOnTty(`\n${what}\nRun the failover drill? [y/N] `) } : {}),
  });
  if (json) {
    const document = { ...(JSON.parse(jsonReport(report, redact, 'verify')) as { ok: boolean }), failover: drill };
    process.stdout.write(`${redact(JSON.stringify({ ...document, ok: document.ok && drill.ok }, null, 2))}\n`);
  } else {
    process.stdout.write(`\n${redact(formatDrill(drill))}\n`);
  }
  return code !== 0 || !drill.ok ? 1 : 0;
}

async function factsCommand(values: Values, positionals: string[]): Promise<number> {
  const { inventory, playbook, hosts } = await prepare(values, positionals, 'facts');
  const selected = inventory.hosts.filter((h) => !hosts.limit || hosts.limit.includes(h.name));
  const limit = pLimit(hosts.concurrency);
  const agents: HostAgent[] = [];
  const results = await Promise.all(
    selected.map((host) => limit(async () => {
      const agent = new HostAgent(inventory, playbook, host);
      try {
        const facts = await agent.readFacts();
        // How this machine reached the host (and where each setting came from) leads the host's facts.
        return { host: host.name, facts: { ...(host.sshSources ? { ssh: host.sshSources } : {}), ...factsSummary(facts, await resourcesFor(playbook, inventory, host, facts)) } };
      } catch (error) {
        return { host: host.name, error: redactor(secretsOf(inventory))(error instanceof HostError ? error.reason : (error as Error).message), ...(host.sshSources ? { ssh: host.sshSources } : {}) };
      } finally {
        agents.push(agent);
      }
    })),
  );
  // Closed together: hosts behind one jump host share its connection until the last one is done.
  for (const agent of agents) agent.close();
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else for (const r of results) process.stdout.write(`${r.host}:\n${'error' in r ? `  error: ${r.error}` : JSON.stringify(r.facts, null, 2).replace(/^/gm, '  ')}\n`);
  return results.some((r) => 'error' in r) ? 1 : 0;
}

async function renderCommand(values: Values, positionals: string[]): Promise<number> {
  const { inventory, playbook } = await prepare(values, positionals, 'render');
  if (typeof values.out !== 'string') throw new UsageError(`render needs --out DIR\n\n${HELP.render}`);
  const family = (values.family ?? 'debian') as string;
  if (family !== 'debian' && family !== 'rhel') throw new UsageError(`--family must be debian or rhel, got ${family}`);
  const out = resolve(values.out);
  await mkdir(out, { recursive: true, mode: 0o700 });
  // Facts of a host of that family as it would be before provisioning: render needs no SSH.
  const facts = freshHostFacts(family);
  let count = 0;
  for (const host of inventory.hosts) {
    for (const r of await resourcesFor(playbook, inventory, host, facts)) {
      if (r.kind !== 'file') continue;
      const target = join(out, host.name, r.path);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await writeFile(target, r.content, { mode: 0o600 });
      count += 1;
    }
  }
  process.stdout.write(`wrote ${count} files for ${inventory.hosts.length} hosts under ${out}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-V') {
    const pkg = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${HELP.main}\n`);
    return command ? 0 : 1;
  }
  // Hidden: what the completion scripts call for host names; not in help or in the completions.
  if (command === '__complete') return (await import('./completion.js')).completeCommand(rest);
  if (command === 'lab') {
    const { runLabCommand } = await import('../lab/index.js');
    return runLabCommand(rest);
  }
  const options = OPTIONS[command];
  if (!options) throw new UsageError(`unknown command "${command}"\n\n${HELP.main}`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${HELP[command]}`);
  }
  const { values, positionals } = parsed as { values: Values; positionals: string[] };
  if (values.help) {
    process.stdout.write(`${HELP[command]}\n`);
    return 0;
  }
  switch (command) {
    case 'up':
      return planOrUp(values['dry-run'] ? 'plan' : 'up', values, positionals);
    case 'rollback':
      return planOrUp('rollback', values, positionals);
    case 'rollout':
      return planOrUp('rollout', values, positionals);
    case 'plan':
      return planOrUp('plan', values, positionals);
    case 'verify':
      return verifyCommand(values, positionals);
    case 'facts':
      return factsCommand(values, positionals);
    case 'render':
      return renderCommand(values, positionals);
    case 'init':
      return (await import('./init.js')).initCommand(values, positionals);
    case 'completion':
      return (await import('./completion.js')).completionCommand(positionals);
    case 'history':
      return historyCommand(values, positionals);
  }
  return 1;
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const known = error instanceof InventoryError || error instanceof UsageError || error instanceof LabError || error instanceof HostError || error instanceof OutsideWindowError;
    // With --json every outcome is one JSON document on stdout, errors before any host was read included.
    if (argv.includes('--json') && argv[0] !== 'lab') process.stdout.write(`${jsonError(argv[0] ?? '', error)}\n`);
    process.stderr.write(known ? `ha-provision: ${(error as Error).message}\n` : `ha-provision: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = error instanceof OutsideWindowError ? 4 : 1;
  },
);
