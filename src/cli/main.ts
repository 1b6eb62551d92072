#!/usr/bin/env node
// argv → command. The only place that prints and exits; one top-level catch maps typed errors to codes:
// 0 ok / in sync, 1 error, 2 (plan) changes pending.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pLimit from 'p-limit';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InventoryError, LabError, UsageError, HostError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT, resourcesFor, type Playbook } from '../playbook/playbook.js';
import { run, secretsOf, type HostReport, type RunReport } from '../agent/orchestrator.js';
import { redactor } from '../redact.js';
import { refuseExposedSecrets } from '../plan/leaks.js';
import { factsSummary, failures, formatChecks, formatPlan, formatSummary, jsonError, jsonReport, painter, useColour } from './output.js';
import { plainProgress } from './progress.js';
import { rollbackTo, type Target } from '../plan/rollback.js';
import { askSecret, asksFirst, confirmOnTty } from './confirm.js';
import { HostAgent } from '../agent/agent.js';
import { freshHostFacts } from '../facts/gather.js';

const HELP: Record<string, string> = {
  main: `ha-provision — a highly available virtual IP (haproxy + keepalived) in front of Kubernetes API servers

Usage: ha-provision <command> [options]

Commands:
  up <inventory.yaml>       converge every host; shows the plan, asks on a TTY, applies, verifies
  rollback <inventory.yaml> [--to N]   put the config files back as a recorded version had them
  plan <inventory.yaml>     what up would change, with diffs; changes nothing (exit 0 in sync, 2 pending)
  verify <inventory.yaml>   nc/curl checks through the VIP and on the lbs
  facts <inventory.yaml>    what the hosts look like now
  render <inventory.yaml> --out DIR   the rendered configs per host, no SSH
  lab up|down|status|stop|start|partition|heal|exec   a local fleet of real test hosts (root, Linux)

Options: --help on every command, --version, --ask-sudo-password (one prompt per run, for non-root users
whose sudo asks; or ssh.sudoPassword: { env: NAME }). Exit codes: 0 ok, 1 error, 2 changes pending (plan).
Colour only on a TTY and never with NO_COLOR.`,
  up: `Usage: ha-provision up <inventory.yaml> [options]

Reads every host (one SSH connection each), prints the plan, asks for confirmation on a TTY (outside a
terminal it refuses without --yes), applies
(files validated on the host before they replace anything; haproxy reloaded, never restarted, when its
config changes), then verifies through the VIP.

Options:
  --dry-run            plan only (same as \`plan\`)
  --yes                do not ask before applying
  --limit a,b          only these hosts
  --concurrency N      hosts worked on at once (default 20)
  --json               machine-readable report on stdout
  --no-verify          skip the checks at the end
  --playbook FILE      your own playbook instead of playbooks/<topology>.yaml
  --templates DIR      templates here shadow the built-in ones, file by file
  --allow-ssh-path-change   apply a route that changes how a host reaches this machine (refused otherwise)
  --force-unlock       apply even where another run's lock is held: its apply script is stopped first

One run at a time per host: an apply holds a lock on the host (flock on /run/ha-provision.lock) naming
its controller, pid, user and start. up refuses a host whose lock is held, naming the holder; a lock left
by a run killed outright is taken over, and said so. A file edited between plan and apply stops that host.

With --limit, a change its peers must share (keepalived's auth_pass, virtual_router_id, advert_int,
unicast peers) is refused unless every lb is in the limit; verify still reads every lb.
--json is an output format: on a TTY, up still asks unless --yes.`,
  plan: `Usage: ha-provision plan <inventory.yaml> [--limit a,b] [--concurrency N] [--json] [--playbook FILE] [--templates DIR] [--allow-ssh-path-change]

Per host: packages to install, sysctls old → new, routes to add, unified diffs of every file (content,
owner and mode), what will be started or reloaded — including services that never loaded files an
interrupted run installed — and staging files such a run left behind. Takes no lock, and says when a run
is in progress on a host (or left a stale lock). Changes nothing. Secrets are masked.
Exit 0 when every host is in sync, 2 when changes are pending, 1 on any error.`,
  rollback: `Usage: ha-provision rollback <inventory.yaml> [--to N] [--limit a,b] [--dry-run] [--yes] [--json] [--no-verify]

Lists what was applied when on each host (every run that changed files is a numbered version, kept on the
host under /var/lib/ha-provision/history: who, when, and each file before and after), then puts the config
files that services load back as they were after version N (--to N; 0 is before the first kept version),
or as they were before the last version. Same plan, confirmation, lock, validation, reload checks and
verify as up. Packages, sysctls and routes follow the inventory, not the history. The rollback is itself a
new version; up puts the inventory back. The last 10 versions are kept (history.keep in the inventory).`,
  verify: `Usage: ha-provision verify <inventory.yaml> [--limit a,b] [--json]

Checks: TCP and HTTPS through the VIP from this machine, exactly one lb holds the VIP (every lb is read,
also those outside --limit), every lb reaches every backend, haproxy and keepalived active, and keepalived
logged no fault (such as a disabled track script) since its last (re)load. Exit 0 when all pass, 1 otherwise.`,
  facts: `Usage: ha-provision facts <inventory.yaml> [--limit a,b] [--json]

What each host looks like now: OS, package manager, managed packages, sysctls, routes, addresses, managed
files (hash, owner, mode) and services. One SSH exec per host. A file that holds a secret shows the hash of
its masked text (maskedSha256), never a plain hash that would let a guess of the secret be confirmed.`,
  render: `Usage: ha-provision render <inventory.yaml> --out DIR [--family debian|rhel] [--playbook FILE] [--templates DIR]

Writes every host's rendered files to DIR/<host>/<path> without connecting anywhere. Files hold secrets
(keepalived auth_pass): DIR is created private (0700).`,
};

