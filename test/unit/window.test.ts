// Maintenance windows decide when a rollout may touch hosts, so every case asserts exact instants,
// including the DST days on which a wall-clock window is shorter, longer or starts late.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import {
  checkTimeZone,
  formatInZone,
  hasRoom,
  parseWindows,
  windowState,
  type WindowState,
} from '../../src/rollout/window.js';

const EVERY_DAY = [0, 1, 2, 3, 4, 5, 6];

describe('parseWindows', () => {
  it.each([
    ['a day and a time range', 'Sat 02:00-04:00', [{ days: [6], startMinute: 120, endMinute: 240 }]],
    ['daily', 'daily 22:00-02:00', [{ days: EVERY_DAY, startMinute: 1320, endMinute: 120 }]],
    ['a whole day', 'Sat', [{ days: [6], startMinute: 0, endMinute: 1440 }]],
    ['a day range', 'Mon-Fri 01:00-03:00', [{ days: [1, 2, 3, 4, 5], startMinute: 60, endMinute: 180 }]],
    ['a day range wrapping the weekend', 'Fri-Mon 01:00-03:00', [{ days: [0, 1, 5, 6], startMinute: 60, endMinute: 180 }]],
    ['full day names in any case', 'SATURDAY 2:00-4:00', [{ days: [6], startMinute: 120, endMinute: 240 }]],
    ['24:00 as an end', 'sun 22:00-24:00', [{ days: [0], startMinute: 1320, endMinute: 1440 }]],
    ['spaces around the dash', 'Sat 02:00 - 04:00', [{ days: [6], startMinute: 120, endMinute: 240 }]],
    [
      'several windows',
      'Sat 02:00-04:00, Sun 03:00-05:00',
      [
        { text: 'Sat 02:00-04:00', days: [6], startMinute: 120, endMinute: 240 },
        { text: 'Sun 03:00-05:00', days: [0], startMinute: 180, endMinute: 300 },
      ],
    ],
    [
      'the inventory list form',
      ['Sat 02:00-04:00', 'daily 23:00-23:30'],
      [
        { text: 'Sat 02:00-04:00', days: [6], startMinute: 120, endMinute: 240 },
        { text: 'daily 23:00-23:30', days: EVERY_DAY, startMinute: 1380, endMinute: 1410 },
      ],
    ],
  ])('reads %s', (_name, spec, expected) => {
    expect(parseWindows(spec)).toMatchObject(expected);
  });

  it.each([
    ['a misspelt day', 'Sta 02:00-04:00', 'window "Sta 02:00-04:00": "Sta" is not a day (Mon … Sun, a range like Mon-Fri, or daily)'],
    ['a misspelt range end', 'Mon-Fry 01:00-03:00', '"Fry" is not a day'],
    ['a three-part range', 'Mon-Tue-Wed', '"Mon-Tue-Wed" is not a day'],
    ['a missing day', '02:00-04:00', 'window "02:00-04:00": no day before the time'],
    ['an hour past 24', 'Sat 25:00-04:00', '"25:00" is not a time (HH:MM from 00:00 to 24:00)'],
    ['minutes past 59', 'Sat 02:60-04:00', '"02:60" is not a time'],
    ['a time past 24:00', 'Sat 22:00-24:30', '"24:30" is not a time'],
    ['24:00 as a start', 'Sat 24:00-02:00', '"24:00" can only end a window'],
    ['a single time', 'Sat 02:00', '"02:00" is not a time range'],
    ['an empty flag', '  ', 'no maintenance window given'],
    ['an empty list', [], 'no maintenance window given'],
    ['a trailing comma', 'Sat 02:00-04:00,', 'an empty window between commas'],
  ])('rejects %s with a UsageError that says what is wrong', (_name, spec, message) => {
    expect(() => parseWindows(spec)).toThrow(UsageError);
    expect(() => parseWindows(spec)).toThrow(message);
  });
});

