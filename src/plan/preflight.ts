// Pure checks of a host's facts and planned changes that no config validator would catch before it is
// too late: they stop the plan for that host instead of applying something that cannot work.
import type { HostFacts } from '../facts/gather.js';
import { matchLength } from '../inventory/ipv4.js';
import type { Host } from '../inventory/types.js';
import type { Change } from '../resources/types.js';

export interface PreflightOptions {
  /** The user said a route may change how a host reaches this machine (--allow-ssh-path-change). */
  readonly allowSshPathChange?: boolean;
}

export function preflight(host: Host, facts: HostFacts, changes: readonly Change[], options: PreflightOptions = {}): string[] {
  const problems: string[] = [];
  if (host.interface) {
    const own = facts.addresses.filter((a) => a.dev === host.interface);
    const devices = [...new Set(facts.addresses.map((a) => a.dev))].join(', ');
    // VRRP adverts leave from the interface's own IPv4 address: without one keepalived stays in FAULT.
    if (own.length === 0) problems.push(`interface ${host.interface} has no IPv4 address on this host (interfaces with one: ${devices || 'none'})`);
  }
  if (!options.allowSshPathChange) problems.push(...sshPathProblems(facts, changes));
  return problems;
}

/**
 * A route change that would move the path this host's SSH connection takes back to the controller: a
 * route to a dead gateway there hangs the run and, persisted, keeps the host unreachable after boot.
 * The path is the main table's longest match for the SSH peer (ties broken by `ip route get`'s answer).
 */
export function sshPathProblems(facts: HostFacts, changes: readonly Change[]): string[] {
  const path = facts.sshPath;
  if (!path) return [];
  const matching = facts.routes.flatMap((r) => {
    const length = matchLength(r.to, path.peer);
    return length === undefined ? [] : [{ route: r, length }];
  });
  const longest = Math.max(-1, ...matching.map((m) => m.length));
  const now = `now ${path.via ? `via ${path.via} ` : ''}dev ${path.dev ?? '?'}`;
  const problems: string[] = [];
  for (const change of changes) {
    if (change.kind !== 'route') continue;
    const { to, via, dev } = change.route;
    const length = matchLength(to, path.peer);
    if (length === undefined) continue;
    const takesOver = change.action === 'add' && length >= longest && (via !== path.via || dev !== path.dev);
    const removes = change.action === 'delete' && length === longest && matching.filter((m) => m.length === longest).length === 1;
    if (takesOver || removes) {
      problems.push(
        `route ${change.action} ${to} via ${via} dev ${dev} would change how this host reaches the controller at ${path.peer} (${now}), ` +
          'which can cut this SSH connection and keep the host unreachable after boot; pass --allow-ssh-path-change if that is intended',
      );
    }
  }
  return problems;
}
