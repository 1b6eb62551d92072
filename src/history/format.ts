// Pure: the history as `ha-provision history` prints it — one line per run, or one run in full. The
// records were masked when written; nothing here adds anything from outside them.
import type { HistoryRecord, HostRecord } from './record.js';
import type { HistoryRead, NumberedRecord } from './store.js';

/** The flags as typed: `--to 5 --yes`. */
export function flagsText(flags: HistoryRecord['flags']): string {
  return Object.entries(flags)
    .flatMap(([k, v]) => (v === false ? [] : v === true ? [`--${k}`] : [`--${k} ${/[\s'"]/.test(v) ? JSON.stringify(v) : v}`]))
    .join(' ');
}

const when = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

export const who = (r: HistoryRecord): string => `${r.sudoUser ? `${r.sudoUser} as ` : ''}${r.user}@${r.controller}`;

const outcomeText = (r: HistoryRecord): string => (r.exitCode === 0 ? r.outcome : `${r.outcome} (exit ${r.exitCode})`);

/** "2 changed, 1 failed, 1 in sync: version 8, back to 5". */
export function hostsText(r: HistoryRecord): string {
  const order = ['changed', 'failed', 'unknown', 'pending', 'in-sync'] as const;
  const counts = order.flatMap((s) => {
    const n = r.hosts.filter((h) => h.status === s).length;
    return n > 0 ? [`${n} ${s === 'in-sync' ? 'in sync' : s}`] : [];
  });
  const targets = rollbackTargets(r);
  const versions = [
    ...(r.version === undefined ? [] : [`version ${r.version}`]),
    ...(targets.length > 0 ? [`back to ${targets.map((t) => t.version).join(', ')}`] : []),
  ];
  return `${counts.join(', ') || 'no hosts'}${versions.length ? `: ${versions.join(', ')}` : ''}`;
}

/** A rollback's target versions and the hosts put back to each. */
export function rollbackTargets(r: HistoryRecord): { version: number; hosts: string[] }[] {
  const byVersion = new Map<number, string[]>();
  for (const h of r.hosts) if (h.versions?.target !== undefined) byVersion.set(h.versions.target, [...(byVersion.get(h.versions.target) ?? []), h.host]);
  return [...byVersion].sort(([a], [b]) => a - b).map(([version, hosts]) => ({ version, hosts }));
}

export function skippedLines(read: HistoryRead): string[] {
  return read.unreadable.map(({ n, last }) =>
    last ? `line ${n} is torn (a run ended while writing its record?): skipped` : `line ${n} is not a record: skipped`,
  );
}

/** One line per run, oldest first; then what was skipped. */
export function formatListing(read: HistoryRead): string {
  const rows = read.records.map(({ n, record: r }) => [
    String(n),
    when(r.started),
    `${r.seconds.toFixed(1)} s`,
    who(r),
    outcomeText(r),
    hostsText(r),
    `${r.command}${flagsText(r.flags) ? ` ${flagsText(r.flags)}` : ''}`,
  ]);
  const header = ['N', 'started', 'took', 'who', 'outcome', 'hosts', 'command'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i === 2 ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const body = rows.length > 0 ? [line(header), ...rows.map(line)] : ['no runs recorded'];
  return [...body, ...skippedLines(read)].join('\n');
}

function hostVersions(h: HostRecord): string {
  if (!h.versions) return '';
  const { before, after, target } = h.versions;
  const parts = [after > before ? `version ${before} → ${after}` : `at version ${after}`, ...(target === undefined ? [] : [`put back as version ${target} had it`])];
  return ` (${parts.join('; ')})`;
}

function formatHost(h: HostRecord): string[] {
  const status = h.status === 'in-sync' ? 'in sync' : h.status;
  const count = h.changes.length > 0 ? `, ${h.changes.length} change${h.changes.length === 1 ? '' : 's'}` : '';
  const lines = [`${h.host}: ${status}${count}${hostVersions(h)}`];
  if (h.lastStep) lines.push(`  last step: ${h.lastStep}`);
  for (const c of h.changes) {
    lines.push(`  ~ ${c.summary}`);
    if (c.diff) lines.push(...c.diff.split('\n').map((l) => `    ${l}`));
  }
  lines.push(...h.notes.map((n) => `  ! ${n}`));
  if (h.error) lines.push(...`error: ${h.error}`.split('\n').map((l) => `  ${l}`));
  return lines;
}

/** One run in full: who, when, what it was given, what each host did, what verify found. */
export function formatRecord({ n, record: r }: NumberedRecord): string {
  const flags = flagsText(r.flags);
  const head = [
    `Run ${n}: ${r.command}, ${outcomeText(r)}`,
    `  command     ha-provision ${r.command} ${r.inventory.file}${flags ? ` ${flags}` : ''}`,
    `  who         ${who(r)} (pid ${r.pid})`,
    `  when        ${when(r.started)} → ${when(r.ended)} (${r.seconds.toFixed(1)} s)`,
    `  inventory   ${r.inventory.file} (sha256 ${r.inventory.sha256})`,
    `  playbook    ${r.playbook.file} (sha256 ${r.playbook.sha256})`,
    ...(r.runId ? [`  run id      ${r.runId} (the hosts' versions name it "run ${r.runId}"; \`rollback --dry-run\` lists them)`] : []),
    ...(r.version === undefined ? [] : [`  version     ${r.version} on the hosts it changed; \`rollback --to ${r.version - 1}\` puts back what they had before it`]),
    ...rollbackTargets(r).map((t) => `  rolled back to version ${t.version}: ${t.hosts.join(', ')}`),
    ...(r.error ? `error       ${r.error}`.split('\n').map((l) => `  ${l}`) : []),
  ];
  const hosts = r.hosts.flatMap(formatHost);
  const checks = r.checks.map((c) => `  ${c.ok ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`);
  const rollout = r.rollout
    ? [
        'Timeline:',
        ...r.rollout.timeline.map((e) => `  ${`+${e.seconds.toFixed(1)}s`.padStart(8)}  ${e.host ?? ''}  ${e.step}  ${e.ok ? '' : 'FAILED '}${e.detail}`),
        ...(r.rollout.stopped ? [`Stopped (${r.rollout.stopped.reason}): ${r.rollout.stopped.detail}`] : []),
      ]
    : [];
  return [
    ...head,
    '',
    ...(hosts.length > 0 ? hosts : ['no host was read']),
    ...(checks.length > 0 ? ['', 'Checks:', ...checks] : []),
    ...(rollout.length > 0 ? ['', ...rollout] : []),
  ].join('\n');
}

