// What the lab needs from the controller, checked before anything is made. On Debian/Ubuntu as root the
// missing tools are installed with apt (nothing installed by hand survives to CI); anywhere else a
// LabError says in one line what is missing and how to fix it.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { LabError } from '../errors.js';
import { exists, run, which } from './util.js';

/** Tool → the Debian package that provides it. */
const TOOLS: readonly (readonly [string, string])[] = [
  ['systemd-nspawn', 'systemd-container'],
  ['mmdebstrap', 'mmdebstrap'],
  ['dpkg-scanpackages', 'dpkg-dev'],
  ['ip', 'iproute2'],
  ['openssl', 'openssl'],
  ['ssh', 'openssh-client'],
  ['nc', 'netcat-openbsd'],
  ['nsenter', 'util-linux'],
  ['tar', 'tar'],
  ['nft', 'nftables'], // lab multicast block: unicast VRRP proven on a bridge that drops multicast VRRP
];
const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** Root on Linux: enough for the commands that only look at or tear down what `up` made. */
export function requireRootLinux(): void {
  if (process.platform !== 'linux') {
    throw new LabError(`the lab needs Linux (systemd-nspawn containers on overlayfs); this machine runs ${process.platform}`);
  }
  if (process.getuid?.() !== 0) {
    throw new LabError('the lab needs root (it mounts overlays, creates a bridge and boots containers): run it as root, e.g. `sudo npx ha-provision lab up`');
  }
}

let aptUpdated = false;

async function missingPackages(): Promise<string[]> {
  const missing = TOOLS.filter(([tool]) => !which(tool)).map(([, pkg]) => pkg);
  if (!(await exists(DEBIAN_KEYRING))) missing.push('debian-archive-keyring'); // mmdebstrap on Ubuntu
  return [...new Set(missing)];
}

async function overlayAvailable(): Promise<boolean> {
  const fs = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  return /\toverlay$/m.test(fs);
}

/** Everything `lab up` needs; installs missing Debian packages when it can. */
export async function ensurePrereqs(log: (line: string) => void): Promise<void> {
  requireRootLinux();
  let missing = await missingPackages();
  if (missing.length > 0) {
    const debianLike = (await exists('/etc/debian_version')) && !!which('apt-get');
    if (!debianLike) {
      throw new LabError(`the lab needs ${missing.join(', ')} (Debian package names); install them with your package manager and run again`);
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!aptUpdated) {
      log('apt-get update (lab prerequisites)');
      const u = await run('apt-get', ['update'], { env });
      if (u.code !== 0) throw new LabError(`apt-get update failed while installing lab prerequisites (${missing.join(', ')}): ${u.stderr.trim().split('\n').pop() ?? ''}`);
      aptUpdated = true;
    }
    log(`apt-get install ${missing.join(' ')}`);
    const r = await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
    if (r.code !== 0) {
      throw new LabError(`apt-get install ${missing.join(' ')} failed: ${r.stderr.trim().split('\n').pop() ?? ''}; install them by hand and run again`);
    }
    missing = await missingPackages();
    if (missing.length > 0) throw new LabError(`still missing after apt-get install: ${missing.join(', ')}`);
  }
  if (!(await overlayAvailable())) {
    if (which('modprobe')) await run('modprobe', ['overlay']);
    if (!(await overlayAvailable())) {
      throw new LabError("overlayfs is not available (no 'overlay' in /proc/filesystems): run `modprobe overlay`, or use a kernel with CONFIG_OVERLAY_FS");
    }
  }
  const nspawn = await run('systemd-nspawn', ['--version']).catch(() => undefined);
  if (!nspawn || nspawn.code !== 0) throw new LabError('systemd-nspawn does not run here: install the systemd-container package');
  if (cgroupRoots().length === 0) throw new LabError('no cgroup filesystem under /sys/fs/cgroup: mount cgroup2 (or the systemd hierarchy) there');
}

/**
 * The cgroup hierarchies a host's processes are placed in: on a hybrid machine both the unified and the
 * named systemd hierarchy (systemd-nspawn on a hybrid host places the container's processes in both), on a
 * pure cgroup2 machine its root.
 */
export function cgroupRoots(): string[] {
  const hybrid = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'].filter((p) => existsSync(`${p}/cgroup.procs`));
  if (hybrid.length > 0) return hybrid;
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : [];
}

/** Raises a sysctl of this machine to `wanted` for a lab of `hosts`, never lowers it; says so. */
async function raiseSysctl(key: string, wanted: number, hosts: number, log: (line: string) => void): Promise<void> {
  const path = `/proc/sys/${key.replace(/\./g, '/')}`;
  const now = Number((await readFile(path, 'utf8')).trim());
  if (now >= wanted) return;
  log(`sysctl ${key}=${wanted} (was ${now}; ${hosts} hosts)`);
  await writeFile(path, `${wanted}\n`);
}

/**
 * Every broadcast on the lab's bridge (an lb's ARP for each server, VRRP adverts) is queued once per
 * port; at 1000 (the default) a 200-host lab drops frames, and then lbs miss each other's adverts (both
 * take the VIP) and backends look unreachable. 50 per host, at least the default.
 */
export const raiseNetBacklog = (hosts: number, log: (line: string) => void): Promise<void> =>
  raiseSysctl('net.core.netdev_max_backlog', Math.max(1000, 50 * hosts), hosts, log);

/**
 * The kernel's ARP table is one for every network namespace, and its hard limit (gc_thresh3, 1024 by
 * default) counts the entries of all of them: each lb holds one per server it checks, each server one per
 * lb, and this machine one per host. A 200-host lab passed 1024 ("neighbor table overflow!"): the servers
 * whose entries came last were unreachable from the lbs, and both lbs took the VIP. 8 entries per host
 * (gc_thresh2, where the kernel starts pruning hard: 4 per host), at least the defaults.
 */
export async function raiseArpTable(hosts: number, log: (line: string) => void): Promise<void> {
  await raiseSysctl('net.ipv4.neigh.default.gc_thresh3', Math.max(1024, 8 * hosts), hosts, log);
  await raiseSysctl('net.ipv4.neigh.default.gc_thresh2', Math.max(512, 4 * hosts), hosts, log);
}

/**
 * Each booted host's systemd takes several inotify instances: ~16 hosts exhaust the default 128, and
 * 1024 left 31 of 200 hosts unbooted (a host that finds none left stops booting). 12 per host, at least 1024.
 */
export const raiseInotifyLimit = async (hosts: number, log: (line: string) => void): Promise<void> =>
  hosts <= 16 ? undefined : raiseSysctl('fs.inotify.max_user_instances', Math.max(1024, 12 * hosts), hosts, log);
