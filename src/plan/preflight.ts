// Pure checks of a host's facts against the inventory that no config validator would catch before
// it is too late: they stop the plan for that host instead of applying something that cannot work.
import type { HostFacts } from '../facts/gather.js';
import type { Host } from '../inventory/types.js';

export function preflight(host: Host, facts: HostFacts): string[] {
  const problems: string[] = [];
  if (host.interface) {
    const own = facts.addresses.filter((a) => a.dev === host.interface);
    const devices = [...new Set(facts.addresses.map((a) => a.dev))].join(', ');
    // VRRP adverts leave from the interface's own IPv4 address: without one keepalived stays in FAULT.
    if (own.length === 0) problems.push(`interface ${host.interface} has no IPv4 address on this host (interfaces with one: ${devices || 'none'})`);
  }
  return problems;
}
