// What quote.ts leaves readable in the commands a plan shows: plain words need no quotes. That every
// quoted string survives real shells unchanged is checked in test/integration/quote.test.ts.
import { describe, expect, it } from 'vitest';
import { quote } from '../../src/transport/quote.js';

describe('quote', () => {
  it.each([
    ['a path', '/etc/haproxy/haproxy.cfg', '/etc/haproxy/haproxy.cfg'],
    ['an owner:group', 'root:haproxy', 'root:haproxy'],
    ['a number', 2222, '2222'],
    ['a dpkg option', 'Dpkg::Options::=--force-confold', 'Dpkg::Options::=--force-confold'],
  ])('leaves %s readable (no quotes needed)', (_name, value, expected) => {
    expect(quote(value)).toBe(expected);
  });
});