const COMMON: ParseArgsConfig['options'] = {
  help: { type: 'boolean', short: 'h' },
  'ask-sudo-password': { type: 'boolean' },
  limit: { type: 'string' },
  concurrency: { type: 'string' },
  json: { type: 'boolean' },
  playbook: { type: 'string' },
  templates: { type: 'string' },
};

const PLANNING: ParseArgsConfig['options'] = { ...COMMON, 'allow-ssh-path-change': { type: 'boolean' } };

const OPTIONS: Record<string, ParseArgsConfig['options']> = {
  up: { ...PLANNING, 'dry-run': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, 'no-verify': { type: 'boolean' }, 'force-unlock': { type: 'boolean' } },
  plan: PLANNING,
  rollback: { ...PLANNING, 'dry-run': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, 'no-verify': { type: 'boolean' }, 'force-unlock': { type: 'boolean' }, to: { type: 'string' } },
  verify: COMMON,
  facts: COMMON,
  render: { ...COMMON, out: { type: 'string' }, family: { type: 'string' } },
};

type Values = Record<string, string | boolean | undefined>;

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
  const concurrency = values.concurrency === undefined ? 20 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number ≥ 1, got ${String(values.concurrency)}`);
  const inventory = await withSudoPassword(await loadInventory(resolve(file)), Boolean(values['ask-sudo-password']));
  const playbookFile = typeof values.playbook === 'string' ? resolve(values.playbook) : builtinPlaybook(inventory.cluster.topology);
  const playbook = await loadPlaybook(playbookFile, typeof values.templates === 'string' ? values.templates : undefined);
  await refuseExposedSecrets(playbook, inventory);
  const limit = typeof values.limit === 'string' ? values.limit.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const unknown = limit?.filter((name) => !inventory.hosts.some((h) => h.name === name)) ?? [];
  if (unknown.length > 0) throw new UsageError(`--limit: no host named ${unknown.join(', ')} in ${inventory.file}; hosts: ${inventory.hosts.map((h) => h.name).join(', ')}`);
  return { inventory, playbook, hosts: { concurrency, ...(limit ? { limit } : {}) } };
}

type Mode = 'plan' | 'up' | 'rollback';

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
  // Nobody is there to read the plan: a pipeline must say --yes (terraform's rule).
  if (apply && !values.yes && !(process.stdin.isTTY && process.stderr.isTTY)) {
    throw new UsageError(`${command} changes hosts and no terminal is here to confirm the plan: review it with \`${command === 'up' ? 'ha-provision plan' : 'ha-provision rollback --dry-run'}\`, then pass --yes`);
  }
  const { inventory, playbook, hosts } = await prepare(values, positionals, command);
  const redact = redactor(secretsOf(inventory));
  const paint = painter(useColour(process.stdout) && !values.json);
  const json = Boolean(values.json);
  const interactive = asksFirst({ tty: Boolean(process.stdin.isTTY && process.stderr.isTTY), yes: Boolean(values.yes) });
  // With --json, stdout carries only the report: the plan shown before the question goes to stderr.
  const log = (text: string): void => void (json ? process.stderr : process.stdout).write(`${text}\n`);
  const progress = json
    ? undefined
    : process.stderr.isTTY
      ? (await import('./progressTty.js')).ttyProgress(inventory, hosts.limit)
      : plainProgress((l) => process.stderr.write(`${l}\n`));
  const report = await run(inventory, playbook, {
    ...hosts,
    apply,
    verify: apply && !values['no-verify'],
    ...(progress ? { progress } : {}),
    ...(values['allow-ssh-path-change'] ? { preflight: { allowSshPathChange: true } } : {}),
    ...(values['force-unlock'] ? { forceUnlock: true } : {}),
    ...(retarget ? { retarget } : {}),
    confirm: async (plan: readonly HostReport[]) => {
      if (json && !interactive) return true;
      log(formatPlan(plan, redact, paint));
      return interactive ? confirmOnTty(`\nApply these changes to ${plan.filter((h) => h.status === 'pending').length} host(s)? [y/N] `) : true;
    },
  });
  await progress?.close?.();
  return finish(command, report, redact, paint, json, apply);
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
    if (report.aborted) {
      out.push(failed.length > 0 ? 'Aborted: some hosts could not be planned, so nothing was changed.' : 'Aborted: nothing was changed.');
    }
    if (apply || command === 'verify') out.push(formatSummary(report.hosts, paint));
    const notes = apply ? report.hosts.flatMap((h) => h.notes.map((n) => `${h.host}: ${redact(n)}`)) : [];
    if (notes.length > 0) out.push('', paint.yellow('Notes:'), ...notes);
    if (report.checks.length > 0) out.push('', formatChecks(report.checks, paint));
    if (failed.length > 0 && (apply || command === 'verify')) out.push('', paint.red('Failed:'), ...failed);
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (failed.length > 0 || checksFailed || report.aborted) return 1;
  return !apply && command !== 'verify' && pending ? 2 : 0;
}

