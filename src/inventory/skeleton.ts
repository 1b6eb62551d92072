// The commented inventory `ha-provision init` writes: pure text from a few answers, in the style of
// inventory/example.yaml. Whether it is valid is the loader's to say (init runs it before writing).
import { parse as parseYaml } from 'yaml';
import { parseIpv4 } from './ipv4.js';

export type InitTopology = 'haproxy-keepalived' | 'nginx';
export const INIT_TOPOLOGIES: readonly InitTopology[] = ['haproxy-keepalived', 'nginx'];

export interface SkeletonSpec {
  readonly name: string;
  readonly topology: InitTopology;
  readonly vip: string; // with prefix, e.g. 10.0.0.100/24
  readonly lbs: readonly string[]; // addresses as the user typed them (IPv4 or DNS names)
  readonly servers: readonly string[];
  /** Per lb, in the order of `lbs`: where VRRP runs and the VIP lives. */
  readonly interfaces: readonly string[];
  /** Per lb, in the order of `lbs`: what the probe saw (e.g. "debian 12"), written as a comment. */
  readonly lbNotes?: readonly (string | undefined)[];
  readonly user: string;
  readonly sshPort: number;
  readonly identityFile?: string;
  readonly knownHostsFile?: string;
  /** A literal the file keeps (then it is written 0600), or the environment variable holding it. */
  readonly authPass: { readonly literal: string } | { readonly env: string };
  /** Absolute path of schema/inventory.schema.json, for editors that read yaml-language-server's modeline. */
  readonly schemaPath: string;
}

/** lb-1 starts as MASTER (200), lb-2 is its backup (100), further lbs below that (the lab's inventory too). */
export const lbPriority = (index: number): number => (index === 0 ? 200 : Math.max(1, 100 - (index - 1) * 10));

export interface SkeletonHost {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly ('lb' | 'server')[];
  readonly lbIndex?: number; // position in spec.lbs
}

/**
 * Host names from addresses: a DNS name gives its first label (cp1.example.com → cp1) when no other
 * host shares it; otherwise lb-N, server-N, or node-N for an address in both lists (an lb co-located
 * with its API server). An address in both lists is one host with both roles.
 */
export function skeletonHosts(lbs: readonly string[], servers: readonly string[]): SkeletonHost[] {
  const all = [...new Set([...lbs, ...servers])];
  const label = (a: string): string | undefined => (parseIpv4(a) === undefined ? a.split('.')[0] : undefined);
  const labels = all.map(label);
  const counters = { lb: 0, server: 0, node: 0 };
  return all.map((address, i) => {
    const isLb = lbs.includes(address);
    const isServer = servers.includes(address);
    const kind = isLb && isServer ? 'node' : isLb ? 'lb' : 'server';
    counters[kind] += 1;
    const own = labels[i];
    const unique = own !== undefined && labels.filter((l) => l === own).length === 1;
    const roles: ('lb' | 'server')[] = [...(isLb ? ['lb' as const] : []), ...(isServer ? ['server' as const] : [])];
    return { name: unique ? own : `${kind}-${counters[kind]}`, address, roles, ...(isLb ? { lbIndex: lbs.indexOf(address) } : {}) };
  });
}

/**
 * VRRP's virtual router id must differ from every other VRRP group on the segment: the VIP's last octet
 * differs between VIPs of one /24, so it is a better guess than a fixed 51 (which is then the fallback).
 */
export function virtualRouterIdFor(vip: string): number {
  const last = Number(vip.split('/')[0]?.split('.')[3]);
  return Number.isInteger(last) && last >= 1 && last <= 255 ? last : 51;
}

/**
 * A YAML scalar, also inside `{ … }`: plain when YAML reads it back as this very string (not 1e5, true,
 * null), otherwise double-quoted (a JSON string is valid YAML).
 */
const scalar = (s: string): string => (/^[A-Za-z0-9_./~@+-]+$/.test(s) && parseYaml(s) === s ? s : JSON.stringify(s));

/** `line` with `# comment` in the column example.yaml uses. */
const noted = (line: string, comment: string | undefined): string => (comment ? `${line.padEnd(36)} # ${comment}` : line);

export function renderSkeleton(spec: SkeletonSpec): string {
  const hosts = skeletonHosts(spec.lbs, spec.servers);
  // haproxy on a host that also runs kube-apiserver cannot take 6443 too: the VIP is served on 8443.
  const colocated = hosts.some((h) => h.roles.length === 2);
  const authPass = 'env' in spec.authPass
    ? noted(`    authPass: { env: ${spec.authPass.env} }`, 'set it before running; 1–8 characters')
    : noted(`    authPass: ${JSON.stringify(spec.authPass.literal)}`, 'generated; 1–8 characters. To keep it out of this file: { env: NAME }');
  const width = Math.max(...hosts.map((h) => h.name.length)) + 1;
  const hostLine = (h: SkeletonHost): string => {
    const key = `  ${`${h.name}:`.padEnd(width)} `;
    const roles = `roles: [${h.roles.join(', ')}]`;
    if (h.lbIndex === undefined) return `${key}{ address: ${scalar(h.address)}, ${roles} }`;
    const iface = spec.interfaces[h.lbIndex] ?? '';
    const line = `${key}{ address: ${scalar(h.address)}, ${roles}, interface: ${scalar(iface)}, priority: ${lbPriority(h.lbIndex)} }`;
    return noted(line, spec.lbNotes?.[h.lbIndex]);
  };
  const lines = [
    `# yaml-language-server: $schema=${spec.schemaPath}`,
    '# Written by `ha-provision init`. Every key is described in inventory/example.yaml and the README.',
    '# Next: `ha-provision plan` on this file shows what `up` would change on each host, and changes nothing.',
    'apiVersion: ha-provision/v1',
    'cluster:',
    `  name: ${scalar(spec.name)}`,
    noted(`  topology: ${spec.topology}`, 'haproxy-keepalived | nginx | kube-vip (on [lb, server] hosts, no keepalived section)'),
    noted(`  vip: ${spec.vip}`, 'the virtual IP, with the prefix of the lb subnet'),
    noted(`  frontendPort: ${colocated ? 8443 : 6443}`, colocated ? 'where clients connect (the VIP); not 6443: the API servers on the lbs hold it' : 'where clients connect (the VIP)'),
    noted('  backendPort: 6443', 'where each kube-apiserver listens'),
    noted('  healthCheck: { path: /healthz }', 'checked over TLS; omit for plain TCP checks'),
    '  keepalived:',
    noted(`    virtualRouterId: ${virtualRouterIdFor(spec.vip)}`, "1–255, unique among the VRRP groups on this network (here: the VIP's last octet)"),
    authPass,
    noted('    unicast: false', 'true: unicast peers instead of multicast (clouds)'),
    noted('ssh:', 'defaults; any host may override them under its own ssh:'),
    `  user: ${scalar(spec.user)}`,
    `  port: ${spec.sshPort}`,
    spec.identityFile
      ? `  identityFile: ${scalar(spec.identityFile)}`
      : noted('  # identityFile: ~/.ssh/id_ed25519', 'unset: the keys of your ssh agent (SSH_AUTH_SOCK)'),
    `  knownHostsFile: ${scalar(spec.knownHostsFile ?? '~/.ssh/known_hosts')}`,
    noted('  hostKeyPolicy: strict', 'strict | accept-new | off'),
    'sysctls:',
    noted('  net.ipv4.ip_nonlocal_bind: 1', 'the proxy may bind the VIP on an lb that does not hold it'),
    'hosts:',
    ...hosts.map(hostLine),
  ];
  return `${lines.join('\n')}\n`;
}
