// The inventory `lab up` writes: exactly the project's inventory schema, pointing at the lab's hosts,
// key and known_hosts, so `ha-provision up inventory/lab.yaml` works against the lab as-is.
import type { HostState } from './state.js';
import { lbPriority } from '../inventory/skeleton.js';

export interface InventoryInput {
  readonly name: string;
  readonly vip: string; // with prefix, e.g. 10.213.0.100/24
  readonly gateway: string;
  readonly virtualRouterId: number;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  readonly hosts: readonly HostState[]; // lbs first, in order
}

/** A YAML scalar: plain when safe, otherwise double-quoted (JSON strings are valid YAML). */
const scalar = (s: string): string => (/^[A-Za-z0-9_./~@+-]+$/.test(s) ? s : JSON.stringify(s));

export function renderInventory(p: InventoryInput): string {
  const lines = [
    `# Written by \`ha-provision lab up --name ${p.name}\`: the local lab fleet. \`ha-provision lab down --name ${p.name}\` removes it.`,
    'apiVersion: ha-provision/v1',
    'cluster:',
    `  name: ${scalar(p.name)}`,
    '  topology: haproxy-keepalived',
    `  vip: ${p.vip}`,
    '  frontendPort: 6443',
    '  backendPort: 6443',
    '  healthCheck: { path: /healthz }',
    '  keepalived:',
    `    virtualRouterId: ${p.virtualRouterId}`,
    '    authPass: labpass1',
    '    unicast: false',
    // Checked every 2 s, down after 2 failures: a dead haproxy hands the VIP over within about 5 s, so the
    // failover drill and the tests see failovers quickly (the tool's default is 3 s × 3).
    '    check: { interval: 2, fall: 2, rise: 2 }',
    'ssh:',
    '  user: root',
    '  port: 22',
    `  identityFile: ${scalar(p.identityFile)}`,
    `  knownHostsFile: ${scalar(p.knownHostsFile)}`,
    '  hostKeyPolicy: strict',
    'sysctls:',
    '  net.ipv4.ip_nonlocal_bind: 1',
    'routes:',
    `  - { to: 10.254.0.0/16, via: ${p.gateway}, dev: host0 }`,
    'hosts:',
  ];
  let lb = 0;
  for (const h of p.hosts) {
    const roles = `[${h.roles.join(', ')}]`;
    lines.push(
      h.roles.includes('lb')
        ? `  ${h.name}: { address: ${h.address}, roles: ${roles}, interface: host0, priority: ${lbPriority(lb++)} }`
        : `  ${h.name}: { address: ${h.address}, roles: ${roles} }`,
    );
  }
  return `${lines.join('\n')}\n`;
}
