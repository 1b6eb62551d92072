// The valid parts of an inventory (parts.ts) → the resolved shape every later stage reads (types.ts):
// secrets read from the environment, paths made absolute, durations in milliseconds, each host's SSH
// settings merged over the defaults, and the check weight derived when none is written. Host names are
// resolved later (resolve.ts, load.ts): a host written as a name has no `ip` here yet.

import path from 'node:path';
import { bootstrapWeight } from './checks.js';
import { parseIpv4, splitCidr } from './ipv4.js';
import type { Parts } from './parts.js';
import type { Problems, Segs } from './problems.js';
import { authPassProblem, DEFAULT_SSH_CONFIG, type ClusterParsed, type HostSshParsed } from './schema.js';
import type { Cluster, Host, Inventory, Secret, SshSettings } from './types.js';
import { sshConfigSetting, type SshConfigFile } from './sshConfigFile.js';
import { effectiveSsh, type SshExplicit } from './sshEffective.js';

/** A host whose address is a name has no `ip` until that name is resolved. */
export type DraftHost = Omit<Host, 'ip'> & { readonly ip?: string };
export type Draft = Omit<Inventory, 'hosts'> & { readonly hosts: readonly DraftHost[] };

export interface BuildContext {
  readonly p: Problems;
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;
  readonly file: string; // absolute: relative paths in the inventory are relative to its directory
  /** Whether a file exists: the default ssh config is used only when it does. */
  readonly exists: (file: string) => boolean;
  /** The keys the top-level `ssh:` writes (the schema fills in the others): only these win over the ssh config. */
  readonly writtenSshKeys: ReadonlySet<string>;
}

/** The resolved inventory, or undefined when a part is invalid (then `ctx.p` already says why). */
export function buildDraft(ctx: BuildContext, parts: Parts): Draft | undefined {
  const { cluster, ssh, sysctls, routes, history, packages, maintenance, hosts } = parts;
  const topSsh = ssh && sshOverrides(ctx, ssh, ['ssh']);
  const sshBase = topSsh && sshSettings(topSsh);
  const topWritten = topSsh ? writtenOnly(topSsh, ctx.writtenSshKeys) : {};
  const sshConfig = ssh && sshConfigFile(ctx, ssh.config);
  const configFile = sshConfig === undefined ? undefined : readSshConfig(ctx, sshConfig);
  const built = hosts?.map(({ name, host }) => {
    if (!host || !sshBase) return undefined;
    // The ssh config is looked up for the address as written: it may be a Host alias (sshEffective.ts).
    const effective = effectiveSsh(
      { name, address: host.address, defaults: sshBase, top: topWritten, host: host.ssh ? sshOverrides(ctx, host.ssh, ['hosts', name, 'ssh']) : {}, config: configFile, home: ctx.home },
      // A value the schema or the checks already refused (a jumpHost's port, say) is reported once, by them.
      (where, message) => void (ctx.p.has(where) ? undefined : ctx.p.add(where, message)),
    );
    return effective && {
      name,
      address: effective.address,
      ...(parseIpv4(effective.address) !== undefined ? { ip: effective.address } : {}),
      roles: host.roles,
      ...(host.interface !== undefined ? { interface: host.interface } : {}),
      ...(host.priority !== undefined ? { priority: host.priority } : {}),
      ssh: effective.ssh,
      sshSources: effective.sources,
    };
  });
  const resolvedCluster = cluster && buildCluster(ctx, cluster, built?.every((h) => h !== undefined) ? built : undefined);
  const validRoutes = routes?.filter((r) => r !== undefined);
  if (!resolvedCluster || !sshBase || !built || built.some((h) => h === undefined) || !sysctls || !routes || validRoutes?.length !== routes.length
    || !history || !packages || !maintenance) return undefined;
  return {
    file: ctx.file,
    cluster: resolvedCluster,
    ...(sshConfig !== undefined ? { sshConfig } : {}),
    sysctls: Object.fromEntries(Object.entries(sysctls).map(([key, value]) => [key, String(value)])),
    routes: validRoutes.map((r) => ({ to: canonicalCidr(r.to), via: r.via, dev: r.dev })),
    history: { keep: history.keep },
    packages: { ...packages },
    maintenance: {
      windows: typeof maintenance.windows === 'string' ? [maintenance.windows] : maintenance.windows,
      ...(maintenance.timeZone !== undefined ? { timeZone: maintenance.timeZone } : {}),
    },
    hosts: built as DraftHost[],
  };
}

