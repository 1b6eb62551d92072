// The lab's address plan: the defaults of `lab up`, where the bridge, the VIP, the lbs and the servers sit
// inside the lab's subnet, the most hosts of each kind a lab takes, and the hosts a lab of N lbs and M
// servers has. Pure arithmetic over net.ts's subnets; nothing here touches the machine.
import { hostAddress, parseSubnet, type Subnet } from './net.js';
import type { HostState } from './state.js';

export const DEFAULTS = { name: 'lab', lbs: 2, servers: 3, subnet: '10.213.0.0/24' } as const;
/**
 * Address plan inside the subnet: bridge .1, lbs .11–.19, servers from .21 on, skipping the VIP at .100
 * (a /24 holds 233 servers; a larger subnet, up to 400).
 */
const GATEWAY = 1;
const LB_BASE = 10;
const SERVER_BASE = 20;
const VIP = 100;
export const MAX_LBS = 9;
export const MAX_SERVERS = 400;
/** Offset of server i (1-based) in the subnet: the VIP's offset is skipped. */
export const serverOffset = (i: number): number => SERVER_BASE + i + (SERVER_BASE + i >= VIP ? 1 : 0);

export interface LabNet {
  readonly subnet: Subnet;
  readonly gateway: string;
  readonly vip: string;
}

export function labNet(subnet: string): LabNet {
  const s = parseSubnet(subnet);
  return { subnet: s, gateway: hostAddress(s, GATEWAY), vip: hostAddress(s, VIP) };
}

export function desiredHosts(name: string, net: LabNet, lbs: number, servers: number): HostState[] {
  const hosts: HostState[] = [];
  for (let i = 1; i <= lbs; i += 1) hosts.push({ name: `${name}-lb-${i}`, address: hostAddress(net.subnet, LB_BASE + i), roles: ['lb'] });
  for (let i = 1; i <= servers; i += 1) hosts.push({ name: `${name}-server-${i}`, address: hostAddress(net.subnet, serverOffset(i)), roles: ['server'] });
  return hosts;
}
