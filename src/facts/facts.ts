// A fact is a POSIX sh snippet plus a pure parser of what it prints (the pyinfra model). gather.ts runs
// every fact a host needs in ONE exec; parsers are tested against canned output, no SSH needed.
import { createHash } from 'node:crypto';
import { quote } from '../transport/quote.js';

export interface Fact<T> {
  readonly name: string;
  readonly command: string;
  parse(stdout: string): T;
}

export type OsFamily = 'debian' | 'rhel' | 'unknown';
export type PackageManager = 'apt-get' | 'dnf' | 'yum';

export interface OsFact {
  readonly id: string;
  readonly versionId: string;
  readonly family: OsFamily;
}

export interface FileFact {
  readonly content: string;
  readonly sha256: string;
  readonly owner: string;
  readonly group: string;
  readonly mode: string; // octal, e.g. "644"
}

export interface ServiceFact {
  readonly active: string; // ActiveState: active, inactive, failed, …; `unread` for a unit wanted only enabled that its links showed so
  readonly enabled: string; // UnitFileState: enabled, disabled, "" when the unit does not exist
  readonly mainPid: number;
  readonly startedAt: string; // ExecMainStartTimestampMonotonic: changes only on (re)start
  /** Lines logged since systemd last started or reloaded it that match its fault patterns (when it has any). */
  readonly faults?: readonly string[];
  /**
   * Whether the journal lines read for `faults` reach back to that start or reload. Not when the unit
   * logged more since than the window holds (haproxy logs every connection): `faults` then covers only
   * the window, and verify says so.
   */
  readonly faultsSinceLoad?: boolean;
}

/** How this host reaches the controller (the SSH peer it sees): `ip route get PEER`. */
export interface SshPathFact {
  readonly peer: string;
  readonly via?: string;
  readonly dev?: string;
}

export interface RouteFact {
  readonly to: string; // CIDR ("default" kept as is)
  readonly via?: string;
  readonly dev?: string;
}

export interface AddressFact {
  readonly dev: string;
  readonly cidr: string; // 10.213.0.11/24
}

/** The non-blank lines of a command's output. */
export const lines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');

/** Reads key=value lines (os-release, systemctl show), unquoting values. */
export function parseKeyValues(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines(stdout)) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim().replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

export const osFact: Fact<OsFact> = {
  name: 'os',
  // Builtins only: every process the facts exec forks is paid on every host of every run.
  command: 'while IFS= read -r l || [ -n "$l" ]; do printf \'%s\\n\' "$l"; done < /etc/os-release',
  parse(stdout) {
    const kv = parseKeyValues(stdout);
    const id = kv.ID ?? 'unknown';
    const like = `${id} ${kv.ID_LIKE ?? ''}`.split(/\s+/);
    const family: OsFamily = like.includes('debian') || like.includes('ubuntu')
      ? 'debian'
      : like.some((l) => ['rhel', 'fedora', 'centos'].includes(l))
        ? 'rhel'
        : 'unknown';
    return { id, versionId: kv.VERSION_ID ?? '', family };
  },
};

export const packageManagerFact: Fact<PackageManager | undefined> = {
  name: 'package-manager',
  // dnf before yum: on RHEL 8+ yum is a shim to dnf.
  command: 'for m in apt-get dnf yum; do if command -v $m >/dev/null 2>&1; then echo $m; break; fi; done',
  parse: (stdout) => {
    const m = stdout.trim();
    return m === 'apt-get' || m === 'dnf' || m === 'yum' ? m : undefined;
  },
};

export const systemdFact: Fact<boolean> = {
  name: 'systemd',
  command: 'if [ -d /run/systemd/system ]; then echo yes; else echo no; fi',
  parse: (stdout) => stdout.trim() === 'yes',
};

