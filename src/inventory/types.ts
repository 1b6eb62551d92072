// The validated, resolved inventory: what every later stage reads. Loading (load.ts) turns the user's YAML
// into this shape — defaults applied, paths absolute, secrets resolved — or fails with every error at once.

import type { HOST_KEY_POLICIES, MODES, ROLES, TOPOLOGIES } from './schema.js';

// The words the inventory may use, as its schema lists them.
export type Role = (typeof ROLES)[number];
export type Topology = (typeof TOPOLOGIES)[number];
/** How a layout's daemons run: systemd services, or static pods in /etc/kubernetes/manifests (kubelet runs them). */
export type Mode = (typeof MODES)[number];
export type HostKeyPolicy = (typeof HOST_KEY_POLICIES)[number];

/** A value that must never be printed. `source` says where it came from, for error messages. */
export interface Secret {
  readonly value: string;
  readonly source: string; // e.g. "env HA_KEEPALIVED_PASS" or "literal"
}

export interface SshSettings {
  readonly user: string;
  readonly port: number;
  readonly identityFile?: string; // absolute
  readonly password?: Secret; // only from an environment variable: { env: NAME }
  /** For a user whose sudo asks for a password: { env: NAME }, or one prompt per run (--ask-sudo-password). */
  readonly sudoPassword?: Secret;
  readonly useAgent: boolean; // SSH_AUTH_SOCK, when set
  readonly knownHostsFile: string; // absolute
  readonly hostKeyPolicy: HostKeyPolicy;
  /** The inventory's ssh.jumpHost as written (host[:port], same user and keys); what is followed is proxyJump. */
  readonly jumpHost?: string;
  /** The hops to go through, first hop first (from ssh.jumpHost or the ssh config's ProxyJump); absent: direct. */
  readonly proxyJump?: readonly JumpHop[];
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
}

/** One hop of a jump chain, reached through the hops before it (the first one directly). */
export interface JumpHop {
  readonly spec: string; // as written in ProxyJump or ssh.jumpHost, e.g. deploy@bastion:2222
  readonly address: string; // where the hop is (its HostName): resolved by the hop before it, or here for the first
  readonly port: number;
  readonly user: string;
  readonly identityFile?: string; // absolute
  readonly password?: Secret; // ssh.jumpHost only: the host's own ("same user and keys")
  readonly useAgent: boolean;
  readonly knownHostsFile: string; // absolute: this hop's host key is checked there
  readonly hostKeyPolicy: HostKeyPolicy;
  readonly connectTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
}

/** A value of a host's SSH settings and where it came from: "default", "inventory ssh.user", "~/.ssh/config:12 (Host lb-*)". */
export interface Sourced<T> {
  readonly value: T;
  readonly from: string;
}

/** What is connected to, as whom, and how its key is checked: for a host and for each hop on its way. */
interface EndpointSources {
  readonly hostName: Sourced<string>;
  readonly user: Sourced<string>;
  readonly port: Sourced<number>;
  readonly identityFile: Sourced<string | null>;
  readonly knownHostsFile: Sourced<string>;
  readonly hostKeyPolicy: Sourced<HostKeyPolicy>;
}

/** One jump hop as `facts` and `plan --json` show it. */
export interface HopSources extends EndpointSources {
  readonly hop: string; // as written
}

/** Where each effective SSH setting of a host came from (never a secret: key file paths at most). */
export interface SshSources extends EndpointSources {
  readonly config: string | null; // the ssh config file read, null when none
  readonly alias?: string; // the address as written, when the ssh config gave it a HostName
  readonly connectTimeout: Sourced<string>; // e.g. "10s"
  readonly proxyJump: Sourced<string | null> & { readonly hops: readonly HopSources[] };
}

export interface Route {
  readonly to: string; // CIDR
  readonly via: string; // IPv4 address
  readonly dev: string; // interface name
}

export interface Host {
  readonly name: string;
  /**
   * As written in the inventory: an IPv4 address or a DNS name — or, when it is a Host alias of the ssh
   * config, that alias's HostName (the alias is then in sshSources.alias). The backend lists (haproxy's `server`
   * lines, nginx's upstreams, the lbs' backend probe) use it as written, so that a changed DNS record is
   * followed by the next reload there.
   */
  readonly address: string;
  /**
   * The IPv4 address `address` stands for: itself when it is one, else what this machine's resolver
   * answered when the inventory was loaded (resolve.ts). Used wherever only an IP will do: the SSH
   * connection, keepalived's unicast peers, and the inventory's subnet and duplicate-address checks.
   */
  readonly ip: string;
  readonly roles: readonly Role[];
  readonly interface?: string; // lb only: where VRRP runs and the VIP lives
  readonly priority?: number; // lb only: 1–254; highest starts as MASTER
  readonly ssh: SshSettings; // the host's own ssh keys, then the inventory's ssh:, then the ssh config, then defaults
  /** Where each of `ssh`'s settings came from (sshEffective.ts); absent for hosts not loaded from a file. */
  readonly sshSources?: SshSources;
}

