// A host's effective SSH settings, key by key: what the inventory writes (the host's own ssh: keys, then
// the top-level ssh:) wins over the ssh config, which wins over the built-in defaults. The ssh config is
// looked up for the address as written, so an address may be a Host alias; its HostName is then where the
// host is. Also the jump chain (ssh.jumpHost, or ProxyJump with each hop's own settings), and where every
// value came from, for `facts` and `plan --json`.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseIpv4 } from './ipv4.js';
import type { ConfigValue, ConfigValues, SshConfigFile } from './sshConfigFile.js';
import type { HopSources, HostKeyPolicy, JumpHop, SshSettings, SshSources, Sourced } from './types.js';

export type SshExplicit = { readonly [K in keyof SshSettings]?: SshSettings[K] };

export interface SshInputs {
  readonly name: string; // the host's name in the inventory
  readonly address: string; // as written in the inventory
  readonly defaults: SshSettings;
  readonly top: SshExplicit; // the top-level ssh: keys the inventory writes
  readonly host: SshExplicit; // the host's own ssh: keys it writes
  readonly config: SshConfigFile | undefined;
  readonly home: string;
}

export interface EffectiveSsh {
  readonly address: string; // the alias's HostName, or the address as written
  readonly ssh: SshSettings;
  readonly sources: SshSources;
}

/** Reports a problem at an inventory key path. */
export type Report = (segs: readonly (string | number)[], message: string) => void;

// The inventory's own rules for these values (load.ts), repeated for values that come from the ssh config:
// HostName ends up in haproxy and nginx configs, as an address written in the inventory does.
const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/;
const HOST_NAME_RE = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const isHostAddress = (s: string): boolean => parseIpv4(s) !== undefined || HOST_NAME_RE.test(s);
const MAX_HOPS = 8;

/** The inventory key each setting is written under, for sources. */
const INVENTORY_KEY = {
  user: 'user', port: 'port', identityFile: 'identityFile', knownHostsFile: 'knownHostsFile',
  hostKeyPolicy: 'hostKeyPolicy', connectTimeoutMs: 'connectTimeout', jumpHost: 'jumpHost',
} as const;
type Key = keyof typeof INVENTORY_KEY;