async function verifyCommand(values: Values, positionals: string[]): Promise<number> {
  const { inventory, playbook, hosts } = await prepare(values, positionals, 'verify');
  const report = await run(inventory, playbook, { ...hosts, apply: false, verify: true, settleMs: 0 });
  return finish('verify', report, redactor(secretsOf(inventory)), painter(useColour(process.stdout) && !values.json), Boolean(values.json), false);
}

async function factsCommand(values: Values, positionals: string[]): Promise<number> {
  const { inventory, playbook, hosts } = await prepare(values, positionals, 'facts');
  const selected = inventory.hosts.filter((h) => !hosts.limit || hosts.limit.includes(h.name));
  const limit = pLimit(hosts.concurrency);
  const results = await Promise.all(
    selected.map((host) => limit(async () => {
      const agent = new HostAgent(inventory, playbook, host);
      try {
        const facts = await agent.readFacts();
        return { host: host.name, facts: factsSummary(facts, await resourcesFor(playbook, inventory, host, facts)) };
      } catch (error) {
        return { host: host.name, error: redactor(secretsOf(inventory))(error instanceof HostError ? error.reason : (error as Error).message) };
      } finally {
        agent.close();
      }
    })),
  );
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
    case 'plan':
      return planOrUp('plan', values, positionals);
    case 'verify':
      return verifyCommand(values, positionals);
    case 'facts':
      return factsCommand(values, positionals);
    case 'render':
      return renderCommand(values, positionals);
  }
  return 1;
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const known = error instanceof InventoryError || error instanceof UsageError || error instanceof LabError || error instanceof HostError;
    // With --json every outcome is one JSON document on stdout, errors before any host was read included.
    if (argv.includes('--json') && argv[0] !== 'lab') process.stdout.write(`${jsonError(argv[0] ?? '', error)}\n`);
    process.stderr.write(known ? `ha-provision: ${(error as Error).message}\n` : `ha-provision: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
