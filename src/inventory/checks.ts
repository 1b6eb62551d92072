// The rules the schema cannot state: between values (lb priorities, the VIP against the lb subnet, the
// check weight against the priority gap, ports against sshd's) and inside a value beyond its pattern (a
// route's host bits, a maintenance window's syntax). They run on the parts that are valid on their own
// (parts.ts), so a value the schema refused is not blamed twice. The JSON Schema knows none of these.

import { formatIpv4, maskOf, parseIpv4, splitCidr } from './ipv4.js';
import type { HostPart, Parts } from './parts.js';
import type { Problems } from './problems.js';
import type { Role } from './types.js';
import { checkTimeZone, parseWindows } from '../rollout/window.js';

/** What the address rules need of a host; `ip` is unknown for a name until it is resolved. */
export interface AddressedHost {
  readonly name: string;
  readonly address: string;
  readonly ip?: string;
  readonly roles: readonly Role[];
}

/** What the address rules need of the cluster. */
export interface VipSettings {
  readonly vip: { readonly address: string; readonly prefix: number };
  readonly keepalived?: unknown; // present: keepalived moves the VIP between the lbs
}

interface CheckedHost extends AddressedHost {
  readonly priority?: number;
  readonly sshPort: number;
}

/** Runs every rule on what is valid; the address rules only on hosts written as IPv4 addresses. */
export function checkInventory(p: Problems, parts: Parts): void {
  checkRoutes(p, parts);
  checkJumpHosts(p, parts);
  checkMaintenance(p, parts);
  const cluster = parts.cluster;
  if (cluster) checkExtraPorts(p, cluster.extraPorts, [cluster.frontendPort, cluster.backendPort]);

  if (!parts.hosts) return;
  const checked = parts.hosts.map((h) => checkHost(p, h, parts));
  if (checked.some((h) => h === undefined)) return;
  const hosts = checked as CheckedHost[];
  checkHosts(p, hosts);
  const vip = cluster && { vip: splitCidr(cluster.vip), ...(cluster.keepalived ? { keepalived: cluster.keepalived } : {}) };
  if (cluster && parts.ssh) {
    const weight = cluster.keepalived && (cluster.keepalived.check.weight === undefined
      ? bootstrapWeight(hosts)
      : cluster.keepalived.check.weight || undefined);
    checkWeight(p, weight, hosts);
    checkPorts(p, cluster, hosts);
  }
  checkAddresses(p, vip, hosts);
}

/**
 * The recipes' behaviour when the inventory has no check weight: a failing check lowers an lb's priority
 * below every other lb's, so haproxy dying on the holder moves the VIP, while every check failing at once
 * (no API server healthy yet, as during `kubeadm init` through the VIP) leaves it where it is, held by one
 * lb. (Without a weight a failing check puts the lb in FAULT, and with no backend up nobody would hold the VIP.)
 */
export function bootstrapWeight(hosts: readonly { readonly roles: readonly Role[]; readonly priority?: number }[]): number | undefined {
  const priorities = hosts.filter((h) => h.roles.includes('lb')).map((h) => h.priority ?? 0);
  if (priorities.length < 2) return undefined;
  return -Math.min(253, Math.max(...priorities) - Math.min(...priorities) + 1);
}

/** Rules inside one host: its roles, and the keepalived settings only lbs have. */
function checkHost(p: Problems, { name, host }: HostPart, parts: Parts): CheckedHost | undefined {
  if (!host) return undefined;
  const at = (...rest: (string | number)[]): (string | number)[] => ['hosts', name, ...rest];
  let ok = true;
  const fail = (segs: (string | number)[], message: string): void => {
    p.add(segs, message);
    ok = false;
  };
  host.roles.forEach((role, i) => {
    if (host.roles.indexOf(role) < i) fail(at('roles', i), `${role} is listed twice`);
  });
  if (host.roles.includes('lb')) {
    if (host.interface === undefined) fail(at('interface'), 'is required: the interface where VRRP runs and the VIP is added, like eth1');
    if (host.priority === undefined && parts.vrrp) fail(at('priority'), 'is required: the VRRP priority 1–254; the highest starts as MASTER');
  } else {
    for (const key of ['interface', 'priority'] as const) {
      if (host[key] !== undefined) fail(at(key), 'only applies to hosts with role lb; remove it or add lb to roles');
    }
  }
  if (!ok) return undefined;
  return {
    name,
    address: host.address,
    ...(parseIpv4(host.address) !== undefined ? { ip: host.address } : {}),
    roles: host.roles,
    ...(host.priority !== undefined ? { priority: host.priority } : {}),
    sshPort: host.ssh?.port ?? parts.ssh?.port ?? 22,
  };
}

