// `rollout`'s flags → the rolling strategy: batches, pauses and the maintenance window (a flag overrides
// the inventory's maintenance.windows). Outside the window it refuses (exit 4) or, asked to, waits.
import { OutsideWindowError, UsageError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { rolling } from '../rollout/rolling.js';
import { checkTimeZone, formatInZone, parseWindows, systemClock, windowState, type Clock } from '../rollout/window.js';
import type { Strategy } from '../agent/strategy.js';
import { confirmOnTty } from './confirm.js';

type Values = Record<string, string | boolean | undefined>;

/** `applying` false (--dry-run): the order is shown whatever the time; windows matter only to a change. */
export async function rolloutStrategy(values: Values, inventory: Inventory, log: (line: string) => void, applying: boolean, clock: Clock = systemClock): Promise<Strategy> {
  const batch = values.batch === undefined ? 1 : Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`--batch must be a whole number ≥ 1, got ${String(values.batch)}`);
  const pause = parsePause(values.pause);
  const spec = typeof values.window === 'string' ? values.window : inventory.maintenance.windows;
  const timeZone = checkTimeZone(typeof values.tz === 'string' ? values.tz : inventory.maintenance.timeZone);
  const windows = spec.length > 0 ? parseWindows(spec) : undefined;
  if (windows && applying) {
    const state = windowState(windows, clock.now(), timeZone);
    if (!state.open) {
      const next = formatInZone(state.nextStart, timeZone);
      if (!values['wait-for-window']) {
        throw new OutsideWindowError(`outside the maintenance window (${windows.map((w) => w.text).join(', ')}, ${timeZone}): the next one starts ${next}; nothing was changed (--wait-for-window waits for it)`);
      }
      log(`waiting for the maintenance window: it starts ${next}`);
      await clock.sleep(state.nextStart.getTime() - clock.now().getTime());
    }
  }
  return rolling({ batch, ...(pause ? { pause } : {}), ...(windows ? { window: { windows, timeZone } } : {}), clock });
}

function parsePause(value: string | boolean | undefined): { seconds: number } | { enter: () => Promise<void> } | undefined {
  if (value === undefined) return undefined;
  if (value === 'enter') {
    if (!process.stdin.isTTY) throw new UsageError('--pause enter needs a terminal; outside one, give a number of seconds');
    return { enter: async () => void (await confirmOnTty('Press Enter for the next step ')) };
  }
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--pause must be a number of seconds or "enter", got ${String(value)}`);
  return { seconds };
}
