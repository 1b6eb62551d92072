// Pure: the files as they were after version N of a host's history (or before its last version), as
// desired state. A file's state at N is what the newest version up to N wrote; if no version up to N
// wrote it, what the first later version found before replacing it; if none touched it, it is as it is.
import type { FileFact } from '../facts/facts.js';
import type { Version } from '../facts/history.js';
import { HostError } from '../errors.js';
import type { Resource, Retarget } from '../resources/types.js';

export type Target = number | 'previous';

/**
 * The version a target names on this host, or why it cannot be had. Numbers are shared by the hosts of
 * one run, so a host that no run changed since an older version is already as version N had it.
 */
export function targetVersion(versions: readonly Version[], target: Target): number | string {
  const newest = versions.at(-1)?.number;
  if (newest === undefined) return 0; // nothing was ever applied here: nothing to put back
  const n = target === 'previous' ? newest - 1 : Math.min(target, newest);
  const oldest = versions[0]!.number;
  if (n < oldest - 1) return `version ${n} is no longer kept (the oldest kept is ${oldest}; ${oldest - 1} is the state before it)`;
  return n;
}

/** Each file's content at version n: a FileFact, or 'absent' (it did not exist then). Files no version touched are left out. */
export function filesAt(versions: readonly Version[], n: number): Map<string, FileFact | 'absent'> {
  const state = new Map<string, FileFact | 'absent'>();
  const paths = new Set(versions.flatMap((v) => Object.keys(v.after)));
  for (const path of paths) {
    const written = versions.filter((v) => v.number <= n && v.after[path]).at(-1);
    if (written) {
      state.set(path, written.after[path]!);
      continue;
    }
    const next = versions.find((v) => v.number > n && v.after[path]);
    if (next) state.set(path, next.before[path] ?? 'absent');
  }
  return state;
}

/**
 * Desired state for a rollback: the config files services load, as they were at version n, and the
 * services that load them; nothing else (packages, kernel state, routes and their records follow the
 * inventory, not the history). A file no version touched, or one that did not exist then, stays as it
 * is now (a rollback restores; it does not delete).
 */
export function rollbackResources(
  resources: readonly Resource[],
  files: ReadonlyMap<string, FileFact | 'absent'>,
  now: Readonly<Record<string, FileFact | undefined>>,
): Resource[] {
  const loaded = new Set(resources.flatMap((r) => (r.kind === 'service' ? r.reloadOn : [])));
  return resources.flatMap((r): Resource[] => {
    if (r.kind === 'service') return [r];
    if (r.kind !== 'file' || !loaded.has(r.path)) return [];
    const then = files.get(r.path);
    const wanted = then && then !== 'absent' ? then : now[r.path];
    return wanted ? [{ ...r, content: wanted.content, owner: wanted.owner, group: wanted.group, mode: wanted.mode }] : [];
  });
}

/** A rollback as desired state: every host's loaded config files as they were at the target version. */
export function rollbackTo(target: Target): Retarget {
  return {
    history: true,
    resources(resources, facts, host) {
      const n = targetVersion(facts.history, target);
      if (typeof n === 'string') throw new HostError(host, `cannot roll back: ${n}`);
      return rollbackResources(resources, filesAt(facts.history, n), facts.files);
    },
    target(facts) {
      if (facts.history.length === 0) return undefined; // nothing was ever applied here: nothing put back
      const n = targetVersion(facts.history, target);
      // --to N names one state of the fleet: a host no run changed since an older version is as N had it.
      return typeof n === 'string' ? undefined : typeof target === 'number' ? target : n;
    },
  };
}

/** "3  run 5f2c… by deploy from controller ci-7 at …: /etc/haproxy/haproxy.cfg": what was applied when. */
export function describeVersions(versions: readonly Version[]): string[] {
  return versions.map((v) => `${v.number}  ${v.run}: ${Object.keys(v.after).join(', ')}`);
}
