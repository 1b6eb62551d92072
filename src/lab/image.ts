// The lab's caches under ~/.cache/ha-provision/, each built once into a temp path and renamed into place,
// so a killed build never leaves half a cache behind:
//
//   image-<key>/base.tar     Debian 12 minbase (mmdebstrap), key = hash of everything that shapes it
//   image-<key>/repo/        a flat apt repository with haproxy, keepalived, nginx and whatever they need
//                            beyond the base — resolved and downloaded inside the same mmdebstrap run,
//                            against the same mirror and the base's own dpkg status, so it is exactly
//                            what a host lacks; haproxy in every version the mirror and its security
//                            suite offer (two), so upgrading a pinned version can be tested
//   image-<key>/repo/versions.json   those haproxy versions, oldest first (labPackageVersions())
//   rootfs-<key>/            base.tar unpacked and prepared for booting (the overlays' lower dir)
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LabError } from '../errors.js';
import { CACHE_ROOT, sha256 } from './state.js';
import { STANDIN_SCRIPT, STANDIN_SCRIPT_PATH, STANDIN_UNIT, STANDIN_UNIT_TEXT } from './standin.js';
import { exists, isAlive, listDir, must, procStart, run, safeRemove } from './util.js';

const SUITE = 'bookworm';
/** Where the second haproxy version comes from: the release's security suite, newer than the release. */
const SECURITY_SUITE = `${SUITE}-security`;
/** The base image's packages: systemd to boot, sshd and sudo to be reached, curl/nc for the probes, python3 for the stand-in. */
export const BASE_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'iproute2', 'curl', 'netcat-openbsd', 'sudo', 'ca-certificates', 'procps', 'python3'];
/** What the hosts can `apt-get install` from the local repository (plus everything these need). */
export const REPO_PACKAGES = ['haproxy', 'keepalived', 'nginx', 'libnginx-mod-stream'];
/** Leave documentation out of the image and of every later install on the hosts (speed, size). */
const DPKG_OPTS = ['path-exclude=/usr/share/man/*', 'path-exclude=/usr/share/doc/*', 'path-include=/usr/share/doc/*/copyright', 'path-exclude=/usr/share/locale/*', 'path-exclude=/usr/share/info/*'];
/** Bump when the build steps below change in a way the inputs above do not show. */
const IMAGE_RECIPE = 2; // 2: haproxy from the security suite too, versions.json
const ROOTFS_RECIPE = 1;

export const REPO_MOUNT = '/srv/repo';

export interface Image {
  readonly rootfs: string;
  readonly repo: string;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'i386', ppc64: 'ppc64el', s390x: 's390x' };

function imageKey(): string {
  const inputs = { IMAGE_RECIPE, SUITE, SECURITY_SUITE, variant: 'minbase', arch: ARCH[process.arch] ?? process.arch, BASE_PACKAGES, REPO_PACKAGES, DPKG_OPTS };
  return sha256(JSON.stringify(inputs)).slice(0, 16);
}

function rootfsKey(image: string): string {
  return sha256(JSON.stringify({ image, ROOTFS_RECIPE, STANDIN_SCRIPT, STANDIN_UNIT_TEXT, SSHD_CONFIG, DISABLED_UNITS })).slice(0, 16);
}

async function aptSourceUris(): Promise<string[]> {
  const uris: string[] = [];
  const deb822 = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => '');
  for (const m of deb822.matchAll(/^URIs:\s*(.+)$/gm)) uris.push(...m[1]!.trim().split(/\s+/));
  const list = await readFile('/etc/apt/sources.list', 'utf8').catch(() => '');
  for (const m of list.matchAll(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)) uris.push(m[1]!);
  // An Ubuntu mirror carries no Debian at all.
  return uris.filter((u) => /^(https?|file):/.test(u) && !/ubuntu/i.test(u));
}

/** The Debian mirror this machine's apt already uses (never a host written into the code). */
export async function debianMirror(): Promise<string> {
  if (process.env.HA_PROVISION_LAB_MIRROR) return process.env.HA_PROVISION_LAB_MIRROR;
  // The security archive does not carry the main suite.
  return (await aptSourceUris()).find((u) => !/security/i.test(u)) ?? 'http://deb.debian.org/debian';
}

/** The Debian security archive this machine's apt already uses (it carries only the -security suites). */
export async function debianSecurityMirror(): Promise<string> {
  if (process.env.HA_PROVISION_LAB_SECURITY_MIRROR) return process.env.HA_PROVISION_LAB_SECURITY_MIRROR;
  return (await aptSourceUris()).find((u) => /security/i.test(u)) ?? 'http://deb.debian.org/debian-security';
}

/**
 * The package versions the lab's repository carries, oldest first; haproxy has (at least) two, so a
 * test can install the older one pinned and upgrade. Hosts get the newest unless pinned.
 */
