// The controller's run history: one JSON record per line in <inventory dir>/.ha-provision/history.jsonl
// (or --history FILE, or $HA_PROVISION_HISTORY). Records are only ever appended, each in one write on
// an O_APPEND descriptor, so concurrent runs cannot interleave and a record's line number never changes:
// that line number is the record's sequence number N. Storing a counter instead would need a lock, or
// two concurrent runs would both read 5 and write 6.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { RECORD_FORMAT, type HistoryRecord } from './record.js';

export const HISTORY_ENV = 'HA_PROVISION_HISTORY';
export const DEFAULT_HISTORY = join('.ha-provision', 'history.jsonl');

/**
 * Where the history is: --history FILE, else $HA_PROVISION_HISTORY, else next to the inventory (or in
 * the directory given instead of an inventory, or the current one).
 */
export function historyFile(how: { readonly flag?: string; readonly env?: string; readonly inventory?: string; readonly cwd: string }): string {
  if (how.flag) return resolve(how.cwd, how.flag);
  if (how.env) return resolve(how.cwd, how.env);
  if (!how.inventory) return resolve(how.cwd, DEFAULT_HISTORY);
  const given = resolve(how.cwd, how.inventory);
  const isDir = existsSync(given) && statSync(given).isDirectory();
  return join(isDir ? given : dirname(given), DEFAULT_HISTORY);
}

/** Creates the history's directory (private: the records say who changed what, when). */
export function prepareHistory(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
}

/**
 * Appends one record line. A file whose last line was torn (a run killed mid-write) gets a newline
 * first, so the torn line stays one unreadable line and this record a whole one.
 */
export function appendRecord(file: string, line: string): void {
  prepareHistory(file);
  const fd = openSync(file, 'a+', 0o600);
  try {
    const { size } = fstatSync(fd);
    const last = Buffer.alloc(1);
    const torn = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
    const bytes = Buffer.from(`${torn ? '\n' : ''}${line}\n`, 'utf8');
    // One write(2) for the whole record; regular files take it whole, a short write would be retried.
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
  } finally {
    closeSync(fd);
  }
}

export interface NumberedRecord {
  readonly n: number;
  readonly record: HistoryRecord;
}

export interface HistoryRead {
  readonly records: readonly NumberedRecord[];
  /** Lines that are not a record: the last one torn by a run killed mid-write, or damaged by hand. */
  readonly unreadable: readonly { readonly n: number; readonly last: boolean }[];
}

/** Pure: the history's text → its records, numbered by line (blank lines are not counted). */
export function parseHistory(text: string): HistoryRead {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const records: NumberedRecord[] = [];
  const unreadable: { n: number; last: boolean }[] = [];
  lines.forEach((line, i) => {
    const n = i + 1;
    try {
      const record = JSON.parse(line) as HistoryRecord;
      if (record?.format !== RECORD_FORMAT) throw new Error('not a record');
      records.push({ n, record });
    } catch {
      unreadable.push({ n, last: i === lines.length - 1 });
    }
  });
  return { records, unreadable };
}

/** The history, or none yet (no file). */
export function readHistory(file: string): HistoryRead | undefined {
  if (!existsSync(file)) return undefined;
  return parseHistory(readFileSync(file, 'utf8'));
}
