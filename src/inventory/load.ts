// Loading the inventory: YAML text → a validated, resolved `Inventory`, or one `InventoryError` carrying
// every problem at once. Nothing here connects to anything but the resolver, asked for host names only
// once everything else is valid (resolve.ts); every value that later ends up in a config file or on a
// shell line is checked here first, so the rest of the program can trust it.
//
// Shape of the code: the YAML document is first turned into plain values (Maps, arrays, scalars) while
// recording the line of every key path; then small validators read those values and push problems to a
// collector instead of throwing; cross-field rules run last, only on values that were valid on their own
// (so one mistake yields one problem, not a cascade).

import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { InventoryError, UsageError, type InventoryProblem } from '../errors.js';
import { formatIpv4, maskOf, parseIpv4 } from './ipv4.js';
import { NOTHING_RESOLVED, resolveNames, systemResolver, type Resolution, type Resolver } from './resolve.js';
import { sshConfigSetting, type SshConfigFile } from './sshConfigFile.js';
import { effectiveSsh } from './sshEffective.js';
import { checkTimeZone, parseWindows } from '../rollout/window.js';
import type {
  Cluster,
  HaproxyTimeouts,
  Host,
  HostKeyPolicy,
  Inventory,
  KeepalivedCheck,
  Mode,
  Role,
  Route,
  Secret,
  SshSettings,
  Topology,
} from './types.js';
import { DEFAULT_CHECK } from './types.js';

/**
 * Reads and validates an inventory file, host names resolved on this machine. A file that can't be read
 * or isn't YAML is a `UsageError`.
 */
export async function loadInventory(file: string, env: NodeJS.ProcessEnv = process.env, resolver: Resolver = systemResolver): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new UsageError(`cannot read inventory ${file}: ${reason}`);
  }
  return parseAndResolveInventory(text, file, env, os.homedir(), resolver);
}

/** What loadInventory does with the file's text: validates it, then resolves the host names in it. */
export async function parseAndResolveInventory(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv,
  homeDir: string,
  resolver: Resolver,
): Promise<Inventory> {
  const checked = check(text, file, env, homeDir);
  // An inventory with problems is worth no DNS query: they are reported as they are.
  const names = checked.ctx.p.count === 0 ? (checked.draft?.hosts ?? []).filter((h) => h.ip === undefined).map((h) => h.address) : [];
  return complete(checked, await resolveNames(names, resolver));
}

/**
 * Validates inventory text; reads nothing but the ssh config it names (ssh.config, by default
 * `homeDir`/.ssh/config if there is one). `file` names it in errors and anchors relative paths. A host
 * written as a name takes its IP from `resolved` (resolveNames); without one there it is a problem.
 */
export function parseInventory(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  homeDir: string = os.homedir(),
  resolved: Resolution = NOTHING_RESOLVED,
): Inventory {
  return complete(check(text, file, env, homeDir), resolved);
}

// ---------------------------------------------------------------------------------------------------
// Two steps. First every rule, the address rules (checkAddresses) only on hosts written as IPv4 addresses;
// then, once the names are resolved, the address rules again on every host.

/** A host whose address is a name has no `ip` until that name is resolved. */
type DraftHost = Omit<Host, 'ip'> & { readonly ip?: string };
type Draft = Omit<Inventory, 'hosts'> & { readonly hosts: readonly DraftHost[] };
interface Checked {
  readonly file: string; // as given, for the error
  readonly ctx: Ctx;
  readonly draft: Draft | undefined; // undefined: something is missing or invalid (then ctx.p says what)
}

function check(text: string, file: string, env: NodeJS.ProcessEnv, homeDir: string): Checked {
  const absFile = path.resolve(file);
  const source = readYaml(text, file);
  const ctx: Ctx = { p: source.problems, env, home: homeDir, dir: path.dirname(absFile) };
  return { file, ctx, draft: validate(source.root, ctx, absFile) };
}

/** Gives each host written as a name its IP, and runs the address rules the first step had to skip. */
function complete({ file, ctx, draft }: Checked, resolved: Resolution): Inventory {
  if (ctx.p.count > 0 || draft === undefined) throw ctx.p.toError(file);
  const hosts: Host[] = [];
  for (const h of draft.hosts) {
    const ip = h.ip ?? resolved.ips.get(h.address);
    if (ip !== undefined) {
      hosts.push({ ...h, ip });
      continue;
    }
    const failure = resolved.failures.get(h.address);
    const alias = draft.sshConfig && !h.sshSources?.alias ? ` (it is no Host alias with a HostName in ${h.sshSources?.config ?? draft.sshConfig} either)` : '';
    ctx.p.add(['hosts', h.name, 'address'], failure === undefined
      ? `${h.address} is a host name and was not resolved to an IPv4 address${alias}`
      : `cannot resolve ${h.address} to an IPv4 address on this machine (${failure})${alias}; fix the name or its DNS record, or write the IPv4 address`);
  }
  // With every IP known from the start, the first step already ran these rules, and found nothing.
  if (ctx.p.count === 0 && draft.hosts.some((h) => h.ip === undefined)) checkAddresses(ctx, draft.cluster, hosts);
  if (ctx.p.count > 0) throw ctx.p.toError(file);
  return { ...draft, hosts };
}

// ---------------------------------------------------------------------------------------------------
// Problems, key paths and line numbers

type Seg = string | number;
type Segs = readonly Seg[];

/** `hosts.lb-1.priority`, `routes[0].via` */
function formatPath(segs: Segs): string {
  let out = '';
  for (const s of segs) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out === '' ? '(top level)' : out;
}

class Problems {
  private readonly list: { path: string; message: string; line: number }[] = [];
  /** Line of every key path seen in the document (1-based), so problems can point into the file. */
  readonly lines = new Map<string, number>();
  /** Paths whose value the YAML reader already rejected (bad alias, …): later rules stay quiet there. */
  private readonly reported = new Set<string>();

  /** `line` overrides the line looked up for `segs` (a duplicate key shares its path with the first). */
  add(segs: Segs, message: string, atLine?: number): void {
    for (let n = segs.length; n > 0; n--) if (this.reported.has(formatPath(segs.slice(0, n)))) return;
    const line = atLine ?? this.lineOf(segs);
    const suffix = line === undefined ? '' : ` (line ${line})`;
    this.list.push({ path: formatPath(segs), message: message + suffix, line: line ?? 0 });
  }

  /** A problem with the value itself, not its content: nothing more will be said about that path. */
  addFinal(segs: Segs, message: string): void {
    this.add(segs, message);
    this.reported.add(formatPath(segs));
  }

  get count(): number {
    return this.list.length;
  }

  /** All problems, in file order (stable, so problems on one line keep the order they were found in). */
  toError(file: string): InventoryError {
    const sorted = [...this.list].sort((a, b) => a.line - b.line);
    const problems: InventoryProblem[] = sorted.map((p) => ({ path: p.path, message: p.message }));
    return new InventoryError(file, problems);
  }

