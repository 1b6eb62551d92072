// The parts of an inventory that are valid on their own, each read by its piece of the schema: the rules
// between values (checks.ts) and resolution (build.ts) run on these only, so one mistake yields one
// problem, not a cascade, while the valid rest is still checked and every problem is told at once.

import type * as z from 'zod';
import {
  ClusterSchema, HostSchema, InventorySchema, RouteSchema, SshSchema,
  type ClusterParsed, type HostParsed, type InventoryParsed, type RouteParsed, type SshParsed,
} from './schema.js';
import type { YamlSource } from './yamlSource.js';

export interface HostPart {
  readonly name: string;
  readonly host: HostParsed | undefined; // undefined: the host (or its name) has a problem
}

export interface Parts {
  readonly cluster?: ClusterParsed;
  readonly ssh?: SshParsed;
  readonly sysctls?: InventoryParsed['sysctls'];
  /** One entry per route as written; undefined where that route has a problem. */
  readonly routes?: readonly (RouteParsed | undefined)[];
  readonly history?: InventoryParsed['history'];
  readonly packages?: InventoryParsed['packages'];
  readonly maintenance?: InventoryParsed['maintenance'];
  /** Every host, in file order. Absent when `hosts` itself is missing or not a mapping. */
  readonly hosts?: readonly HostPart[];
  /**
   * A keepalived section is written (or the cluster is too broken to tell): lbs then need priorities,
   * which rank keepalived's lbs; a layout without keepalived (kube-vip elects a leader) needs none.
   */
  readonly vrrp: boolean;
}

type Shape = typeof InventorySchema.shape;

const valid = <T extends z.ZodType>(schema: T, value: unknown): z.output<T> | undefined => {
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
};

// Top-level ssh absent: its defaults, as the whole schema reads it.
const TopSsh = SshSchema.prefault({});

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validParts(source: YamlSource): Parts {
  const top = source.root;
  if (!isMapping(top)) return { vrrp: true };
  const section = <K extends keyof Shape>(key: K): z.output<Shape[K]> | undefined =>
    valid(InventorySchema.shape[key] as z.ZodType, top[key]) as z.output<Shape[K]> | undefined;
  const rawCluster = top.cluster;
  const vrrp = !isMapping(rawCluster) || rawCluster.keepalived !== undefined;
  const rawHosts = top.hosts;
  const hostName = InventorySchema.shape.hosts.def.keyType;
  return {
    cluster: valid(ClusterSchema, rawCluster),
    ssh: valid(TopSsh, top.ssh),
    sysctls: section('sysctls'),
    routes: top.routes === undefined ? [] : Array.isArray(top.routes) ? top.routes.map((r) => valid(RouteSchema, r)) : undefined,
    history: section('history'),
    packages: section('packages'),
    maintenance: section('maintenance'),
    hosts: isMapping(rawHosts)
      ? source.keysAt(['hosts']).map((name) => ({
        name,
        host: hostName.safeParse(name).success ? valid(HostSchema, rawHosts[name]) : undefined,
      }))
      : undefined,
    vrrp,
  };
}
