// Pure: one run of up, rollout or rollback as the controller's history keeps it (one JSON line in
// history.jsonl, see store.ts). Built from what the run knew when it ended — a full RunReport, or, for a
// run that failed or was interrupted part-way, the plan it had confirmed and each host's last step.
// Every text passes the redactor, and the finished line passes it once more: no secret reaches the file.
import type { HostReport, HostStatus, HostVersions, RunReport } from '../agent/orchestrator.js';
import type { Check } from '../verify/verify.js';
import type { TimelineEvent } from '../agent/strategy.js';
import { describeChange, fileDiff } from '../plan/format.js';
import { redactor, type Redactor } from '../redact.js';
import type { Change } from '../resources/types.js';

export const RECORD_FORMAT = 'ha-provision-history/1';

export type RecordedCommand = 'up' | 'rollout' | 'rollback';

/**
 * ok: exit 0. failed: a host or check failed, or the run threw. aborted: nothing was changed (the plan
 * was declined, or a host could not be planned). stopped: a rollout stopped part-way (a gate, a failed
 * step, a closing window). interrupted: Ctrl-C or a signal ended the run.
 */
export type RunOutcome = 'ok' | 'failed' | 'aborted' | 'stopped' | 'interrupted';

/** A host's outcome: the orchestrator's HostStatus; `unknown` where an interrupted run may have been applying. */
export type HostOutcome = HostStatus | 'unknown';

export interface RecordedChange {
  readonly kind: Change['kind'];
  readonly summary: string; // the plan's line for it, e.g. "update /etc/haproxy/haproxy.cfg"
  readonly diff?: string; // a file's unified diff, secrets masked as the plan shows them
}

export interface HostRecord {
  readonly host: string;
  readonly status: HostOutcome;
  readonly changes: readonly RecordedChange[];
  readonly error?: string;
  readonly notes: readonly string[];
  readonly versions?: HostVersions;
  readonly lastStep?: string; // a run that did not finish: what this host was last doing
}

export interface HistoryRecord {
  readonly format: typeof RECORD_FORMAT;
  readonly command: RecordedCommand;
  readonly flags: Readonly<Record<string, string | boolean>>;
  readonly runId: string; // the hosts' version history names the run so: "run 5f2c1a9b"
  readonly user: string;
  readonly sudoUser?: string; // who ran it through sudo, when it was
  readonly controller: string; // this machine's host name
  readonly pid: number;
  readonly started: string; // ISO 8601
  readonly ended: string;
  readonly seconds: number;
  readonly inventory: { readonly file: string; readonly sha256: string };
  readonly playbook: { readonly file: string; readonly sha256: string };
  readonly outcome: RunOutcome;
  readonly exitCode: number;
  readonly error?: string;
  /** The version number this run wrote on the hosts it changed (one run, one number): undone by rollback --to version-1. */
  readonly version?: number;
  readonly hosts: readonly HostRecord[];
  readonly checks: readonly Check[];
  readonly order?: readonly string[];
  readonly rollout?: { readonly timeline: readonly TimelineEvent[]; readonly stopped?: { readonly reason: string; readonly detail: string } };
}

/** What is known when the run starts. */
export interface RunContext {
  readonly command: RecordedCommand;
  readonly runId: string; // given to the run, so that a run cut short is still named as its hosts name it
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  readonly user: string;
  readonly sudoUser?: string;
  readonly controller: string;
  readonly pid: number;
  readonly started: Date;
  readonly inventory: { readonly file: string; readonly sha256: string };
  readonly playbook: { readonly file: string; readonly sha256: string };
}

/** How the run ended: its report and exit code, or as far as it got. */
export type RunEnd =
  | { readonly kind: 'report'; readonly report: RunReport; readonly exitCode: number }
  | {
      readonly kind: 'failed' | 'interrupted';
      readonly exitCode: number;
      readonly error?: string; // why it failed, or which signal
      readonly plan?: readonly HostReport[]; // the plan as confirmed, if the run got that far
      readonly applying: boolean; // whether hosts had started to change
      readonly steps: ReadonlyMap<string, string>; // each host's last progress step
    };

function recordChange(change: Change, redact: Redactor): RecordedChange {
  const diff = change.kind === 'file' && change.before?.content !== change.content ? { diff: fileDiff(change, redact) } : {};
  return { kind: change.kind, summary: redact(describeChange(change)), ...diff };
}

