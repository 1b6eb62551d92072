// The variables templates see for one host: the inventory, flattened into what configs need.
import { parseIpv4 } from '../inventory/ipv4.js';
import { hasRole, type Host, type Inventory, type Route } from '../inventory/types.js';

type Keepalived = NonNullable<Inventory['cluster']['keepalived']>;

export interface HostVars {
  readonly cluster: Omit<Inventory['cluster'], 'healthCheck' | 'keepalived'> & {
    readonly healthCheck: Inventory['cluster']['healthCheck'] | null;
    readonly keepalived:
      | (Omit<Keepalived, 'check'> & {
          readonly check: Omit<Keepalived['check'], 'weight'> & { readonly weight: number | null; readonly drop: number | null };
        })
      | null;
    readonly vipCidr: string;
    readonly authPass: string | null;
  };
  /** mode static-pod: the daemons run in kubelet's pods, which changes where they log and their drain file. */
  readonly staticPod: boolean;
  // address: as the inventory writes it (an IPv4 address or a name), for backend lists, so haproxy and
  // nginx resolve a name themselves on each reload; ip: what it resolved to, where only an IP will do.
  readonly host: {
    readonly name: string;
    readonly address: string;
    readonly ip: string;
    readonly interface?: string;
    readonly priority?: number;
    readonly state?: 'MASTER' | 'BACKUP'; // lb only: the highest priority starts as MASTER
  };
  /** byName: the address is a host name, resolved by haproxy or nginx on the lb. */
  readonly servers: readonly { readonly name: string; readonly address: string; readonly byName: boolean }[];
  readonly lbs: readonly { readonly name: string; readonly address: string; readonly ip: string; readonly priority: number }[];
  readonly peers: readonly { readonly name: string; readonly address: string; readonly ip: string }[]; // the other lbs
  readonly sysctls: readonly { readonly key: string; readonly value: string }[];
  readonly routes: readonly Route[];
  readonly routeDevices: readonly { readonly dev: string; readonly routes: readonly Route[] }[];
  readonly dev?: string; // set by forEach: routeDevices
  readonly devRoutes?: readonly Route[];
}

type FleetVars = Omit<HostVars, 'host' | 'peers'> & { readonly topPriority: number };

/** The part of the variables every host shares: computed once per inventory, not once per host (a fleet of n hosts would pay n²). */
const fleetVarsOf = new WeakMap<Inventory, FleetVars>();

function fleetVars(inventory: Inventory): FleetVars {
  const cached = fleetVarsOf.get(inventory);
  if (cached) return cached;
  const { cluster } = inventory;
  const { keepalived } = cluster;
  const lbs = inventory.hosts
    .filter((h) => hasRole(h, 'lb'))
    .map((h) => ({ name: h.name, address: h.address, ip: h.ip, priority: h.priority ?? 0 }));
  const devices = [...new Set(inventory.routes.map((r) => r.dev))];
  const vars: FleetVars = {
    // Optional fields are present as null: templates compile in strict mode, where a missing key throws.
    cluster: {
      ...cluster,
      healthCheck: cluster.healthCheck ?? null,
      keepalived: keepalived
        ? {
            ...keepalived,
            // drop: the weight's size, for prose ("lowers this node's priority by 101").
            check: { ...keepalived.check, weight: keepalived.check.weight ?? null, drop: keepalived.check.weight === undefined ? null : Math.abs(keepalived.check.weight) },
          }
        : null,
      vipCidr: `${cluster.vip.address}/${cluster.vip.prefix}`,
      authPass: keepalived?.authPass.value ?? null,
    },
    staticPod: cluster.mode === 'static-pod',
    servers: inventory.hosts.filter((h) => hasRole(h, 'server')).map((h) => ({ name: h.name, address: h.address, byName: parseIpv4(h.address) === undefined })),
    lbs,
    sysctls: Object.entries(inventory.sysctls).map(([key, value]) => ({ key, value })),
    routes: inventory.routes,
    routeDevices: devices.map((dev) => ({ dev, routes: inventory.routes.filter((r) => r.dev === dev) })),
    topPriority: Math.max(...lbs.map((l) => l.priority)),
  };
  fleetVarsOf.set(inventory, vars);
  return vars;
}

export function hostVars(inventory: Inventory, host: Host): HostVars {
  const { topPriority, ...fleet } = fleetVars(inventory);
  return {
    ...fleet,
    host: {
      name: host.name,
      address: host.address,
      ip: host.ip,
      ...(host.interface ? { interface: host.interface } : {}),
      ...(host.priority !== undefined ? { priority: host.priority, state: host.priority === topPriority ? 'MASTER' : 'BACKUP' } : {}),
    },
    peers: fleet.lbs.filter((l) => l.name !== host.name).map(({ name, address, ip }) => ({ name, address, ip })),
  };
}
