// One lab host: an overlay root over the cached rootfs, a systemd-nspawn container booted from it with
// its own cgroup subtree, and the way back down. Processes are only ever signalled by their recorded
// PID (checked against its start time) or because they sit in this host's own cgroup subtree.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rmdir, stat, symlink, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LabError } from '../errors.js';
import { findLink, httpsGet, sshBanner } from './net.js';
import { cgroupRoots } from './prereqs.js';
import { generateEd25519, isValidEd25519PublicKey } from './sshkey.js';
import { STANDIN_TLS_DIR, STANDIN_UNIT } from './standin.js';
import { CGROUP_TOP, hostPaths, sha256, type HostState, type LabState } from './state.js';
import { REPO_MOUNT } from './image.js';
import { childrenOf, exists, isAlive, mountsUnder, must, procId, run, signal, sleep, unmountUnder, waitFor, type ProcId } from './util.js';

/** SIGRTMIN+3 with glibc (SIGRTMIN = 34): systemd's "halt" request, the container's clean power-off. */
const SIGRTMIN_PLUS_3 = 37;

// ---- cgroups ----

export function cgroupDirs(lab: string, host?: string): string[] {
  return cgroupRoots().map((root) => (host ? join(root, CGROUP_TOP, lab, host) : join(root, CGROUP_TOP, lab)));
}

async function walkDirs(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const below = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => walkDirs(join(dir, e.name))));
  return [...below.flat(), dir]; // deepest first
}

/** Every PID in the cgroup subtree(s) at `dirs`. */
export async function cgroupPids(dirs: readonly string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const top of dirs) {
    for (const dir of await walkDirs(top)) {
      const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const p of text.split('\n')) if (p) pids.add(Number(p));
    }
  }
  return [...pids];
}

/** rmdir of a cgroup subtree, deepest first; retried while exiting processes still hold it. */
export async function removeCgroups(dirs: readonly string[]): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    let left = false;
    for (const top of dirs) {
      for (const dir of await walkDirs(top)) {
        await rmdir(dir).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') left = true;
        });
      }
    }
    if (!left) return;
    await sleep(100);
  }
}

/** SIGKILL, by PID, whatever still runs in the subtree: the container's processes first, then the rest. */
async function killCgroup(lab: string, host: string): Promise<void> {
  const dirs = cgroupDirs(lab, host);
  const payload = dirs.map((d) => join(d, 'payload'));
  for (const set of [payload, dirs]) {
    for (let round = 0; round < 50; round += 1) {
      const pids = await cgroupPids(set);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await sleep(100);
    }
  }
}

// ---- the root filesystem ----

export interface HostFiles {
  readonly lab: LabState;
  readonly prefix: number;
  readonly authorizedKey: string; // the lab's public key line
  readonly hostsFile: string; // /etc/hosts for every host of the lab
  readonly tlsCert: string;
  readonly tlsKey: string;
}

async function put(path: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text, { mode });
  await chmod(path, mode);
}

