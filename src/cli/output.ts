// Everything the CLI prints about a run: plans, the summary table, checks, the JSON report.
import type { Check } from '../verify/verify.js';
import type { StrategyOutcome } from '../agent/strategy.js';
import type { HostReport, RunReport } from '../agent/orchestrator.js';
import { describeChange, fileDiff, formatHostPlan } from '../plan/format.js';
import { maskPatterns, type Redactor } from '../redact.js';
import { sha256, type FileFact } from '../facts/facts.js';
import type { HostFacts } from '../facts/gather.js';
import type { Resource, ResourceOf } from '../resources/types.js';
import { HostError, InventoryError, LabError, UsageError } from '../errors.js';

export const useColour = (stream: NodeJS.WriteStream): boolean => Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

export function painter(enabled: boolean) {
  const wrap = (code: number) => (s: string) => (enabled ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap(31), green: wrap(32), yellow: wrap(33), bold: wrap(1), dim: wrap(2) };
}
export type Paint = ReturnType<typeof painter>;

export function formatPlan(hosts: readonly HostReport[], redact: Redactor, paint: Paint): string {
  return hosts
    .map((h) => {
      const notes = [
        ...(h.history ? [`  versions on this host (newest last):`, ...h.history.map((v) => `    ${redact(v)}`)] : []),
        ...h.notes.map((n) => paint.yellow(`  ! ${redact(n)}`)),
      ];
      if (h.error) return [paint.red(`${h.host}: cannot plan: ${h.error}`), ...notes].join('\n');
      const [head = '', ...rest] = formatHostPlan(h.host, h.changes, redact)
        .split('\n')
        .map((line) => (/^ {4}\+(?!\+\+)/.test(line) ? paint.green(line) : /^ {4}-(?!--)/.test(line) ? paint.red(line) : line));
      return [head, ...notes, ...rest].join('\n');
    })
    .join('\n\n');
}

export function formatSummary(hosts: readonly HostReport[], paint: Paint): string {
  const width = Math.max(4, ...hosts.map((h) => h.host.length));
  const rows = hosts.map((h) => {
    const status = h.status === 'failed' ? paint.red(h.status) : h.status === 'changed' ? paint.yellow(h.status) : paint.green(h.status);
    return `${h.host.padEnd(width)}  ${status.padEnd(h.status.length)}${' '.repeat(Math.max(0, 9 - h.status.length))}  ${String(h.changes.length).padStart(7)}  ${String(h.execs).padStart(5)}${h.error ? `  ${h.error.split('\n')[0]}` : ''}`;
  });
  return [`${'host'.padEnd(width)}  status     changes  execs`, ...rows].join('\n');
}

export function formatChecks(checks: readonly Check[], paint: Paint): string {
  return checks.map((c) => `${!c.ok ? paint.red('FAIL') : c.warning ? paint.yellow('warn') : paint.green('pass')}  ${c.name}: ${c.detail}`).join('\n');
}

export function failures(report: RunReport): string[] {
  return report.hosts.filter((h) => h.error).map((h) => `${h.host}: ${h.error}`);
}

/** The machine-readable report: changes as summaries and redacted diffs, never raw file contents. */
export function jsonReport(report: RunReport, redact: Redactor, mode: 'plan' | 'up' | 'rollback' | 'rollout' | 'verify'): string {
  return JSON.stringify(
    {
      mode,
      ok: report.hosts.every((h) => !h.error) && report.checks.every((c) => c.ok) && !report.aborted && !report.rollout?.stopped,
      aborted: report.aborted,
      ...(report.order ? { order: report.order.map(redact) } : {}),
      ...(report.rollout
        ? { timeline: report.rollout.timeline.map((e) => ({ ...e, detail: redact(e.detail) })), ...(report.rollout.stopped ? { stopped: { ...report.rollout.stopped, detail: redact(report.rollout.stopped.detail) } } : {}) }
        : {}),
      hosts: report.hosts.map((h) => ({
        host: h.host,
        status: h.status,
        execs: h.execs,
        connections: h.connections,
        ...(h.error ? { error: h.error } : {}),
        notes: h.notes.map(redact),
        ...(h.history ? { history: h.history.map(redact) } : {}),
        ...(h.ssh ? { ssh: h.ssh } : {}),
        changes: h.changes.map((c) => ({
          kind: c.kind,
          summary: redact(describeChange(c)),
          ...(c.kind === 'file' ? { diff: fileDiff(c, redact) } : {}),
        })),
      })),
      checks: report.checks,
      ...(report.phases ? { phases: report.phases } : {}),
    },
    null,
    2,
  );
}