export function effectiveSsh(input: SshInputs, report: Report): EffectiveSsh | undefined {
  const { name, address, config } = input;
  const at: readonly (string | number)[] = ['hosts', name, 'address'];
  // A user the inventory names is the one `Match user` sees, as with `ssh -l`.
  const found = config?.lookup(address, input.host.user ?? input.top.user) ?? {};
  const bad: string[] = [];
  const fromConfig = <T>(value: ConfigValue | undefined, convert: (raw: string) => T | string): Sourced<T> | undefined => configured(value, convert, bad);
  const explicit = <K extends Key>(key: K): Sourced<SshSettings[K]> | undefined => {
    if (input.host[key] !== undefined) return { value: input.host[key] as SshSettings[K], from: `inventory hosts.${name}.ssh.${INVENTORY_KEY[key]}` };
    if (input.top[key] !== undefined) return { value: input.top[key] as SshSettings[K], from: `inventory ssh.${INVENTORY_KEY[key]}` };
    return undefined;
  };
  const fallback = <K extends Key>(key: K): Sourced<SshSettings[K]> => ({ value: input.defaults[key], from: 'default' });

  const hostName: Sourced<string> = fromConfig(found.HostName, (raw) => hostNameOf(raw, address))
    ?? { value: address, from: `inventory hosts.${name}.address` };
  const user = explicit('user') ?? fromConfig(found.User, userOf) ?? fallback('user');
  const port = explicit('port') ?? fromConfig(found.Port, portOf) ?? fallback('port');
  const tokens = tokensFor(input.home, hostName.value, address, port.value, user.value);
  const identity: Sourced<string | undefined> = explicit('identityFile')
    ?? present(fromConfig(found.IdentityFile, (raw) => (raw.toLowerCase() === 'none' ? undefined : pathOf(raw, tokens))))
    ?? fallback('identityFile');
  const knownHosts = explicit('knownHostsFile') ?? fromConfig(found.UserKnownHostsFile, (raw) => knownHostsOf(raw, tokens)) ?? fallback('knownHostsFile');
  const policy = explicit('hostKeyPolicy') ?? fromConfig<HostKeyPolicy>(found.StrictHostKeyChecking, policyOf) ?? fallback('hostKeyPolicy');
  const timeout = explicit('connectTimeoutMs') ?? fromConfig(found.ConnectTimeout, timeoutOf) ?? fallback('connectTimeoutMs');

  // The other settings (password, agent, command timeout…) are the inventory's alone.
  const { identityFile: _decidedAbove, ...inventoryOnly } = { ...input.defaults, ...input.top, ...input.host };
  const direct: SshSettings = {
    ...inventoryOnly,
    user: user.value, port: port.value, knownHostsFile: knownHosts.value, hostKeyPolicy: policy.value, connectTimeoutMs: timeout.value,
    ...(identity.value !== undefined ? { identityFile: identity.value } : {}),
  };

  // The jump chain: ssh.jumpHost (the host's user and keys, as always), else the ssh config's ProxyJump.
  const jumpHost = explicit('jumpHost');
  let chain: Chain | undefined = { hops: [], sources: [] };
  let jumpFrom: Sourced<string | null> = { value: null, from: 'default' };
  if (jumpHost?.value !== undefined) {
    jumpFrom = { value: jumpHost.value, from: jumpHost.from };
    const segs = jumpHost.from.startsWith('inventory hosts.') ? ['hosts', name, 'ssh', 'jumpHost'] : ['ssh', 'jumpHost'];
    const same = `as the host's (ssh.jumpHost: same user and keys)`;
    const { user: u, useAgent, knownHostsFile, hostKeyPolicy, connectTimeoutMs, keepaliveIntervalMs, identityFile, password } = direct;
    const base: HopBase = {
      settings: { user: u, useAgent, knownHostsFile, hostKeyPolicy, connectTimeoutMs, keepaliveIntervalMs, ...(identityFile ? { identityFile } : {}), ...(password ? { password } : {}) },
      from: same,
    };
    if (jumpHost.value.toLowerCase() !== 'none') chain = hopChain([jumpHost.value], jumpHost.from, base, input, (m) => report(segs, m), []);
  } else if (found.ProxyJump) {
    jumpFrom = { value: found.ProxyJump.value, from: found.ProxyJump.from };
    if (found.ProxyJump.value.toLowerCase() !== 'none') {
      chain = hopChain(found.ProxyJump.value.split(','), found.ProxyJump.from, proxyJumpBase(input), input, (m) => report(at, m), []);
    }
  }

  for (const message of bad) report(at, `${address}: ${message}`);
  if (bad.length > 0 || !chain) return undefined;
  const ssh: SshSettings = chain.hops.length > 0 ? { ...direct, proxyJump: chain.hops } : direct;
  const sources: SshSources = {
    config: config?.shown ?? null,
    ...(hostName.value !== address ? { alias: address } : {}),
    hostName, user, port,
    identityFile: { value: identity.value ?? null, from: identity.from },
    knownHostsFile: knownHosts, hostKeyPolicy: policy,
    connectTimeout: { value: durationText(timeout.value), from: timeout.from },
    proxyJump: { ...jumpFrom, hops: chain.sources },
  };
  return { address: hostName.value, ssh, sources };
}

interface Chain {
  readonly hops: JumpHop[];
  readonly sources: HopSources[];
}
/** What a hop takes when neither its spec nor the ssh config says: user, keys, host-key checking. */
interface HopBase {
  readonly settings: Omit<JumpHop, 'spec' | 'address' | 'port'>;
  readonly from: string | ((key: 'user' | 'identityFile' | 'knownHostsFile' | 'hostKeyPolicy') => string);
}

/** ProxyJump hops are no inventory hosts: the top-level ssh: keys and the defaults stand in for them, never a password. */
function proxyJumpBase({ top, defaults }: SshInputs): HopBase {
  const pick = <K extends keyof SshSettings>(key: K): SshSettings[K] => (top[key] ?? defaults[key]) as SshSettings[K];
  const identityFile = pick('identityFile');
  return {
    settings: {
      user: pick('user'), useAgent: pick('useAgent'), knownHostsFile: pick('knownHostsFile'), hostKeyPolicy: pick('hostKeyPolicy'),
      connectTimeoutMs: pick('connectTimeoutMs'), keepaliveIntervalMs: pick('keepaliveIntervalMs'), ...(identityFile ? { identityFile } : {}),
    },
    from: (key) => (top[key] !== undefined ? `inventory ssh.${key}` : 'default'),
  };
}

const HOP_SPEC = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?([^:@\s/[\]]+)(?::(\d+))?\/?$/;

/**
 * The hops of one jump list, as ssh does `-J a,b,c`: the first hop's own ProxyJump (from the ssh config)
 * is followed to reach it; the later hops' are not, since the list before them is how they are reached.
 */
