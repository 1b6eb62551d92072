// `ha-provision init FILE`: a commented inventory from flags (or, on a terminal, from answers), checked
// by the real loader before a byte is written, and never over an existing file. --probe asks each lb over
// SSH which interface holds the VIP's subnet (one connection, one exec per lb).
import { randomInt } from 'node:crypto';
import { open } from 'node:fs/promises';
import os from 'node:os';
import { basename, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { UsageError } from '../errors.js';
import { parseAndResolveInventory } from '../inventory/load.js';
import { systemResolver, type Resolver } from '../inventory/resolve.js';
import { INIT_TOPOLOGIES, renderSkeleton, skeletonHosts, type InitTopology, type SkeletonSpec } from '../inventory/skeleton.js';
import type { Inventory } from '../inventory/types.js';
import { builtinPlaybook, loadPlaybook } from '../playbook/playbook.js';
import { refuseLayoutProblems } from '../playbook/layout.js';
import { LB_PROBE_SCRIPT, osNote, parseLbProbe, vipInterface } from '../facts/vipInterface.js';
import { HELP } from './help.js';
import { SCHEMA_FILE } from '../inventory/schemaJson.js';

type Values = Record<string, string | boolean | undefined>;

/** What init needs to know; `interface` may instead come from --probe. */
export interface InitAnswers {
  readonly file: string; // absolute
  lbs?: string[];
  servers?: string[];
  vip?: string;
  interface?: string;
  name: string;
  topology: InitTopology;
  user: string;
  sshPort: number;
  identityFile?: string;
  knownHostsFile?: string;
  authPassEnv?: string;
  probe: boolean;
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CLUSTER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A comma-separated address list; the loader judges each address, this only its shape. */
function addressList(flag: string, raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s === '' || /\s/.test(s))) throw new UsageError(`--${flag}: a comma-separated list of IPv4 addresses or host names, like 10.0.0.11,10.0.0.12; got "${raw}"`);
  const twice = items.filter((s, i) => items.indexOf(s) !== i);
  if (twice.length > 0) throw new UsageError(`--${flag}: ${twice.join(', ')} is listed twice`);
  return items;
}

function vipOf(raw: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(raw)) throw new UsageError(`--vip: the virtual IP with the prefix length of the lb subnet, like 10.0.0.100/24; got "${raw}"`);
  return raw;
}

/** Paths as the user typed them relative to here; the file resolves relative paths against its own directory. */
const localPath = (p: string): string => (p.startsWith('~') ? p : resolve(p));

