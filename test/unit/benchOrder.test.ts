// The bench's rounds: each a full set of measurements, in orders that give every measurement every other
// one as its predecessor equally often (what ran just before a run slows it).
import { describe, expect, it } from 'vitest';
import { MEASUREMENTS, roundOrder, williamsOrders } from '../../src/bench/order.js';

/** How often each ordered pair "a right after b" occurs within the rows. */
function followCounts(rows: readonly (readonly (string | number)[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) for (let i = 1; i < row.length; i += 1) counts.set(`${row[i]}<${row[i - 1]}`, (counts.get(`${row[i]}<${row[i - 1]}`) ?? 0) + 1);
  return counts;
}

describe('bench round order', () => {
  it.each([2, 3, 4, 5, 6, 7])('%i items: every row is a permutation, and every item follows every other equally often', (n) => {
    const rows = williamsOrders(n);
    expect(rows).toHaveLength(n % 2 === 0 ? n : 2 * n);
    for (const row of rows) expect([...row].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    const counts = followCounts(rows);
    expect(counts.size).toBe(n * (n - 1)); // every ordered pair occurs
    expect(new Set(counts.values()).size).toBe(1); // and equally often
  });

  it('ten rounds of the five measurements: each one first twice, and never always after the same one', () => {
    const rounds = Array.from({ length: 10 }, (_, i) => roundOrder(i));
    for (const m of MEASUREMENTS) expect(rounds.filter((r) => r[0] === m)).toHaveLength(2);
    const counts = followCounts(rounds);
    for (const a of MEASUREMENTS) for (const b of MEASUREMENTS) if (a !== b) expect(counts.get(`${a}<${b}`), `${a} after ${b}`).toBe(2);
    expect(roundOrder(10)).toEqual(roundOrder(0)); // then it starts over
  });
});