/** Installed versions of `names` (absent = not installed), from dpkg or rpm, whichever the host has. */
export function packagesFact(names: readonly string[]): Fact<Record<string, string>> {
  const list = names.map(quote).join(' ');
  // With no names, dpkg-query would list every package on the host (servers manage none).
  if (names.length === 0) return { name: 'packages', command: '', parse: () => ({}) };
  return {
    name: 'packages',
    command: [
      'if command -v dpkg-query >/dev/null 2>&1; then',
      `  dpkg-query -W -f='\${Package}\\t\${Version}\\t\${db:Status-Abbrev}\\n' ${list} 2>/dev/null`,
      'elif command -v rpm >/dev/null 2>&1; then',
      `  rpm -q --qf '%{NAME}\\t%{VERSION}-%{RELEASE}\\tii\\n' ${list} 2>/dev/null | grep -v 'not installed'`,
      'fi; true',
    ].join('\n'),
    parse(stdout) {
      const installed: Record<string, string> = {};
      for (const line of lines(stdout)) {
        const [name, version, status] = line.split('\t');
        // Status-Abbrev is want/state/error: state "i" is installed ("ii", held "hi"); "rc" is removed.
        if (name && version && status?.[1] === 'i') installed[name] = version;
      }
      return installed;
    },
  };
}

/** Current values, read from /proc/sys with the `read` builtin (no process); absent = key unknown to this kernel. */
export function sysctlsFact(keys: readonly string[]): Fact<Record<string, string>> {
  return {
    name: 'sysctls',
    command: keys
      .map((key) => {
        const file = quote(`/proc/sys/${key.replace(/\./g, '/')}`);
        return `v=; [ -r ${file} ] && read -r v < ${file}; printf '%s\\t%s\\n' ${quote(key)} "$v"`;
      })
      .join('\n'),
    parse(stdout) {
      const values: Record<string, string> = {};
      for (const line of lines(stdout)) {
        // Multi-value keys (ip_local_port_range) are tab-separated too: split at the first tab only.
        const tab = line.indexOf('\t');
        const key = line.slice(0, tab);
        const value = line.slice(tab + 1).trim().replace(/\s+/g, ' ');
        if (tab > 0 && value !== '') values[key] = value;
      }
      return values;
    },
  };
}

/** `via` and `dev` of one `ip route` line, where it has them. */
function gatewayAndDevice(line: string): { via?: string; dev?: string } {
  const words = line.trim().split(/\s+/);
  const after = (w: string): string | undefined => (words.includes(w) ? words[words.indexOf(w) + 1] : undefined);
  const via = after('via');
  const dev = after('dev');
  return { ...(via ? { via } : {}), ...(dev ? { dev } : {}) };
}

export const routesFact: Fact<RouteFact[]> = {
  name: 'routes',
  command: 'ip -4 route show table main',
  parse: (stdout) =>
    lines(stdout).map((line) => {
      const to = line.trim().split(/\s+/)[0] ?? '';
      return { to: to.includes('/') || to === 'default' ? to : `${to}/32`, ...gatewayAndDevice(line) };
    }),
};

/**
 * The route to the controller as this host sees it. SSH_CLIENT ("ADDR PORT LOCALPORT") is passed
 * through sudo by the transport; with a jump host it names the jump host, which is the path that counts.
 */
export const sshPathFact: Fact<SshPathFact | undefined> = {
  name: 'ssh-path',
  command: 'peer=${SSH_CLIENT%% *}; [ -n "$peer" ] && echo "$peer" && ip -4 route get "$peer"',
  parse(stdout) {
    const [peer, route = ''] = lines(stdout);
    return peer ? { peer: peer.trim(), ...gatewayAndDevice(route) } : undefined;
  },
};

export const addressesFact: Fact<AddressFact[]> = {
  name: 'addresses',
  command: 'ip -o -4 addr show',
  // "2: host0    inet 10.213.0.11/24 brd 10.213.0.255 scope global host0\       valid_lft …"
  parse: (stdout) =>
    lines(stdout).flatMap((line) => {
      const m = /^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+(\S+)/.exec(line);
      return m?.[1] && m[2] ? [{ dev: m[1], cidr: m[2] }] : [];
    }),
};