/** One answer, by its flag name: validated, then set. Shared by flags and the terminal's questions. */
const SETTERS: Record<string, (a: InitAnswers, raw: string) => void> = {
  lb: (a, raw) => void (a.lbs = addressList('lb', raw)),
  server: (a, raw) => void (a.servers = addressList('server', raw)),
  vip: (a, raw) => void (a.vip = vipOf(raw)),
  interface: (a, raw) => void (a.interface = raw),
  name: (a, raw) => {
    if (!CLUSTER_NAME_RE.test(raw)) throw new UsageError(`--name: letters, digits, ".", "_" and "-", starting with a letter or digit; got "${raw}"`);
    a.name = raw;
  },
  topology: (a, raw) => {
    if (!(INIT_TOPOLOGIES as readonly string[]).includes(raw)) throw new UsageError(`--topology: one of ${INIT_TOPOLOGIES.join(', ')} (kube-vip: write that inventory by hand, see inventory/example.yaml); got "${raw}"`);
    a.topology = raw as InitTopology;
  },
  user: (a, raw) => void (a.user = raw),
  'ssh-port': (a, raw) => {
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--ssh-port: a port 1–65535; got "${raw}"`);
    a.sshPort = port;
  },
  'identity-file': (a, raw) => void (a.identityFile = localPath(raw)),
  'known-hosts': (a, raw) => void (a.knownHostsFile = localPath(raw)),
  'auth-pass-env': (a, raw) => {
    if (!ENV_NAME_RE.test(raw)) throw new UsageError(`--auth-pass-env: an environment variable name (letters, digits, "_"); got "${raw}"`);
    a.authPassEnv = raw;
  },
};

/** The cluster's name when none is given: the file's (prod.yaml → prod), if it is a valid one. */
function defaultName(file: string): string {
  const stem = basename(file).replace(/\.ya?ml$/, '');
  return CLUSTER_NAME_RE.test(stem) ? stem : 'cluster';
}

/** Pure: the flags, each checked. Errors name the flag and what is allowed. */
export function readInitFlags(values: Values, positionals: readonly string[]): InitAnswers {
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError(`init takes exactly one file to write\n\n${HELP.init}`);
  const answers: InitAnswers = { file: resolve(file), name: defaultName(file), topology: 'haproxy-keepalived', user: 'root', sshPort: 22, probe: Boolean(values.probe) };
  for (const [flag, set] of Object.entries(SETTERS)) {
    const raw = values[flag];
    if (typeof raw === 'string') set(answers, raw);
  }
  if (answers.probe && answers.interface !== undefined) throw new UsageError('--interface and --probe: give one (--probe learns each lb\'s interface over SSH)');
  return answers;
}

/** Pure: the flags still needed, as flags. */
export function missingFlags(a: InitAnswers): string[] {
  return [
    ...(a.lbs ? [] : ['--lb']),
    ...(a.servers ? [] : ['--server']),
    ...(a.vip ? [] : ['--vip']),
    ...(a.interface || a.probe ? [] : ['--interface (or --probe)']),
  ];
}

export type Ask = (question: string) => Promise<string>;

/**
 * On a terminal: asks for each missing answer (again after an invalid one, three times at most), and
 * offers the defaults of the optional ones. An empty interface means: probe the lbs.
 */
export async function askMissing(a: InitAnswers, ask: Ask, given: ReadonlySet<string>): Promise<InitAnswers> {
  const questions: [flag: string, question: string, fallback?: string][] = [
    ['lb', 'load balancer addresses (comma-separated): '],
    ['server', 'API server addresses (comma-separated): '],
    ['vip', 'virtual IP with prefix (e.g. 10.0.0.100/24): '],
    ['interface', 'lb interface for the VIP (e.g. eth1; empty: ask the lbs over SSH): ', ''],
    ['name', `cluster name [${a.name}]: `, a.name],
    ['user', `SSH user [${a.user}]: `, a.user],
    ['identity-file', 'SSH private key [none: your ssh agent]: ', ''],
    ['known-hosts', 'known_hosts file [~/.ssh/known_hosts]: ', ''],
  ];
  for (const [flag, question, fallback] of questions) {
    if (given.has(flag) || (flag === 'interface' && a.probe)) continue;
    for (let attempt = 1; ; attempt++) {
      const raw = (await ask(question)).trim();
      if (raw === '' && fallback !== undefined) {
        if (flag === 'interface') a.probe = true;
        break;
      }
      try {
        SETTERS[flag]!(a, raw);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        process.stderr.write(`${(error as Error).message}\n`);
      }
    }
  }
  return a;
}

const AUTH_PASS_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** keepalived uses at most 8 characters; letters and digits only, so nothing in it needs quoting anywhere. */
export function generateAuthPass(): string {
  return Array.from({ length: 8 }, () => AUTH_PASS_ALPHABET[randomInt(AUTH_PASS_ALPHABET.length)]).join('');
}

/** Pure: the skeleton's input from complete answers; `interfaces`, `notes` per lb (from --probe). */
export function skeletonSpec(a: InitAnswers, authPass: string, probed?: { interfaces: string[]; notes: string[] }): SkeletonSpec {
  const lbs = a.lbs ?? [];
  return {
    name: a.name,
    topology: a.topology,
    vip: a.vip ?? '',
    lbs,
    servers: a.servers ?? [],
    // Before a probe: a stand-in, so the file can be checked (and the SSH settings read) before connecting.
    interfaces: probed?.interfaces ?? lbs.map(() => a.interface ?? 'eth0'),
    ...(probed ? { lbNotes: probed.notes } : {}),
    user: a.user,
    sshPort: a.sshPort,
    ...(a.identityFile ? { identityFile: a.identityFile } : {}),
    ...(a.knownHostsFile ? { knownHostsFile: a.knownHostsFile } : {}),
    authPass: a.authPassEnv ? { env: a.authPassEnv } : { literal: authPass },
    schemaPath: SCHEMA_FILE,
  };
}

/**
 * The loader's verdict on the text, and the layout's (as `plan` will judge it). A password kept in the
 * environment need not be set yet: a stand-in of valid length takes its place for the check.
 */
export async function checkSkeleton(text: string, a: InitAnswers, env: NodeJS.ProcessEnv = process.env, resolver: Resolver = systemResolver): Promise<Inventory> {
  const withPass = a.authPassEnv && !env[a.authPassEnv] ? { ...env, [a.authPassEnv]: 'unset123' } : env;
  const inventory = await parseAndResolveInventory(text, a.file, withPass, os.homedir(), resolver);
  const playbook = await loadPlaybook(builtinPlaybook(inventory.cluster.topology, inventory.cluster.mode));
  refuseLayoutProblems(playbook.layout, inventory);
  return inventory;
}

/** Each lb's VIP interface and OS, one connection and one exec each; every lb's problem reported at once. */
async function probeLbs(inventory: Inventory, vip: string): Promise<{ interfaces: string[]; notes: string[] }> {
  const { SshTransport } = await import('../transport/ssh.js');
  const lbs = inventory.hosts.filter((h) => h.roles.includes('lb'));
  type Learned = { readonly dev: string; readonly note: string } | { readonly problem: string };
  const results = await Promise.all(lbs.map(async (host): Promise<Learned> => {
    let transport: Awaited<ReturnType<typeof SshTransport.open>> | undefined;
    try {
      transport = await SshTransport.open(host);
      const result = await transport.exec(LB_PROBE_SCRIPT);
      const probe = parseLbProbe(result.stdout);
      const found = vipInterface(probe, vip);
      return 'dev' in found ? { dev: found.dev, note: `${osNote(probe.os)}; ${found.dev} found by --probe` } : { problem: `${host.name} (${host.address}): ${found.problem}` };
    } catch (error) {
      const message = (error as Error).message;
      // The new file checks host keys strictly: a host never seen needs its key recorded first.
      const hint = /no host key for/.test(message) ? `; record it first: ssh to it once, or ssh-keyscan it and compare the fingerprint` : '';
      return { problem: `${message.startsWith(`${host.name}:`) ? message : `${host.name} (${host.address}): ${message}`}${hint}` };
    } finally {
      transport?.close();
    }
  }));
  const problems = results.flatMap((r) => ('problem' in r ? [r.problem] : []));
  if (problems.length > 0) throw new UsageError(`--probe could not learn every lb's interface; nothing was written:\n  ${problems.join('\n  ')}`);
  const learned = results.flatMap((r) => ('dev' in r ? [r] : []));
  return { interfaces: learned.map((r) => r.dev), notes: learned.map((r) => r.note) };
}

/** Creates the file, never replacing one: `wx` fails if anything exists there, even between check and write. */
export async function writeNewFile(file: string, text: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${file} already exists; init never overwrites a file: pick another name, or move it away first`);
    throw new UsageError(`cannot create ${file}: ${code === 'ENOENT' ? 'its directory does not exist' : (error as Error).message}`);
  }
  try {
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
}

async function askOnTerminal(a: InitAnswers, given: ReadonlySet<string>): Promise<InitAnswers> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await askMissing(a, (q) => rl.question(q), given);
  } catch (error) {
    // Ctrl-C or Ctrl-D at a question: the user left; that is no crash.
    if ((error as Error).name === 'AbortError') throw new UsageError('init: no answer given; nothing was written');
    throw error;
  } finally {
    rl.close();
  }
}

export async function initCommand(values: Values, positionals: string[]): Promise<number> {
  let answers = readInitFlags(values, positionals);
  const missing = missingFlags(answers);
  if (missing.length > 0) {
    if (!(process.stdin.isTTY && process.stderr.isTTY)) throw new UsageError(`init needs ${missing.join(', ')} (no terminal here to ask)\n\n${HELP.init}`);
    answers = await askOnTerminal(answers, new Set(Object.keys(values).filter((k) => typeof values[k] === 'string')));
  }
  const authPass = generateAuthPass();
  // Checked before any connection: the SSH settings the probe uses are the file's own.
  let text = renderSkeleton(skeletonSpec(answers, authPass));
  const draft = await checkSkeleton(text, answers);
  if (answers.probe) {
    text = renderSkeleton(skeletonSpec(answers, authPass, await probeLbs(draft, answers.vip ?? '')));
    await checkSkeleton(text, answers);
  }
  await writeNewFile(answers.file, text);
  const hosts = skeletonHosts(answers.lbs ?? [], answers.servers ?? []);
  const out = [
    `wrote ${answers.file} (${hosts.length} hosts: ${hosts.map((h) => h.name).join(', ')}; mode 0600${answers.authPassEnv ? '' : ', it holds the generated keepalived authPass'})`,
    answers.authPassEnv
      ? `next: export ${answers.authPassEnv} (the keepalived password, 1–8 characters), then: ha-provision plan ${positionals[0]}`
      : `next: ha-provision plan ${positionals[0]}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
