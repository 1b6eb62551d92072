// The bench's summaries: medians for the verdict, and the spread of each round's own ratio to its floor.
import { describe, expect, it } from 'vitest';
import { formatSpread, median, quantile, roundRatioSpread } from '../../src/bench/stats.js';

describe('bench statistics', () => {
  it.each([
    { xs: [], q: 0.5, want: NaN },
    { xs: [7], q: 0.25, want: 7 },
    { xs: [3, 1, 2], q: 0.5, want: 2 },
    { xs: [4, 1, 3, 2], q: 0.5, want: 2.5 },
    { xs: [10, 20, 30, 40, 50], q: 0, want: 10 },
    { xs: [10, 20, 30, 40, 50], q: 1, want: 50 },
    { xs: [10, 20, 30, 40, 50], q: 0.25, want: 20 },
    { xs: [10, 20, 30, 40], q: 0.75, want: 32.5 }, // between 30 and 40, a half step past 30
  ])('quantile $q of $xs is $want', ({ xs, q, want }) => {
    expect(quantile(xs, q)).toBe(want);
  });

  it('the median is the 0.5 quantile, whatever the order of the values', () => {
    expect(median([5, 1, 4, 2, 3])).toBe(3);
    expect(median([1.2, 0.9, 1.0, 1.1])).toBeCloseTo(1.05, 10);
  });

  it("pairs each run with its own round's floor, not with the floors sorted apart", () => {
    // Round 2's run is the faster one, but its floor was as slow: 1.0 there, 1.2 in round 1 (sorted
    // apart, 1100/1000 and 1200/1100 would read 1.1 and 1.09).
    expect(roundRatioSpread([1200, 1100], [1000, 1100])).toEqual({ min: 1, low: 1.05, high: 1.15, max: 1.2 });
    expect(roundRatioSpread([1100, 1500, 1300], [1000, 1000, 1000])).toEqual({ min: 1.1, low: 1.2, high: 1.4, max: 1.5 });
  });

  it('refuses runs and floors of different rounds', () => {
    expect(() => roundRatioSpread([1, 2], [1])).toThrow(/one floor per round: 2 runs, 1 floors/);
  });

  it('prints the range and its middle half', () => {
    expect(formatSpread({ min: 1.04, low: 1.25, high: 1.4, max: 1.58 })).toBe('1.04–1.58 (middle half 1.25–1.4)');
  });
});