  // A missing key has no line of its own: point at the nearest enclosing key that exists.
  private lineOf(segs: Segs): number | undefined {
    for (let n = segs.length; n > 0; n--) {
      const line = this.lines.get(formatPath(segs.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  }
}

interface Ctx {
  readonly p: Problems;
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;
  readonly dir: string; // the inventory file's directory: relative paths are relative to it
}

// ---------------------------------------------------------------------------------------------------
// YAML → plain values (Map for mappings, so key order and odd keys like "__proto__" survive)

type YamlMap = Map<string, unknown>;

/** Enough nodes for any real inventory; stops alias "billion laughs" expansion long before it hurts. */
const MAX_NODES = 100_000;

function readYaml(text: string, file: string): { root: unknown; problems: Problems } {
  const lineCounter = new LineCounter();
  // uniqueKeys stays on (the default) but duplicate keys are reported below, with their key path.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const fatal = doc.errors.find((e) => e.code !== 'DUPLICATE_KEY');
  if (fatal) {
    const { line, col } = lineCounter.linePos(fatal.pos[0]);
    throw new UsageError(`${file}:${line}:${col}: not valid YAML: ${fatal.message}`);
  }

  const problems = new Problems();
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  let nodes = 0;
  const active = new Set<unknown>(); // nodes being converted: an alias back to one of them is a cycle

  const convert = (node: unknown, segs: Segs): unknown => {
    if (++nodes > MAX_NODES) {
      throw new UsageError(`${file}: more than ${MAX_NODES} values once aliases are expanded; an inventory never needs that many`);
    }
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(doc as Document.Parsed);
      if (target === undefined) {
        problems.addFinal(segs, `alias *${node.source} refers to an anchor &${node.source} that is not defined before it`);
        return null;
      }
      if (active.has(target)) {
        problems.addFinal(segs, `alias *${node.source} refers to a value that contains it (a cycle)`);
        return null;
      }
      return convert(target, segs);
    }
    if (isScalar(node)) return node.value;
    active.add(node);
    try {
      if (isSeq(node)) return node.items.map((item, i) => {
        const line = lineOf(item);
        if (line !== undefined) problems.lines.set(formatPath([...segs, i]), line);
        return convert(item, [...segs, i]);
      });
      if (isMap(node)) {
        const out: YamlMap = new Map();
        const keyLines = new Map<string, number | undefined>();
        for (const pair of node.items) {
          const k = isScalar(pair.key) ? pair.key.value : undefined;
          if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'boolean') {
            problems.add(segs, 'has a key that is not a plain name; keys must be plain strings', lineOf(pair.key));
            continue;
          }
          const key = String(k);
          const childSegs = [...segs, key];
          const line = lineOf(pair.key);
          if (keyLines.has(key)) {
            // yaml's own DUPLICATE_KEY error only gives a position; this one names the key.
            const first = keyLines.get(key);
            problems.add(childSegs, `duplicate key "${key}"${first ? ` (first defined at line ${first})` : ''}; YAML keys must be unique`, line);
            continue;
          }
          keyLines.set(key, line);
          if (line !== undefined) problems.lines.set(formatPath(childSegs), line);
          out.set(key, convert(pair.value, childSegs));
        }
        return out;
      }
    } finally {
      active.delete(node);
    }
    return null;
  };

  return { root: convert(doc.contents, []), problems };
}

// ---------------------------------------------------------------------------------------------------
// Small validators. Each reads one value, pushes a problem if it is wrong, and returns the value or
// undefined. `undefined`/`null` (a key written with no value) both mean "not given".

const absent = (v: unknown): v is undefined | null => v === undefined || v === null;

/** How a wrong value is shown in a message. Never used for secrets. */
function show(v: unknown): string {
  if (typeof v === 'string') {
    const s = JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
    return v.trim() !== '' && /^-?\d+$/.test(v.trim()) ? `${s} (a string)` : s;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Map) return 'a mapping';
  if (Array.isArray(v)) return 'a list';
  return 'nothing';
}

function required(ctx: Ctx, v: unknown, segs: Segs, what: string): boolean {
  if (!absent(v)) return true;
  ctx.p.add(segs, `is required: ${what}`);
  return false;
}

/** A mapping, with unknown keys reported (typos should fail loudly, not be ignored). */
function mapping(ctx: Ctx, v: unknown, segs: Segs, allowed: readonly string[], example: string): YamlMap | undefined {
  if (absent(v)) return undefined;
  if (!(v instanceof Map)) {
    ctx.p.add(segs, `must be a mapping like ${example}, got ${show(v)}`);
    return undefined;
  }
  const map = v as YamlMap;
  for (const key of map.keys()) {
    if (allowed.includes(key)) continue;
    const hint = didYouMean(key, allowed);
    ctx.p.add([...segs, key], `unknown key${hint ? ` (did you mean ${hint}?)` : ''}; allowed here: ${allowed.join(', ')}`);
  }
  return map;
}

function didYouMean(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3; // only close typos
  for (const candidate of allowed) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

function int(ctx: Ctx, v: unknown, segs: Segs, min: number, max: number): number | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    ctx.p.add(segs, `must be an integer ${min}–${max}, got ${show(v)}`);
    return undefined;
  }
  return v;
}

function port(ctx: Ctx, v: unknown, segs: Segs): number | undefined {
  return int(ctx, v, segs, 1, 65535);
}

function bool(ctx: Ctx, v: unknown, segs: Segs): boolean | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'boolean') {
    ctx.p.add(segs, `must be true or false, got ${show(v)}`);
    return undefined;
  }
  return v;
}

function oneOf<T extends string>(ctx: Ctx, v: unknown, segs: Segs, allowed: readonly T[]): T | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    ctx.p.add(segs, `must be one of ${allowed.join(', ')}, got ${show(v)}`);
    return undefined;
  }
  return v as T;
}

// Tokens: these values end up in haproxy.cfg, keepalived.conf, systemd units and shell lines, so they
// are limited to characters that mean nothing to any of those (no whitespace, quotes, #, ;, $, `, \, {}).
interface TokenRule {
  readonly re: RegExp;
  readonly allowed: string; // for the message
}
const NAME: TokenRule = {
  re: /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
  allowed: 'letters, digits, ".", "_" and "-", starting with a letter or digit',
};
// Linux interface names: IFNAMSIZ is 16 including the terminating NUL, so at most 15 characters.
const INTERFACE: TokenRule = {
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
// hosts.*.address: JUMP_HOST's names without a port, each label (RFC 1123) at most 63 characters, 253 in
// all. A last label of digits only would be read as a (shorthand) IPv4 address by getaddrinfo and haproxy.
const HOST_ADDRESS: TokenRule = {
  re: /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/,
  allowed: 'an IPv4 address like 10.10.10.98 or a host name like cp1.example.com (letters, digits and "-" in labels separated by dots)',
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

function token(ctx: Ctx, v: unknown, segs: Segs, rule: TokenRule): string | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'string' || !rule.re.test(v)) {
    ctx.p.add(segs, `must be ${rule.allowed}; got ${show(v)}`);
    return undefined;
  }
  return v;
}

function ipv4(ctx: Ctx, v: unknown, segs: Segs): string | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'string' || parseIpv4(v) === undefined) {
    ctx.p.add(segs, `must be an IPv4 address like 10.10.10.98, got ${show(v)}`);
    return undefined;
  }
  return v;
}

