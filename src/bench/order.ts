// The order of one bench round's measurements. A run is slowed by what ran just before it: measured on
// 30 hosts, every command ran about 5–10% slower right after the OpenSSH floor (30 sessions closing on the
// hosts) than after `verify`. In a fixed order `up` always followed the OpenSSH floor and the ssh2 floor
// always followed `verify`, so the ratio carried that bias. The rounds follow a Williams design instead:
// over 2n rounds (n = 5 measurements) every measurement follows every other one equally often.

export const MEASUREMENTS = ['up', 'plan', 'verify', 'ssh2', 'openssh'] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

/**
 * Williams' orders of n items (0…n−1): a Latin square whose first row is 0, 1, n−1, 2, n−2, … and each
 * later row that one plus its index (mod n), with, for odd n, the mirror of each row after them. Every
 * item comes right after every other item equally often across the rows.
 */
export function williamsOrders(n: number): number[][] {
  const first = [0];
  for (let k = 1; first.length < n; k += 1) {
    first.push(k);
    if (first.length < n) first.push(n - k);
  }
  const rows = Array.from({ length: n }, (_, i) => first.map((x) => (x + i) % n));
  return n % 2 === 0 ? rows : [...rows, ...rows.map((row) => [...row].reverse())];
}

const ORDERS = williamsOrders(MEASUREMENTS.length);

/** The measurements of round `round` (from 0), in the order to run them. */
export const roundOrder = (round: number): Measurement[] => ORDERS[round % ORDERS.length]!.map((i) => MEASUREMENTS[i]!);
