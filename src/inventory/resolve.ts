// Host names in `hosts.*.address` → IPv4 addresses, looked up on this machine (the controller) once the
// inventory is otherwise valid. Kept apart from load.ts so that parsing stays pure: this is the only
// step of loading that asks the network, and tests hand it a resolver of their own.
import { lazyBuiltin } from '../lazyBuiltin.js';
import { parseIpv4 } from './ipv4.js';

// Loaded by the first host name to look up: most inventories write IPs.
const dns = lazyBuiltin<typeof import('node:dns/promises')>('node:dns/promises');

/** One name → one IPv4 address; rejects with an error whose `code` says why (ENOTFOUND, EAI_AGAIN, …). */
export type Resolver = (name: string) => Promise<string>;

/**
 * getaddrinfo, as ssh and curl on this machine would use it: /etc/hosts first, then DNS. Family 4, since
 * keepalived's unicast peers and the subnet checks need IPv4.
 */
export const systemResolver: Resolver = async (name) => (await dns().lookup(name, { family: 4 })).address;

export interface Resolution {
  readonly ips: ReadonlyMap<string, string>; // name → IPv4 address
  readonly failures: ReadonlyMap<string, string>; // name → the resolver's error code (or message)
}

export const NOTHING_RESOLVED: Resolution = { ips: new Map(), failures: new Map() };

/** Looks each distinct name up once, all at the same time; a failure is recorded, not thrown. */
export async function resolveNames(names: Iterable<string>, resolver: Resolver = systemResolver): Promise<Resolution> {
  const ips = new Map<string, string>();
  const failures = new Map<string, string>();
  await Promise.all([...new Set(names)].map(async (name) => {
    try {
      const ip = await resolver(name);
      if (parseIpv4(ip) !== undefined) ips.set(name, ip);
      else failures.set(name, `the answer ${JSON.stringify(ip)} is not an IPv4 address`);
    } catch (error) {
      const { code, message } = (error ?? {}) as Partial<NodeJS.ErrnoException>;
      failures.set(name, code ?? message ?? String(error));
    }
  }));
  return { ips, failures };
}
