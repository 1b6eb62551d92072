// What an earlier run left half done on a host: services whose config changed on disk but that have
// not loaded it, staging files of a run that died, and a package install dpkg did not finish. A plan
// that ignored these would call the host "in sync" while its daemons run the old config.
import { quote } from '../transport/quote.js';
import { checkPath, describeLockHolder, LOCK_FILE, PENDING_DIR, stagedPath } from '../staging.js';
import { lines, parseKeyValues, type Fact } from './facts.js';

/**
 * Services with a pending-reload marker: the apply script writes one before it renames a service's
 * files into place and removes it once the service has loaded them. Value: the files named in it.
 */
export const pendingReloadsFact: Fact<Record<string, string[]>> = {
  name: 'pending-reloads',
  // Builtins only, and one `cat` per marker (normally none).
  command: `for f in ${PENDING_DIR}/*; do [ -f "$f" ] && printf '@pending %s\\n' "\${f##*/}" && cat "$f"; done`,
  parse(stdout) {
    const pending: Record<string, string[]> = {};
    for (const block of stdout.split(/^@pending /m).slice(1)) {
      const [service = '', ...paths] = lines(block);
      if (service) pending[service] = paths.map((p) => p.trim());
    }
    return pending;
  },
};

/** Staging files next to the managed files (a run killed before its cleanup leaves them behind). */
export function leftoverStagingFact(paths: readonly string[]): Fact<string[]> {
  const candidates = paths.flatMap((p) => [stagedPath(p), checkPath(p)]);
  return {
    name: 'leftover-staging',
    command: candidates.map((c) => `[ -e ${quote(c)} ] && echo ${quote(c)}`).join('\n'),
    parse: (stdout) => lines(stdout).filter((l) => candidates.includes(l)),
  };
}

/**
 * dpkg stopped mid-operation: its journal (/var/lib/dpkg/updates) is not empty, and apt refuses every
 * install ("dpkg was interrupted") until `dpkg --configure -a` runs. (A managed package merely unpacked
 * reads as not installed, and apt-get install finishes it by itself.) Builtins only.
 */
export const dpkgInterruptedFact: Fact<boolean> = {
  name: 'dpkg-interrupted',
  command: 'for f in /var/lib/dpkg/updates/*; do [ -e "$f" ] && echo journal; break; done',
  parse: (stdout) => lines(stdout).length > 0,
};

export interface RunLockFact {
  readonly holder: string; // "controller ci-7 (pid 4121, user deploy), run 5f2c…, since 2026-11-24T14:02:11Z"
  /** Its apply script still runs (same pid, same start time); otherwise the lock is stale. */
  readonly alive: boolean;
}

/** The lock an apply script holds while it changes this host; undefined when free. */
export const runLockFact: Fact<RunLockFact | undefined> = {
  name: 'run-lock',
  command: [
    `if [ -s ${LOCK_FILE} ]; then`,
    `  cat ${LOCK_FILE}`,
    `  while IFS== read -r k v; do [ "$k" = script_pid ] && [ -r "/proc/$v/stat" ] && { printf 'now_stat='; cat "/proc/$v/stat"; }; done < ${LOCK_FILE}`,
    'fi',
  ].join('\n'),
  parse(stdout) {
    const kv = parseKeyValues(stdout);
    if (!kv.script_pid) return undefined;
    // Field 22 of /proc/PID/stat is the start time; counted after the ")" that closes the command name.
    const now = kv.now_stat?.slice(kv.now_stat.lastIndexOf(')') + 2).split(' ')[19];
    return {
      holder: describeLockHolder(kv),
      alive: now !== undefined && now === kv.script_start,
    };
  },
};
