// The lab's address plan, for fleets past one /24's worth of servers (the bench boots 200 hosts).
import { describe, expect, it } from 'vitest';
import { labUp, serverOffset } from '../../src/lab/index.js';

describe('lab address plan', () => {
  it.each([
    [1, 21],
    [79, 99],
    [80, 101], // .100 is the VIP
    [198, 219],
    [400, 421],
  ])('server %i sits at offset %i', (i, offset) => {
    expect(serverOffset(i)).toBe(offset);
  });

  it('refuses more servers than the subnet holds, before touching anything, and names a larger subnet', async () => {
    await expect(labUp({ name: 'plan', lbs: 2, servers: 240, subnet: '10.213.60.0/24' })).rejects.toThrow('--servers 240 does not fit in 10.213.60.0/24: give a larger subnet, e.g. --subnet 10.213.60.0/23');
  });
});
