// `ha-provision lab …`: a local fleet of real test hosts. Each host is a systemd-booted Debian 12
// container (systemd-nspawn) on an overlay over one cached rootfs, with its own network namespace,
// address on a per-lab bridge, sshd, apt (a local repository, no internet) and, on servers, an
// apiserver stand-in on :6443. What this rests on (nspawn's cgroups, overlayfs, VRRP on a bridge) is said
// where it is used: prereqs.ts, image.ts, net.ts, vrrp.ts.
//
// This module is the lab's public face: what other code and the tests import. The code lives in
// plan.ts (the address plan), fleet.ts (the hosts as a whole: keys, status, booting and readiness),
// commands.ts (labUp, labDown, labStatus, labStop, labStart, labPartition, labHeal, labExec) and
// cli.ts (`ha-provision lab …`: runLabCommand).
import { cgroupPids } from './host.js';
import { STATE_ROOT, bridgeName, labDir, type Role } from './state.js';

export { serverOffset } from './plan.js';
export type { LabHostStatus } from './fleet.js';
export { labDown, labExec, labHeal, labPartition, labStart, labStatus, labStop, labUp, type LabOptions } from './commands.js';
export { runLabCommand } from './cli.js';

// Exposed for tests and tools that want to look deeper than the status.
export { cgroupPids, labDir, STATE_ROOT, bridgeName };
export type { Role };
