// The user's OpenSSH client config (ssh_config(5)), read the way `ssh` reads it for the keys this tool
// honours. Parsing and matching (Host patterns with `!`, Match host/user/all/final, first value wins) are
// the `ssh-config` package's: its compute() decides what applies to a host. This module adds what that
// package leaves to its callers: Include, and the file, line and section each value came from.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import SSHConfig, { LineType, stringify, type Directive, type Line } from 'ssh-config';

/** The ssh_config keywords this tool honours, spelled as ssh_config(5) spells them. */
export const HONOURED_KEYS = [
  'HostName', 'User', 'Port', 'IdentityFile', 'ProxyJump', 'StrictHostKeyChecking', 'UserKnownHostsFile', 'ConnectTimeout',
] as const;
export type HonouredKey = (typeof HONOURED_KEYS)[number];

/** The first value that applies to a host (as ssh takes it), and where it was written. */
export interface ConfigValue {
  readonly value: string;
  readonly from: string; // e.g. "~/.ssh/config:12 (Host lb-*)"
}
export type ConfigValues = Partial<Record<HonouredKey, ConfigValue>>;

export interface SshConfigFile {
  readonly file: string; // absolute
  readonly shown: string; // ~/… under the home directory: how sources name it
  /**
   * What applies to `host` (a Host alias, name or address as typed on ssh's command line); `user`: one
   * given outside the file (as `ssh -l`), which `Match user` then sees.
   */
  lookup(host: string, user?: string): ConfigValues;
}

/** A config that cannot be read or used; the message names the file (and line). */
export class SshConfigError extends Error {}

// OpenSSH's own limit on nested Include (READCONF_MAX_DEPTH).
const MAX_INCLUDE_DEPTH = 16;
// compute() copies the value of every directive that applies; a marker directive placed right after each
// honoured one applies exactly when it does, so the first marker compute() keeps names the first value's line.
const MARKER = 'HaProvisionFrom:';

const showPath = (file: string, home: string): string =>
  file === home || file.startsWith(`${home}${path.sep}`) ? `~${file.slice(home.length)}` : file;

/**
 * Reads `file` and what it includes. `home` stands for `~`, and relative Include paths are taken in
 * `home`/.ssh, as ssh does for a user's config (also one given with -F).
 */
export function readSshConfig(file: string, home: string): SshConfigFile {
  const config = readParsed(file, home, 0);
  markSources(config);
  return {
    file,
    shown: showPath(file, home),
    lookup: (host, user) => valuesFor(config, host, user),
  };
}

/**
 * The inventory's ssh.config: `file` (absolute) must be readable; without one, `home`/.ssh/config is read
 * when it exists (ssh reads it when it exists, and so does this tool). The problem names the file.
 */
export function sshConfigSetting(file: string | undefined, home: string): { config: SshConfigFile } | { problem: string } | { none: true } {
  const chosen = file ?? path.join(home, '.ssh', 'config');
  if (file === undefined && !exists(chosen)) return { none: true };
  try {
    return { config: readSshConfig(chosen, home) };
  } catch (error) {
    if (!(error instanceof SshConfigError)) throw error;
    const off = file === undefined ? ' (read by default; ssh.config: false does without it)' : '';
    return { problem: `${error.message}${off}` };
  }
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

function readParsed(file: string, home: string, depth: number): SSHConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new SshConfigError(`cannot read ${showPath(file, home)}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : message}`);
  }
  let config: SSHConfig;
  try {
    config = SSHConfig.parse(text);
  } catch (error) {
    throw new SshConfigError(`${showPath(file, home)}: not a valid ssh config: ${(error as Error).message}`);
  }
  label(config, showPath(file, home));
  expandIncludes(config, file, home, depth, undefined);
  return config;
}

/** Where each directive was written: file, line, and the Host or Match section it is in. */
const origins = new WeakMap<Line, string>();

function label(config: readonly Line[], shown: string): void {
  let newlines = 0;
  const visit = (line: Line, section: string | undefined): void => {
    const lineNo = newlines + count(line.before) + 1;
    const own = { ...line } as Partial<Line & { config: unknown }>;
    delete own.config;
    newlines += count(stringify([own as Line] as unknown as SSHConfig));
    if (line.type !== LineType.DIRECTIVE) return;
    const isSection = 'config' in line;
    origins.set(line, `${shown}:${lineNo}${section && !isSection ? ` (${section})` : ''}`);
    if (isSection) {
      const header = `${line.param} ${valueText(line)}`;
      for (const inner of line.config) visit(inner, header);
    }
  };
  for (const line of config) visit(line, undefined);
}