export async function labPackageVersions(repo = join(CACHE_ROOT, `image-${imageKey()}`, 'repo')): Promise<{ haproxy: string[] }> {
  const text = await readFile(join(repo, 'versions.json'), 'utf8').catch(() => undefined);
  if (text === undefined) throw new LabError(`the lab's package repository ${repo} is not built yet (lab up builds it)`);
  return JSON.parse(text) as { haproxy: string[] };
}

/** Versions of `name` in a Packages file, oldest first (dpkg's ordering, not a string sort). */
async function packageVersions(packages: string, name: string): Promise<string[]> {
  const found: string[] = [];
  for (const stanza of packages.split(/\n\s*\n/)) {
    const version = /^Version:\s*(\S+)/m.exec(stanza)?.[1];
    if (new RegExp(`^Package:\\s*${name}\\s*$`, 'm').test(stanza) && version) found.push(version);
  }
  const sorted: string[] = [];
  for (const v of found) {
    let i = 0;
    while (i < sorted.length && (await run('dpkg', ['--compare-versions', sorted[i]!, 'lt', v])).code === 0) i++;
    sorted.splice(i, 0, v);
  }
  return sorted;
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Removes temp build dirs left by killed builds (their owner PID is gone). */
async function sweepStaleTemps(): Promise<void> {
  for (const entry of await listDir(CACHE_ROOT)) {
    const m = /^\.tmp-[a-z]+-[0-9a-f]+-(\d+)-(\d+)$/.exec(entry);
    if (m && !isAlive({ pid: Number(m[1]), start: m[2]! })) await safeRemove(join(CACHE_ROOT, entry));
  }
}

async function tempDir(kind: string, key: string): Promise<string> {
  const dir = join(CACHE_ROOT, `.tmp-${kind}-${key}-${process.pid}-${procStart(process.pid) ?? 0}`);
  await safeRemove(dir);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Renames a finished temp build into place; if a concurrent build got there first, keeps theirs. */
async function publish(tmp: string, dir: string): Promise<void> {
  try {
    await rename(tmp, dir);
  } catch (error) {
    if (!(await exists(dir))) throw error;
    await safeRemove(tmp);
  }
}

function runLogged(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(logFile, { flags: 'a' });
    out.on('open', () => {
      const child = spawn(cmd, args, { env, stdio: ['ignore', out, out] });
      child.on('error', reject);
      child.on('close', (code) => {
        out.close();
        resolve(code ?? 1);
      });
    });
    out.on('error', reject);
  });
}

async function tail(file: string, lines: number): Promise<string> {
  return (await readFile(file, 'utf8').catch(() => '')).trim().split('\n').slice(-lines).join('\n');
}