/** "10.244.0.0/016" as "10.244.0.0/16". */
const canonicalCidr = (cidr: string): string => {
  const { address, prefix } = splitCidr(cidr);
  return `${address}/${prefix}`;
};

function buildCluster(ctx: BuildContext, c: ClusterParsed, hosts: readonly DraftHost[] | undefined): Cluster | undefined {
  const k = c.keepalived;
  const authPass = k && secret(ctx, k.authPass, ['cluster', 'keepalived', 'authPass'], authPassProblem);
  if (k && !authPass) return undefined;
  // Weight 0 is keepalived's "no weight": FAULT on failure, stored as absent. No weight key at all: the
  // bootstrap default, once the priorities are known.
  const weight = k?.check.weight === undefined ? hosts && bootstrapWeight(hosts) : k.check.weight || undefined;
  return {
    name: c.name,
    topology: c.topology,
    mode: c.mode,
    vip: splitCidr(c.vip),
    ...(c.endpoint !== undefined ? { endpoint: c.endpoint } : {}),
    frontendPort: c.frontendPort,
    backendPort: c.backendPort,
    extraPorts: c.extraPorts,
    ...(c.healthCheck ? { healthCheck: { path: c.healthCheck.path } } : {}),
    haproxy: { timeouts: { ...c.haproxy.timeouts } },
    ...(k && authPass ? {
      keepalived: {
        virtualRouterId: k.virtualRouterId,
        authPass,
        unicast: k.unicast,
        check: { interval: k.check.interval, fall: k.check.fall, rise: k.check.rise, ...(weight !== undefined ? { weight } : {}) },
      },
    } : {}),
    kubeVip: { image: c.kubeVip.image, kubeconfig: c.kubeVip.kubeconfig },
    staticPods: { keepalivedImage: c.staticPods.keepalivedImage ?? '', haproxyImage: c.staticPods.haproxyImage },
  };
}

/** The top-level SSH settings, every default filled in by the schema. */
function sshSettings(overrides: SshOverrides): SshSettings | undefined {
  const { user, port, useAgent, knownHostsFile, hostKeyPolicy, connectTimeoutMs, commandTimeoutMs, keepaliveIntervalMs } = overrides;
  if (user === undefined || port === undefined || useAgent === undefined || knownHostsFile === undefined || hostKeyPolicy === undefined
    || connectTimeoutMs === undefined || commandTimeoutMs === undefined || keepaliveIntervalMs === undefined) return undefined;
  return { ...overrides, user, port, useAgent, knownHostsFile, hostKeyPolicy, connectTimeoutMs, commandTimeoutMs, keepaliveIntervalMs };
}

type SshOverrides = { -readonly [K in keyof SshSettings]?: SshSettings[K] };

/** The inventory key each SSH setting is written under. */
const WRITTEN_AS: Readonly<Record<string, keyof SshSettings>> = {
  user: 'user', port: 'port', identityFile: 'identityFile', password: 'password', sudoPassword: 'sudoPassword', agent: 'useAgent',
  knownHostsFile: 'knownHostsFile', hostKeyPolicy: 'hostKeyPolicy', jumpHost: 'jumpHost',
  connectTimeout: 'connectTimeoutMs', commandTimeout: 'commandTimeoutMs', keepaliveInterval: 'keepaliveIntervalMs',
};