export interface NetworkFact {
  readonly routes: RouteFact[];
  readonly addresses: AddressFact[];
  readonly sshPath?: SshPathFact;
}

const ADDRESS_LINE = /^\d+:\s/;

/**
 * Routes, addresses and the route to the controller from ONE `ip` process (`-batch`, `-force` so that an
 * unreachable peer cannot cost the rest), where three facts used to fork one each. The sections cannot be
 * told apart by markers inside one batch, so they are told apart by shape: `addr show -o` lines start
 * with "N: ", and a host reached over IPv4 has at least that address; the routes come before them and
 * `route get` after. The here-document needs no fork in sh.
 */
export const networkFact: Fact<NetworkFact> = {
  name: 'network',
  command: [
    'peer=${SSH_CLIENT%% *}; echo "@peer $peer"',
    'ip -4 -o -force -batch - <<HP_IP',
    'route show table main',
    'addr show',
    '${peer:+route get $peer}',
    'HP_IP',
  ].join('\n'),
  parse(stdout) {
    const all = lines(stdout);
    const peer = all.find((l) => l.startsWith('@peer '))?.slice('@peer '.length).trim() ?? '';
    const out = all.filter((l) => !l.startsWith('@peer'));
    const first = out.findIndex((l) => ADDRESS_LINE.test(l));
    const last = out.length - 1 - [...out].reverse().findIndex((l) => ADDRESS_LINE.test(l));
    if (first < 0) return { routes: routesFact.parse(out.join('\n')), addresses: [] };
    const after = out.slice(last + 1).join('\n');
    const sshPath = sshPathFact.parse(peer ? `${peer}\n${after}` : '');
    return {
      routes: routesFact.parse(out.slice(0, first).join('\n')),
      addresses: addressesFact.parse(out.slice(first, last + 1).join('\n')),
      ...(sshPath ? { sshPath } : {}),
    };
  },
};

/**
 * Content, owner and mode of each path, and of whichever files match each glob (its `*` is the only
 * unquoted part). Two processes however many files: one `stat` for all (owner, group, mode, size), one
 * `od` for all contents, cut apart by the sizes (content travels as hex, so any byte survives and no file
 * can print a line the facts' markers would take for their own).
 */
export function filesFact(paths: readonly string[], globs: readonly string[] = []): Fact<Record<string, FileFact | undefined>> {
  const glob = (g: string): string => g.split('*').map((part) => (part ? quote(part) : '')).join('*');
  if (paths.length === 0 && globs.length === 0) return { name: 'files', command: '', parse: () => ({}) };
  return {
    name: 'files',
    command: [
      // A function, so that `set --` collects the files in its own positional parameters.
      'hp_files() {',
      '  set --',
      ...(paths.length > 0 ? [`  for f in ${paths.map(quote).join(' ')}; do if [ -f "$f" ]; then set -- "$@" "$f"; else printf '@missing %s\\n' "$f"; fi; done`] : []),
      ...(globs.length > 0 ? [`  for f in ${globs.map(glob).join(' ')}; do [ -f "$f" ] && set -- "$@" "$f"; done`] : []),
      `  ${READ_FILES}`,
      '}',
      'hp_files',
    ].join('\n'),
    parse: parseFiles,
  };
}

/**
 * Shell, in a function whose positional parameters are the existing files to read: their owner, group,
 * mode and size from one `stat`, then every content from one `od` as hex bytes (parseFiles cuts it apart).
 * `od` reads every file itself: `cat | base64` cost a second process and a pipe (about 2 ms a host).
 */
export const READ_FILES = `[ $# -gt 0 ] || return 0; stat -L --printf '@file %n\\n%U %G %a %s\\n' "$@" && echo @content && od -An -v -tx1 "$@"`;