describe('checkTimeZone', () => {
  it.each([
    ['an IANA name', 'Europe/Berlin', 'Europe/Berlin'],
    ['UTC', 'UTC', 'UTC'],
    ['no zone: the machine zone', undefined, new Intl.DateTimeFormat().resolvedOptions().timeZone],
  ])('accepts %s', (_name, tz, expected) => {
    expect(checkTimeZone(tz)).toBe(expected);
  });

  it('names an unknown zone', () => {
    expect(() => checkTimeZone('Mars/Olympus')).toThrow(UsageError);
    expect(() => checkTimeZone('Mars/Olympus')).toThrow('time zone "Mars/Olympus" is unknown');
  });
});

type Expected = { open: true; closesAt: string; window: string } | { open: false; nextStart: string; window: string };
const simplify = (s: WindowState): Expected =>
  s.open
    ? { open: true, closesAt: s.closesAt.toISOString(), window: s.window.text }
    : { open: false, nextStart: s.nextStart.toISOString(), window: s.window.text };
const open = (closesAt: string, window: string): Expected => ({ open: true, closesAt: iso(closesAt), window });
const closed = (nextStart: string, window: string): Expected => ({ open: false, nextStart: iso(nextStart), window });
const iso = (s: string) => new Date(s).toISOString();

// 2026-11-28 is a Saturday; Berlin springs forward on Sun 2026-03-29 and falls back on Sun 2026-10-25.
describe('windowState', () => {
  it.each([
    ['UTC: before the window', 'Sat 02:00-04:00', 'UTC', '2026-11-27T12:00Z', closed('2026-11-28T02:00Z', 'Sat 02:00-04:00')],
    ['UTC: at its first instant', 'Sat 02:00-04:00', 'UTC', '2026-11-28T02:00Z', open('2026-11-28T04:00Z', 'Sat 02:00-04:00')],
    ['UTC: inside', 'Sat 02:00-04:00', 'UTC', '2026-11-28T03:59Z', open('2026-11-28T04:00Z', 'Sat 02:00-04:00')],
    ['UTC: at its end, the next week', 'Sat 02:00-04:00', 'UTC', '2026-11-28T04:00Z', closed('2026-12-05T02:00Z', 'Sat 02:00-04:00')],
    ['crossing midnight, after midnight', 'Sat 23:00-01:00', 'UTC', '2026-11-29T00:30Z', open('2026-11-29T01:00Z', 'Sat 23:00-01:00')],
    ['crossing midnight, not on the next day itself', 'Sat 23:00-01:00', 'UTC', '2026-11-29T01:00Z', closed('2026-12-05T23:00Z', 'Sat 23:00-01:00')],
    ['daily, from yesterday evening', 'daily 22:00-02:00', 'UTC', '2026-11-25T01:00Z', open('2026-11-25T02:00Z', 'daily 22:00-02:00')],
    ['a whole day, last minute', 'Sat', 'UTC', '2026-11-28T23:59Z', open('2026-11-29T00:00Z', 'Sat')],
    ['a wrapping day range, from Tuesday', 'Fri-Mon 01:00-03:00', 'UTC', '2026-11-24T12:00Z', closed('2026-11-27T01:00Z', 'Fri-Mon 01:00-03:00')],
    ['the earliest of several windows', 'Sun 01:00-02:00, Sat 05:00-06:00', 'UTC', '2026-11-28T04:00Z', closed('2026-11-28T05:00Z', 'Sat 05:00-06:00')],
    ['abutting windows merged', 'Sat 02:00-04:00, Sat 04:00-06:00', 'UTC', '2026-11-28T03:00Z', open('2026-11-28T06:00Z', 'Sat 02:00-04:00')],
    ['overlapping windows merged', 'Sat 04:00-06:00, Sat 02:00-05:00', 'UTC', '2026-11-28T03:00Z', open('2026-11-28T06:00Z', 'Sat 02:00-05:00')],
    ['merged across midnight', 'Sat 22:00-24:00, Sun 00:00-02:00', 'UTC', '2026-11-28T23:00Z', open('2026-11-29T02:00Z', 'Sat 22:00-24:00')],
    ['a gap is not merged', 'Sat 02:00-04:00, Sat 04:01-06:00', 'UTC', '2026-11-28T03:00Z', open('2026-11-28T04:00Z', 'Sat 02:00-04:00')],
    ['Berlin winter (UTC+1)', 'Sat 02:00-04:00', 'Europe/Berlin', '2026-11-27T12:00Z', closed('2026-11-28T01:00Z', 'Sat 02:00-04:00')],
    ['Berlin summer (UTC+2)', 'Sat 02:00-04:00', 'Europe/Berlin', '2026-07-04T01:00Z', open('2026-07-04T02:00Z', 'Sat 02:00-04:00')],
    ['Kolkata (UTC+5:30): opens', 'Sat 02:00-04:00', 'Asia/Kolkata', '2026-11-27T12:00Z', closed('2026-11-27T20:30Z', 'Sat 02:00-04:00')],
    ['Kolkata (UTC+5:30): closes', 'Sat 02:00-04:00', 'Asia/Kolkata', '2026-11-27T21:00Z', open('2026-11-27T22:30Z', 'Sat 02:00-04:00')],
    ['spring forward: 02:00 is skipped, opens at 03:00 CEST', 'Sun 02:00-04:00', 'Europe/Berlin', '2026-03-28T12:00Z', closed('2026-03-29T01:00Z', 'Sun 02:00-04:00')],
    ['spring forward: 02:30 opens when the gap ends', 'Sun 02:30-04:00', 'Europe/Berlin', '2026-03-28T12:00Z', closed('2026-03-29T01:00Z', 'Sun 02:30-04:00')],
    ['spring forward: one hour shorter', 'Sun 02:00-04:00', 'Europe/Berlin', '2026-03-29T01:00Z', open('2026-03-29T02:00Z', 'Sun 02:00-04:00')],
    ['spring forward: overnight window', 'Sat 23:00-04:00', 'Europe/Berlin', '2026-03-28T22:00Z', open('2026-03-29T02:00Z', 'Sat 23:00-04:00')],
    ['fall back: opens at the first 02:00 (CEST)', 'Sun 02:00-04:00', 'Europe/Berlin', '2026-10-24T12:00Z', closed('2026-10-25T00:00Z', 'Sun 02:00-04:00')],
    ['fall back: open through the repeated hour', 'Sun 02:00-04:00', 'Europe/Berlin', '2026-10-25T01:30Z', open('2026-10-25T03:00Z', 'Sun 02:00-04:00')],
  ])('%s', (_name, spec, tz, now, expected) => {
    expect(simplify(windowState(parseWindows(spec), new Date(now), tz))).toEqual(expected);
  });

  it('reports an always-open set of windows as open', () => {
    const state = windowState(parseWindows('daily'), new Date('2026-11-28T12:00Z'), 'UTC');
    expect(state.open && state.closesAt.getTime()).toBeGreaterThan(new Date('2026-12-05T00:00Z').getTime());
  });
});