/** The settings of `all` that the inventory writes (not the schema's defaults). */
function writtenOnly(all: SshOverrides, written: ReadonlySet<string>): SshExplicit {
  const out: SshOverrides = {};
  for (const key of written) {
    const setting = WRITTEN_AS[key];
    if (setting !== undefined && all[setting] !== undefined) (out as Record<string, unknown>)[setting] = all[setting];
  }
  return out;
}

/** Reads the ssh config; a problem is the inventory's, at ssh.config. */
function readSshConfig(ctx: BuildContext, file: string): SshConfigFile | undefined {
  const read = sshConfigSetting(file, ctx.home);
  if ('problem' in read) ctx.p.add(['ssh', 'config'], read.problem);
  return 'config' in read ? read.config : undefined;
}

/** The SSH keys written (or defaulted), resolved; the others are left out so that merging works key by key. */
function sshOverrides(ctx: BuildContext, s: HostSshParsed, segs: Segs): SshOverrides {
  const out: SshOverrides = {};
  const set = <K extends keyof SshSettings>(key: K, value: SshSettings[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set('user', s.user);
  set('port', s.port);
  set('identityFile', s.identityFile === undefined ? undefined : localPath(ctx, s.identityFile));
  set('password', s.password && secret(ctx, s.password, [...segs, 'password']));
  set('sudoPassword', s.sudoPassword && secret(ctx, s.sudoPassword, [...segs, 'sudoPassword']));
  set('useAgent', s.agent);
  set('knownHostsFile', s.knownHostsFile === undefined ? undefined : localPath(ctx, s.knownHostsFile));
  set('hostKeyPolicy', s.hostKeyPolicy);
  set('jumpHost', s.jumpHost);
  set('connectTimeoutMs', s.connectTimeout === undefined ? undefined : durationMs(s.connectTimeout));
  set('commandTimeoutMs', s.commandTimeout === undefined ? undefined : durationMs(s.commandTimeout));
  set('keepaliveIntervalMs', s.keepaliveInterval === undefined ? undefined : durationMs(s.keepaliveInterval));
  return out;
}

/**
 * The OpenSSH client config: as written, `false` for none, and by default ~/.ssh/config when it exists.
 * A file named in the inventory is not looked for here: whoever reads it says when it is missing.
 */
function sshConfigFile(ctx: BuildContext, written: string | false | undefined): string | undefined {
  if (written === false) return undefined;
  if (written !== undefined) return localPath(ctx, written);
  const fallback = localPath(ctx, DEFAULT_SSH_CONFIG);
  return ctx.exists(fallback) ? fallback : undefined;
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** "500ms", "5s", "1m", "2h" (the schema checked the syntax and range) → milliseconds. */
function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  return Number(m?.[1]) * UNIT_MS[(m?.[2] ?? 'ms') as keyof typeof UNIT_MS];
}

/** `~` is the user's home (the schema refused ~user), relative paths are relative to the inventory file. */
function localPath(ctx: BuildContext, p: string): string {
  if (p === '~') return ctx.home;
  if (p.startsWith('~/')) return path.join(ctx.home, p.slice(2));
  return path.resolve(path.dirname(ctx.file), p);
}

/**
 * A secret's value: a literal as written, or the environment variable `{ env: NAME }` names. Messages
 * never contain the value, not even the offending character, since they may be printed or logged.
 */
function secret(ctx: BuildContext, written: string | { env: string }, segs: Segs, problem?: (value: string) => string | undefined): Secret | undefined {
  if (typeof written === 'string') return { value: written, source: 'literal' }; // the schema checked it
  const value = ctx.env[written.env];
  if (value === undefined || value === '') {
    ctx.p.add(segs, `environment variable ${written.env} is ${value === undefined ? 'not set' : 'empty'}; set it before running`);
    return undefined;
  }
  const wrong = problem?.(value);
  if (wrong) {
    ctx.p.add(segs, `the value of ${written.env} ${wrong}`);
    return undefined;
  }
  return { value, source: `env ${written.env}` };
}
