// Facts about systemd units: their state from ONE `systemctl show`, enablement from install links where
// that answers without systemctl, and what each daemon logged about the config it runs now.
import { quote } from '../transport/quote.js';
import { lines, parseKeyValues, type Fact, type ServiceFact } from './facts.js';

/** How many of a unit's latest journal lines are searched for its faults. */
export const FAULT_WINDOW_LINES = 300;

/** The journal's _TRANSPORT values: how an entry reached it (systemd's own messages come as `journal`). */
export const JOURNAL_TRANSPORTS = ['journal', 'stdout', 'syslog', 'kernel', 'audit', 'driver'] as const;
export type JournalTransport = (typeof JOURNAL_TRANSPORTS)[number];

/** Printed after the faults when none of the lines read shows the unit's last start or reload. */
export const NO_LOAD_IN_WINDOW = '@no-load-in-window';

/**
 * Prints each line `name` logged since systemd last started or reloaded it that matches one of the
 * patterns (POSIX EREs), after `prefix`, from its last FAULT_WINDOW_LINES lines of journal. With
 * `tellWindow`, a last line NO_LOAD_IN_WINDOW says that start or reload lies further back than those
 * lines (the faults are then the window's). With `transports`, only entries that reached the journal
 * that way are read: haproxy says what it thinks of its config on stderr (`stdout`) and logs every
 * connection over syslog, which would otherwise push its last reload out of the window within minutes.
 * systemd's "Starting/Reloading" lines come as `journal`. The patterns reach awk through its
 * environment: -v would process backslash escapes in them.
 */
export function journalFaultsCommand(
  name: string,
  patterns: readonly string[],
  prefix = '',
  { tellWindow = false, transports = [] }: { tellWindow?: boolean; transports?: readonly JournalTransport[] } = {},
): string {
  // Matches on one field are ORed, and ANDed with -u's.
  const only = transports.map((t) => ` _TRANSPORT=${t}`).join('');
  return (
    `journalctl -u ${quote(`${name}.service`)}${only} -b -o cat -n ${FAULT_WINDOW_LINES} --no-pager | ` +
    `fault=${quote(patterns.join('|'))} load=${quote(`^(Starting|Reloading) ${name.replace(/[.]/g, '[.]')}[.]service`)} prefix=${quote(prefix)} ` +
    `awk '$0 ~ ENVIRON["load"] { n = ""; seen = 1 } $0 ~ ENVIRON["fault"] { n = n ENVIRON["prefix"] $0 "\\n" } END { printf "%s", n${tellWindow ? `; if (!seen) print "${NO_LOAD_IN_WINDOW}"` : ''} }'`
  );
}

/**
 * Shell: `hp_enabled UNIT` succeeds when UNIT's own install links show it enabled, read from the file
 * system with builtins only: a unit file in /etc/systemd/system (a regular file: a masked unit is a link
 * to /dev/null) that no directory systemd ranks above it overrides, whose [Install] section names at least
 * one WantedBy=/RequiredBy= target, each with its link in place. That is what `systemctl is-enabled`
 * answers "enabled" to, without starting systemctl and a D-Bus call to PID 1 (about 10 ms of CPU per
 * host, the largest part of a converged server's facts). Anything else (no such file, a target's link
 * missing, a key written with spaces around `=`) fails, and the caller asks systemctl.
 * `root` exists for tests, which build the directories under a temporary one.
 */
export function enabledByLinksFunction(root = ''): string {
  const ranked = ['/etc/systemd/system.control', '/run/systemd/system.control', '/run/systemd/transient', '/run/systemd/generator.early', '/run/systemd/system'];
  const etc = quote(`${root}/etc/systemd/system`);
  return [
    'hp_enabled() {',
    `  f=${etc}/"$1"; [ -f "$f" ] && [ ! -L "$f" ] || return 1`,
    `  for d in ${ranked.map((d) => quote(root + d)).join(' ')}; do if [ -e "$d/$1" ] || [ -L "$d/$1" ]; then return 1; fi; done`,
    '  n=0; section=',
    '  while IFS= read -r l || [ -n "$l" ]; do',
    '    case $l in',
    "      '['*) section=$l ;;",
    "      WantedBy=*|RequiredBy=*) [ \"$section\" = '[Install]' ] || continue; kind=wants; case $l in RequiredBy=*) kind=requires ;; esac",
    `        for t in \${l#*=}; do [ -L ${etc}/"$t.$kind/$1" ] || return 1; n=$((n + 1)); done ;;`,
    '    esac',
    '  done < "$f"',
    '  [ $n -gt 0 ]',
    '}',
  ].join('\n');
}

