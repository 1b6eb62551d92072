// Maintenance windows: when a rollout may touch hosts. Wall-clock times are read in an IANA zone
// through Intl, so DST rules and odd offsets come from the runtime's tzdata, not from this file.
import { setTimeout as delay } from 'node:timers/promises';
import { UsageError } from '../errors.js';

export interface MaintenanceWindow {
  readonly text: string; // as the user wrote it, for messages
  readonly days: readonly number[]; // 0=Sun … 6=Sat: the days the window STARTS on
  readonly startMinute: number; // 0 … 1439, wall clock
  readonly endMinute: number; // 1 … 1440; not after startMinute means it ends the next day
}

export type WindowState =
  | { readonly open: true; readonly window: MaintenanceWindow; readonly closesAt: Date }
  | { readonly open: false; readonly nextStart: Date; readonly window: MaintenanceWindow };

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

const MAX_TIMER_MS = 2 ** 31 - 1; // longer setTimeout delays fire at once
export const systemClock: Clock = {
  now: () => new Date(),
  async sleep(ms) {
    for (let left = ms; left > 0; left -= MAX_TIMER_MS) await delay(Math.min(left, MAX_TIMER_MS));
  },
};

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
// Windows repeat weekly, so two weeks always hold the next start; an always-open set of windows
// reports the horizon as closesAt.
const HORIZON_DAYS = 14;
const DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const DAY_ABBR = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAYS_HELP = 'Mon … Sun, a range like Mon-Fri, or daily';
const TIME_HELP = 'HH:MM from 00:00 to 24:00';

/** Parses the `--window` flag (comma-separated) or the `maintenance.windows` list. */
export function parseWindows(spec: string | readonly string[]): MaintenanceWindow[] {
  const items = typeof spec === 'string' ? [spec] : spec;
  const texts = items.flatMap((item) => item.split(',')).map((t) => t.trim());
  if (texts.every((t) => t === '')) {
    throw new UsageError('no maintenance window given (e.g. "Sat 02:00-04:00" or "daily 22:00-02:00")');
  }
  if (texts.includes('')) {
    throw new UsageError(`windows "${items.join(', ')}": an empty window between commas (remove the extra comma)`);
  }
  return texts.map(parseWindow);
}

function parseWindow(text: string): MaintenanceWindow {
  const [dayPart = '', ...rest] = text.split(/\s+/);
  if (/^\d/.test(dayPart)) {
    throw new UsageError(`window "${text}": no day before the time (start with ${DAYS_HELP})`);
  }
  const days = parseDays(text, dayPart);
  if (rest.length === 0) return { text, days, startMinute: 0, endMinute: 24 * 60 };
  const range = rest.join(''); // tolerates "02:00 - 04:00"
  const m = /^([^-]+)-([^-]+)$/.exec(range);
  if (!m) {
    throw new UsageError(`window "${text}": "${rest.join(' ')}" is not a time range (${TIME_HELP}, e.g. 02:00-04:00)`);
  }
  return { text, days, startMinute: parseTime(text, m[1]!, false), endMinute: parseTime(text, m[2]!, true) };
}

function parseDays(text: string, token: string): number[] {
  if (token.toLowerCase() === 'daily') return [0, 1, 2, 3, 4, 5, 6];
  const names = token.split('-');
  const indexes = names.map((n) => DAY_NAMES.findIndex((d) => [d, d.slice(0, 3)].includes(n.toLowerCase())));
  const bad = names.length > 2 ? token : names.find((_, i) => indexes[i] === -1);
  if (bad !== undefined) throw new UsageError(`window "${text}": "${bad}" is not a day (${DAYS_HELP})`);
  const [from, to = from] = indexes as [number, number?];
  const days: number[] = [];
  for (let d = from; ; d = (d + 1) % 7) {
    days.push(d);
    if (d === to) break;
  }
  return days.sort((a, b) => a - b);
}

function parseTime(text: string, hhmm: string, isEnd: boolean): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  const minutes = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  if (!m || Number(m[2]) > 59 || !(minutes <= 24 * 60)) {
    throw new UsageError(`window "${text}": "${hhmm}" is not a time (${TIME_HELP})`);
  }
  if (minutes === 24 * 60 && !isEnd) {
    throw new UsageError(`window "${text}": "${hhmm}" can only end a window (start at 00:00 instead)`);
  }
  return minutes;
}