function hopChain(specs: readonly string[], listFrom: string, base: HopBase, input: SshInputs, report: (message: string) => void, trail: readonly string[]): Chain | undefined {
  const out: Chain = { hops: [], sources: [] };
  for (const [i, rawSpec] of specs.entries()) {
    const spec = rawSpec.trim();
    const m = HOP_SPEC.exec(spec);
    if (!m) {
      report(`${listFrom}: jump host "${spec}" must be [user@]host[:port]`);
      return undefined;
    }
    const [, specUser, alias = '', specPort] = m;
    const found: ConfigValues = input.config?.lookup(alias) ?? {};
    if (i === 0 && found.ProxyJump && found.ProxyJump.value.toLowerCase() !== 'none') {
      const loop = [...trail, alias];
      if (trail.includes(alias) || loop.length > MAX_HOPS) {
        report(`${found.ProxyJump.from}: ProxyJump loops or is longer than ${MAX_HOPS} hops (${loop.join(' → ')}); leave the jump host out of the Host pattern that sets it, e.g. Host * !${alias}`);
        return undefined;
      }
      const before = hopChain(found.ProxyJump.value.split(','), found.ProxyJump.from, base, input, report, loop);
      if (!before) return undefined;
      out.hops.push(...before.hops);
      out.sources.push(...before.sources);
    }
    const problems: string[] = [];
    const conf = <T>(value: ConfigValue | undefined, convert: (raw: string) => T | string): Sourced<T> | undefined => configured(value, convert, problems);
    const baseFrom = (key: 'user' | 'identityFile' | 'knownHostsFile' | 'hostKeyPolicy'): string => (typeof base.from === 'string' ? base.from : base.from(key));
    const written = `${listFrom} (${spec})`;
    const hostName = conf(found.HostName, (raw) => hostNameOf(raw, alias)) ?? (isHostAddress(alias) ? { value: alias, from: written } : undefined);
    if (!hostName) problems.push(`${listFrom}: jump host "${alias}" is neither a Host alias with a HostName${input.config ? ` in ${input.config.shown}` : ''} nor an IPv4 address or host name`);
    const port: Sourced<number> | undefined = specPort !== undefined
      ? (Number(specPort) >= 1 && Number(specPort) <= 65535 ? { value: Number(specPort), from: written } : undefined)
      : conf(found.Port, portOf) ?? { value: 22, from: 'default' };
    if (!port) problems.push(`${listFrom}: jump host "${spec}": the port must be an integer 1–65535`);
    const user: Sourced<string> | undefined = specUser !== undefined
      ? (USER_RE.test(specUser) ? { value: specUser, from: written } : undefined)
      : conf(found.User, userOf) ?? { value: base.settings.user, from: baseFrom('user') };
    if (!user) problems.push(`${listFrom}: jump host "${spec}": the user must be at most 32 letters, digits, ".", "_" and "-"`);
    if (!hostName || !port || !user || problems.length > 0) {
      for (const p of problems) report(p);
      return undefined;
    }
    const tokens = tokensFor(input.home, hostName.value, alias, port.value, user.value);
    const identity: Sourced<string | undefined> = present(conf(found.IdentityFile, (raw) => (raw.toLowerCase() === 'none' ? undefined : pathOf(raw, tokens))))
      ?? { value: base.settings.identityFile, from: baseFrom('identityFile') };
    const knownHosts = conf(found.UserKnownHostsFile, (raw) => knownHostsOf(raw, tokens)) ?? { value: base.settings.knownHostsFile, from: baseFrom('knownHostsFile') };
    const policy = conf<HostKeyPolicy>(found.StrictHostKeyChecking, policyOf) ?? { value: base.settings.hostKeyPolicy, from: baseFrom('hostKeyPolicy') };
    const timeout = conf(found.ConnectTimeout, timeoutOf);
    if (problems.length > 0) {
      for (const p of problems) report(p);
      return undefined;
    }
    const { identityFile: _chosenAbove, ...rest } = base.settings;
    out.hops.push({
      ...rest, spec, address: hostName.value, port: port.value, user: user.value, knownHostsFile: knownHosts.value, hostKeyPolicy: policy.value,
      ...(identity.value !== undefined ? { identityFile: identity.value } : {}),
      ...(timeout ? { connectTimeoutMs: timeout.value } : {}),
    });
    out.sources.push({ hop: spec, hostName, user, port, identityFile: { value: identity.value ?? null, from: identity.from }, knownHostsFile: knownHosts, hostKeyPolicy: policy });
  }
  return out;
}

// Converters: the value, or "!why" when the ssh config's value cannot be used (no valid value starts with
// "!": host names, users and absolute paths cannot).

