// Shared jump connections: one per hop for every host behind it, closed with the last host; stand-in
// connections record how they were opened and ended.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { JumpHop } from '../../src/inventory/types.js';
import { JumpPool } from '../../src/transport/jumpPool.js';

class FakeClient extends EventEmitter {
  ended = false;
  destroyed = false;
  constructor(readonly name: string) {
    super();
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const hop = (address: string, user = 'root'): JumpHop => ({
  spec: address, address, port: 22, user, useAgent: true, knownHostsFile: '/k', hostKeyPolicy: 'strict', connectTimeoutMs: 1000, keepaliveIntervalMs: 1000,
});

/** A pool whose opens are logged as "hop<-via"; addresses in `failing` refuse. */
function pool(failing: readonly string[] = []) {
  const opened: string[] = [];
  const clients = new Map<string, FakeClient>();
  const all: FakeClient[] = [];
  const p = new JumpPool<FakeClient>(async (h, via) => {
    opened.push(`${h.address}<-${via?.name ?? 'here'}`);
    await new Promise((r) => setTimeout(r, 5)); // hosts asking meanwhile must wait for this attempt
    if (failing.includes(h.address)) throw new Error(`${h.address} refused`);
    const client = new FakeClient(h.address);
    clients.set(h.address, client);
    all.push(client);
    return client;
  });
  return { p, opened, clients, all };
}

describe('JumpPool', () => {
  // chains: one per host; opened: "hop<-via"; ended: what is closed once every host but the last is done.
  it.each<[string, JumpHop[][], string[], string[]]>([
    ['three hosts behind one bastion', [[hop('b')], [hop('b')], [hop('b')]], ['b<-here'], []],
    ['a two-hop chain, twice', [[hop('a'), hop('b')], [hop('a'), hop('b')]], ['a<-here', 'b<-a'], []],
    ['two chains through one first hop', [[hop('a'), hop('b')], [hop('a'), hop('c')]], ['a<-here', 'b<-a', 'c<-a'], ['b']],
    ['the same address as another user is another connection', [[hop('b')], [hop('b', 'ops')]], ['b<-here', 'b<-here'], ['b']],
  ])('%s: one connection per hop', async (_title, chains, expected, endedBeforeLast) => {
    const { p, opened, all } = pool();
    const leases = await Promise.all(chains.map((c) => p.acquire(c)));
    expect(opened).toEqual(expected);
    // Each host's lease is the last hop of its own chain.
    expect(leases.map((l) => l.client.name)).toEqual(chains.map((c) => c[c.length - 1]!.address));
    for (const lease of leases.slice(0, -1)) lease.release();
    await new Promise((r) => setTimeout(r, 0));
    expect(all.filter((c) => c.ended).map((c) => c.name)).toEqual(endedBeforeLast);
    leases[leases.length - 1]!.release();
    await new Promise((r) => setTimeout(r, 0));
    expect(all.every((c) => c.ended)).toBe(true);
    expect(p.size).toBe(0);
  });

  it('closes a hop only when the last host behind it is done, and a release twice counts once', async () => {
    const { p, clients } = pool();
    const one = await p.acquire([hop('b')]);
    const two = await p.acquire([hop('b')]);
    one.release();
    one.release();
    await new Promise((r) => setTimeout(r, 0));
    expect(clients.get('b')!.ended).toBe(false);
    two.release(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(clients.get('b')!.destroyed).toBe(true); // hard: a command was abandoned
  });

  it('a hop that fails is tried afresh by a later host; the hops before it are let go', async () => {
    const { p, opened, clients } = pool(['b']);
    await expect(p.acquire([hop('a'), hop('b')])).rejects.toThrow('b refused');
    await new Promise((r) => setTimeout(r, 0));
    expect(clients.get('a')!.ended).toBe(true);
    expect(p.size).toBe(0);
    await expect(p.acquire([hop('a'), hop('b')])).rejects.toThrow('b refused');
    expect(opened).toEqual(['a<-here', 'b<-a', 'a<-here', 'b<-a']);
  });

  it('a connection that dropped is not handed out again', async () => {
    const { p, opened, clients } = pool();
    const lease = await p.acquire([hop('b')]);
    clients.get('b')!.emit('close');
    await p.acquire([hop('b')]);
    expect(opened).toEqual(['b<-here', 'b<-here']);
    lease.release();
  });
});
