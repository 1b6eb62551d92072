// The inventory as the user writes it, defined once: the TypeScript types of the raw inventory, the
// structural validation (with each problem's wording) and the shipped JSON Schema (schemaJson.ts) all come
// from here. What one value cannot say about another (priorities, subnets, port clashes) is checks.ts's;
// turning values into the resolved `Inventory` (secrets, paths, DNS) is build.ts's and resolve.ts's.
//
// Every value carries its message: the `error` param says what is allowed and what was given (how a
// missing required key is told, too), and the same "allowed" words are its description in the JSON Schema,
// so editors show what the loader would say. Values end up in config files and on shell lines, so tokens
// are limited to characters that mean nothing to haproxy.cfg, keepalived.conf, systemd units or sh.

import * as z from 'zod';
import { show } from './problems.js';

// Zod compiles a fast path for each object schema (`new Function`) on its first parse; a CLI parses one
// inventory per run, and that compile cost more than it saved: the inventory's schema check took about
// 11 ms with it and 6 without (medians of 9 plans of a 30-host inventory).
z.config({ jitless: true });

export const API_VERSION = 'ha-provision/v1';
export const TOPOLOGIES = ['haproxy-keepalived', 'nginx', 'kube-vip'] as const;
export const MODES = ['services', 'static-pod'] as const;
export const ROLES = ['lb', 'server'] as const;
export const HOST_KEY_POLICIES = ['strict', 'accept-new', 'off'] as const;
export const DEFAULT_SSH_CONFIG = '~/.ssh/config';

type Words = (input: unknown) => string;

/**
 * The `error` param of one value: `is required: …` when it is missing (and `required` says what it needs),
 * else what `wrong` says. Unknown keys are told by issues.ts, which knows every allowed key.
 */
function say(wrong: Words, required?: string): { error: (issue: z.core.$ZodRawIssue) => string | undefined } {
  return {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') return undefined;
      return issue.input === undefined && required !== undefined ? `is required: ${required}` : wrong(issue.input);
    },
  };
}

/** The JSON Schema description: what the key is for (when it says more than its rule), then what is allowed. */
const about = (allowed: string, what?: string): { description: string } => ({ description: what ? `${what}; ${allowed}` : allowed });

interface Field {
  readonly required?: string; // what a missing required key needs; absent: the key is optional
  readonly what?: string; // what the key is for, in the JSON Schema only
}

// ---------------------------------------------------------------------------------------------------
// Tokens: a pattern, and the words saying what it allows.

export interface TokenRule {
  readonly re: RegExp;
  readonly allowed: string;
}

/** Dotted quad without leading zeros (some tools read those as octal), as ipv4.ts parses it. */
const IPV4 = '(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
// RFC 1123 labels of at most 63 characters, 253 in all. A last label of digits only would be read as a
// (shorthand) IPv4 address by getaddrinfo and haproxy, so it needs a letter.
const DNS_NAME = '(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';