function recordHost(h: HostReport, redact: Redactor, status: HostOutcome = h.status, lastStep?: string): HostRecord {
  return {
    host: h.host,
    status,
    changes: h.changes.map((c) => recordChange(c, redact)),
    ...(h.error ? { error: redact(h.error) } : {}),
    notes: h.notes.map(redact),
    ...(h.versions ? { versions: h.versions } : {}),
    ...(lastStep ? { lastStep: redact(lastStep) } : {}),
  };
}

export function outcomeOf(report: RunReport, exitCode: number): RunOutcome {
  if (report.aborted) return 'aborted';
  if (report.rollout?.stopped) return 'stopped';
  return exitCode === 0 ? 'ok' : 'failed';
}

/** The number this run took on the hosts it changed: the newest any of them has past what it had. */
function versionWritten(hosts: readonly HostRecord[]): number | undefined {
  const written = hosts.flatMap((h) => (h.versions && h.versions.after > h.versions.before ? [h.versions.after] : []));
  return written.length > 0 ? Math.max(...written) : undefined;
}

function hostsOf(end: RunEnd, redact: Redactor): HostRecord[] {
  if (end.kind === 'report') return end.report.hosts.map((h) => recordHost(h, redact));
  const planned = end.plan ?? [];
  const fromPlan = planned.map((h) => {
    // A pending host of a run that had started applying may be half-way: only the host can tell.
    const status: HostOutcome = h.status === 'pending' && end.applying ? 'unknown' : h.status;
    return recordHost(h, redact, status, end.steps.get(h.host));
  });
  const unplanned = [...end.steps].filter(([host]) => !planned.some((h) => h.host === host));
  // Not in the plan: the run ended while reading the hosts (nothing applied yet), or before its plan was shown.
  const status: HostOutcome = end.applying ? 'unknown' : 'pending';
  return [...fromPlan, ...unplanned.map(([host, step]) => ({ host, status, changes: [], notes: [], lastStep: redact(step) }))];
}

export function buildRecord(context: RunContext, end: RunEnd, ended: Date, secrets: readonly string[]): HistoryRecord {
  const redact = redactor(secrets);
  const flags = Object.fromEntries(
    Object.entries(context.flags).flatMap(([k, v]) => (v === undefined || k === 'help' ? [] : [[k, typeof v === 'string' ? redact(v) : v]])),
  ) as Record<string, string | boolean>;
  const hosts = hostsOf(end, redact);
  const version = versionWritten(hosts);
  const report = end.kind === 'report' ? end.report : undefined;
  return {
    format: RECORD_FORMAT,
    command: context.command,
    flags,
    runId: report?.runId ?? context.runId,
    user: context.user,
    ...(context.sudoUser ? { sudoUser: context.sudoUser } : {}),
    controller: context.controller,
    pid: context.pid,
    started: context.started.toISOString(),
    ended: ended.toISOString(),
    seconds: Math.round((ended.getTime() - context.started.getTime()) / 100) / 10,
    inventory: context.inventory,
    playbook: context.playbook,
    outcome: end.kind === 'report' ? outcomeOf(end.report, end.exitCode) : end.kind,
    exitCode: end.exitCode,
    ...(end.kind !== 'report' && end.error ? { error: redact(end.error) } : {}),
    ...(version === undefined ? {} : { version }),
    hosts,
    checks: (report?.checks ?? []).map((c) => ({ ...c, name: redact(c.name), detail: redact(c.detail) })),
    ...(report?.order?.length ? { order: report.order.map(redact) } : {}),
    ...(report?.rollout
      ? {
          rollout: {
            timeline: report.rollout.timeline.map((e) => ({ ...e, detail: redact(e.detail) })),
            ...(report.rollout.stopped ? { stopped: { ...report.rollout.stopped, detail: redact(report.rollout.stopped.detail) } } : {}),
          },
        }
      : {}),
  };
}

/**
 * The record as the one line appended to the history: masked once more as a whole, in case a field was
 * missed — each secret also as JSON spells it inside a string (a quote or backslash in it is escaped).
 */
export function recordLine(record: HistoryRecord, secrets: readonly string[]): string {
  const escaped = secrets.map((s) => JSON.stringify(s).slice(1, -1));
  const line = redactor([...secrets, ...escaped])(JSON.stringify(record));
  // A secret that spells a key or a literal (say "true") would be masked into something no reader parses.
  try {
    JSON.parse(line);
  } catch {
    throw new Error('a secret of the inventory occurs in the record outside any text that could be masked; the record was not written');
  }
  return line;
}
