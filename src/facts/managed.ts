// What ha-provision manages on a host, as the host itself keeps it: a record of every file, service,
// package and static route the last run put there. A layout that leaves (a topology switch, a task dropped from a
// playbook) leaves its entries in the record, and the next plan removes those files and stops and
// disables those services. Packages stay installed: removing one could take a dependency with it, and
// a stopped, disabled service does no harm. The record is read in the same exec as every other fact.
import { quote } from '../transport/quote.js';
import { lines, parseFiles, READ_FILES, type Fact, type FileFact, type ServiceFact } from './facts.js';
import { parseServiceBlocks, SERVICE_PROPERTIES } from './services.js';

export const MANAGED_RECORD = '/etc/ha-provision/managed';

export interface ManagedRecord {
  readonly files: readonly { readonly path: string; readonly daemonReload: boolean }[];
  readonly services: readonly string[];
  /** Of those, the ones it keeps running (the others are only enabled, like a boot-time oneshot). */
  readonly running: readonly string[];
  readonly packages: readonly string[];
  /** Static routes: one that leaves the inventory is deleted from the host (and from its boot config). */
  readonly routes: readonly { readonly to: string; readonly via: string; readonly dev: string }[];
}

export const EMPTY_RECORD: ManagedRecord = { files: [], services: [], running: [], packages: [], routes: [] };

/** Where versions before the managed record kept the routes (`TO via VIA dev DEV` per line): read once, then removed. */
export const LEGACY_ROUTES_RECORD = '/etc/ha-provision/routes';

/** Routes written one per line as `TO via VIA dev DEV` (the record's format, and RHEL's route-DEV). */
export function parseRouteLines(text: string): ManagedRecord['routes'] {
  return [...text.matchAll(/^(?:route )?(\S+) via (\S+) dev (\S+)\s*$/gm)].map(([, to = '', via = '', dev = '']) => ({ to, via, dev }));
}

/** The record's text: one `KIND NAME [FLAG]` line per entry (paths hold no whitespace: the playbook loader refuses it). */
export function formatManagedRecord(record: ManagedRecord): string {
  return [
    '# Managed by ha-provision: what it put on this host. A later run that no longer manages one of these',
    '# removes the file, or stops and disables the service; packages stay installed. Do not edit.',
    ...record.files.map((f) => `file ${f.path}${f.daemonReload ? ' daemon-reload' : ''}`),
    ...record.services.map((s) => `service ${s}${record.running.includes(s) ? ' running' : ''}`),
    ...record.packages.map((p) => `package ${p}`),
    ...record.routes.map((r) => `route ${r.to} via ${r.via} dev ${r.dev}`),
    '',
  ].join('\n');
}

export function parseManagedRecord(text: string): ManagedRecord {
  const entries = lines(text).filter((l) => !l.startsWith('#')).map((l) => l.trim().split(/\s+/));
  const of = (kind: string): string[][] => entries.filter(([k, name]) => k === kind && name);
  return {
    files: of('file').map(([, path = '', flag]) => ({ path, daemonReload: flag === 'daemon-reload' })),
    services: of('service').map(([, name = '']) => name),
    running: of('service').flatMap(([, name = '', flag]) => (flag === 'running' ? [name] : [])),
    packages: of('package').map(([, name = '']) => name),
    routes: parseRouteLines(entries.filter(([k]) => k === 'route').map((e) => e.join(' ')).join('\n')),
  };
}

/** The record itself is read as one of the files (MANAGED_RECORD is always among them): see gather.ts. */
export interface ManagedFact {
  /** The state of recorded files and services that the playbook no longer reads itself. */
  readonly files: Readonly<Record<string, FileFact | undefined>>;
  readonly services: Readonly<Record<string, ServiceFact>>;
}

const SERVICES_MARK = '@@managed-services';

/**
 * The state of each entry of the record that the rest of the facts do not read already (`known`): on a
 * converged host, none. One pass over the record (the shell's `read` takes a byte per system call), then
 * one stat and od for all such files together, and one systemctl for all such services.
 */
export function managedFact(known: { readonly files: readonly string[]; readonly services: readonly string[] }): Fact<ManagedFact> {
  const skip = (names: readonly string[]): string => (names.length > 0 ? `case "$name" in ${names.map(quote).join('|')}) continue ;; esac; ` : '');
  const r = quote(MANAGED_RECORD);
  return {
    name: 'managed',
    command: [
      `if [ -f ${r} ]; then`,
      `  hp_managed_files() { ${READ_FILES}; }`,
      '  hp_managed() {',
      '    set --; services=',
      '    while read -r kind name flag; do',
      '      case $kind in',
      `        file) ${skip(known.files)}if [ -f "$name" ]; then set -- "$@" "$name"; else printf '@missing %s\\n' "$name"; fi ;;`,
      `        service) ${skip(known.services)}services="$services $name" ;;`,
      '      esac',
      `    done < ${r}`,
      '    hp_managed_files "$@"',
      `    echo ${SERVICES_MARK}`,
      // Unit names hold no blanks (the record is split at them); -f: no glob expands in them either.
      '    set -f; set -- $services; set +f',
      `    [ $# -gt 0 ] || return 0; echo "$*"; for n do set -- "$@" "$n.service"; shift; done; systemctl show -p ${SERVICE_PROPERTIES} "$@"`,
      '  }',
      '  hp_managed',
      'fi',
    ].join('\n'),
    parse(stdout) {
      const [head = '', services = ''] = stdout.split(`${SERVICES_MARK}\n`);
      const [names = '', ...shown] = services.split('\n');
      return {
        files: parseFiles(head),
        services: parseServiceBlocks(lines(names).length ? names.trim().split(/\s+/) : [], shown.join('\n')),
      };
    },
  };
}