describe('hasRoom', () => {
  const windows = parseWindows('Sat 02:00-04:00');
  const MIN = 60_000;
  it.each([
    ['a step that fits', '2026-11-28T03:00Z', 30 * MIN, true],
    ['a step that ends exactly at closing', '2026-11-28T03:00Z', 60 * MIN, true],
    ['a step one minute too long', '2026-11-28T03:00Z', 61 * MIN, false],
    ['a closed window', '2026-11-28T05:00Z', 0, false],
  ])('%s', (_name, now, expectedMs, room) => {
    const at = new Date(now);
    expect(hasRoom(windowState(windows, at, 'UTC'), at, expectedMs)).toBe(room);
  });
});

describe('formatInZone', () => {
  it.each([
    ['Berlin winter', '2026-11-28T01:00Z', 'Europe/Berlin', 'Sat 2026-11-28 02:00 Europe/Berlin'],
    ['Berlin summer', '2026-07-04T00:00Z', 'Europe/Berlin', 'Sat 2026-07-04 02:00 Europe/Berlin'],
    ['Kolkata, past midnight', '2026-11-27T20:30Z', 'Asia/Kolkata', 'Sat 2026-11-28 02:00 Asia/Kolkata'],
    ['UTC', '2026-11-29T23:59Z', 'UTC', 'Sun 2026-11-29 23:59 UTC'],
  ])('shows %s wall time', (_name, date, tz, expected) => {
    expect(formatInZone(new Date(date), tz)).toBe(expected);
  });
});