export interface HaproxyTimeouts {
  readonly connect: string;
  readonly client: string;
  readonly server: string;
  readonly check: string;
  readonly queue: string;
}

export interface KeepalivedCheck {
  readonly interval: number; // seconds
  readonly fall: number;
  readonly rise: number;
  /**
   * Added to the priority while the check fails. Unset in the inventory: minus (the priority spread + 1),
   * so one failing lb drops below all others while all failing at once keep the VIP held. Absent here
   * (`weight: 0`): a failing check puts the node in FAULT, which always releases the VIP.
   */
  readonly weight?: number;
}

/** keepalived's check timings when the inventory has none (and no keepalived section at all). */
export const DEFAULT_CHECK: KeepalivedCheck = { interval: 3, fall: 3, rise: 2 };

export interface Cluster {
  readonly name: string;
  readonly topology: Topology;
  readonly mode: Mode;
  readonly vip: { readonly address: string; readonly prefix: number }; // 10.10.10.100/24 → address + prefix
  readonly frontendPort: number;
  /** A DNS name clients reach the API by (pointing at the VIP); `verify --ca` checks the certificate covers it. */
  readonly endpoint?: string;
  /** More ports through the VIP, each forwarded to the same port on every server (RKE2's 9345). */
  readonly extraPorts: readonly number[];
  readonly backendPort: number;
  readonly healthCheck?: { readonly path: string };
  readonly haproxy: { readonly timeouts: HaproxyTimeouts };
  /** Absent when the inventory has no keepalived section (a layout without keepalived, like kube-vip). */
  readonly keepalived?: {
    readonly virtualRouterId: number;
    readonly authPass: Secret;
    readonly unicast: boolean;
    readonly check: KeepalivedCheck;
  };
  /** kube-vip's static pod: its image, and the kubeconfig it uses for leader election. */
  readonly kubeVip: { readonly image: string; readonly kubeconfig: string };
  /** mode: static-pod: the images of the keepalived and haproxy pods. */
  readonly staticPods: { readonly keepalivedImage: string; readonly haproxyImage: string };
}

export interface Inventory {
  readonly file: string; // absolute path of the inventory file
  readonly cluster: Cluster;
  /**
   * The OpenSSH client config to read (absolute): `ssh.config` as written, or ~/.ssh/config when that
   * exists; absent with `ssh.config: false` or no such default file.
   */
  readonly sshConfig?: string;
  readonly sysctls: Readonly<Record<string, string>>;
  readonly routes: readonly Route[];
  readonly history: { readonly keep: number }; // applied versions each host keeps, for rollback
  /** Pinned package versions (name → version as the package manager spells it); others: any version. */
  readonly packages: Readonly<Record<string, string>>;
  /** When rollouts may run: window specs like "Sat 02:00-04:00" (empty: any time), in timeZone. */
  readonly maintenance: { readonly windows: readonly string[]; readonly timeZone?: string };
  readonly hosts: readonly Host[]; // in file order
}

/** Same destination, gateway and device (a live route fact may lack via/dev: then it is not the same). */
export const sameRoute = (a: { to: string; via?: string; dev?: string }, b: Route): boolean =>
  a.to === b.to && a.via === b.via && a.dev === b.dev;

export const hasRole = (host: Host, role: Role): boolean => host.roles.includes(role);

/** Every secret the inventory holds, with its key path: masked in all output, refused if it shows elsewhere. */
export function inventorySecrets(inventory: Inventory): { readonly path: readonly string[]; readonly value: string }[] {
  return [
    ...(inventory.cluster.keepalived ? [{ path: ['cluster', 'keepalived', 'authPass'], value: inventory.cluster.keepalived.authPass.value }] : []),
    ...inventory.hosts.flatMap((h) => [
      ...(h.ssh.password ? [{ path: ['hosts', h.name, 'ssh', 'password'], value: h.ssh.password.value }] : []),
      ...(h.ssh.sudoPassword ? [{ path: ['hosts', h.name, 'ssh', 'sudoPassword'], value: h.ssh.sudoPassword.value }] : []),
    ]),
  ];
}