/** The zone to read windows in: the given IANA name, or the machine's zone when none is given. */
export function checkTimeZone(tz: string | undefined): string {
  if (tz === undefined || tz.trim() === '') return new Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz.trim() }).resolvedOptions().timeZone;
  } catch {
    throw new UsageError(`time zone "${tz}" is unknown (use an IANA name like Europe/Berlin, America/New_York or UTC)`);
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall clock at `ms` in the zone, encoded as a UTC timestamp so date arithmetic stays simple. */
function wallAt(ms: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    const n = 'numeric' as const;
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: n, month: n, day: n, hour: n, minute: n, second: n,
    });
    formatters.set(timeZone, f);
  }
  const p: Record<string, number> = {};
  for (const { type, value } of f.formatToParts(ms)) p[type] = Number(value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

const offsetAt = (ms: number, timeZone: string): number => wallAt(ms, timeZone) - Math.floor(ms / 1000) * 1000;

/** The instant a wall-clock time happens: the first one in a repeated hour, the end of a skipped one. */
function instantOf(wall: number, timeZone: string): number {
  // The offsets a day either side bracket any DST transition near `wall`.
  const offsets = [...new Set([offsetAt(wall - DAY_MS, timeZone), offsetAt(wall + DAY_MS, timeZone)])];
  const fits = offsets.map((o) => wall - o).filter((t) => wallAt(t, timeZone) === wall);
  if (fits.length > 0) return Math.min(...fits);
  // Skipped by spring-forward: bisect for the transition, the first instant whose wall clock is past
  // `wall`. Transitions fall on whole minutes, and the gap is short, so a few steps suffice.
  let lo = wall - Math.max(...offsets);
  let hi = wall - Math.min(...offsets);
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE_MS) * MINUTE_MS;
    if (wallAt(mid, timeZone) < wall) lo = mid;
    else hi = mid;
  }
  return hi;
}

interface Span {
  readonly start: number;
  readonly end: number;
  readonly window: MaintenanceWindow;
}

/** Whether `now` is inside a window (and until when), or when the next one opens. */
export function windowState(windows: readonly MaintenanceWindow[], now: Date, timeZone: string): WindowState {
  if (windows.length === 0) throw new UsageError('no maintenance window given');
  const t = now.getTime();
  const today = Math.floor(wallAt(t, timeZone) / DAY_MS) * DAY_MS;
  const spans: Span[] = [];
  // From yesterday: a window crossing midnight may still be open.
  for (let k = -1; k <= HORIZON_DAYS; k++) {
    const day = today + k * DAY_MS;
    for (const window of windows) {
      if (!window.days.includes(new Date(day).getUTCDay())) continue;
      const endDay = window.endMinute > window.startMinute ? day : day + DAY_MS;
      const start = instantOf(day + window.startMinute * MINUTE_MS, timeZone);
      const end = instantOf(endDay + window.endMinute * MINUTE_MS, timeZone);
      if (end > start) spans.push({ start, end, window }); // wholly inside a skipped hour: never opens
    }
  }
  spans.sort((a, b) => a.start - b.start);
  for (const [i, s] of spans.entries()) {
    if (s.start > t) return { open: false, nextStart: new Date(s.start), window: s.window };
    if (s.end <= t) continue;
    // A step may run on through windows that overlap or abut this one.
    let closesAt = s.end;
    for (const next of spans.slice(i + 1)) {
      if (next.start > closesAt) break;
      closesAt = Math.max(closesAt, next.end);
    }
    return { open: true, window: s.window, closesAt: new Date(closesAt) };
  }
  throw new Error('maintenance windows: no window within the horizon'); // unreachable: windows repeat weekly
}

/** Whether a step expected to take `expectedMs` can finish before the open window closes. */
export function hasRoom(state: WindowState, now: Date, expectedMs: number): boolean {
  return state.open && now.getTime() + expectedMs <= state.closesAt.getTime();
}

/** E.g. "Sat 2026-11-28 02:00 Europe/Berlin". */
export function formatInZone(date: Date, timeZone: string): string {
  const wall = new Date(wallAt(date.getTime(), timeZone));
  const iso = wall.toISOString();
  return `${DAY_ABBR[wall.getUTCDay()]} ${iso.slice(0, 10)} ${iso.slice(11, 16)} ${timeZone}`;
}