function configured<T>(value: ConfigValue | undefined, convert: (raw: string) => T | string, problems: string[]): Sourced<T> | undefined {
  if (!value) return undefined;
  const converted = convert(value.value);
  if (typeof converted === 'string' && converted.startsWith('!')) {
    problems.push(`${value.from}: ${converted.slice(1)}`);
    return undefined;
  }
  return { value: converted as T, from: value.from };
}

function hostNameOf(raw: string, original: string): string {
  const expanded = raw.replace(/%(.)/g, (whole, c: string) => (c === 'h' ? original : c === '%' ? '%' : `\0${whole}`));
  if (expanded.includes('\0')) return `!HostName ${raw}: only %h and %% are expanded in HostName`;
  return isHostAddress(expanded) ? expanded : `!HostName ${raw}: must be an IPv4 address or a host name (letters, digits and "-" in labels separated by dots)`;
}

const userOf = (raw: string): string => (USER_RE.test(raw) ? raw : `!User ${raw}: must be at most 32 letters, digits, ".", "_" and "-"`);

function portOf(raw: string): number | string {
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  return n >= 1 && n <= 65535 ? n : `!Port ${raw}: must be an integer 1–65535`;
}

/** ssh_config's StrictHostKeyChecking → this tool's policy; `ask` cannot ask (no prompt mid-run): strict. */
function policyOf(raw: string): HostKeyPolicy | string {
  const v = raw.toLowerCase();
  if (v === 'yes' || v === 'true' || v === 'ask') return 'strict';
  if (v === 'accept-new') return 'accept-new';
  if (v === 'no' || v === 'off' || v === 'false') return 'off';
  return `!StrictHostKeyChecking ${raw}: must be yes, ask, accept-new, no or off`;
}

/** Seconds, as ssh reads ConnectTimeout (a unit s, m or h may follow, as in OpenSSH's time format). */
function timeoutOf(raw: string): number | string {
  const m = /^(\d+)([smh]?)$/i.exec(raw);
  const ms = m ? Number(m[1]) * { '': 1000, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? '').toLowerCase() as '' | 's' | 'm' | 'h'] : NaN;
  return ms > 0 && ms <= 24 * 3_600_000 ? ms : `!ConnectTimeout ${raw}: must be a number of seconds above 0 and at most a day, like 10`;
}

function knownHostsOf(raw: string, tokens: Tokens): string {
  // `none` is how ssh_config says "no file": nothing is known, nothing kept.
  return raw.toLowerCase() === 'none' ? '/dev/null' : pathOf(raw, tokens);
}

type Tokens = Readonly<Record<string, string>>;

/** The % tokens ssh expands in IdentityFile and UserKnownHostsFile (those that need no connection). */
let localUser: { readonly username: string; readonly uid: number } | undefined;
/** This process's user, looked up once (each lookup reads /etc/passwd, and there is one per host). */
function currentUser(): { readonly username: string; readonly uid: number } {
  if (!localUser) {
    try {
      localUser = os.userInfo();
    } catch {
      localUser = { username: process.env.USER ?? '', uid: -1 };
    }
  }
  return localUser;
}

function tokensFor(home: string, hostName: string, original: string, port: number, user: string): Tokens {
  const local = currentUser();
  return {
    '%': '%', d: home, h: hostName, n: original, p: String(port), r: user, u: local.username, i: String(local.uid),
    L: os.hostname().split('.')[0] ?? '', l: os.hostname(),
  };
}

/** `~` and % tokens expanded; a path still relative is taken from the current directory, as ssh does. */
function pathOf(raw: string, tokens: Tokens): string {
  let unknown = '';
  let p = raw.replace(/%(.)/g, (whole, c: string) => tokens[c] ?? ((unknown ||= whole), whole));
  if (unknown) return `!${raw}: unknown token ${unknown} (expanded here: %%, %d, %h, %i, %L, %l, %n, %p, %r, %u)`;
  if (p === '~' || p.startsWith('~/')) p = path.join(tokens.d ?? '', p.slice(1));
  else if (p.startsWith('~')) return `!${raw}: only ~ or ~/… (your own home) is supported, not ~user`;
  return path.resolve(p);
}

/**
 * ssh skips an IdentityFile of its config that does not exist (a `Host *` default key, say) and goes on
 * with the agent: so does this tool, saying so in the source. The inventory's own identityFile must exist.
 */
function present(identity: Sourced<string | undefined> | undefined): Sourced<string | undefined> | undefined {
  if (identity?.value === undefined || existsSync(identity.value)) return identity;
  return { value: undefined, from: `${identity.from}: ${identity.value} does not exist, skipped as ssh does` };
}

const durationText = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