export const NAME: TokenRule = {
  re: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
  allowed: 'letters, digits, ".", "_" and "-", starting with a letter or digit',
};
// Linux interface names: IFNAMSIZ is 16 including the terminating NUL, so at most 15 characters.
export const INTERFACE: TokenRule = {
  re: /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/,
  allowed: 'an interface name of at most 15 letters, digits, ".", "_" and "-", starting with a letter or digit',
};
const USER: TokenRule = {
  re: /^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/,
  allowed: 'a user name of at most 32 letters, digits, ".", "_" and "-"',
};
const JUMP_HOST: TokenRule = {
  re: /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/,
  allowed: 'a host name or IPv4 address, optionally with :port (same user and keys), like bastion.example.com:22',
};
const HOST_ADDRESS: TokenRule = {
  re: new RegExp(`^(?:${IPV4}|${DNS_NAME})$`),
  allowed: 'an IPv4 address like 10.10.10.98 or a host name like cp1.example.com (letters, digits and "-" in labels separated by dots)',
};
const ENDPOINT: TokenRule = {
  re: new RegExp(`^${DNS_NAME}$`),
  allowed: 'a DNS name clients reach the API by, like api.example.com (letters, digits and "-" in labels separated by dots; not an IP: the VIP is checked already)',
};
// The path goes into haproxy's `http-check send ... uri` and the curl line of check_apiserver.sh.
const HTTP_PATH: TokenRule = {
  re: /^\/[A-Za-z0-9._~/?=%+:@,-]*$/,
  allowed: 'a URL path starting with "/" made of letters, digits and . _ ~ / ? = % + : @ , -, like /healthz or /readyz',
};
const ENV_NAME: TokenRule = {
  re: /^[A-Za-z_][A-Za-z0-9_]*$/,
  allowed: 'an environment variable name: letters, digits and "_", not starting with a digit',
};
// An image reference as kubelet pulls it: registry/path:tag or @sha256:digest; lands in YAML manifests.
const IMAGE: TokenRule = {
  re: /^[a-z0-9][a-z0-9._/-]*(?::[0-9]+\/[a-z0-9._/-]+)?(?::[A-Za-z0-9._-]{1,128})?(?:@sha256:[a-f0-9]{64})?$/,
  allowed: 'an image reference like ghcr.io/kube-vip/kube-vip:v1.2.3 or haproxy:2.8',
};
const KUBECONFIG: TokenRule = { re: /^\/[A-Za-z0-9._/-]+$/, allowed: 'an absolute path on the control-plane host, like /etc/kubernetes/admin.conf' };
const SYSCTL_NAME = /^[a-z0-9_]+(\.[a-z0-9_-]+)+$/;
// Values go into /etc/sysctl.d and onto `sysctl -w`: integers or plain tokens only.
const SYSCTL_VALUE = /^[A-Za-z0-9._:,/+-]+$/;
// Versions go onto an apt-get/dnf command line: Debian/RPM version characters only.
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*$/;
const PACKAGE_VERSION = /^[A-Za-z0-9][A-Za-z0-9.+~:_-]*$/;

function token(rule: TokenRule, field: Field = {}) {
  const e = say((v) => `must be ${rule.allowed}; got ${show(v)}`, field.required);
  return z.string(e).regex(rule.re, e).meta(about(rule.allowed, field.what));
}

// ---------------------------------------------------------------------------------------------------
// Values

function int(min: number, max: number, field: Field = {}) {
  const e = say((v) => `must be an integer ${min}–${max}, got ${show(v)}`, field.required);
  return z.int(e).min(min, e).max(max, e).meta(about(`an integer ${min}–${max}`, field.what));
}

const port = (field: Field = {}) => int(1, 65535, field);

const bool = (what?: string) => z.boolean(say((v) => `must be true or false, got ${show(v)}`)).meta(about('true or false', what));

function oneOf<const T extends readonly [string, ...string[]]>(values: T, what?: string) {
  const e = say((v) => `must be one of ${values.join(', ')}, got ${show(v)}`);
  return z.enum(values, e).meta(about(`one of ${values.join(', ')}`, what));
}

const ipv4 = (field: Field = {}) => {
  const allowed = 'an IPv4 address like 10.10.10.98';
  const e = say((v) => `must be ${allowed}, got ${show(v)}`, field.required);
  return z.string(e).regex(new RegExp(`^${IPV4}$`), e).meta(about(allowed, field.what));
};

/** An IPv4 address with a prefix length of at least `minPrefix` ("/08" reads as 8, as it always has). */
function cidr(minPrefix: 0 | 1, example: string, why: string, field: Field = {}) {
  const prefix = minPrefix === 0 ? '(?:0?\\d|[12]\\d|3[0-2])' : '(?:0?[1-9]|[12]\\d|3[0-2])';
  const allowed = `an IPv4 address with a prefix length ${minPrefix}–32, like ${example}${why}`;
  const e = say((v) => typeof v === 'string' && new RegExp(`^${IPV4}$`).test(v)
    ? `is missing its prefix length: write it like ${example}${why}; got ${show(v)}`
    : `must be ${allowed}; got ${show(v)}`, field.required);
  return z.string(e).regex(new RegExp(`^${IPV4}/${prefix}$`), e).meta(about(allowed, field.what));
}