/** Rules between hosts. */
function checkHosts(p: Problems, hosts: readonly CheckedHost[]): void {
  const lbs = hosts.filter((h) => h.roles.includes('lb'));
  if (lbs.length === 0) p.add(['hosts'], 'no host has role lb; at least one lb is needed to hold the VIP');
  if (!hosts.some((h) => h.roles.includes('server'))) {
    p.add(['hosts'], 'no host has role server; haproxy needs at least one kube-apiserver to send traffic to');
  }
  // Equal priorities leave the initial MASTER to an IP-address tie-break nobody reads in the inventory.
  const byPriority = new Map<number, string>();
  for (const h of lbs) {
    const other = byPriority.get(h.priority ?? 0);
    if (other !== undefined) p.add(['hosts', h.name, 'priority'], `${h.priority} is also the priority of ${other}; lb priorities must differ so one clearly starts as MASTER`);
    else byPriority.set(h.priority ?? 0, h.name);
  }
}

/** More ports through the VIP, each its own frontend: none may repeat the frontend, backend or another. */
function checkExtraPorts(p: Problems, extraPorts: readonly number[], taken: readonly number[]): void {
  extraPorts.forEach((port, i) => {
    if (taken.includes(port) || extraPorts.indexOf(port) < i) {
      p.add(['cluster', 'extraPorts', i], `${port} is already used (frontendPort, backendPort or another extra port); each extra port is its own frontend`);
    }
  });
}

// With a check weight w, a failing MASTER only drops to p1 − |w| (or the BACKUP rises to p2 + w); unless
// that crosses the next priority, the VIP stays on the broken node.
function checkWeight(p: Problems, weight: number | undefined, hosts: readonly CheckedHost[]): void {
  const [p1, p2] = hosts.filter((h) => h.roles.includes('lb')).map((h) => h.priority ?? 0).sort((a, b) => b - a);
  if (weight === undefined || p1 === undefined || p2 === undefined || p1 === p2 || p1 - Math.abs(weight) < p2) return;
  const needed = p1 - p2 + 1;
  const why = weight < 0
    ? `a MASTER (priority ${p1}) whose check fails only drops to ${p1 + weight}, not below the next lb (priority ${p2})`
    : `a BACKUP (priority ${p2}) only rises to ${p2 + weight} while the MASTER's check fails, not above its ${p1}`;
  const suggestion = needed <= 253 ? `use a weight of at least ${needed} in size (e.g. ${weight < 0 ? -needed : needed}), or ` : '';
  p.add(['cluster', 'keepalived', 'check', 'weight'],
    `${weight} cannot move the VIP: ${why}; ${suggestion}omit weight for one derived from the priorities, or set weight: 0 so a failing node goes to FAULT and releases the VIP`);
}

// sshd already listens on a host's SSH port: haproxy could not bind it there, and a backend probe to it
// would "pass" against sshd. (Rules that depend on the layout run once the playbook is known.)
function checkPorts(p: Problems, cluster: { frontendPort: number; backendPort: number; extraPorts: readonly number[] }, hosts: readonly CheckedHost[]): void {
  const clash = (role: Role, port: number, key: string, what: string): void => {
    const hit = hosts.filter((h) => h.roles.includes(role) && h.sshPort === port).map((h) => h.name);
    if (hit.length > 0) p.add(['cluster', key], `${port} is the SSH port of ${hit.join(', ')}, where sshd already listens; ${what} needs a port of its own`);
  };
  clash('lb', cluster.frontendPort, 'frontendPort', 'the load balancer');
  clash('server', cluster.backendPort, 'backendPort', 'kube-apiserver');
  for (const port of cluster.extraPorts) clash('lb', port, 'extraPorts', 'each extra port');
}

/**
 * Rules on the hosts' IPs: run on the hosts whose IP is known, i.e. first on those written as IPv4
 * addresses, then, once the names are resolved, on all (load.ts).
 */
