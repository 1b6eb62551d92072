// A fact is a POSIX sh snippet plus a pure parser of what it prints (the pyinfra model). gather.ts runs
// every fact a host needs in ONE exec; parsers are tested against canned output, no SSH needed.
import { createHash } from 'node:crypto';
import { command, quote } from '../transport/quote.js';

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
  readonly active: string; // ActiveState: active, inactive, failed, …
  readonly enabled: string; // UnitFileState: enabled, disabled, "" when the unit does not exist
  readonly mainPid: number;
  readonly startedAt: string; // ExecMainStartTimestampMonotonic: changes only on (re)start
  /** Lines logged since systemd last started or reloaded it that match its fault patterns (when it has any). */
  readonly faults?: readonly string[];
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
  command: 'cat /etc/os-release',
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

/** Current values, read from /proc/sys (no procps needed); absent = key unknown to this kernel. */
export function sysctlsFact(keys: readonly string[]): Fact<Record<string, string>> {
  return {
    name: 'sysctls',
    command: keys
      .map((key) => `printf '%s\\t%s\\n' ${quote(key)} "$(cat ${quote(`/proc/sys/${key.replace(/\./g, '/')}`)} 2>/dev/null)"`)
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

/**
 * Content, owner and mode of each path, and of whichever files match each glob (its `*` is the only
 * unquoted part); content travels base64 so any byte survives.
 */
export function filesFact(paths: readonly string[], globs: readonly string[] = []): Fact<Record<string, FileFact | undefined>> {
  const glob = (g: string): string => g.split('*').map((part) => (part ? quote(part) : '')).join('*');
  return {
    name: 'files',
    command: [
      ...paths.map((p) => `echo ${quote(`@file ${p}`)}; if [ -f ${quote(p)} ]; then stat -L -c '%U %G %a' ${quote(p)}; base64 < ${quote(p)}; fi`),
      ...globs.map((g) => `for f in ${glob(g)}; do [ -f "$f" ] || continue; echo "@file $f"; stat -L -c '%U %G %a' "$f"; base64 < "$f"; done`),
    ].join('\n'),
    parse(stdout) {
      const files: Record<string, FileFact | undefined> = {};
      for (const block of stdout.split(/^@file /m).slice(1)) {
        const [path = '', meta, ...body] = block.split('\n');
        if (!meta) {
          files[path] = undefined;
          continue;
        }
        const [owner = '', group = '', mode = ''] = meta.split(' ');
        const bytes = Buffer.from(body.join(''), 'base64');
        // The hash of the bytes on disk: the apply compares it with `sha256sum` before changing the file.
        files[path] = { content: bytes.toString('utf8'), sha256: sha256(bytes), owner, group, mode };
      }
      return files;
    },
  };
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * Prints each line `name` logged since systemd last started or reloaded it that matches one of the
 * patterns (POSIX EREs), after `prefix`. The patterns reach awk through its environment: -v would
 * process backslash escapes in them.
 */
export function journalFaultsCommand(name: string, patterns: readonly string[], prefix = ''): string {
  return (
    `journalctl -u ${quote(`${name}.service`)} -b -o cat -n 300 --no-pager | ` +
    `fault=${quote(patterns.join('|'))} load=${quote(`^(Starting|Reloading) ${name.replace(/[.]/g, '[.]')}[.]service`)} prefix=${quote(prefix)} ` +
    `awk '$0 ~ ENVIRON["load"] { n = "" } $0 ~ ENVIRON["fault"] { n = n ENVIRON["prefix"] $0 "\\n" } END { printf "%s", n }'`
  );
}

/**
 * State of each unit. For a unit with fault patterns, also the matching lines of its journal since
 * systemd last started or reloaded it ("Starting|Reloading NAME.service", systemd 252 and later): what
 * the daemon said about the config it runs now, e.g. keepalived disabling a track script it finds unsafe.
 */
export function servicesFact(names: readonly string[], faults: Readonly<Record<string, readonly string[]>> = {}): Fact<Record<string, ServiceFact>> {
  const journal = (name: string, patterns: readonly string[]): string => journalFaultsCommand(name, patterns, 'Fault=');
  return {
    name: 'services',
    command: names
      .map((n) => {
        const patterns = faults[n] ?? [];
        const show = `${command('systemctl', 'show', '-p', 'ActiveState,UnitFileState,MainPID,ExecMainStartTimestampMonotonic', `${n}.service`)} 2>/dev/null`;
        return `echo ${quote(`@service ${n}`)}; ${show}${patterns.length > 0 ? `; ${journal(n, patterns)}` : ''}`;
      })
      .join('\n'),
    parse(stdout) {
      const services: Record<string, ServiceFact> = {};
      for (const block of stdout.split(/^@service /m).slice(1)) {
        const [name = '', ...rest] = block.split('\n');
        const kv = parseKeyValues(rest.filter((l) => !l.startsWith('Fault=')).join('\n'));
        services[name] = {
          active: kv.ActiveState ?? 'unknown',
          enabled: kv.UnitFileState ?? '',
          mainPid: Number(kv.MainPID ?? 0),
          startedAt: kv.ExecMainStartTimestampMonotonic ?? '0',
          ...(faults[name]?.length ? { faults: rest.filter((l) => l.startsWith('Fault=')).map((l) => l.slice('Fault='.length).trim()) } : {}),
        };
      }
      return services;
    },
  };
}

/**
 * On an lb: can it open a TCP connection to each backend? Probes run in parallel, 2 s each at most.
 * `nc -z` where the host has it, else curl (installed on every lb): its exit 7/28 mean no connection,
 * 6 a name the lb cannot resolve (a backend written as a name is probed as written, as haproxy and nginx
 * resolve it there).
 */
export function backendsFact(targets: readonly string[]): Fact<Record<string, boolean>> {
  return {
    name: 'backends',
    command: [
      'if command -v nc >/dev/null 2>&1; then reach() { nc -z -w 2 "$1" "$2"; }',
      'else reach() { curl -sk -o /dev/null --max-time 2 "https://$1:$2/"; r=$?; [ $r -ne 6 ] && [ $r -ne 7 ] && [ $r -ne 28 ]; }; fi',
      ...targets.map((t) => {
        const [address = '', port = ''] = t.split(':');
        return `( if reach ${quote(address)} ${quote(port)} >/dev/null 2>&1; then echo ${quote(`${t} ok`)}; else echo ${quote(`${t} fail`)}; fi ) &`;
      }),
      'wait',
    ].join('\n'),
    parse(stdout) {
      const reach: Record<string, boolean> = {};
      for (const line of lines(stdout)) {
        const [target, verdict] = line.split(' ');
        if (target) reach[target] = verdict === 'ok';
      }
      return reach;
    },
  };
}