/** An IPv4 address, or a host name for resolve.ts to look up. */
function hostAddress(ctx: Ctx, v: unknown, segs: Segs): string | undefined {
  if (typeof v === 'string' && parseIpv4(v) !== undefined) return v;
  return token(ctx, v, segs, HOST_ADDRESS);
}

interface Cidr {
  readonly address: string;
  readonly prefix: number;
}

function cidr(ctx: Ctx, v: unknown, segs: Segs, minPrefix: number, example: string, why = ''): Cidr | undefined {
  if (absent(v)) return undefined;
  const m = typeof v === 'string' ? /^([^/]+)\/(\d{1,2})$/.exec(v) : null;
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || parseIpv4(m[1] ?? '') === undefined || !(prefix >= minPrefix && prefix <= 32)) {
    const missingPrefix = typeof v === 'string' && parseIpv4(v) !== undefined;
    ctx.p.add(segs, missingPrefix
      ? `is missing its prefix length: write it like ${example}${why}; got ${show(v)}`
      : `must be an IPv4 address with a prefix length ${minPrefix}–32, like ${example}${why}; got ${show(v)}`);
    return undefined;
  }
  return { address: m[1] ?? '', prefix };
}

const DURATION_RE = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
/** Far below Node's timer limit (~24.8 days), far above any sensible timeout. */
const MAX_DURATION_MS = 24 * UNIT_MS.h;

/** "500ms", "5s", "1m", "2h" → milliseconds. A unit is required: a bare number is ambiguous. */
function durationMs(ctx: Ctx, v: unknown, segs: Segs): number | undefined {
  if (absent(v)) return undefined;
  const m = typeof v === 'string' ? DURATION_RE.exec(v) : null;
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
  if (!(ms > 0 && ms <= MAX_DURATION_MS)) {
    const bare = typeof v === 'number' ? ' (a unit is required)' : '';
    ctx.p.add(segs, `must be a duration with a unit ms, s, m or h, above 0 and at most 24h, like 500ms, 5s or 1m${bare}; got ${show(v)}`);
    return undefined;
  }
  return ms;
}

/** Same syntax as durationMs, kept as written: haproxy understands these units itself. */
function haproxyDuration(ctx: Ctx, v: unknown, segs: Segs): string | undefined {
  return durationMs(ctx, v, segs) === undefined ? undefined : (v as string);
}

/** A local file path: `~` is the user's home, relative paths are relative to the inventory file. */
function localPath(ctx: Ctx, v: unknown, segs: Segs): string | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'string' || v === '' || /[\0\n\r]/.test(v)) {
    ctx.p.add(segs, `must be a file path (absolute, relative to the inventory file, or starting with ~/), got ${show(v)}`);
    return undefined;
  }
  return expandPath(ctx, v, segs);
}

function expandPath(ctx: Ctx, p: string, segs: Segs): string | undefined {
  if (p === '~') return ctx.home;
  if (p.startsWith('~/')) return path.join(ctx.home, p.slice(2));
  if (p.startsWith('~')) {
    ctx.p.add(segs, `only ~ or ~/… (your own home) is supported, not ~user; got ${show(p)}`);
    return undefined;
  }
  return path.resolve(ctx.dir, p);
}

/**
 * A secret: `{ env: NAME }`, or (if allowed) a literal string. Messages about secrets never contain
 * the value — not even the offending character — since they may be printed or logged.
 */
function secret(
  ctx: Ctx,
  v: unknown,
  segs: Segs,
  opts: { literal: boolean; check?: (value: string) => string | undefined },
): Secret | undefined {
  if (absent(v)) return undefined;
  let value: string;
  let sourceName: string;
  if (v instanceof Map) {
    const m = mapping(ctx, v, segs, ['env'], '{ env: NAME }');
    if (!m || !required(ctx, m.get('env'), [...segs, 'env'], 'the name of the environment variable holding the secret')) return undefined;
    const name = token(ctx, m.get('env'), [...segs, 'env'], ENV_NAME);
    if (name === undefined) return undefined;
    const fromEnv = ctx.env[name];
    if (fromEnv === undefined || fromEnv === '') {
      ctx.p.add(segs, `environment variable ${name} is ${fromEnv === undefined ? 'not set' : 'empty'}; set it before running`);
      return undefined;
    }
    value = fromEnv;
    sourceName = `env ${name}`;
  } else if (opts.literal && typeof v === 'string') {
    value = v;
    sourceName = 'literal';
  } else if (!opts.literal && typeof v === 'string') {
    ctx.p.add(segs, 'must not be written in the inventory; use { env: NAME } and set that environment variable');
    return undefined;
  } else {
    const kind = typeof v === 'number' || typeof v === 'boolean' ? `a ${typeof v} (quote it)` : show(v);
    ctx.p.add(segs, `must be ${opts.literal ? 'a string or ' : ''}{ env: NAME }, got ${kind}`);
    return undefined;
  }
  const wrong = opts.check?.(value);
  if (wrong) {
    ctx.p.add(segs, `${sourceName === 'literal' ? 'the value' : `the value of ${sourceName.slice(4)}`} ${wrong}`);
    return undefined;
  }
  return { value, source: sourceName };
}

