// Every fact a host needs, read in ONE exec: the snippets run in sequence, each fenced by a marker line,
// and the output is cut at the markers and handed to each fact's pure parser.
import type { Transport } from '../transport/transport.js';
import { HostError } from '../errors.js';
import {
  backendsFact,
  filesFact,
  osFact,
  packageManagerFact,
  packagesFact,
  networkFact,
  sysctlsFact,
  systemdFact,
  type AddressFact,
  type Fact,
  type FileFact,
  type NetworkFact,
  type OsFact,
  type OsFamily,
  type PackageManager,
  type RouteFact,
  type ServiceFact,
  type SshPathFact,
} from './facts.js';
import { servicesFact, type JournalTransport } from './services.js';
import { historyFact, historyHeadFact, type Version } from './history.js';
import { dpkgInterruptedFact, leftoverStagingFact, pendingReloadsFact, runLockFact, type RunLockFact } from './leftovers.js';
import { EMPTY_RECORD, MANAGED_RECORD, managedFact, parseManagedRecord, type ManagedRecord } from './managed.js';

/** What to read; derived from a host's resources (and, for lbs, the backends to probe). */
export interface FactNeeds {
  readonly packages: readonly string[];
  readonly sysctls: readonly string[];
  readonly files: readonly string[];
  /** Shell globs of more files to read into `files` (whichever exist), e.g. /etc/sysconfig/network-scripts/route-*. */
  readonly fileGlobs?: readonly string[];
  readonly services: readonly string[];
  /** Of those, the ones wanted enabled and never running: their install links can answer (servicesFact). */
  readonly enablementOnly?: readonly string[];
  /** Per service, log patterns that mean it is running its config in a degraded way. */
  readonly serviceFaults: Readonly<Record<string, readonly string[]>>;
  /** Per service with fault patterns, the journal transports they are looked for in (all when absent). */
  readonly serviceLogTransports?: Readonly<Record<string, readonly JournalTransport[]>>;
  readonly backends: readonly string[]; // "address:port"
  /** Read the history of applied versions, with contents (rollback only). */
  readonly history?: boolean;
}

export interface HostFacts {
  readonly os: OsFact;
  readonly packageManager?: PackageManager;
  readonly systemd: boolean;
  readonly packages: Readonly<Record<string, string>>;
  readonly sysctls: Readonly<Record<string, string>>;
  readonly routes: readonly RouteFact[];
  readonly sshPath?: SshPathFact;
  readonly addresses: readonly AddressFact[];
  readonly files: Readonly<Record<string, FileFact | undefined>>;
  readonly services: Readonly<Record<string, ServiceFact>>;
  readonly backends: Readonly<Record<string, boolean>>;
  readonly pendingReloads: Readonly<Record<string, readonly string[]>>;
  readonly leftoverStaging: readonly string[];
  readonly dpkgInterrupted: boolean;
  readonly runLock?: RunLockFact;
  readonly history: readonly Version[]; // empty unless asked for
  readonly historyHead: number; // the newest version number on the host, 0 if none
  /** What the last run recorded as managed here; the files and services it names are in `files` and `services`. */
  readonly managed: ManagedRecord;
}

const MARK = '@@ha-provision-fact ';

// The facts of one set of needs and their script, built once per distinct set: every server of a fleet
// needs the same, and the script and the parse of its output both use them.
interface Built {
  readonly facts: ReturnType<typeof buildFacts>;
  script?: string;
}
const builtFor = new WeakMap<FactNeeds, Built>();
const builtByContent = new Map<string, Built>();
function built(needs: FactNeeds): Built {
  let found = builtFor.get(needs);
  if (!found) {
    const key = JSON.stringify(needs);
    found = builtByContent.get(key);
    if (!found) builtByContent.set(key, (found = { facts: buildFacts(needs) }));
    builtFor.set(needs, found);
  }
  return found;
}