async function buildImage(dir: string, key: string, log: (line: string) => void): Promise<void> {
  const mirror = await debianMirror();
  const security = await debianSecurityMirror();
  const tmp = await tempDir('image', key);
  const repo = join(tmp, 'repo');
  const scratch = join(tmp, 'scratch'); // mmdebstrap's own temp dir, so a killed build's leftovers stay inside tmp
  await mkdir(repo);
  await mkdir(scratch);
  const logFile = join(tmp, 'build.log');
  log(`building the base image and package repository (once; about a minute) from ${mirror} and ${security}`);
  const started = Date.now();
  const inChroot = '/tmp/ha-provision-repo';
  const securityList = '/etc/apt/sources.list.d/ha-provision-security.list';
  const download = `apt-get install --download-only -y -o Dir::Cache::archives=${inChroot}`;
  const args = [
    '--variant=minbase',
    `--include=${BASE_PACKAGES.join(',')}`,
    ...DPKG_OPTS.map((o) => `--dpkgopt=${o}`),
    // The security suite (the newer haproxy) for the repository's downloads only: the base stays the
    // plain release, and mmdebstrap's cleanup drops the suite's package lists with the others.
    `--customize-hook=echo ${shq(`deb ${security} ${SECURITY_SUITE} main`)} > "$1${securityList}"`,
    `--customize-hook=chroot "$1" apt-get update`,
    `--customize-hook=mkdir -p "$1${inChroot}/partial"`,
    `--customize-hook=chroot "$1" ${download} ${REPO_PACKAGES.join(' ')}`,
    // Then every other haproxy version apt knows (the release's), with what it needs.
    `--customize-hook=chroot "$1" sh -ec ${shq(`for v in $(apt-cache madison haproxy | cut -d"|" -f2); do ${download} haproxy=$v; done`)}`,
    `--customize-hook=mv "$1${inChroot}"/*.deb ${shq(repo)}/`,
    `--customize-hook=rm -rf "$1${inChroot}" "$1${securityList}"`,
    SUITE,
    join(tmp, 'base.tar'),
    mirror,
  ];
  const code = await runLogged('mmdebstrap', args, logFile, { ...process.env, TMPDIR: scratch });
  if (code !== 0) {
    throw new LabError(`mmdebstrap failed (exit ${code}); the last lines of ${logFile}:\n${await tail(logFile, 15)}`);
  }
  await rm(scratch, { recursive: true, force: true });
  await must('sh', ['-c', 'dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null'], { cwd: repo });
  const packages = await readFile(join(repo, 'Packages'));
  // -m above keeps every version of a package, not just the newest.
  const haproxy = await packageVersions(packages.toString('utf8'), 'haproxy');
  if (haproxy.length < 2) {
    throw new LabError(
      `the lab needs two haproxy versions (${SUITE} from ${mirror}, newer ${SECURITY_SUITE} from ${security}) to test upgrades; ` +
        `the downloads gave ${haproxy.length ? haproxy.join(', ') : 'none'} (log: ${logFile})`,
    );
  }
  await writeFile(join(repo, 'versions.json'), `${JSON.stringify({ haproxy })}\n`);
  // A Release file keeps apt from warning about an unsigned, undated repository on every update.
  await writeFile(
    join(repo, 'Release'),
    `Origin: ha-provision-lab\nLabel: ha-provision-lab\nSuite: lab\nCodename: lab\nDate: ${new Date().toUTCString()}\nSHA256:\n ${sha256(packages)} ${packages.length} Packages\n`,
  );
  const debs = (await readdir(repo)).filter((f) => f.endsWith('.deb')).length;
  await publish(tmp, dir);
  log(`base image and repository (${debs} packages) built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const SSHD_CONFIG = `# ha-provision lab: one host key, generated per host on the controller before first boot
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
`;

/** Timers and units that would run apt or disk jobs by themselves in the middle of a test. */
const DISABLED_UNITS = ['apt-daily.timer', 'apt-daily-upgrade.timer', 'dpkg-db-backup.timer', 'e2scrub_all.timer', 'fstrim.timer', 'e2scrub_reap.service'];

async function buildRootfs(image: string, dir: string, key: string, log: (line: string) => void): Promise<void> {
  const tmp = await tempDir('rootfs', key);
  const started = Date.now();
  await must('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-xpf', join(image, 'base.tar'), '-C', tmp]);
  // No internet on the hosts: only the local repository, bind-mounted read-only at /srv/repo.
  await rm(join(tmp, 'etc/apt/sources.list'), { force: true });
  for (const f of await listDir(join(tmp, 'etc/apt/sources.list.d'))) await rm(join(tmp, 'etc/apt/sources.list.d', f), { force: true });
  await writeFile(join(tmp, 'etc/apt/sources.list.d/lab.list'), `deb [trusted=yes] file:${REPO_MOUNT} ./\n`);
  await mkdir(join(tmp, REPO_MOUNT.slice(1)), { recursive: true });
  // openssh-server's postinst made host keys: every host would share them. Each host gets its own.
  for (const f of await listDir(join(tmp, 'etc/ssh'))) if (f.startsWith('ssh_host_')) await unlink(join(tmp, 'etc/ssh', f));
  await mkdir(join(tmp, 'etc/ssh/sshd_config.d'), { recursive: true });
  await writeFile(join(tmp, 'etc/ssh/sshd_config.d/10-ha-provision-lab.conf'), SSHD_CONFIG);
  await rm(join(tmp, 'etc/hostname'), { force: true }); // nspawn -M sets the hostname; per host file too
  await writeFile(join(tmp, 'etc/machine-id'), ''); // per host, written before its first boot
  await mkdir(join(tmp, STANDIN_SCRIPT_PATH, '..'), { recursive: true });
  await writeFile(join(tmp, STANDIN_SCRIPT_PATH.slice(1)), STANDIN_SCRIPT);
  await chmod(join(tmp, STANDIN_SCRIPT_PATH.slice(1)), 0o755);
  await writeFile(join(tmp, 'etc/systemd/system', STANDIN_UNIT), STANDIN_UNIT_TEXT); // enabled on servers only
  await must('chroot', [tmp, 'systemctl', 'enable', 'systemd-networkd', 'ssh']);
  const r = await run('chroot', [tmp, 'systemctl', 'disable', ...DISABLED_UNITS]);
  if (r.code !== 0) log(`note: could not disable some timers in the image: ${r.stderr.trim()}`);
  await symlink('/dev/null', join(tmp, 'etc/systemd/system/console-getty.service')).catch(() => undefined);
  await publish(tmp, dir);
  log(`host root filesystem prepared in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The cached image, repository and rootfs, building whatever is missing. */
export async function ensureImage(log: (line: string) => void): Promise<Image> {
  await mkdir(CACHE_ROOT, { recursive: true });
  await sweepStaleTemps();
  const key = imageKey();
  const image = join(CACHE_ROOT, `image-${key}`);
  if (!(await exists(join(image, 'repo', 'Release')))) await buildImage(image, key, log);
  const rkey = rootfsKey(key);
  const rootfs = join(CACHE_ROOT, `rootfs-${rkey}`);
  if (!(await exists(join(rootfs, 'etc/apt/sources.list.d/lab.list')))) await buildRootfs(image, rootfs, rkey, log);
  return { rootfs, repo: join(image, 'repo') };
}