export function checkAddresses(p: Problems, cluster: VipSettings | undefined, all: readonly AddressedHost[]): void {
  type WithIp = AddressedHost & { readonly ip: string };
  const hosts = all.filter((h): h is WithIp => h.ip !== undefined);
  // ` (cp1.example.com)` after a host written as a name, so a message shows where its IP came from.
  const written = (h: WithIp): string => (h.address === h.ip ? '' : ` (${h.address})`);

  const byIp = new Map<string, WithIp>();
  for (const h of hosts) {
    const other = byIp.get(h.ip);
    if (other === undefined) {
      byIp.set(h.ip, h);
      continue;
    }
    // Two names may resolve to one IP: both are named, with what they resolved to.
    const what = h.address === h.ip || h.address === other.address ? `${h.address} is` : `${h.address} resolves to ${h.ip},`;
    const theirs = other.address === h.address ? '' : written(other);
    p.add(['hosts', h.name, 'address'], `${what} also the address of ${other.name}${theirs}; each host needs its own address`);
  }
  if (!cluster) return;

  const lbs = hosts.filter((h) => h.roles.includes('lb'));
  const vip = parseIpv4(cluster.vip.address) ?? 0;
  const vipText = `${cluster.vip.address}/${cluster.vip.prefix}`;
  const mask = maskOf(cluster.vip.prefix);
  const network = (vip & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  const owner = hosts.find((h) => h.ip === cluster.vip.address);
  // keepalived adds the VIP to each lb's interface: a VIP outside the lb's subnet would not be reachable.
  const outside = lbs.filter((h) => (((parseIpv4(h.ip) ?? 0) & mask) >>> 0) !== network);
  // One lb and no keepalived (the k3s guide's single nginx): there is no VIP to move, and the endpoint is
  // that lb's own address.
  const ownAddress = owner !== undefined && !cluster.keepalived && lbs.length === 1 && lbs[0] === owner;
  if (owner && !ownAddress) {
    p.add(['cluster', 'vip'], `${cluster.vip.address} is the address of host ${owner.name}${written(owner)}; the VIP must be an unused address in the lb subnet`);
  } else if (outside.length > 0) {
    const shown = (h: WithIp): string => (h.address === h.ip ? h.ip : `${h.address} resolves to ${h.ip}`);
    p.add(['cluster', 'vip'], `${vipText} is not in the subnet of ${outside.map((h) => `${h.name} (${shown(h)})`).join(', ')}; `
      + `the VIP must be in the same ${formatIpv4(network)}/${cluster.vip.prefix} network as every lb address (or fix the prefix)`);
  } else if (cluster.vip.prefix <= 30 && (vip === network || vip === broadcast)) {
    // /31 and /32 have no network or broadcast address (RFC 3021).
    const which = vip === network ? 'network' : 'broadcast';
    p.add(['cluster', 'vip'], `${cluster.vip.address} is the ${which} address of ${formatIpv4(network)}/${cluster.vip.prefix}; pick a host address inside it`);
  }
}

// `ip route` refuses a destination with host bits set ("Invalid prefix for given prefix length"), and one
// destination twice would make the second route replace the first.
function checkRoutes(p: Problems, parts: Parts): void {
  const seen = new Map<string, number>();
  parts.routes?.forEach((route, i) => {
    if (!route) return;
    const { address, prefix } = splitCidr(route.to);
    const network = formatIpv4(((parseIpv4(address) ?? 0) & maskOf(prefix)) >>> 0);
    const destination = `${network}/${prefix}`;
    if (network !== address) p.add(['routes', i, 'to'], `has host bits set; did you mean ${destination}?`);
    else if (seen.has(destination)) p.add(['routes', i, 'to'], `${destination} is also the destination of routes[${seen.get(destination)}]; each destination may appear once`);
    else seen.set(destination, i);
  });
}

/** The pattern allows any :digits; the port must still be one. */
function checkJumpHosts(p: Problems, parts: Parts): void {
  const check = (jumpHost: string | undefined, segs: (string | number)[]): void => {
    const port = jumpHost?.includes(':') ? Number(jumpHost.split(':')[1]) : undefined;
    if (port !== undefined && !(port >= 1 && port <= 65535)) p.add(segs, `port must be an integer 1–65535, got ${port}`);
  };
  check(parts.ssh?.jumpHost, ['ssh', 'jumpHost']);
  for (const { name, host } of parts.hosts ?? []) check(host?.ssh?.jumpHost, ['hosts', name, 'ssh', 'jumpHost']);
}

function checkMaintenance(p: Problems, parts: Parts): void {
  const m = parts.maintenance;
  if (!m) return;
  try {
    const windows = typeof m.windows === 'string' ? [m.windows] : m.windows;
    if (windows.length > 0) parseWindows(windows);
    if (m.timeZone) checkTimeZone(m.timeZone);
  } catch (error) {
    p.add(['maintenance'], (error as Error).message);
  }
}
