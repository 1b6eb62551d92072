// The bench's summaries of a series of timings. The verdict is the ratio of medians; the spread of each
// round's own ratio (a run against the floor measured in the same round) says how far one bench run's
// verdict can be trusted on a noisy machine.

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** The q-quantile (0–1), interpolated linearly between the two nearest values; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const below = Math.floor(at);
  const above = Math.min(below + 1, s.length - 1);
  return s[below]! + (s[above]! - s[below]!) * (at - below);
}

/** Rounded to hundredths, as every ratio the bench reports. */
export const hundredths = (x: number): number => Number(x.toFixed(2));

export interface Spread {
  readonly min: number;
  readonly low: number; // 25th percentile
  readonly high: number; // 75th percentile
  readonly max: number;
}

/** Each round's ratio of `runs[i]` to `floors[i]`, summarised; values rounded to 2 decimals. */
export function roundRatioSpread(runs: readonly number[], floors: readonly number[]): Spread {
  if (runs.length !== floors.length) throw new Error(`one floor per round: ${runs.length} runs, ${floors.length} floors`);
  const ratios = runs.map((r, i) => r / floors[i]!);
  return { min: hundredths(quantile(ratios, 0)), low: hundredths(quantile(ratios, 0.25)), high: hundredths(quantile(ratios, 0.75)), max: hundredths(quantile(ratios, 1)) };
}

export const formatSpread = (s: Spread): string => `${s.min}–${s.max} (middle half ${s.low}–${s.high})`;