// "500ms", "5s", "1m", "2h": above 0 and at most 24h (far below Node's timer limit of ~24.8 days, far above
// any sensible timeout), leading zeros allowed. A unit is required: a bare number is ambiguous. The range is
// in the pattern so that the JSON Schema refuses what the loader refuses.
const DURATION = new RegExp('^0*(?:'
  + '(?:[1-9]\\d{0,6}|[1-7]\\d{7}|8[0-5]\\d{6}|86[0-3]\\d{5}|86400000)ms'
  + '|(?:[1-9]\\d{0,3}|[1-7]\\d{4}|8[0-5]\\d{3}|86[0-3]\\d\\d|86400)s'
  + '|(?:[1-9]\\d{0,2}|1[0-3]\\d\\d|14[0-3]\\d|1440)m'
  + '|(?:[1-9]|1\\d|2[0-4])h)$');

function duration(what?: string) {
  const allowed = 'a duration with a unit ms, s, m or h, above 0 and at most 24h, like 500ms, 5s or 1m';
  const e = say((v) => `must be ${allowed}${typeof v === 'number' ? ' (a unit is required)' : ''}; got ${show(v)}`);
  return z.string(e).regex(DURATION, e).meta(about(allowed, what));
}

/** A local file path: `~` is the user's home, relative paths are relative to the inventory file (build.ts). */
function localPath(what?: string) {
  const allowed = 'a file path (absolute, relative to the inventory file, or starting with ~/)';
  const e = say((v) => typeof v === 'string' && /^~[^/]/.test(v) && !/[\0\n\r]/.test(v)
    ? `only ~ or ~/… (your own home) is supported, not ~user; got ${show(v)}`
    : `must be ${allowed}, got ${show(v)}`);
  return z.string(e).regex(/^(?:~|~\/[^\0\n\r]*|(?!~)[^\0\n\r]+)$/, e).meta(about(allowed, what));
}

/** A YAML mapping with a fixed set of keys: any other key is refused (typos should fail loudly). */
function mapping<S extends z.core.$ZodLooseShape>(shape: S, example: string, field: Field = {}) {
  return z.strictObject(shape, say((v) => `must be a mapping like ${example}, got ${show(v)}`, field.required))
    .meta(about(`a mapping like ${example}`, field.what));
}

// Secrets. Messages about them never contain the value, not even the offending character, since they may
// be printed or logged: `kind` says only what sort of value was given.
const kind = (v: unknown): string => (typeof v === 'number' || typeof v === 'boolean' ? `a ${typeof v} (quote it)` : show(v));
const envRef = (wrong: Words, required?: string) => z.strictObject({
  env: token(ENV_NAME, { required: 'the name of the environment variable holding the secret' }),
}, say(wrong, required));