// keepalived PASS authentication: auth_pass is cut to 8 characters without a word, so a longer one
// "works" until a peer rendered elsewhere disagrees. # and ! start comments in keepalived.conf.
function checkAuthPass(value: string): string | undefined {
  if (value === '') return 'is empty; use 1–8 characters';
  if (value.length > 8) {
    return `is ${value.length} characters long; keepalived uses at most 8 and silently cuts the rest, so use 1–8 characters`;
  }
  if (!/^[\x21-\x7e]+$/.test(value) || /["'#!;$`\\{}]/.test(value)) {
    return 'contains a character that is not allowed; use printable ASCII without whitespace, quotes, #, !, ;, $, `, \\, { or } (keepalived.conf treats # and ! as comments)';
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// The schema

const TOP_KEYS = ['apiVersion', 'cluster', 'ssh', 'sysctls', 'routes', 'history', 'packages', 'maintenance', 'hosts'] as const;
const CLUSTER_KEYS = ['name', 'topology', 'vip', 'endpoint', 'frontendPort', 'backendPort', 'extraPorts', 'healthCheck', 'haproxy', 'keepalived', 'mode', 'kubeVip', 'staticPods'];
const KEEPALIVED_KEYS = ['virtualRouterId', 'authPass', 'unicast', 'check'];
const CHECK_KEYS = ['interval', 'fall', 'rise', 'weight'];
const TIMEOUT_KEYS = ['connect', 'client', 'server', 'check', 'queue'] as const;
const SSH_KEYS = [
  'user', 'port', 'identityFile', 'password', 'sudoPassword', 'agent', 'knownHostsFile', 'hostKeyPolicy', 'jumpHost',
  'connectTimeout', 'commandTimeout', 'keepaliveInterval', 'config',
];
const HOST_KEYS = ['address', 'roles', 'interface', 'priority', 'ssh'];
const ROUTE_KEYS = ['to', 'via', 'dev'];

const API_VERSION = 'ha-provision/v1';
const TOPOLOGIES: readonly Topology[] = ['haproxy-keepalived', 'nginx', 'kube-vip'];
const MODES: readonly Mode[] = ['services', 'static-pod'];
const DEFAULT_IMAGES = {
  // The kube-vip release whose `kube-vip manifest pod` output templates/kube-vip matches.
  kubeVip: { image: 'ghcr.io/kube-vip/kube-vip:v1.2.3', kubeconfig: '/etc/kubernetes/admin.conf' },
  // haproxy: the kubeadm guide's (an LTS branch). keepalived: none, the user names one (the guide's
  // osixia/keepalived 2.0.20 predates track_file, which the drain needs, and is unmaintained).
  staticPods: { keepalivedImage: '', haproxyImage: 'haproxy:2.8' },
} as const;
const ROLES: readonly Role[] = ['lb', 'server'];
const HOST_KEY_POLICIES: readonly HostKeyPolicy[] = ['strict', 'accept-new', 'off'];

const DEFAULT_TIMEOUTS: HaproxyTimeouts = { connect: '5s', client: '20s', server: '20s', check: '10s', queue: '20s' };
const DEFAULT_SYSCTLS = { 'net.ipv4.ip_nonlocal_bind': '1' } as const; // haproxy may bind the VIP on a BACKUP
const SYSCTL_KEY_RE = /^[a-z0-9_]+(\.[a-z0-9_-]+)+$/;
const SYSCTL_VALUE_RE = /^[A-Za-z0-9._:,/+-]+$/;

function validate(root: unknown, ctx: Ctx, absFile: string): Draft | undefined {
  if (absent(root)) {
    ctx.p.add([], `the inventory is empty; expected a mapping with ${TOP_KEYS.join(', ')}`);
    return undefined;
  }
  const top = mapping(ctx, root, [], TOP_KEYS, `{ apiVersion: ${API_VERSION}, cluster: …, hosts: … }`);
  if (!top) return undefined;

  const apiVersion = top.get('apiVersion');
  if (required(ctx, apiVersion, ['apiVersion'], API_VERSION) && apiVersion !== API_VERSION) {
    ctx.p.add(['apiVersion'], `must be ${API_VERSION}, got ${show(apiVersion)}`);
  }

  const cluster = validateCluster(ctx, top.get('cluster'));
  const sshDefaults = sshOverrides(ctx, top.get('ssh'), ['ssh']);
  const sshConfig = readSshConfigSetting(ctx, top.get('ssh'));
  const sysctls = validateSysctls(ctx, top.get('sysctls'));
  const routes = validateRoutes(ctx, top.get('routes'));
  // Priorities rank keepalived's lbs; a layout without keepalived (kube-vip elects a leader) needs none.
  const rawCluster = top.get('cluster');
  const vrrp = !(rawCluster instanceof Map) || !absent(rawCluster.get('keepalived'));
  const hosts = validateHosts(ctx, top.get('hosts'), { explicit: sshDefaults, config: sshConfig }, vrrp);
  // How many applied versions each host keeps for `rollback`.
  const h = mapping(ctx, top.get('history'), ['history'], ['keep'], '{ keep: 10 }');
  const keep = absent(h?.get('keep')) ? 10 : int(ctx, h?.get('keep'), ['history', 'keep'], 1, 1000);

  const packages = validatePackagePins(ctx, top.get('packages'));
  const maintenance = validateMaintenance(ctx, top.get('maintenance'));

  if (hosts) checkHosts(ctx, hosts);
  const withWeight = cluster && hosts && weightUnset(top.get('cluster')) ? withBootstrapWeight(cluster, hosts) : cluster;
  if (withWeight && hosts) checkClusterAgainstHosts(ctx, withWeight, hosts);
  if (hosts) checkAddresses(ctx, withWeight, hosts);
  if (ctx.p.count > 0 || !withWeight || !hosts || keep === undefined) return undefined;
  return { file: absFile, ...(sshConfig ? { sshConfig: sshConfig.file } : {}), cluster: withWeight, sysctls, routes, history: { keep }, packages, maintenance, hosts };
}

/** No `keepalived.check.weight` key at all (`weight: 0` is an explicit choice: FAULT on failure). */
function weightUnset(cluster: unknown): boolean {
  const keepalived = cluster instanceof Map ? cluster.get('keepalived') : undefined;
  const check = keepalived instanceof Map ? keepalived.get('check') : undefined;
  return !(check instanceof Map) || absent(check.get('weight'));
}

/**
 * The recipes' behaviour by default: a failing check lowers an lb's priority below every other lb's, so
 * haproxy dying on the holder moves the VIP, while every check failing at once (no API server healthy
 * yet, as during `kubeadm init` through the VIP) leaves it where it is, held by one lb. (Without a weight
 * a failing check puts the lb in FAULT, and with no backend up nobody would hold the VIP.)
 */
function withBootstrapWeight(cluster: Cluster, hosts: readonly DraftHost[]): Cluster {
  const priorities = hosts.filter((h) => h.roles.includes('lb')).map((h) => h.priority ?? 0);
  if (priorities.length < 2 || !cluster.keepalived) return cluster;
  const drop = Math.min(253, Math.max(...priorities) - Math.min(...priorities) + 1);
  return { ...cluster, keepalived: { ...cluster.keepalived, check: { ...cluster.keepalived.check, weight: -drop } } };
}

function validateCluster(ctx: Ctx, v: unknown): Cluster | undefined {
  const segs = ['cluster'];
  if (!required(ctx, v, segs, 'a mapping with name, vip, keepalived.authPass and more')) return undefined;
  const c = mapping(ctx, v, segs, CLUSTER_KEYS, '{ name: demo, vip: 10.10.10.100/24, … }');
  if (!c) return undefined;
  const at = (...rest: Seg[]): Seg[] => [...segs, ...rest];

  const name = required(ctx, c.get('name'), at('name'), 'a name for the cluster, like demo')
    ? token(ctx, c.get('name'), at('name'), NAME)
    : undefined;

  const topology: Topology | undefined = oneOf(ctx, c.get('topology'), at('topology'), TOPOLOGIES) ?? (absent(c.get('topology')) ? 'haproxy-keepalived' : undefined);
  // How the layout's daemons run: as systemd services, or as static pods kubelet runs (kubeadm option 2).
  const mode: Mode | undefined = absent(c.get('mode')) ? 'services' : oneOf(ctx, c.get('mode'), at('mode'), MODES);

  // keepalived adds the VIP to the lb's interface with this prefix, so it must be the lb subnet's.
  const vip = required(ctx, c.get('vip'), at('vip'), 'the virtual IP with its prefix length, like 10.10.10.100/24')
    ? cidr(ctx, c.get('vip'), at('vip'), 1, '10.10.10.100/24', ', with the prefix of the lb subnet')
    : undefined;

  const frontendPort = absent(c.get('frontendPort')) ? 6443 : port(ctx, c.get('frontendPort'), at('frontendPort'));
  const endpoint = token(ctx, c.get('endpoint'), at('endpoint'), { re: HOST_ADDRESS.re, allowed: 'a DNS name clients reach the API by, like api.example.com (not an IP: the VIP is checked already)' });
  const backendPort = absent(c.get('backendPort')) ? 6443 : port(ctx, c.get('backendPort'), at('backendPort'));
  const extraPorts = validateExtraPorts(ctx, c.get('extraPorts'), at('extraPorts'), [frontendPort, backendPort]);

  let healthCheck: { path: string } | undefined;
  const hc = mapping(ctx, c.get('healthCheck'), at('healthCheck'), ['path'], '{ path: /healthz }');
  if (hc && required(ctx, hc.get('path'), at('healthCheck', 'path'), 'the HTTP path haproxy checks, like /healthz')) {
    const p = token(ctx, hc.get('path'), at('healthCheck', 'path'), HTTP_PATH);
    if (p !== undefined) healthCheck = { path: p };
  }

  const haproxy = mapping(ctx, c.get('haproxy'), at('haproxy'), ['timeouts'], '{ timeouts: { connect: 5s } }');
  const t = mapping(ctx, haproxy?.get('timeouts'), at('haproxy', 'timeouts'), TIMEOUT_KEYS, '{ connect: 5s, client: 20s }');
  const timeouts = { ...DEFAULT_TIMEOUTS };
  for (const key of TIMEOUT_KEYS) {
    const value = haproxyDuration(ctx, t?.get(key), at('haproxy', 'timeouts', key));
    if (value !== undefined) timeouts[key] = value;
  }

  // Whether the layout needs it is the layout's to say (its playbook), checked once that is known.
  const keepalived = absent(c.get('keepalived')) ? undefined : validateKeepalived(ctx, c.get('keepalived'), at('keepalived'));
  const images = validateImages(ctx, c);

  if (name === undefined || topology === undefined || mode === undefined || vip === undefined || frontendPort === undefined
    || backendPort === undefined || (keepalived === undefined && !absent(c.get('keepalived'))) || images === undefined) return undefined;
  return {
    name, topology, mode, vip, frontendPort, backendPort, extraPorts,
    ...(endpoint ? { endpoint } : {}),
    ...(healthCheck ? { healthCheck } : {}),
    haproxy: { timeouts },
    ...(keepalived ? { keepalived } : {}),
    ...images,
  };
}

// An image reference as kubelet pulls it: registry/path:tag or @sha256:digest; lands in YAML manifests.
const IMAGE: TokenRule = {
  re: /^[a-z0-9][a-z0-9._/-]*(?::[0-9]+\/[a-z0-9._/-]+)?(?::[A-Za-z0-9._-]{1,128})?(?:@sha256:[a-f0-9]{64})?$/,
  allowed: 'an image reference like ghcr.io/kube-vip/kube-vip:v1.2.3 or haproxy:2.8',
};
const KUBECONFIG: TokenRule = { re: /^\/[A-Za-z0-9._/-]+$/, allowed: 'an absolute path on the control-plane host, like /etc/kubernetes/admin.conf' };

/** Images and paths of the layouts that run as pods (kube-vip; mode: static-pod), with defaults. */
function validateImages(ctx: Ctx, c: YamlMap): Pick<Cluster, 'kubeVip' | 'staticPods'> | undefined {
  const kv = mapping(ctx, c.get('kubeVip'), ['cluster', 'kubeVip'], ['image', 'kubeconfig'], `{ image: ${DEFAULT_IMAGES.kubeVip.image} }`);
  const sp = mapping(ctx, c.get('staticPods'), ['cluster', 'staticPods'], ['keepalivedImage', 'haproxyImage'], '{ keepalivedImage: registry.example.com/keepalived:2.2.8, haproxyImage: haproxy:2.8 }');
  const pick = (m: YamlMap | undefined, key: string, rule: TokenRule, fallback: string, segs: Segs): string | undefined =>
    absent(m?.get(key)) ? fallback : token(ctx, m?.get(key), segs, rule);
  const image = pick(kv, 'image', IMAGE, DEFAULT_IMAGES.kubeVip.image, ['cluster', 'kubeVip', 'image']);
  const kubeconfig = pick(kv, 'kubeconfig', KUBECONFIG, DEFAULT_IMAGES.kubeVip.kubeconfig, ['cluster', 'kubeVip', 'kubeconfig']);
  const keepalivedImage = pick(sp, 'keepalivedImage', IMAGE, DEFAULT_IMAGES.staticPods.keepalivedImage, ['cluster', 'staticPods', 'keepalivedImage']);
  // (Required by the static-pod layout only: see its playbook's layout.needs.)
  const haproxyImage = pick(sp, 'haproxyImage', IMAGE, DEFAULT_IMAGES.staticPods.haproxyImage, ['cluster', 'staticPods', 'haproxyImage']);
  if (image === undefined || kubeconfig === undefined || keepalivedImage === undefined || haproxyImage === undefined) return undefined;
  return { kubeVip: { image, kubeconfig }, staticPods: { keepalivedImage, haproxyImage } };
}

/** More ports through the VIP, each to the same port on every server (RKE2's supervisor, 9345). */
function validateExtraPorts(ctx: Ctx, v: unknown, segs: Segs, taken: readonly (number | undefined)[]): number[] {
  if (absent(v)) return [];
  if (!Array.isArray(v)) {
    ctx.p.add(segs, `must be a list of ports like [9345], got ${show(v)}`);
    return [];
  }
  const out: number[] = [];
  v.forEach((item, i) => {
    const p = port(ctx, item, [...segs, i]);
    if (p === undefined) return;
    if (taken.includes(p) || out.includes(p)) ctx.p.add([...segs, i], `${p} is already used (frontendPort, backendPort or another extra port); each extra port is its own frontend`);
    else out.push(p);
  });
  return out;
}

function validateKeepalived(ctx: Ctx, v: unknown, segs: Segs): Cluster['keepalived'] | undefined {
  const at = (...rest: Seg[]): Seg[] => [...segs, ...rest];
  if (!required(ctx, v, segs, 'a mapping with at least authPass, like { authPass: { env: HA_KEEPALIVED_PASS } }')) return undefined;
  const k = mapping(ctx, v, segs, KEEPALIVED_KEYS, '{ virtualRouterId: 51, authPass: { env: HA_KEEPALIVED_PASS } }');
  if (!k) return undefined;

  // VRRP's virtual router id is one byte, and 0 is reserved.
  const virtualRouterId = absent(k.get('virtualRouterId')) ? 51 : int(ctx, k.get('virtualRouterId'), at('virtualRouterId'), 1, 255);
  const authPass = required(ctx, k.get('authPass'), at('authPass'), 'the VRRP password (1–8 characters), a string or { env: NAME }')
    ? secret(ctx, k.get('authPass'), at('authPass'), { literal: true, check: checkAuthPass })
    : undefined;
  const unicast = absent(k.get('unicast')) ? false : bool(ctx, k.get('unicast'), at('unicast'));

  const ch = mapping(ctx, k.get('check'), at('check'), CHECK_KEYS, '{ interval: 3, fall: 3, rise: 2 }');
  const interval = absent(ch?.get('interval')) ? DEFAULT_CHECK.interval : int(ctx, ch?.get('interval'), at('check', 'interval'), 1, 3600);
  const fall = absent(ch?.get('fall')) ? DEFAULT_CHECK.fall : int(ctx, ch?.get('fall'), at('check', 'fall'), 1, 100);
  const rise = absent(ch?.get('rise')) ? DEFAULT_CHECK.rise : int(ctx, ch?.get('rise'), at('check', 'rise'), 1, 100);
  // keepalived accepts weights -253..253. Weight 0 is keepalived's "no weight": FAULT on failure, stored
  // as absent. No weight key at all gets the bootstrap default once the priorities are known (below).
  let weight = int(ctx, ch?.get('weight'), at('check', 'weight'), -253, 253);
  if (weight === 0) weight = undefined;

  if (virtualRouterId === undefined || authPass === undefined || unicast === undefined
    || interval === undefined || fall === undefined || rise === undefined) return undefined;
  const check: KeepalivedCheck = { interval, fall, rise, ...(weight !== undefined ? { weight } : {}) };
  return { virtualRouterId, authPass, unicast, check };
}

type SshOverrides = { -readonly [K in keyof SshSettings]?: SshSettings[K] };

/** The ssh keys present at `segs`, validated and resolved; absent keys are left out so merging works. */
function sshOverrides(ctx: Ctx, v: unknown, segs: Segs): SshOverrides {
  const out: SshOverrides = {};
  const s = mapping(ctx, v, segs, SSH_KEYS, '{ user: root, port: 22 }');
  if (!s) return out;
  const at = (key: string): Seg[] => [...segs, key];
  const set = <K extends keyof SshSettings>(key: K, value: SshSettings[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set('user', token(ctx, s.get('user'), at('user'), USER));
  set('port', port(ctx, s.get('port'), at('port')));
  set('identityFile', localPath(ctx, s.get('identityFile'), at('identityFile')));
  // A password in a file ends up in git; only a reference to the environment is accepted.
  set('password', secret(ctx, s.get('password'), at('password'), { literal: false }));
  set('sudoPassword', secret(ctx, s.get('sudoPassword'), at('sudoPassword'), { literal: false }));
  set('useAgent', bool(ctx, s.get('agent'), at('agent')));
  set('knownHostsFile', localPath(ctx, s.get('knownHostsFile'), at('knownHostsFile')));
  set('hostKeyPolicy', oneOf(ctx, s.get('hostKeyPolicy'), at('hostKeyPolicy'), HOST_KEY_POLICIES));
  const jump = token(ctx, s.get('jumpHost'), at('jumpHost'), JUMP_HOST);
  const jumpPort = jump?.includes(':') ? Number(jump.split(':')[1]) : undefined;
  if (jumpPort !== undefined && !(jumpPort >= 1 && jumpPort <= 65535)) {
    ctx.p.add(at('jumpHost'), `port must be an integer 1–65535, got ${jumpPort}`);
  } else {
    set('jumpHost', jump);
  }
  set('connectTimeoutMs', durationMs(ctx, s.get('connectTimeout'), at('connectTimeout')));
  set('commandTimeoutMs', durationMs(ctx, s.get('commandTimeout'), at('commandTimeout')));
  set('keepaliveIntervalMs', durationMs(ctx, s.get('keepaliveInterval'), at('keepaliveInterval')));
  return out;
}

/** ssh.config: a path, false (none), or absent/true (~/.ssh/config when that file exists). */
function readSshConfigSetting(ctx: Ctx, ssh: unknown): SshConfigFile | undefined {
  const v = ssh instanceof Map ? ssh.get('config') : undefined;
  if (v === false) return undefined;
  const file = absent(v) || v === true ? true : localPath(ctx, v, ['ssh', 'config']);
  if (file === undefined) return undefined;
  const read = sshConfigSetting(file === true ? undefined : file, ctx.home);
  if ('problem' in read) ctx.p.add(['ssh', 'config'], read.problem);
  return 'config' in read ? read.config : undefined;
}

/** The inventory's top-level ssh: keys it writes, and the ssh config they take precedence over. */
interface SshBase {
  readonly explicit: SshOverrides;
  readonly config: SshConfigFile | undefined;
}

function sshDefaults(home: string): SshSettings {
  return {
    user: 'root',
    port: 22,
    useAgent: true,
    knownHostsFile: path.join(home, '.ssh', 'known_hosts'),
    hostKeyPolicy: 'strict',
    connectTimeoutMs: 10_000,
    commandTimeoutMs: 300_000,
    keepaliveIntervalMs: 15_000,
  };
}

function validateSysctls(ctx: Ctx, v: unknown): Record<string, string> {
  if (absent(v)) return { ...DEFAULT_SYSCTLS };
  const out: Record<string, string> = {};
  if (!(v instanceof Map)) {
    ctx.p.add(['sysctls'], `must be a mapping like { net.ipv4.ip_nonlocal_bind: 1 }, got ${show(v)}`);
    return out;
  }
  for (const [key, value] of v as YamlMap) {
    const segs = ['sysctls', key];
    if (!SYSCTL_KEY_RE.test(key)) {
      ctx.p.add(segs, 'is not a sysctl name; use dotted lower-case names like net.ipv4.ip_nonlocal_bind');
      continue;
    }
    // Values go into /etc/sysctl.d and onto `sysctl -w`: integers or plain tokens only.
    if (typeof value === 'number' && Number.isInteger(value)) out[key] = String(value);
    else if (typeof value === 'string' && SYSCTL_VALUE_RE.test(value)) out[key] = value;
    else ctx.p.add(segs, `must be an integer or a plain value (letters, digits and . _ : , / + -), got ${show(value)}`);
  }
  return out;
}

// Versions go onto an apt-get/dnf command line: Debian/RPM version characters only.
const PACKAGE_NAME_RE = /^[a-z0-9][a-z0-9+.-]*$/;
const PACKAGE_VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9.+~:_-]*$/;

function validatePackagePins(ctx: Ctx, v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (absent(v)) return out;
  if (!(v instanceof Map)) {
    ctx.p.add(['packages'], `must be a mapping of package name to version like { haproxy: "2.6.12-1+deb12u4" }, got ${show(v)}`);
    return out;
  }
  for (const [name, version] of v as YamlMap) {
    const segs = ['packages', name];
    if (!PACKAGE_NAME_RE.test(name)) ctx.p.add(segs, 'is not a package name (lower-case letters, digits and + . -)');
    else if (typeof version === 'string' && PACKAGE_VERSION_RE.test(version)) out[name] = version;
    else ctx.p.add(segs, `must be a version in quotes as apt or dnf spells it, like "2.6.12-1+deb12u4", got ${show(version)}`);
  }
  return out;
}

function validateMaintenance(ctx: Ctx, v: unknown): Inventory['maintenance'] {
  const m = mapping(ctx, v, ['maintenance'], ['windows', 'timeZone'], '{ windows: ["Sat 02:00-04:00"], timeZone: Europe/Berlin }');
  const raw = m?.get('windows');
  const windows = absent(raw) ? [] : typeof raw === 'string' ? [raw] : Array.isArray(raw) && raw.every((w) => typeof w === 'string') ? (raw as string[]) : undefined;
  if (!windows) ctx.p.add(['maintenance', 'windows'], `must be a window like "Sat 02:00-04:00" or a list of them, got ${show(raw)}`);
  const timeZone = m?.get('timeZone');
  if (!absent(timeZone) && typeof timeZone !== 'string') ctx.p.add(['maintenance', 'timeZone'], `must be an IANA zone like Europe/Berlin, got ${show(timeZone)}`);
  const out = { windows: windows ?? [], ...(typeof timeZone === 'string' ? { timeZone } : {}) };
  try {
    if (out.windows.length > 0) parseWindows(out.windows);
    if (out.timeZone) checkTimeZone(out.timeZone);
  } catch (error) {
    ctx.p.add(['maintenance'], (error as Error).message);
  }
  return out;
}

function validateRoutes(ctx: Ctx, v: unknown): Route[] {
  const out: Route[] = [];
  if (absent(v)) return out;
  if (!Array.isArray(v)) {
    ctx.p.add(['routes'], `must be a list like [{ to: 10.244.0.0/16, via: 192.168.20.1, dev: eth1 }], got ${show(v)}`);
    return out;
  }
  const seen = new Map<string, number>();
  v.forEach((item: unknown, i) => {
    const segs = ['routes', i];
    if (!required(ctx, item, segs, 'a route like { to: 10.244.0.0/16, via: 192.168.20.1, dev: eth1 }')) return;
    const r = mapping(ctx, item, segs, ROUTE_KEYS, '{ to: 10.244.0.0/16, via: 192.168.20.1, dev: eth1 }');
    if (!r) return;
    const at = (key: string): Seg[] => [...segs, key];
    let to: string | undefined;
    if (required(ctx, r.get('to'), at('to'), 'the destination network, like 10.244.0.0/16')) {
      const c = cidr(ctx, r.get('to'), at('to'), 0, '10.244.0.0/16');
      const addr = c && parseIpv4(c.address);
      if (c && addr !== undefined) {
        const network = formatIpv4((addr & maskOf(c.prefix)) >>> 0);
        // `ip route` refuses a destination with host bits set ("Invalid prefix for given prefix length").
        if (network !== c.address) ctx.p.add(at('to'), `has host bits set; did you mean ${network}/${c.prefix}?`);
        else if (seen.has(network + '/' + c.prefix)) {
          ctx.p.add(at('to'), `${network}/${c.prefix} is also the destination of routes[${seen.get(network + '/' + c.prefix)}]; each destination may appear once`);
        } else {
          seen.set(network + '/' + c.prefix, i);
          to = `${network}/${c.prefix}`;
        }
      }
    }
    const via = required(ctx, r.get('via'), at('via'), 'the gateway IPv4 address, like 192.168.20.1')
      ? ipv4(ctx, r.get('via'), at('via'))
      : undefined;
    const dev = required(ctx, r.get('dev'), at('dev'), 'the interface to route through, like eth1')
      ? token(ctx, r.get('dev'), at('dev'), INTERFACE)
      : undefined;
    if (to !== undefined && via !== undefined && dev !== undefined) out.push({ to, via, dev });
  });
  return out;
}

function validateHosts(ctx: Ctx, v: unknown, sshBase: SshBase, vrrp: boolean): DraftHost[] | undefined {
  if (!required(ctx, v, ['hosts'], 'a mapping of host name → { address, roles, … } with at least one lb and one server')) return undefined;
  if (!(v instanceof Map)) {
    ctx.p.add(['hosts'], `must be a mapping of host name → { address, roles, … }, got ${show(v)}`);
    return undefined;
  }
  const out: DraftHost[] = [];
  let complete = true;
  for (const [name, value] of v as YamlMap) {
    const host = validateHost(ctx, name, value, sshBase, vrrp);
    if (host) out.push(host);
    else complete = false;
  }
  return complete ? out : undefined;
}

function validateHost(ctx: Ctx, name: string, v: unknown, sshBase: SshBase, vrrp: boolean): DraftHost | undefined {
  const segs = ['hosts', name];
  const at = (...rest: Seg[]): Seg[] => [...segs, ...rest];
  const nameOk = token(ctx, name, segs, { ...NAME, allowed: `a host name of ${NAME.allowed}` }) !== undefined;
  if (!required(ctx, v, segs, '{ address, roles, … }')) return undefined;
  const h = mapping(ctx, v, segs, HOST_KEYS, '{ address: 10.10.10.98, roles: [lb], interface: eth1, priority: 200 }');
  if (!h) return undefined;

  const address = required(ctx, h.get('address'), at('address'), 'the IPv4 address or host name to reach the host at')
    ? hostAddress(ctx, h.get('address'), at('address'))
    : undefined;

  let roles: Role[] | undefined;
  const r = h.get('roles');
  if (required(ctx, r, at('roles'), 'a list of lb and/or server, like [lb]')) {
    if (!Array.isArray(r) || r.length === 0) {
      ctx.p.add(at('roles'), `must be a non-empty list of lb and/or server, like [lb] or [lb, server]; got ${Array.isArray(r) ? 'an empty list' : show(r)}`);
    } else {
      const list: Role[] = [];
      r.forEach((role: unknown, i) => {
        const ok = oneOf(ctx, role, at('roles', i), ROLES);
        if (ok === undefined) return;
        if (list.includes(ok)) ctx.p.add(at('roles', i), `${ok} is listed twice`);
        else list.push(ok);
      });
      if (list.length === r.length) roles = list;
    }
  }

  // interface and priority configure the keepalived instance, which only lb hosts run.
  const isLb = roles?.includes('lb');
  let iface: string | undefined;
  let priority: number | undefined;
  let lbOk = true;
  for (const key of ['interface', 'priority'] as const) {
    if (roles && !isLb && !absent(h.get(key))) {
      ctx.p.add(at(key), 'only applies to hosts with role lb; remove it or add lb to roles');
      lbOk = false;
    }
  }
  if (isLb) {
    if (required(ctx, h.get('interface'), at('interface'), 'the interface where VRRP runs and the VIP is added, like eth1')) {
      iface = token(ctx, h.get('interface'), at('interface'), INTERFACE);
    }
    // 255 is reserved by VRRP for the owner of the address; 0 means "resign".
    if (!vrrp && absent(h.get('priority'))) priority = undefined;
    else if (required(ctx, h.get('priority'), at('priority'), 'the VRRP priority 1–254; the highest starts as MASTER')) {
      priority = int(ctx, h.get('priority'), at('priority'), 1, 254);
    }
    lbOk = iface !== undefined && (priority !== undefined || (!vrrp && absent(h.get('priority'))));
  }

  const ownSsh = h.get('ssh');
  if (ownSsh instanceof Map && ownSsh.has('config')) ctx.p.add(at('ssh', 'config'), 'is read from the top-level ssh: block only (one ssh config for the whole inventory)');
  const hostSsh = sshOverrides(ctx, ownSsh, at('ssh'));
  // The ssh config is looked up for the address as written: it may be a Host alias (sshEffective.ts).
  const effective = address === undefined ? undefined : effectiveSsh(
    { name, address, defaults: sshDefaults(ctx.home), top: sshBase.explicit, host: hostSsh, config: sshBase.config, home: ctx.home },
    (where, message) => ctx.p.add(where, message),
  );

  if (!nameOk || effective === undefined || roles === undefined || !lbOk) return undefined;
  return {
    name, address: effective.address, roles,
    ...(parseIpv4(effective.address) !== undefined ? { ip: effective.address } : {}),
    ...(iface !== undefined ? { interface: iface } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ssh: effective.ssh,
    sshSources: effective.sources,
  };
}

/** Rules between hosts; every host is already valid on its own. */
function checkHosts(ctx: Ctx, hosts: readonly DraftHost[]): void {
  const lbs = hosts.filter((h) => h.roles.includes('lb'));
  if (lbs.length === 0) ctx.p.add(['hosts'], 'no host has role lb; at least one lb is needed to hold the VIP');
  if (!hosts.some((h) => h.roles.includes('server'))) {
    ctx.p.add(['hosts'], 'no host has role server; haproxy needs at least one kube-apiserver to send traffic to');
  }

  // Equal priorities leave the initial MASTER to an IP-address tie-break nobody reads in the inventory.
  const byPriority = new Map<number, string>();
  for (const h of lbs) {
    const other = byPriority.get(h.priority ?? 0);
    if (other !== undefined) ctx.p.add(['hosts', h.name, 'priority'], `${h.priority} is also the priority of ${other}; lb priorities must differ so one clearly starts as MASTER`);
    else byPriority.set(h.priority ?? 0, h.name);
  }
}

/**
 * Rules on the hosts' IPs: run on the hosts whose IP is known, i.e. first on those written as IPv4
 * addresses, then, once the names are resolved, on all (see complete()).
 */
function checkAddresses(ctx: Ctx, cluster: Cluster | undefined, all: readonly DraftHost[]): void {
  type WithIp = DraftHost & { readonly ip: string };
  const hosts = all.filter((h): h is WithIp => h.ip !== undefined);
  // ` (cp1.example.com)` after a host written as a name, so a message shows where its IP came from.
  const written = (h: WithIp): string => (h.address === h.ip ? '' : ` (${h.address})`);

  const byIp = new Map<string, WithIp>();
  for (const h of hosts) {
    const other = byIp.get(h.ip);
    if (other === undefined) {
      byIp.set(h.ip, h);
      continue;
    }
    // Two names may resolve to one IP: both are named, with what they resolved to.
    const what = h.address === h.ip || h.address === other.address ? `${h.address} is` : `${h.address} resolves to ${h.ip},`;
    const theirs = other.address === h.address ? '' : written(other);
    ctx.p.add(['hosts', h.name, 'address'], `${what} also the address of ${other.name}${theirs}; each host needs its own address`);
  }
  if (!cluster) return;

  const lbs = hosts.filter((h) => h.roles.includes('lb'));
  const vip = parseIpv4(cluster.vip.address) ?? 0;
  const vipText = `${cluster.vip.address}/${cluster.vip.prefix}`;
  const mask = maskOf(cluster.vip.prefix);
  const network = (vip & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  const owner = hosts.find((h) => h.ip === cluster.vip.address);
  // keepalived adds the VIP to each lb's interface: a VIP outside the lb's subnet would not be reachable.
  const outside = lbs.filter((h) => (((parseIpv4(h.ip) ?? 0) & mask) >>> 0) !== network);
  // One lb and no keepalived (the k3s guide's single nginx): there is no VIP to move, and the endpoint is
  // that lb's own address.
  const ownAddress = owner !== undefined && !cluster.keepalived && lbs.length === 1 && lbs[0] === owner;
  if (owner && !ownAddress) {
    ctx.p.add(['cluster', 'vip'], `${cluster.vip.address} is the address of host ${owner.name}${written(owner)}; the VIP must be an unused address in the lb subnet`);
  } else if (outside.length > 0) {
    const shown = (h: WithIp): string => (h.address === h.ip ? h.ip : `${h.address} resolves to ${h.ip}`);
    ctx.p.add(['cluster', 'vip'], `${vipText} is not in the subnet of ${outside.map((h) => `${h.name} (${shown(h)})`).join(', ')}; `
      + `the VIP must be in the same ${formatIpv4(network)}/${cluster.vip.prefix} network as every lb address (or fix the prefix)`);
  } else if (cluster.vip.prefix <= 30 && (vip === network || vip === broadcast)) {
    // /31 and /32 have no network or broadcast address (RFC 3021).
    const which = vip === network ? 'network' : 'broadcast';
    ctx.p.add(['cluster', 'vip'], `${cluster.vip.address} is the ${which} address of ${formatIpv4(network)}/${cluster.vip.prefix}; pick a host address inside it`);
  }
}

/** Rules between the cluster settings and the hosts; both are already valid on their own. */
function checkClusterAgainstHosts(ctx: Ctx, cluster: Cluster, hosts: readonly DraftHost[]): void {
  const lbs = hosts.filter((h) => h.roles.includes('lb'));

  // With a check weight w, a failing MASTER only drops to p1 − |w| (or the BACKUP rises to p2 + w);
  // unless that crosses the next priority, the VIP stays on the broken node.
  const weight = cluster.keepalived?.check.weight;
  const priorities = lbs.map((h) => h.priority ?? 0).sort((a, b) => b - a);
  const [p1, p2] = priorities;
  if (weight !== undefined && p1 !== undefined && p2 !== undefined && p1 !== p2 && p1 - Math.abs(weight) >= p2) {
    const needed = p1 - p2 + 1;
    const why = weight < 0
      ? `a MASTER (priority ${p1}) whose check fails only drops to ${p1 + weight}, not below the next lb (priority ${p2})`
      : `a BACKUP (priority ${p2}) only rises to ${p2 + weight} while the MASTER's check fails, not above its ${p1}`;
    const suggestion = needed <= 253 ? `use a weight of at least ${needed} in size (e.g. ${weight < 0 ? -needed : needed}), or ` : '';
    ctx.p.add(['cluster', 'keepalived', 'check', 'weight'],
      `${weight} cannot move the VIP: ${why}; ${suggestion}omit weight for one derived from the priorities, or set weight: 0 so a failing node goes to FAULT and releases the VIP`);
  }

  // sshd already listens on a host's SSH port: haproxy could not bind it there, and a backend probe to it
  // would "pass" against sshd.
  const clash = (role: Role, port: number, key: string, what: string): void => {
    const hit = hosts.filter((h) => h.roles.includes(role) && h.ssh.port === port).map((h) => h.name);
    if (hit.length > 0) ctx.p.add(['cluster', key], `${port} is the SSH port of ${hit.join(', ')}, where sshd already listens; ${what} needs a port of its own`);
  };
  clash('lb', cluster.frontendPort, 'frontendPort', 'the load balancer');
  clash('server', cluster.backendPort, 'backendPort', 'kube-apiserver');
  for (const p of cluster.extraPorts) clash('lb', p, 'extraPorts', 'each extra port');
  // Checks that depend on the layout (a proxy beside an API server, say) run once the playbook is known.
}