/** A unit wanted only enabled, confirmed so by its install links: systemd's running state was not asked for. */
export const ENABLED_BY_LINKS: ServiceFact = { active: 'unread', enabled: 'enabled', mainPid: 0, startedAt: '0' };

/**
 * State of each unit, from ONE `systemctl show` (it prints a block per unit, in the order asked, blank
 * lines between). Units in `enablementOnly` (wanted enabled, never running: a boot-time oneshot) are
 * first looked up by their install links (enabledByLinksFunction), and only those not found enabled there
 * go to systemctl. For a unit with fault patterns, also the matching lines of its journal since systemd
 * last started or reloaded it ("Starting|Reloading NAME.service", systemd 252 and later): what the daemon
 * said about the config it runs now, e.g. keepalived disabling a track script it finds unsafe, read from
 * the unit's `transports` where it has them. `root` exists for tests (enabledByLinksFunction).
 */
export function servicesFact(
  names: readonly string[],
  faults: Readonly<Record<string, readonly string[]>> = {},
  enablementOnly: readonly string[] = [],
  { transports = {}, root = '' }: { readonly transports?: Readonly<Record<string, readonly JournalTransport[]>>; readonly root?: string } = {},
): Fact<Record<string, ServiceFact>> {
  if (names.length === 0) return { name: 'services', command: '', parse: () => ({}) };
  const withFaults = names.filter((n) => (faults[n] ?? []).length > 0);
  const byLinks = names.filter((n) => enablementOnly.includes(n));
  const asked = names.filter((n) => !byLinks.includes(n));
  return {
    name: 'services',
    command: [
      ...(byLinks.length > 0 ? [enabledByLinksFunction(root)] : []),
      // A function, so that `set --` collects the units for systemctl in its own positional parameters.
      'hp_services() {',
      `  set --${asked.map((n) => ` ${quote(n)}`).join('')}`,
      ...(byLinks.length > 0 ? [`  for u in ${byLinks.map(quote).join(' ')}; do if hp_enabled "$u.service"; then echo "@enabled $u"; else set -- "$@" "$u"; fi; done`] : []),
      `  echo "@show $*"; [ $# -gt 0 ] || return 0; for n do set -- "$@" "$n.service"; shift; done`,
      `  systemctl show -p ${SERVICE_PROPERTIES} "$@" 2>/dev/null`,
      '}',
      'hp_services',
      ...withFaults.map((n) => `echo ${quote(`@faults ${n}`)}; ${journalFaultsCommand(n, faults[n] ?? [], '', { tellWindow: true, transports: transports[n] ?? [] })}`),
    ].join('\n'),
    parse(stdout) {
      const [head = '', ...faultBlocks] = stdout.split(/^@faults /m);
      const shownAt = head.search(/^@show /m);
      const before = shownAt < 0 ? head : head.slice(0, shownAt);
      const [showLine = '', ...shown] = (shownAt < 0 ? '' : head.slice(shownAt)).split('\n');
      const showNames = showLine.slice('@show '.length).trim().split(/\s+/).filter(Boolean);
      const services: Record<string, ServiceFact> = {
        // Without a shell that got this far (no systemd, a cut-off host): unknown, never a made-up state.
        ...parseServiceBlocks(names, ''),
        ...Object.fromEntries([...before.matchAll(/^@enabled (\S+)$/gm)].map(([, n = '']) => [n, ENABLED_BY_LINKS])),
        ...parseServiceBlocks(showNames, shown.join('\n')),
      };
      for (const name of names.filter((n) => faults[n]?.length)) {
        const logged = lines(faultBlocks.find((b) => b.startsWith(`${name}\n`))?.slice(name.length + 1) ?? '').map((l) => l.trim());
        services[name] = { ...services[name]!, faults: logged.filter((l) => l !== NO_LOAD_IN_WINDOW), faultsSinceLoad: !logged.includes(NO_LOAD_IN_WINDOW) };
      }
      return services;
    },
  };
}

/** The properties needed of each unit, for `systemctl show -p`. */
export const SERVICE_PROPERTIES = 'ActiveState,UnitFileState,MainPID,ExecMainStartTimestampMonotonic';

/** `systemctl show`'s blocks (blank lines between), one per unit in `names`' order; none without systemd. */
export function parseServiceBlocks(names: readonly string[], shown: string): Record<string, ServiceFact> {
  const blocks = shown.split(/\n\s*\n/);
  return Object.fromEntries(names.map((name, i) => {
    const kv = parseKeyValues(blocks[i] ?? '');
    const fact: ServiceFact = { active: kv.ActiveState ?? 'unknown', enabled: kv.UnitFileState ?? '', mainPid: Number(kv.MainPID ?? 0), startedAt: kv.ExecMainStartTimestampMonotonic ?? '0' };
    return [name, fact];
  }));
}
