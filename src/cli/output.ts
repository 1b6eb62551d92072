// Everything the CLI prints about a run: plans, the summary table, checks, the JSON report.
import type { Check } from '../verify/verify.js';
import type { HostReport, RunReport } from '../agent/orchestrator.js';
import { describeChange, fileDiff, formatHostPlan } from '../plan/format.js';
import type { Redactor } from '../redact.js';

export const useColour = (stream: NodeJS.WriteStream): boolean => Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

export function painter(enabled: boolean) {
  const wrap = (code: number) => (s: string) => (enabled ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap(31), green: wrap(32), yellow: wrap(33), bold: wrap(1), dim: wrap(2) };
}
export type Paint = ReturnType<typeof painter>;

export function formatPlan(hosts: readonly HostReport[], redact: Redactor, paint: Paint): string {
  return hosts
    .map((h) => {
      if (h.error) return paint.red(`${h.host}: cannot plan: ${h.error}`);
      return formatHostPlan(h.host, h.changes, redact)
        .split('\n')
        .map((line) => (/^ {4}\+(?!\+\+)/.test(line) ? paint.green(line) : /^ {4}-(?!--)/.test(line) ? paint.red(line) : line))
        .join('\n');
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
  return checks.map((c) => `${c.ok ? paint.green('pass') : paint.red('FAIL')}  ${c.name}: ${c.detail}`).join('\n');
}

export function failures(report: RunReport): string[] {
  return report.hosts.filter((h) => h.error).map((h) => `${h.host}: ${h.error}`);
}

/** The machine-readable report: changes as summaries and redacted diffs, never raw file contents. */
export function jsonReport(report: RunReport, redact: Redactor, mode: 'plan' | 'up' | 'verify'): string {
  return JSON.stringify(
    {
      mode,
      ok: report.hosts.every((h) => !h.error) && report.checks.every((c) => c.ok) && !report.aborted,
      aborted: report.aborted,
      hosts: report.hosts.map((h) => ({
        host: h.host,
        status: h.status,
        execs: h.execs,
        ...(h.error ? { error: h.error } : {}),
        changes: h.changes.map((c) => ({
          kind: c.kind,
          summary: redact(describeChange(c)),
          ...(c.kind === 'file' ? { diff: fileDiff(c, redact) } : {}),
        })),
      })),
      checks: report.checks,
    },
    null,
    2,
  );
}