/** An error as the one JSON document --json promises: what kind, the message, and each inventory problem. */
/** A rollout's steps as they happened: seconds since its start, host, step, what it found. */
export function formatTimeline(outcome: StrategyOutcome, redact: Redactor, paint: Paint): string {
  const width = Math.max(0, ...outcome.timeline.map((e) => (e.host ?? '').length));
  return outcome.timeline
    .map((e) => `${`+${e.seconds.toFixed(1)}s`.padStart(8)}  ${(e.host ?? '').padEnd(width)}  ${(e.ok ? paint.green : paint.red)(e.step.padEnd(7))}  ${redact(e.detail)}`)
    .join('\n');
}

/** After a rollout that stopped: which hosts run the new config and which the old. */
export function formatWhereStopped(report: RunReport): string[] {
  const stopped = report.rollout?.stopped;
  if (!stopped) return [];
  const names = (status: string[]) => report.hosts.filter((h) => status.includes(h.status)).map((h) => h.host);
  const done = names(['changed', 'in-sync']);
  const old = names(['pending', 'failed']);
  return [
    `Rollout stopped: ${stopped.detail}`,
    `  on the new config: ${done.join(', ') || 'none'}`,
    `  still on the old config: ${old.join(', ') || 'none'}${names(['failed']).length ? ` (${names(['failed']).join(', ')} failed and ${names(['failed']).length === 1 ? 'was' : 'were'} restored where a service could not load the change)` : ''}`,
    stopped.reason === 'window' ? '  The next rollout (in the next window) continues from here.' : '  Fix the cause and run rollout again: converged hosts have nothing to change.',
  ];
}

export function jsonError(mode: string, error: unknown): string {
  const kind =
    error instanceof InventoryError ? 'inventory' : error instanceof UsageError ? 'usage' : error instanceof HostError ? 'host' : error instanceof LabError ? 'lab' : 'unexpected';
  return JSON.stringify(
    {
      mode,
      ok: false,
      error: {
        kind,
        message: (error as Error)?.message ?? String(error),
        ...(error instanceof InventoryError ? { file: error.file, problems: error.problems } : {}),
      },
    },
    null,
    2,
  );
}

/** What `facts` prints of a host. Contents stay on the host (they may hold secrets); hashes say whether they changed. */
export function factsSummary(facts: HostFacts, resources: readonly Resource[]): object {
  const secretsOf = (path: string): readonly RegExp[] => resources.find((r): r is ResourceOf<'file'> => r.kind === 'file' && r.path === path)?.secrets ?? [];
  const digest = (path: string, f: FileFact): object => {
    const secrets = secretsOf(path);
    // A plain hash of a file whose every other byte the inventory tells would confirm a guessed secret.
    return secrets.length > 0 ? { maskedSha256: sha256(maskPatterns(f.content, secrets)) } : { sha256: f.sha256 };
  };
  return {
    os: facts.os,
    packageManager: facts.packageManager ?? null,
    systemd: facts.systemd,
    packages: facts.packages,
    sysctls: facts.sysctls,
    routes: facts.routes,
    addresses: facts.addresses,
    files: Object.fromEntries(Object.entries(facts.files).map(([p, f]) => [p, f ? { ...digest(p, f), owner: f.owner, group: f.group, mode: f.mode } : null])),
    sshPath: facts.sshPath ?? null,
    pendingReloads: facts.pendingReloads,
    leftoverStaging: facts.leftoverStaging,
    dpkgInterrupted: facts.dpkgInterrupted,
    services: facts.services,
    backends: facts.backends,
  };
}
