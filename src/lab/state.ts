// Where a lab keeps its things, and the JSON state file that remembers which processes are its own.
//
// /var/lib/ha-provision/lab/<name>/         one directory per lab, removed by `lab down`
//   state.json                              this file's LabState
//   id_ed25519, id_ed25519.pub, known_hosts the lab's SSH identity and its hosts' keys
//   ca.crt, ca.key (0600)                   the lab CA (cert.ts), which signs:
//   standin.crt, standin.key                the apiserver stand-in's TLS certificate (per lab)
//   hosts/<host>/{upper,work,root}          the overlay per host (upper survives stop/start)
//   hosts/<host>/console.log                the nspawn console of the host's last boot
// ~/.cache/ha-provision/                    image and repository caches, shared and kept
import { sha256 } from '../facts/facts.js';
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LabError } from '../errors.js';
import { isAlive, procId, sleep, type ProcId } from './util.js';

export type Role = 'lb' | 'server';

export const STATE_ROOT = process.env.HA_PROVISION_LAB_STATE ?? '/var/lib/ha-provision/lab';
export const CACHE_ROOT = process.env.HA_PROVISION_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ha-provision');

/** Under each cgroup hierarchy root: <root>/ha-provision/<lab>/<host> holds one host's processes. */
export const CGROUP_TOP = 'ha-provision';

export interface HostState {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly Role[];
  nspawn?: ProcId | undefined; // the systemd-nspawn process
  init?: ProcId | undefined; // the container's PID 1 (child of nspawn)
  veth?: string | undefined; // the real host-side interface name (nspawn shortens long ones)
}

export interface LabState {
  readonly version: 1;
  readonly name: string;
  readonly subnet: string;
  readonly bridge: string;
  readonly rootfs: string; // the unpacked base the overlays sit on
  readonly repo: string; // the flat apt repository bind-mounted at /srv/repo
  inventoryFile?: string | undefined;
  inventorySha256?: string | undefined; // so `down` removes the inventory only if it is still ours
  hosts: Record<string, HostState>;
}

export const LAB_NAME = /^[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?$/;

export function checkLabName(name: string): void {
  if (!LAB_NAME.test(name)) {
    throw new LabError(`lab name "${name}" is not allowed: use 1–16 lowercase letters, digits and inner dashes, starting with a letter (it prefixes host names and the bridge name)`);
  }
}

export const labDir = (name: string): string => join(STATE_ROOT, name);
export const hostDir = (name: string, host: string): string => join(labDir(name), 'hosts', host);
export const statePath = (name: string): string => join(labDir(name), 'state.json');

export interface HostPaths {
  readonly dir: string;
  readonly upper: string;
  readonly work: string;
  readonly root: string;
  readonly console: string;
}

export function hostPaths(lab: string, host: string): HostPaths {
  const dir = hostDir(lab, host);
  return { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), root: join(dir, 'root'), console: join(dir, 'console.log') };
}

export { sha256 };

/**
 * Bridge name: at most 15 characters (IFNAMSIZ), derived from the lab name. Short names stay readable
 * (`hap-lab`); longer ones keep a prefix plus a hash so two labs never share a bridge.
 */
export function bridgeName(lab: string): string {
  const plain = `hap-${lab}`;
  return plain.length <= 15 ? plain : `hap-${lab.slice(0, 5)}${sha256(lab).slice(0, 6)}`;
}

/** VRRP router id: 51 (the kubeadm docs' value) for the default lab, otherwise derived from the name. */
export function virtualRouterId(lab: string): number {
  if (lab === 'lab') return 51;
  return 1 + (parseInt(sha256(`vrid:${lab}`).slice(0, 8), 16) % 255);
}

export async function loadState(name: string): Promise<LabState | undefined> {
  try {
    const state = JSON.parse(await readFile(statePath(name), 'utf8')) as LabState;
    return state.version === 1 && state.name === name ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic write (temp + rename), so a killed run never leaves half a state file. */
export async function saveState(state: LabState): Promise<void> {
  await mkdir(labDir(state.name), { recursive: true });
  const tmp = `${statePath(state.name)}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, statePath(state.name));
}

// ---- one lock per lab, so two commands never boot or tear down the same hosts at once ----

const lockPath = (name: string): string => join(STATE_ROOT, '.locks', `${name}.lock`);

/** Runs `fn` holding the lab's lock; a lock left by a dead process is taken over. */
export async function withLabLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const path = lockPath(name);
  await mkdir(join(STATE_ROOT, '.locks'), { recursive: true });
  const me = procId(process.pid)!;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: ProcId | undefined;
      try {
        holder = JSON.parse(await readFile(path, 'utf8')) as ProcId;
      } catch {
        holder = undefined; // being written right now, or garbage: look again shortly
      }
      if (holder && !isAlive(holder)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new LabError(`lab "${name}" is busy: another ha-provision (pid ${holder?.pid ?? '?'}) holds ${path}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
