// `ha-provision history [INVENTORY]` and `history show N [INVENTORY]`: the runs recorded on this
// controller. Reads only the history file: the inventory need not load (it may have changed since).
import { UsageError } from '../errors.js';
import { formatListing, formatRecord, skippedLines } from '../history/format.js';
import { HISTORY_ENV, historyFile, readHistory } from '../history/store.js';
import { HELP } from './help.js';

type Values = Record<string, string | boolean | undefined>;

/** The history a command reads or writes: --history FILE, $HA_PROVISION_HISTORY, or next to the inventory. */
export function historyFileFor(values: Values, inventory: string | undefined): string {
  return historyFile({
    ...(typeof values.history === 'string' ? { flag: values.history } : {}),
    ...(process.env[HISTORY_ENV] ? { env: process.env[HISTORY_ENV] } : {}),
    ...(inventory ? { inventory } : {}),
    cwd: process.cwd(),
  });
}

export function historyCommand(values: Values, positionals: string[]): number {
  const show = positionals[0] === 'show';
  const [nText, inventory, ...extra] = show ? positionals.slice(1) : [undefined, ...positionals];
  if (extra.length > 0 || (show && nText === undefined)) throw new UsageError(`${show ? 'history show takes N and at most one inventory' : 'history takes at most one inventory'}\n\n${HELP.history}`);
  const n = show ? Number(nText) : undefined;
  if (show && (!Number.isInteger(n) || n! < 1)) throw new UsageError(`history show: N must be a run number (1 or more; \`history\` lists them), got ${String(nText)}`);
  const file = historyFileFor(values, inventory);
  const read = readHistory(file);
  const json = Boolean(values.json);
  if (!read) {
    if (show) throw new UsageError(`no history at ${file}: no up, rollout or rollback has been recorded there`);
    process.stderr.write(`no history at ${file}: no up, rollout or rollback has been recorded there\n`);
    process.stdout.write(json ? '[]\n' : '');
    return 0;
  }
  for (const line of skippedLines(read)) process.stderr.write(`${file}: ${line}\n`);
  if (!show) {
    process.stdout.write(json ? `${JSON.stringify(read.records.map(({ n: number, record }) => ({ n: number, ...record })), null, 2)}\n` : `${formatListing({ ...read, unreadable: [] })}\n`);
    return 0;
  }
  const entry = read.records.find((r) => r.n === n);
  if (!entry) {
    const why = read.unreadable.some((u) => u.n === n) ? 'that line is not a readable record' : `the history has ${read.records.length + read.unreadable.length} run(s)`;
    throw new UsageError(`history show ${n}: no such run in ${file} (${why})`);
  }
  process.stdout.write(json ? `${JSON.stringify({ n: entry.n, ...entry.record }, null, 2)}\n` : `${formatRecord(entry)}\n`);
  return 0;
}