/** Mounts the host's overlay root and, the first time, writes its identity into it; returns its SSH host public key. */
export async function prepareRoot(h: HostState, files: HostFiles): Promise<string> {
  const p = hostPaths(files.lab.name, h.name);
  for (const path of [files.lab.rootfs, p.upper, p.work, p.root]) {
    if (/[,:\s]/.test(path)) throw new LabError(`path ${path} contains a comma, colon or space, which overlayfs/nspawn options cannot carry`);
  }
  await Promise.all([p.upper, p.work, p.root].map((d) => mkdir(d, { recursive: true })));
  if ((await mountsUnder(p.root)).length === 0) {
    await must('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${files.lab.rootfs},upperdir=${p.upper},workdir=${p.work}`, p.root]);
  }
  const r = (path: string): string => join(p.root, path);
  const keyPath = r('etc/ssh/ssh_host_ed25519_key');
  const prepared = join(p.dir, '.prepared');
  // Only before the first boot: a host booted again (`lab start`) finds its disk exactly as it left it
  // (but for a host key sshd would refuse, which is replaced).
  if (await exists(prepared)) return ensureHostKey(keyPath, h.name);
  await put(r('etc/hostname'), `${h.name}\n`);
  await put(r('etc/hosts'), files.hostsFile);
  await put(r('etc/machine-id'), `${sha256(`machine-id:${files.lab.name}/${h.name}`).slice(0, 32)}\n`, 0o444);
  await put(
    r('etc/systemd/network/10-lab.network'),
    // 10- sorts before the image's 80-container-host0.network, which would give a 169.254 address.
    // No IPv6 link-local: networkd-wait-online is then done at once instead of after ~8 s.
    // Carrier loss (a `lab partition`) must not drop the address or routes: the link comes back on heal.
    [
      '# ha-provision lab: the host address on the lab bridge',
      '[Match]',
      'Name=host0',
      '',
      '[Network]',
      `Address=${h.address}/${files.prefix}`,
      'LinkLocalAddressing=no',
      'IPv6AcceptRA=no',
      'ConfigureWithoutCarrier=yes',
      'IgnoreCarrierLoss=yes',
      '',
    ].join('\n'),
  );
  await mkdir(r('root/.ssh'), { recursive: true, mode: 0o700 });
  await chmod(r('root/.ssh'), 0o700);
  await put(r('root/.ssh/authorized_keys'), `${files.authorizedKey.trim()}\n`, 0o600);
  const hostKey = await ensureHostKey(keyPath, h.name);
  const wants = r(`etc/systemd/system/multi-user.target.wants/${STANDIN_UNIT}`);
  if (h.roles.includes('server')) {
    await put(r(`${STANDIN_TLS_DIR.slice(1)}/tls.crt`), files.tlsCert, 0o644);
    await put(r(`${STANDIN_TLS_DIR.slice(1)}/tls.key`), files.tlsKey, 0o600);
    await mkdir(join(wants, '..'), { recursive: true });
    await rm(wants, { force: true }); // (a symlink into the container: exists() on the controller would not see it)
    await symlink(`/etc/systemd/system/${STANDIN_UNIT}`, wants);
  } else {
    await rm(wants, { force: true });
  }
  await writeFile(prepared, '');
  return hostKey;
}

/**
 * The host's SSH host key, generated on the controller before its first boot so known_hosts is written
 * without waiting for sshd; it lives in the upper dir and stays the same across stop/start. A key sshd
 * would refuse (a malformed one from an older version, see sshkey.ts) is replaced. Returns the public line.
 */
async function ensureHostKey(keyPath: string, host: string): Promise<string> {
  const pub = (await readFile(`${keyPath}.pub`, 'utf8').catch(() => '')).trim();
  if (isValidEd25519PublicKey(pub) && (await exists(keyPath))) return pub;
  const pair = generateEd25519(`root@${host}`);
  await put(keyPath, pair.private, 0o600);
  await put(`${keyPath}.pub`, `${pair.public}\n`, 0o644);
  return pair.public;
}

/** The host public key a booted (or prepared) host serves. */
export async function hostPublicKey(lab: string, host: string): Promise<string | undefined> {
  return (await readFile(join(hostPaths(lab, host).root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8').catch(() => undefined))?.trim();
}

// ---- boot ----

/**
 * Starts the container detached (own session) after moving the launching shell into the host's own
 * cgroup subtree in every hierarchy — without that, containers share one …/payload group and parallel
 * unit starts fail now and then with 219/CGROUP. `--register=no --keep-unit` because this machine's
 * PID 1 is not systemd.
 */
export async function spawnHost(h: HostState, lab: LabState): Promise<ProcId> {
  const p = hostPaths(lab.name, h.name);
  const dirs = cgroupDirs(lab.name, h.name);
  for (const d of dirs) await mkdir(d, { recursive: true });
  const args = [
    '-D', p.root,
    '-M', h.name,
    '-b',
    '--register=no',
    '--keep-unit',
    `--network-bridge=${lab.bridge}`,
    `--bind-ro=${lab.repo}:${REPO_MOUNT}`,
    '--link-journal=no',
    '--resolv-conf=off',
    '--timezone=off',
    '--console=read-only',
  ];
  const script = 'IFS=:; for g in $HAP_CGROUPS; do echo $$ > "$g/cgroup.procs" || exit 97; done; unset IFS HAP_CGROUPS; exec systemd-nspawn "$@"';
  const log = openSync(p.console, 'w');
  try {
    const child = spawn('/bin/sh', ['-c', script, 'sh', ...args], {
      detached: true, // setsid: the container outlives this process
      stdio: ['ignore', log, log],
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HAP_CGROUPS: dirs.join(':') },
    });
    child.unref();
    const pid = child.pid;
    const id = pid === undefined ? undefined : procId(pid);
    if (!id) throw new LabError(`${h.name}: systemd-nspawn did not start (see ${p.console})`);
    return id;
  } finally {
    closeSync(log);
  }
}

/** The container's init: the nspawn process's child (its PID 1 in the container's namespace). */
export function findInit(nspawn: ProcId | undefined): ProcId | undefined {
  if (!isAlive(nspawn)) return undefined;
  const kids = childrenOf(nspawn.pid);
  return kids.length === 1 ? procId(kids[0]!) : undefined;
}

/** nspawn names the host side `vb-<machine>` and shortens it past 15 characters, keeping the full name as an altname. */
export async function resolveVeth(host: string): Promise<string | undefined> {
  return (await findLink(`vb-${host}`))?.name;
}

/** How many console lines an error about a host that did not come up carries. */
const CONSOLE_TAIL_LINES = 15;

async function consoleTail(lab: string, host: string, lines = CONSOLE_TAIL_LINES): Promise<string> {
  const text = await readFile(hostPaths(lab, host).console, 'utf8').catch(() => '');
  // The console is a terminal stream: drop colour codes and carriage returns so the lines read plainly.
  const plain = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '').trimEnd();
  return plain ? plain.split('\n').slice(-lines).join('\n') : '(empty)';
}

/** Runs a short shell script inside the host (all of init's namespaces), bounded in time; its output or undefined. */
async function inside(init: ProcId, script: string, seconds = 5): Promise<string | undefined> {
  const r = await run('nsenter', ['-t', String(init.pid), '-a', 'timeout', '-s', 'KILL', String(seconds), 'sh', '-c', script], { timeoutMs: (seconds + 3) * 1000 }).catch(() => undefined);
  return r && r.stdout.trim() ? r.stdout.trimEnd() : undefined;
}

/** Which of `units` systemd inside the host has given up on (state "failed": no restart is coming). */
async function failedUnits(init: ProcId, units: readonly string[]): Promise<string[]> {
  const out = await inside(init, `systemctl is-failed ${units.join(' ')} 2>/dev/null`);
  const states = out?.split('\n') ?? [];
  return units.filter((_, i) => states[i]?.trim() === 'failed');
}

const INSIDE_REPORT = [
  'echo "system state: $(systemctl is-system-running 2>&1)"',
  'failed=$(systemctl list-units --state=failed --plain --no-legend 2>/dev/null | while read -r u _; do printf "%s " "$u"; done)',
  'echo "failed units: ${failed:-none}"',
  // What the unit's own processes said (sshd's reason), not systemd's restart bookkeeping about it.
  'echo "host0: $(ip -br -4 addr show dev host0 2>&1)"',
  'echo "listening on :22: $(ss -Hltn "sport = :22" 2>/dev/null | head -n 1 | grep -q . && echo yes || echo no)"',
  'n=0; for u in $failed; do n=$((n + 1)); [ $n -le 3 ] || break; echo "journal of $u:"; { journalctl -b "_SYSTEMD_UNIT=$u" -n 40 --no-pager -o cat 2>/dev/null | awk "!seen[\\$0]++" | tail -n 6 | grep . || journalctl -b -u "$u" -n 6 --no-pager -o cat 2>/dev/null; } | sed "s/^/  /"; done',
].join('\n');

/**
 * What a host that did not come up looks like, for the error that reports it: its nspawn process (still
 * running or not), its link on the bridge, from inside (failed units and their journal, address, sshd)
 * and the last console lines. Read at once, before anything (a caller's `lab down`) removes the host.
 */
export async function describeHost(lab: string, h: HostState): Promise<string> {
  const lines: string[] = [];
  const nspawnAlive = isAlive(h.nspawn);
  const init = nspawnAlive ? (isAlive(h.init) ? h.init : findInit(h.nspawn)) : undefined;
  lines.push(
    `  nspawn: ${h.nspawn ? `pid ${h.nspawn.pid}, ${nspawnAlive ? 'still running' : 'exited'}` : 'not started'}` +
      (nspawnAlive ? (init ? `; container init pid ${init.pid}` : '; no container init (yet)') : ''),
  );
  const link = await findLink(h.veth ?? `vb-${h.name}`);
  lines.push(`  link: ${link ? `${link.name}, ${link.up ? 'up' : 'DOWN'}, ${link.master ? `on bridge ${link.master}` : 'on no bridge'}` : `vb-${h.name} missing`}`);
  if (init) {
    const report = await inside(init, INSIDE_REPORT);
    lines.push(report ? report.split('\n').map((l) => `  ${l}`).join('\n') : '  (nothing could be read inside the host)');
  }
  const tail = await consoleTail(lab, h.name);
  lines.push(`  last ${CONSOLE_TAIL_LINES} console lines (${hostPaths(lab, h.name).console}):`, ...tail.split('\n').map((l) => `    ${l}`));
  return lines.join('\n');
}

/** Seconds of a boot before a host is asked whether its sshd (stand-in) unit has failed, and how often after. */
const UNIT_CHECK_AFTER_MS = 10_000;
const UNIT_CHECK_EVERY_MS = 5_000;

/**
 * Waits until the host serves SSH (an SSH identification line on :22) and, on freshly booted servers,
 * the stand-in answers GET /healthz with 200 "ok". Fails early when nspawn exits or systemd inside has
 * given up on ssh.service (or the stand-in); every failure carries describeHost().
 */
export async function waitReady(h: HostState, lab: LabState, ca: string, timeoutMs: number, standin = h.roles.includes('server')): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const units = ['ssh.service', ...(standin ? [STANDIN_UNIT] : [])];
  let nextUnitCheck = started + UNIT_CHECK_AFTER_MS;
  let sshOk = false;
  const fail = async (what: string): Promise<never> => {
    throw new LabError(`${h.name} (${h.address}) ${what}; console: ${hostPaths(lab.name, h.name).console}\n${await describeHost(lab.name, h)}`);
  };
  for (;;) {
    if (h.nspawn && !isAlive(h.nspawn)) await fail(`stopped while booting (its systemd-nspawn exited after ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    if (!sshOk) sshOk = (await sshBanner(h.address, 1000)) !== undefined;
    if (sshOk) {
      if (!standin) return;
      const r = await httpsGet(h.address, 6443, '/healthz', ca, 1000);
      if (r && r.status === 200) return;
    }
    if (Date.now() > deadline) {
      await fail(`did not ${sshOk ? 'serve the apiserver stand-in on :6443' : 'answer SSH'} within ${Math.round(timeoutMs / 1000)} s`);
    }
    if (Date.now() >= nextUnitCheck) {
      nextUnitCheck = Date.now() + UNIT_CHECK_EVERY_MS;
      const init = isAlive(h.init) ? h.init : findInit(h.nspawn);
      const failed = init ? await failedUnits(init, sshOk ? units.slice(1) : units) : [];
      if (failed.length > 0) await fail(`will not become ready: ${failed.join(', ')} failed inside it (systemd gave up restarting)`);
    }
    await sleep(100);
  }
}

// ---- down ----

export type StopMode = 'poweroff' | 'crash';

/**
 * Stops a host and removes its runtime leftovers (processes, veth, overlay mount, cgroups), keeping
 * its upper dir. `poweroff`: SIGRTMIN+3 to the container's init, wait for nspawn to exit, only then kill
 * nspawn if it is still there. `crash`: SIGKILL to init, like pulling the plug. Either way whatever is
 * left in the host's cgroup subtree is killed by PID, so leftovers of a killed run go too.
 */
export async function stopHost(lab: string, h: HostState, mode: StopMode): Promise<void> {
  const nspawn = h.nspawn;
  const rootId = (await mountsUnder(hostPaths(lab, h.name).root)).length > 0 ? await stat(hostPaths(lab, h.name).root).catch(() => undefined) : undefined;
  let init = isAlive(h.init) ? h.init : findInit(nspawn);
  const nspawnGone = (): true | undefined => (isAlive(nspawn) ? undefined : true);
  if (mode === 'poweroff' && signal(init, SIGRTMIN_PLUS_3)) {
    await waitFor(() => (isAlive(nspawn) || isAlive(init) ? undefined : true), 15_000, 50);
  }
  if (isAlive(init) || isAlive(nspawn)) {
    init = isAlive(init) ? init : findInit(nspawn);
    signal(init, 'SIGKILL'); // kills the container's whole PID namespace; nspawn then exits by itself
    await waitFor(nspawnGone, 5_000, 50);
    signal(nspawn, 'SIGKILL');
    await waitFor(nspawnGone, 5_000, 50);
  }
  await killCgroup(lab, h.name);
  // The veth dies with the container's network namespace; a moment later at most.
  const names = [`vb-${h.name}`, ...(h.veth ? [h.veth] : [])];
  await waitFor(async () => ((await Promise.all(names.map(findLink))).some(Boolean) ? undefined : true), 3_000, 50);
  for (const name of names) {
    const link = await findLink(name);
    if (link) await run('ip', ['link', 'del', 'dev', link.name]);
  }
  await removeNspawnRuntime(h.name, rootId);
  await unmountUnder(hostPaths(lab, h.name).root);
  await removeCgroups(cgroupDirs(lab, h.name));
  h.nspawn = undefined;
  h.init = undefined;
  h.veth = undefined;
}

/**
 * What nspawn keeps under /run/systemd/nspawn for a machine and, on a /run that is not a tmpfs (like
 * here), does not always remove: its image lock file (named after the root's device and inode) and its
 * mount-propagation directory.
 */
async function removeNspawnRuntime(host: string, rootId: { dev: number; ino: number } | undefined): Promise<void> {
  if (rootId) await rm(`/run/systemd/nspawn/locks/inode-${rootId.dev}:${rootId.ino}`, { force: true });
  await rmdir(`/run/systemd/nspawn/propagate/${host}`).catch(() => undefined);
}

/** A command inside the host, via nsenter into all of init's namespaces; the process is placed in the host's cgroup so teardown finds strays. */
export function execArgs(lab: string, h: HostState, argv: readonly string[]): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const dirs = cgroupDirs(lab, h.name).map((d) => join(d, 'exec'));
  const script = 'IFS=:; for g in $HAP_CGROUPS; do mkdir -p "$g" && echo $$ > "$g/cgroup.procs"; done; unset IFS HAP_CGROUPS; exec nsenter -t "$0" -a -- "$@"';
  return {
    cmd: '/bin/sh',
    args: ['-c', script, String(h.init!.pid), ...argv],
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', HAP_CGROUPS: dirs.join(':') },
  };
}