/** Reads what READ_FILES printed, and `@missing PATH` lines: path → file, or undefined when missing. */
export function parseFiles(stdout: string): Record<string, FileFact | undefined> {
  const files: Record<string, FileFact | undefined> = {};
  for (const m of stdout.matchAll(/^@missing (.*)$/gm)) files[m[1]!] = undefined;
  const at = stdout.indexOf('\n@content\n');
  // stat failed (a file removed since the script found it): it printed the others, and od never ran.
  if (at < 0 && /^@file /m.test(stdout)) throw new Error('files changed while they were read (one went away): read again');
  const metas = [...(at < 0 ? '' : stdout.slice(0, at)).matchAll(/^@file (.*)\n(\S+) (\S+) (\S+) (\d+)$/gm)];
  const hex = at < 0 ? '' : stdout.slice(at + '\n@content\n'.length).replace(/\s+/g, '');
  // Buffer.from stops at the first character that is not hex: a torn output comes up short, below.
  const bytes = Buffer.from(hex, 'hex');
  // A file that grew or shrank between stat and od would shift every later file: refuse to guess.
  const total = metas.reduce((n, m) => n + Number(m[5]), 0);
  if (total !== bytes.length || hex.length !== 2 * total) throw new Error(`files changed while they were read (${bytes.length} bytes for ${total} expected): read again`);
  let offset = 0;
  for (const [, path = '', owner = '', group = '', mode = '', size = '0'] of metas) {
    const content = bytes.subarray(offset, offset + Number(size));
    offset += Number(size);
    // The hash of the bytes on disk: the apply compares it with `sha256sum` before changing the file.
    files[path] = { content: content.toString('utf8'), sha256: sha256(content), owner, group, mode };
  }
  return files;
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * On an lb: can it open a TCP connection to each backend? One curl for all of them (`--parallel`, 2 s
 * each at most): a backend is reachable when curl connected (time_connect > 0), whatever the protocol
 * then said (it speaks TLS; curl sends plain HTTP, and the TLS server hangs up). A curl without
 * `--parallel` (before 7.66, exit 2) or no curl: one `nc -z` (or curl) per backend, in parallel.
 */
const FALLBACK_PROBES = 16;

export function backendsFact(targets: readonly string[]): Fact<Record<string, boolean>> {
  if (targets.length === 0) return { name: 'backends', command: '', parse: () => ({}) };
  const urls = targets.map((t) => `-o /dev/null ${quote(`http://${t}/`)}`).join(' ');
  return {
    name: 'backends',
    command: [
      `hp_reach_all() { curl -s --parallel --parallel-max 64 --max-time 2 -w '%{url_effective} %{time_connect}\\n' ${urls} 2>/dev/null; [ $? -ne 2 ]; }`,
      'if command -v curl >/dev/null 2>&1 && out=$(hp_reach_all); then printf \'%s\\n\' "$out"; else',
      '  if command -v nc >/dev/null 2>&1; then reach() { nc -z -w 2 "$1" "$2"; }',
      '  else reach() { curl -sk -o /dev/null --max-time 2 "https://$1:$2/"; r=$?; [ $r -ne 6 ] && [ $r -ne 7 ] && [ $r -ne 28 ]; }; fi',
      // At most FALLBACK_PROBES at a time: a few hundred servers must not fork a few hundred probes at once.
      ...targets.map((t, i) => {
        const [address = '', port = ''] = t.split(':');
        const probe = `  ( if reach ${quote(address)} ${quote(port)} >/dev/null 2>&1; then echo ${quote(`${t} ok`)}; else echo ${quote(`${t} fail`)}; fi ) &`;
        return (i + 1) % FALLBACK_PROBES === 0 ? `${probe}\n  wait` : probe;
      }),
      '  wait',
      'fi',
    ].join('\n'),
    parse(stdout) {
      const reach: Record<string, boolean> = {};
      for (const line of lines(stdout)) {
        const [first = '', verdict = ''] = line.trim().split(' ');
        const url = /^http:\/\/([^/]+)\/$/.exec(first);
        if (url) reach[url[1]!] = Number(verdict) > 0;
        else if (first) reach[first] = verdict === 'ok';
      }
      return reach;
    },
  };
}
