// What a layout asks of the inventory, declared by its playbook (`layout:`), checked after the inventory
// itself validated and before any connection. The core keeps the VIP, the ports, the hosts and the
// pipeline; whether lbs proxy, and which inventory sections a layout reads, are the layout's to say.
import { InventoryError, type InventoryProblem } from '../errors.js';
import type { Inventory } from '../inventory/types.js';

export interface Layout {
  /**
   * The lbs run a proxy that binds frontendPort (and each extra port) and spreads connections over
   * every server (haproxy, nginx). false: the VIP leads straight to the API server of the host holding
   * it (kube-vip), so the VIP's port is the API server's own.
   */
  readonly proxy: boolean;
  /** Inventory settings this layout needs that have no default: keepalived (VRRP settings, authPass), an image. */
  readonly needs: readonly Need[];
}

const NEEDS = ['keepalived', 'keepalived-with-several-lbs', 'staticPods.keepalivedImage'] as const;
type Need = (typeof NEEDS)[number];

export const DEFAULT_LAYOUT: Layout = { proxy: true, needs: ['keepalived'] };

export function readLayout(raw: unknown, fail: (where: string, what: string) => never): Layout {
  if (raw === undefined) return DEFAULT_LAYOUT;
  const l = raw as Record<string, unknown>;
  for (const key of Object.keys(l ?? {})) if (!['proxy', 'needs'].includes(key)) fail(`layout.${key}`, 'unknown key; allowed: proxy, needs');
  if (l.proxy !== undefined && typeof l.proxy !== 'boolean') fail('layout.proxy', 'must be true or false');
  const needs = l.needs ?? DEFAULT_LAYOUT.needs;
  if (!Array.isArray(needs) || needs.some((n) => !NEEDS.includes(n as Need))) fail('layout.needs', `must be a list of inventory settings; allowed: ${NEEDS.join(', ')}`);
  return { proxy: l.proxy !== false, needs: needs as Layout['needs'] };
}

/** What in the inventory this layout cannot work with; each problem names the key. */
export function layoutProblems(layout: Layout, inventory: Inventory): InventoryProblem[] {
  const { cluster, hosts } = inventory;
  const problems: InventoryProblem[] = [];
  const names = (list: readonly { name: string }[]): string => list.map((h) => h.name).join(', ');
  const have = (list: readonly unknown[]): string => (list.length === 1 ? 'has' : 'have');
  const colocated = hosts.filter((h) => h.roles.includes('lb') && h.roles.includes('server'));
  if (layout.needs.includes('keepalived') && !cluster.keepalived) {
    problems.push({ path: 'cluster.keepalived', message: `topology ${cluster.topology} runs keepalived for the VIP: it needs this section, at least { authPass: { env: NAME } }` });
  }
  const lbs = hosts.filter((h) => h.roles.includes('lb'));
  if (layout.needs.includes('keepalived-with-several-lbs') && !cluster.keepalived && lbs.length > 1) {
    problems.push({ path: 'cluster.keepalived', message: `${names(lbs)} share the VIP through keepalived: add this section, at least { authPass: { env: NAME } } (only a single lb may go without)` });
  }
  if (layout.needs.includes('staticPods.keepalivedImage') && !cluster.staticPods.keepalivedImage) {
    problems.push({
      path: 'cluster.staticPods.keepalivedImage',
      message: 'mode static-pod runs keepalived from an image you choose: keepalived 2.1 or later (for the drain\'s track_file) with curl and sh, e.g. one built from your distribution\'s packages',
    });
  }
  if (layout.proxy) {
    // A proxy on a host that also runs kube-apiserver cannot listen on the apiserver's own port.
    if (colocated.length > 0 && cluster.frontendPort === cluster.backendPort) {
      problems.push({
        path: 'cluster.frontendPort',
        message: `${names(colocated)} ${have(colocated)} roles [lb, server]: haproxy there would bind port ${cluster.frontendPort}, where kube-apiserver already listens; ` +
          'pick a different frontendPort (e.g. 8443) or put lb and server on separate hosts',
      });
    }
    // An extra port is the same on the VIP and on the servers: on one host, both would bind it.
    if (colocated.length > 0 && cluster.extraPorts.length > 0) {
      problems.push({
        path: 'cluster.extraPorts',
        message: `${names(colocated)} ${have(colocated)} roles [lb, server]: the load balancer and the server there would both bind ${cluster.extraPorts.join(', ')}; put lb and server on separate hosts to use extraPorts`,
      });
    }
    return problems;
  }
  // No proxy: the VIP is an address of an API server host, and clients reach that API server's port on it.
  const lbOnly = hosts.filter((h) => h.roles.includes('lb') && !h.roles.includes('server'));
  if (lbOnly.length > 0) {
    problems.push({ path: `hosts.${lbOnly[0]!.name}.roles`, message: `topology ${cluster.topology} holds the VIP on the control-plane hosts themselves: ${names(lbOnly)} ${have(lbOnly)} role lb without server; use roles [lb, server]` });
  }
  if (cluster.frontendPort !== cluster.backendPort) {
    problems.push({ path: 'cluster.frontendPort', message: `topology ${cluster.topology} does not proxy: clients reach the API server on the VIP at its own port, so frontendPort must equal backendPort (${cluster.backendPort}), got ${cluster.frontendPort}` });
  }
  return problems;
}

/** What works but deserves a word before anything changes: printed above the plan. */
export function layoutWarnings(inventory: Inventory): string[] {
  const lbs = inventory.hosts.filter((h) => h.roles.includes('lb'));
  if (lbs.length !== 1) return [];
  return [`${lbs[0]!.name} is the only load balancer: a single point of failure for the API endpoint${inventory.cluster.keepalived ? '' : ` (${inventory.cluster.vip.address}, no VIP that could move)`}; add a second lb and a keepalived section for a VIP that fails over`];
}

/** Throws the layout's problems as inventory errors: the inventory is what the user changes. */
export function refuseLayoutProblems(layout: Layout, inventory: Inventory): void {
  const problems = layoutProblems(layout, inventory);
  if (problems.length > 0) throw new InventoryError(inventory.file, problems);
}