const count = (s: string): number => (s.match(/\n/g) ?? []).length;
const valueText = (d: Directive): string => (Array.isArray(d.value) ? d.value.map((v) => v.val).join(' ') : d.value);

/**
 * Include, as ssh does it: glob patterns, sorted; files that do not exist are skipped. A file included
 * at the top level may hold Host and Match sections; one included inside a section only plain keywords
 * (ssh would scope its sections to the enclosing one, which compute() has no notion of).
 */
function expandIncludes(lines: Line[], from: string, home: string, depth: number, inSection: string | undefined): void {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.type !== LineType.DIRECTIVE) continue;
    if ('config' in line) {
      expandIncludes(line.config, from, home, depth, `${line.param} ${valueText(line)}`);
      continue;
    }
    if (line.param.toLowerCase() !== 'include') continue;
    const where = origins.get(line) ?? showPath(from, home);
    if (depth >= MAX_INCLUDE_DEPTH) throw new SshConfigError(`${where}: Include nested deeper than ${MAX_INCLUDE_DEPTH} files (a loop?)`);
    const patterns = Array.isArray(line.value) ? line.value.map((v) => v.val) : line.value.split(/\s+/).filter(Boolean);
    const included: Line[] = [];
    for (const pattern of patterns) {
      for (const file of globFiles(includePath(pattern, home))) {
        const parsed = readParsed(file, home, depth + 1);
        if (inSection && parsed.some((l) => l.type === LineType.DIRECTIVE && 'config' in l)) {
          throw new SshConfigError(`${where}: ${showPath(file, home)} has Host or Match sections, and is included inside "${inSection}"; that is not supported here: include it at the top of the file`);
        }
        included.push(...parsed);
      }
    }
    lines.splice(i, 1, ...included);
    i += included.length - 1;
  }
}

function includePath(pattern: string, home: string): string {
  if (pattern === '~' || pattern.startsWith('~/')) return path.join(home, pattern.slice(1));
  return path.isAbsolute(pattern) ? pattern : path.join(home, '.ssh', pattern);
}

/** glob(3) with * and ? (and no [classes]) in any path component; sorted, existing regular files only. */
function globFiles(pattern: string): string[] {
  let candidates = [path.parse(pattern).root];
  for (const part of pattern.split(path.sep).filter(Boolean)) {
    if (!/[*?]/.test(part)) {
      candidates = candidates.map((c) => path.join(c, part));
      continue;
    }
    const re = new RegExp(`^${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    candidates = candidates.flatMap((dir) => {
      try {
        return readdirSync(dir).filter((name) => re.test(name) && !name.startsWith('.')).sort().map((name) => path.join(dir, name));
      } catch {
        return [];
      }
    });
  }
  return candidates.filter((file) => {
    try {
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

const CANONICAL = new Map<string, string>(HONOURED_KEYS.map((k) => [k.toLowerCase(), k]));

/**
 * Keywords are case-insensitive in ssh_config; compute() is not (and updates the host Match host sees only
 * for "HostName" spelled so). Honoured keywords get their canonical spelling, then a marker after each.
 */
function markSources(lines: Line[]): void {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.type !== LineType.DIRECTIVE) continue;
    if ('config' in line) {
      markSources(line.config);
      continue;
    }
    const key = CANONICAL.get(line.param.toLowerCase());
    if (key === undefined) continue;
    line.param = key;
    const marker: Directive = { type: LineType.DIRECTIVE, param: `${MARKER}${key}`, separator: ' ', value: origins.get(line) ?? '?', before: '', after: '' };
    lines.splice(i + 1, 0, marker);
    i += 1;
  }
}

function valuesFor(config: SSHConfig, host: string, user: string | undefined): ConfigValues {
  // `Match exec` would run a command while the inventory loads: it never matches here.
  const computed = config.compute(user === undefined ? { Host: host } : { Host: host, User: user }, { matchExec: false });
  const out: { [K in HonouredKey]?: ConfigValue } = {};
  for (const key of HONOURED_KEYS) {
    const raw = computed[key];
    const from = computed[`${MARKER}${key}`];
    if (raw === undefined || from === undefined) continue;
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value !== undefined) out[key] = { value, from: Array.isArray(from) ? (from[0] ?? '?') : from };
  }
  return out;
}
