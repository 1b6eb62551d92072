// Where a run keeps its work on a host. The apply script writes these; the facts read looks for what a
// run that died left behind, so the next plan can finish or clean up its work.
import { basename, dirname, join } from 'node:path';
import { quote } from './transport/quote.js';

export const STATE_DIR = '/var/lib/ha-provision';
/**
 * One numbered directory per run that changed files on this host: `run` (who, when), and each changed
 * file's previous version under `before/` and new version under `after/`. `rollback` reads it back.
 */
export const HISTORY_DIR = `${STATE_DIR}/history`;
/** One file per service whose config changed on disk and that has not loaded it yet. */
export const PENDING_DIR = `${STATE_DIR}/pending`;

/** The new version of a managed file, written next to it so the final rename is atomic. */
export const stagedPath = (path: string): string => join(dirname(path), `.${basename(path)}.ha-provision-new`);
/** A twin of a staged file whose references point at staged siblings, for validators (see apply). */
export const checkPath = (path: string): string => join(dirname(path), `.${basename(path)}.ha-provision-check`);
export const pendingPath = (service: string): string => `${PENDING_DIR}/${service}`;
/**
 * Held (flock) by an apply script while it changes the host, and holding its holder's description
 * then. On tmpfs: a reboot frees it. Left non-empty only by a script killed outright (a stale lock).
 */
export const LOCK_FILE = '/run/ha-provision.lock';

/** The lock's holder as users read it, from the key=value lines the apply script writes into the lock. */
export const describeLockHolder = (kv: Readonly<Record<string, string>>): string =>
  `controller ${kv.controller ?? '?'} (pid ${kv.pid ?? '?'}, user ${kv.user ?? '?'}), run ${kv.run ?? '?'}, since ${kv.started ?? '?'}`;

/** Shell that sets $last to the newest version number in a history directory (0 if none); builtins only. */
export const newestVersionScript = (historyDir: string): string =>
  `last=0; for d in ${quote(historyDir)}/*; do n=\${d##*/}; case $n in ''|*[!0-9]*) continue ;; esac; [ "$n" -gt "$last" ] && last=$n; done`;