function buildFacts(needs: FactNeeds) {
  return {
    os: osFact,
    packageManager: packageManagerFact,
    systemd: systemdFact,
    packages: packagesFact(needs.packages),
    sysctls: sysctlsFact(needs.sysctls),
    network: networkFact,
    files: filesFact(needs.files, needs.fileGlobs),
    services: servicesFact(needs.services, needs.serviceFaults, needs.enablementOnly, { transports: needs.serviceLogTransports ?? {} }),
    backends: backendsFact(needs.backends),
    pendingReloads: pendingReloadsFact,
    leftoverStaging: leftoverStagingFact(needs.files),
    dpkgInterrupted: dpkgInterruptedFact,
    runLock: runLockFact,
    history: historyFact(needs.history ? needs.files : []),
    historyHead: historyHeadFact(),
    managed: managedFact({ files: needs.files, services: needs.services }),
  } satisfies Record<Exclude<keyof HostFacts, keyof NetworkFact> | 'network', Fact<unknown>>;
}

/** The one script that reads them all. Stderr of each snippet is dropped: a missing tool is a fact too. */
export function gatherScript(needs: FactNeeds): string {
  const b = built(needs);
  if (b.script === undefined) {
    const parts = Object.entries(b.facts).map(
      // `:` keeps the group valid sh when a fact has nothing to read (e.g. no managed sysctls).
      ([key, fact]) => `echo '${MARK}${key}'\n{\n${fact.command || ':'}\n} 2>/dev/null`,
    );
    b.script = ['export LC_ALL=C', ...parts, `echo '${MARK}end'`, ''].join('\n');
  }
  return b.script;
}

/** Pure: cuts the script's output at the markers and parses each part. */
export function parseGathered(needs: FactNeeds, stdout: string): HostFacts {
  const sections = new Map<string, string>();
  const chunks = stdout.split(new RegExp(`^${MARK}`, 'm'));
  for (const chunk of chunks.slice(1)) {
    const newline = chunk.indexOf('\n');
    sections.set(chunk.slice(0, newline), chunk.slice(newline + 1));
  }
  if (!sections.has('end')) throw new Error('fact output is incomplete (the script did not reach its end)');
  const { facts } = built(needs);
  const parsed: Record<string, unknown> = {};
  for (const [key, fact] of Object.entries(facts)) parsed[key] = fact.parse(sections.get(key) ?? '');
  // Recorded files and services the playbook no longer reads itself: read alongside, one map each.
  const managed = parsed.managed as ReturnType<typeof facts.managed.parse>;
  const { network, ...rest } = parsed;
  return {
    ...(rest as unknown as HostFacts),
    ...(network as NetworkFact),
    files: { ...managed.files, ...(parsed.files as HostFacts['files']) },
    services: { ...managed.services, ...(parsed.services as HostFacts['services']) },
    managed: parseManagedRecord((parsed.files as HostFacts['files'])[MANAGED_RECORD]?.content ?? ''),
  };
}

export async function gatherFacts(host: string, transport: Transport, needs: FactNeeds): Promise<HostFacts> {
  const result = await transport.exec(gatherScript(needs));
  try {
    return parseGathered(needs, result.stdout);
  } catch (error) {
    throw new HostError(host, `reading facts failed (exit ${result.code}): ${(error as Error).message} ${result.stderr.trim()}`);
  }
}

/** The facts of a host of that family before it was ever provisioned: for rendering without SSH. */
export function freshHostFacts(family: OsFamily): HostFacts {
  return {
    os: { id: family, versionId: '', family },
    systemd: true,
    packages: {},
    sysctls: {},
    routes: [],
    addresses: [],
    files: {},
    services: {},
    backends: {},
    pendingReloads: {},
    leftoverStaging: [],
    dpkgInterrupted: false,
    history: [],
    historyHead: 0,
    managed: EMPTY_RECORD,
  };
}