// keepalived PASS authentication: auth_pass is cut to 8 characters without a word, so a longer one
// "works" until a peer rendered elsewhere disagrees. # and ! start comments in keepalived.conf.
const AUTH_PASS = /^(?:(?!["'#!;$`\\{}])[\x21-\x7e]){1,8}$/;
/** What is wrong with a keepalived password, literal or from the environment; undefined: nothing. */
export function authPassProblem(value: string): string | undefined {
  if (value === '') return 'is empty; use 1–8 characters';
  if (value.length > 8) {
    return `is ${value.length} characters long; keepalived uses at most 8 and silently cuts the rest, so use 1–8 characters`;
  }
  if (!AUTH_PASS.test(value)) {
    return 'contains a character that is not allowed; use printable ASCII without whitespace, quotes, #, !, ;, $, `, \\, { or } (keepalived.conf treats # and ! as comments)';
  }
  return undefined;
}

const authPass = () => {
  const literal = z.string().regex(AUTH_PASS, { error: (i) => `the value ${authPassProblem(String(i.input)) ?? 'is not allowed'}` });
  const required = 'the VRRP password (1–8 characters), a string or { env: NAME }';
  return z.union([literal, envRef(() => '')], say((v) => `must be a string or { env: NAME }, got ${kind(v)}`, required))
    .meta(about('1–8 printable ASCII characters without whitespace, quotes, #, !, ;, $, `, \\, { or }, or { env: NAME }', 'the VRRP password'));
};

// A password in a file ends up in git; only a reference to the environment is accepted.
const envOnly = (what: string) => envRef((v) => typeof v === 'string'
  ? 'must not be written in the inventory; use { env: NAME } and set that environment variable'
  : `must be { env: NAME }, got ${kind(v)}`).meta(about('{ env: NAME }, the environment variable holding it', what));

// ---------------------------------------------------------------------------------------------------
// The inventory

/** SSH settings: top-level defaults (`withDefaults`) or one host's overrides (merged key by key). */
function sshShape(withDefaults: boolean) {
  const dflt = <T extends z.ZodType>(schema: T, value: z.input<T>) => (withDefaults ? schema.default(value as never) : schema.optional());
  return {
    user: dflt(token(USER), 'root'),
    port: dflt(port(), 22),
    identityFile: localPath('the private key to log in with').optional(),
    password: envOnly('the SSH password').optional(),
    sudoPassword: envOnly('for a user whose sudo asks for a password (or --ask-sudo-password)').optional(),
    agent: dflt(bool('use the SSH agent at SSH_AUTH_SOCK, when set'), true),
    knownHostsFile: dflt(localPath('the known_hosts file holding the hosts\' keys'), '~/.ssh/known_hosts'),
    hostKeyPolicy: dflt(oneOf(HOST_KEY_POLICIES, 'what to do with a host key not in knownHostsFile'), 'strict'),
    jumpHost: token(JUMP_HOST).optional(),
    connectTimeout: dflt(duration(), '10s'),
    commandTimeout: dflt(duration(), '5m'),
    keepaliveInterval: dflt(duration(), '15s'),
  };
}

const SSH_EXAMPLE = '{ user: root, port: 22 }';
const configAllowed = 'a file path (absolute, relative to the inventory file, or starting with ~/) or false';
export const SshSchema = mapping({
  ...sshShape(true),
  config: z.union([localPath(), z.literal(false, say((v) => `must be ${configAllowed}, got ${show(v)}`))], say((v) => `must be ${configAllowed}, got ${show(v)}`))
    .meta(about(configAllowed, `the OpenSSH client config to read (default: ${DEFAULT_SSH_CONFIG} when it exists; false: none)`))
    .optional(),
}, SSH_EXAMPLE, { what: 'SSH defaults for every host' });
export const HostSshSchema = mapping(sshShape(false), SSH_EXAMPLE, { what: 'this host\'s SSH settings over the top-level ones' });

const route = 'a route like { to: 10.244.0.0/16, via: 192.168.20.1, dev: eth1 }';
export const RouteSchema = mapping({
  to: cidr(0, '10.244.0.0/16', '', { required: 'the destination network, like 10.244.0.0/16' }),
  via: ipv4({ required: 'the gateway IPv4 address, like 192.168.20.1' }),
  dev: token(INTERFACE, { required: 'the interface to route through, like eth1' }),
}, '{ to: 10.244.0.0/16, via: 192.168.20.1, dev: eth1 }', { required: route });

const KEEPALIVED_EXAMPLE = '{ virtualRouterId: 51, authPass: { env: HA_KEEPALIVED_PASS } }';
export const KeepalivedSchema = mapping({
  // VRRP's virtual router id is one byte, and 0 is reserved.
  virtualRouterId: int(1, 255).default(51),
  authPass: authPass(),
  unicast: bool('true: unicast_src_ip / unicast_peer (clouds, no multicast)').default(false),
  check: mapping({
    interval: int(1, 3600, { what: 'seconds between checks' }).default(3),
    fall: int(1, 100).default(3),
    rise: int(1, 100).default(2),
    // keepalived accepts -253..253; 0 is its "no weight" (FAULT on failure). No key at all: derived from
    // the priorities (checks.ts).
    weight: int(-253, 253, { what: 'added to the priority while the check fails; omit it for one derived from the priorities, 0: FAULT' }).optional(),
  }, '{ interval: 3, fall: 3, rise: 2 }').prefault({}),
}, KEEPALIVED_EXAMPLE, { what: 'the VRRP instance on the lbs; omit it for a layout without keepalived (kube-vip)' });

const extraPortsWords = 'a list of ports like [9345]';
export const ClusterSchema = mapping({
  name: token(NAME, { required: 'a name for the cluster, like demo', what: 'the cluster\'s name' }),
  topology: oneOf(TOPOLOGIES).default('haproxy-keepalived'),
  // keepalived adds the VIP to the lb's interface with this prefix, so it must be the lb subnet's.
  vip: cidr(1, '10.10.10.100/24', ', with the prefix of the lb subnet', { required: 'the virtual IP with its prefix length, like 10.10.10.100/24' }),
  endpoint: token(ENDPOINT, { what: 'the DNS name the API is reached by' }).optional(),
  frontendPort: port({ what: 'where clients connect (the VIP)' }).default(6443),
  backendPort: port({ what: 'where each kube-apiserver listens' }).default(6443),
  extraPorts: z.array(port(), say((v) => `must be ${extraPortsWords}, got ${show(v)}`))
    .meta(about(extraPortsWords, 'more ports through the VIP, each to the same port on every server (RKE2\'s 9345)')).default([]),
  healthCheck: mapping({
    path: token(HTTP_PATH, { required: 'the HTTP path haproxy checks, like /healthz' }),
  }, '{ path: /healthz }', { what: 'haproxy checks the servers over HTTPS; omit it for TCP checks' }).optional(),
  haproxy: mapping({
    timeouts: mapping({
      connect: duration().default('5s'),
      client: duration().default('20s'),
      server: duration().default('20s'),
      check: duration().default('10s'),
      queue: duration().default('20s'),
    }, '{ connect: 5s, client: 20s }').prefault({}),
  }, '{ timeouts: { connect: 5s } }').prefault({}),
  keepalived: KeepalivedSchema.optional(),
  // How the layout's daemons run: as systemd services, or as static pods kubelet runs (kubeadm option 2).
  mode: oneOf(MODES).default('services'),
  kubeVip: mapping({
    // The kube-vip release whose `kube-vip manifest pod` output templates/kube-vip matches.
    image: token(IMAGE).default('ghcr.io/kube-vip/kube-vip:v1.2.3'),
    kubeconfig: token(KUBECONFIG).default('/etc/kubernetes/admin.conf'),
  }, '{ image: ghcr.io/kube-vip/kube-vip:v1.2.3 }').prefault({}),
  staticPods: mapping({
    // No default: the kubeadm guide's osixia/keepalived 2.0.20 predates track_file, which the drain needs,
    // and is unmaintained; the static-pod layout asks for one (its playbook's layout.needs).
    keepalivedImage: token(IMAGE).optional(),
    // haproxy: the kubeadm guide's (an LTS branch).
    haproxyImage: token(IMAGE).default('haproxy:2.8'),
  }, '{ keepalivedImage: registry.example.com/keepalived:2.2.8, haproxyImage: haproxy:2.8 }').prefault({}),
}, '{ name: demo, vip: 10.10.10.100/24, … }', { required: 'a mapping with name, vip, keepalived.authPass and more' });

const rolesWords = 'a non-empty list of lb and/or server, like [lb] or [lb, server]';
export const HostSchema = mapping({
  address: token(HOST_ADDRESS, { required: 'the IPv4 address or host name to reach the host at' }),
  roles: z.array(oneOf(ROLES), say((v) => `must be ${rolesWords}; got ${Array.isArray(v) ? 'an empty list' : show(v)}`, 'a list of lb and/or server, like [lb]'))
    .min(1, say(() => `must be ${rolesWords}; got an empty list`)).meta(about(rolesWords)),
  // interface and priority configure the keepalived instance, which only lb hosts run (checks.ts).
  interface: token(INTERFACE, { what: 'lb only: where VRRP runs and the VIP is added' }).optional(),
  // 255 is reserved by VRRP for the owner of the address; 0 means "resign".
  priority: int(1, 254, { what: 'lb only: the VRRP priority; the highest starts as MASTER' }).optional(),
  ssh: HostSshSchema.optional(),
}, '{ address: 10.10.10.98, roles: [lb], interface: eth1, priority: 200 }', { required: '{ address, roles, … }' });

const hostsWords = 'a mapping of host name → { address, roles, … }';
const hostName = `a host name of ${NAME.allowed}`;
const sysctlValue = 'an integer or a plain value (letters, digits and . _ : , / + -)';
const versionWords = 'a version in quotes as apt or dnf spells it, like "2.6.12-1+deb12u4"';
const windowWords = 'a window like "Sat 02:00-04:00" or a list of them';

const topShape = {
  apiVersion: z.literal(API_VERSION, say((v) => `must be ${API_VERSION}, got ${show(v)}`, API_VERSION)).meta(about(API_VERSION)),
  cluster: ClusterSchema,
  ssh: SshSchema.prefault({}),
  sysctls: z.record(
    z.string().regex(SYSCTL_NAME, { error: 'is not a sysctl name; use dotted lower-case names like net.ipv4.ip_nonlocal_bind' }),
    z.union([z.int(say((v) => `must be ${sysctlValue}, got ${show(v)}`)), z.string().regex(SYSCTL_VALUE, say((v) => `must be ${sysctlValue}, got ${show(v)}`))],
      say((v) => `must be ${sysctlValue}, got ${show(v)}`))
      .meta(about(sysctlValue)),
    say((v) => `must be a mapping like { net.ipv4.ip_nonlocal_bind: 1 }, got ${show(v)}`),
  ).meta(about('a mapping of dotted lower-case sysctl names to values', 'kernel settings on every host'))
    .default({ 'net.ipv4.ip_nonlocal_bind': 1 }), // haproxy may bind the VIP on a BACKUP
  routes: z.array(RouteSchema, say((v) => `must be a list like [{ to: 10.244.0.0/16, via: 192.168.20.1, dev: eth1 }], got ${show(v)}`))
    .meta(about('a list of routes like { to: 10.244.0.0/16, via: 192.168.20.1, dev: eth1 }', 'static routes on every host')).default([]),
  history: mapping({
    keep: int(1, 1000).default(10),
  }, '{ keep: 10 }', { what: 'how many applied versions each host keeps, for rollback' }).prefault({}),
  packages: z.record(
    z.string().regex(PACKAGE_NAME, { error: 'is not a package name (lower-case letters, digits and + . -)' }),
    z.string(say((v) => `must be ${versionWords}, got ${show(v)}`)).regex(PACKAGE_VERSION, say((v) => `must be ${versionWords}, got ${show(v)}`)).meta(about(versionWords)),
    say((v) => `must be a mapping of package name to version like { haproxy: "2.6.12-1+deb12u4" }, got ${show(v)}`),
  ).meta(about('a mapping of package name to version', 'pinned package versions; others: any version')).default({}),
  maintenance: mapping({
    windows: z.union([z.string(), z.array(z.string(say((v) => `must be a window like "Sat 02:00-04:00", got ${show(v)}`)))], say((v) => `must be ${windowWords}, got ${show(v)}`)).meta(about(windowWords)).default([]),
    timeZone: z.string(say((v) => `must be an IANA zone like Europe/Berlin, got ${show(v)}`)).meta(about('an IANA zone like Europe/Berlin')).optional(),
  }, '{ windows: ["Sat 02:00-04:00"], timeZone: Europe/Berlin }', { what: 'when rollouts may run' }).prefault({}),
  hosts: z.record(
    z.string().regex(NAME.re, say((v) => `must be ${hostName}; got ${show(v)}`)),
    HostSchema,
    say((v) => `must be ${hostsWords}, got ${show(v)}`, `${hostsWords} with at least one lb and one server`),
  ).meta(about(`${hostsWords} with at least one lb and one server`)),
};

export const InventorySchema = z.strictObject(topShape, {
  error: (issue) => issue.code === 'unrecognized_keys' ? undefined : issue.input === undefined
    ? `the inventory is empty; expected a mapping with ${Object.keys(topShape).join(', ')}`
    : `must be a mapping like { apiVersion: ${API_VERSION}, cluster: …, hosts: … }, got ${show(issue.input)}`,
}).meta({ title: 'ha-provision inventory', description: 'haproxy + keepalived (or nginx, kube-vip) in front of Kubernetes API servers' });

/** The inventory as written (what the JSON Schema describes). */
export type InventoryAsWritten = z.input<typeof InventorySchema>;
/** As the schema reads it: the same keys, defaults filled in. */
export type InventoryParsed = z.output<typeof InventorySchema>;
export type ClusterParsed = z.output<typeof ClusterSchema>;
export type HostParsed = z.output<typeof HostSchema>;
export type SshParsed = z.output<typeof SshSchema>;
export type HostSshParsed = z.output<typeof HostSshSchema>;
export type RouteParsed = z.output<typeof RouteSchema>;
