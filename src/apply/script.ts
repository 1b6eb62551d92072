// Pure: a host's changes → ONE POSIX sh script (fed over stdin, so the upload rides in the same exec).
// Order: leftovers, packages, kernel state, then files the Ansible way — stage next to the target,
// validate the staged copy, and only when every file validated: back up, rename atomically — then
// services. Each step prints a marker; on failure the script stops and the caller shows that step's output.
//
// Once a host has the whole script it finishes it, whatever happens to the controller: sh runs nothing
// until it has read the closing brace, and a hang-up or a broken pipe (controller killed, link cut) does
// not stop it. A service that must load new files gets a pending-reload marker before the renames, removed
// once it has loaded them; a run that dies in between leaves the marker, and the next plan reloads it.
import { dirname } from 'node:path';
import type { Change, ServiceAction } from '../resources/types.js';
import { command, quote, writeFileCommand } from '../transport/quote.js';
import { parseKeyValues } from '../facts/facts.js';
import { journalFaultsCommand } from '../facts/services.js';
import { checkPath, describeLockHolder, HISTORY_DIR, LOCK_FILE, newestVersionScript, pendingPath, PENDING_DIR, stagedPath } from '../staging.js';

export const STEP_MARK = '@@ha-provision-step ';
export const FAIL_MARK = '@@ha-provision-failed ';
export const DONE_MARK = '@@ha-provision-done';
const LOCKED_MARK = '@@ha-provision-locked ';
const STALE_MARK = '@@ha-provision-stale ';

/** Who runs this apply, written into the host's lock while it holds it. */
export interface RunIdentity {
  readonly id: string;
  readonly controller: string; // host name of the machine running ha-provision
  readonly pid: number;
  readonly user: string;
  readonly started: string; // ISO 8601
  /** Take a lock whose holder still runs: stop that apply script first (--force-unlock). */
  readonly forceUnlock?: boolean;
  /** The history number this run takes on every host it changes (one past the newest it saw). */
  readonly version?: number;
}

export interface Step {
  readonly label: string;
  readonly script: string; // commands chained with && so the first failure fails the step
  /** Set on the step that makes a service load its files: its failure means the new config did not load. */
  readonly loads?: string;
}

type FileChange = Extract<Change, { kind: 'file' }>;
type AbsentFileChange = Extract<Change, { kind: 'absent-file' }>;
type ServiceChange = Extract<Change, { kind: 'service' }>;

function installStep(change: Extract<Change, { kind: 'package' }>): Step {
  const names = [...change.install, ...change.upgrade.map((u) => u.name)];
  // apt spells a version name=VERSION, dnf and yum name-VERSION.
  const spec = (name: string): string => (change.versions[name] === undefined ? name : `${name}${change.manager === 'apt-get' ? '=' : '-'}${change.versions[name]}`);
  const downgrade = change.upgrade.some((u) => isOlder(u.to, u.from));
  const script =
    change.manager === 'apt-get'
      ? // --force-confold: a package upgrade never replaces a config this tool manages.
        `apt-get update -q && ${command('apt-get', 'install', '-y', '-q', '-o', 'Dpkg::Options::=--force-confold', ...(downgrade ? ['--allow-downgrades'] : []), ...names.map(spec))}`
      : command(change.manager, downgrade ? 'downgrade' : 'install', '-y', '-q', ...names.map(spec));
  const install = change.install.length > 0 ? [`install ${change.install.map(spec).join(', ')}`] : [];
  const upgrade = change.upgrade.length > 0 ? [`change ${change.upgrade.map((u) => `${u.name} ${u.from} → ${u.to}`).join(', ')}`] : [];
  return { label: [...install, ...upgrade].join('; '), script };
}

/** Version order good enough to tell a downgrade (dpkg's rules on digits and the rest, without epochs' subtleties). */
export function isOlder(a: string, b: string): boolean {
  return a.localeCompare(b, 'en', { numeric: true }) < 0;
}

function stageStep(change: FileChange): Step {
  const staged = stagedPath(change.path);
  return {
    label: `upload ${change.path}`,
    script: `${command('mkdir', '-p', dirname(change.path))} &&\n${writeFileCommand(
      staged,
      change.content,
      `${command('chown', `${change.owner}:${change.group}`, staged)} && ${command('chmod', change.mode, staged)}`,
    )}`,
  };
}

/**
 * Validates the staged copy. A file that names another file of the same change set (keepalived.conf
 * names check_apiserver.sh) is checked as it will run: through a twin whose references point at the
 * staged siblings, since the real paths may not exist yet on a first run.
 */
function validateStep(change: FileChange & { validate: string }, files: readonly FileChange[]): Step {
  const siblings = files.filter((f) => f.path !== change.path && change.content.includes(f.path));
  const run = (file: string): string => change.validate.split('%s').join(quote(file));
  if (siblings.length === 0) return { label: `validate ${change.path}`, script: run(stagedPath(change.path)) };
  const twin = siblings.reduce((text, f) => text.split(f.path).join(stagedPath(f.path)), change.content);
  const check = checkPath(change.path);
  return {
    label: `validate ${change.path}`,
    script: [
      writeFileCommand(check, twin, command('chmod', change.mode, check)),
      `${run(check)}; rc=$?; rm -f ${quote(check)}; [ $rc -eq 0 ]`,
    ].join('\n'),
  };
}

/** Keeps the previous version and the new one in this run's history directory ($version), then renames. */
function commitStep(change: FileChange): Step {
  const keep = (side: 'before' | 'after', from: string): string =>
    `mkdir -p "$version/${side}"${quote(dirname(change.path))} && cp -p ${quote(from)} "$version/${side}"${quote(change.path)} && `;
  const before = change.before ? keep('before', change.path) : '';
  return { label: `install ${change.path}`, script: `${before}${keep('after', stagedPath(change.path))}${command('mv', '-f', stagedPath(change.path), change.path)}` };
}

/** Keeps the last version in this run's history, then removes the file. */
function removeStep(change: AbsentFileChange): Step {
  return {
    label: `remove ${change.path}`,
    script: `mkdir -p "$version/before"${quote(dirname(change.path))} && cp -p ${quote(change.path)} "$version/before"${quote(change.path)} && ${command('rm', '-f', change.path)}`,
  };
}

/** Written before any rename: each service that must load new files, with the files it must load. */
function markPendingStep(services: readonly ServiceChange[]): Step | undefined {
  const due = services.filter((s) => s.loads.length > 0);
  if (due.length === 0) return undefined;
  return {
    label: `mark ${due.map((s) => s.name).join(', ')} as due to load new files`,
    script: [
      command('mkdir', '-p', PENDING_DIR),
      ...due.map((s) => `printf '%s\\n' ${s.loads.map(quote).join(' ')} > ${quote(pendingPath(s.name))}`),
    ].join(' &&\n'),
  };
}

const serviceCommand: Record<ServiceAction, (unit: string) => string> = {
  enable: (unit) => command('systemctl', 'enable', '-q', unit),
  // The package may have started it already with its stock config: reload-or-restart takes either way.
  start: (unit) => command('systemctl', 'reload-or-restart', unit),
  reload: (unit) => command('systemctl', 'reload', unit),
  restart: (unit) => command('systemctl', 'restart', unit),
  stop: (unit) => command('systemctl', 'stop', unit),
  disable: (unit) => command('systemctl', 'disable', '-q', unit),
};

/** Stopping or disabling a service the tool no longer runs: nothing to load, nothing to check after. */
const isLeaving = (change: ServiceChange): boolean => change.actions.every((a) => a === 'stop' || a === 'disable');

/**
 * Whether a service loaded its config: systemctl returns before the daemon has (haproxy -Ws reports
 * "reloading" until its master has tried), so wait for the state to settle, then require it active and
 * none of its fault patterns logged since the (re)load — haproxy's master keeps its old workers and stays
 * active when the new config cannot bind a port, and says so only in its log.
 */
function loadedCheck(change: ServiceChange): string {
  const unit = quote(change.name);
  return [
    `i=0; while state=$(systemctl is-active ${unit}); [ "$state" = reloading ] || [ "$state" = activating ]; do [ $i -ge 75 ] && break; i=$((i + 1)); sleep 0.2; done`,
    `[ "$state" = active ] || { echo "${change.name} is $state after loading its new config:"; journalctl -u ${quote(`${change.name}.service`)} -b -o cat -n 10 --no-pager; false; }`,
    ...(change.logFaults.length > 0 ? [`faults=$(${journalFaultsCommand(change.name, change.logFaults, '', { transports: change.logTransports ?? [] })}); [ -z "$faults" ] || { printf '%s\\n' "$faults"; false; }`] : []),
  ].join(' &&\n');
}

/**
 * One step per action. The action that makes the service load its files checks that it did, and only
 * then removes the pending-reload marker.
 */
function serviceSteps(change: ServiceChange): Step[] {
  return change.actions.map((action) =>
    action === 'enable' || action === 'stop' || action === 'disable'
      ? { label: `${action} ${change.name}`, script: serviceCommand[action](change.name) }
      : {
          label: `${action} ${change.name}`,
          script: `${serviceCommand[action](change.name)} &&\n${loadedCheck(change)} &&\n${command('rm', '-f', pendingPath(change.name))}`,
          loads: change.name,
        },
  );
}

/**
 * The plan was computed from what each file held then: a file edited since (by hand, or by another
 * run) stops this host before anything changes, rather than being overwritten unseen.
 */
function unchangedSincePlanStep(files: readonly (FileChange | AbsentFileChange)[]): Step | undefined {
  if (files.length === 0) return undefined;
  const checks = files.map((f) =>
    f.before
      ? `[ "$(sha256sum < ${quote(f.path)} | cut -d' ' -f1)" = ${f.before.sha256} ] || { echo ${quote(`${f.path} changed since the plan was made`)}; bad=1; }`
      : `[ ! -e ${quote(f.path)} ] || { echo ${quote(`${f.path} appeared since the plan was made`)}; bad=1; }`,
  );
  return { label: 'check that no file changed since the plan', script: ['bad=0', ...checks, '[ $bad -eq 0 ]'].join('\n') };
}

/** Where a run keeps its lock and its history on the host; tests point them at a directory of their own. */
export interface HostPaths {
  readonly lockFile: string;
  readonly historyDir: string;
  readonly keepVersions: number;
}
export const HOST_PATHS: HostPaths = { lockFile: LOCK_FILE, historyDir: HISTORY_DIR, keepVersions: 10 };

export function applySteps(changes: readonly Change[], paths: HostPaths = HOST_PATHS): Step[] {
  const of = <K extends Change['kind']>(kind: K) => changes.filter((c): c is Extract<Change, { kind: K }> => c.kind === kind);
  const files = of('file');
  const removed = of('absent-file');
  const leftovers = of('leftovers').flatMap((c) => c.paths);
  const services = of('service');
  const mark = markPendingStep(services);
  const unchanged = unchangedSincePlanStep([...files, ...removed]);
  const versioned = files.length > 0 || removed.length > 0;
  return [
    ...(unchanged ? [unchanged] : []),
    ...(leftovers.length > 0 ? [{ label: 'remove staging files of an interrupted run', script: command('rm', '-f', ...leftovers) }] : []),
    ...of('package-repair').map(() => ({ label: 'finish the interrupted dpkg run (dpkg --configure -a)', script: 'dpkg --configure -a --force-confdef --force-confold < /dev/null' })),
    ...of('package').map(installStep),
    ...of('sysctl').map((c) => ({
      label: `sysctl ${c.key}=${c.to}`,
      script: `printf '%s\\n' ${quote(c.to)} > ${quote(`/proc/sys/${c.key.replace(/\./g, '/')}`)}`,
    })),
    ...of('route').map((c) => ({
      label: `route ${c.action} ${c.route.to} via ${c.route.via} dev ${c.route.dev}`,
      script: command('ip', 'route', c.action === 'add' ? 'replace' : 'del', c.route.to, 'via', c.route.via, 'dev', c.route.dev),
    })),
    ...files.map(stageStep),
    ...files.filter((c): c is FileChange & { validate: string } => c.validate !== undefined).map((c) => validateStep(c, files)),
    ...(mark ? [mark] : []),
    // Once every new file validated, and before any is loaded: a service that leaves frees its ports
    // (haproxy's, which nginx takes over on a topology switch).
    ...services.filter(isLeaving).flatMap(serviceSteps),
    ...(versioned ? [{ label: 'record this version', script: 'mkdir -p "$version" && printf \'%s\\n\' "$run_info" > "$version/run"' }] : []),
    ...files.map(commitStep),
    ...removed.map(removeStep),
    ...([...files, ...removed].some((c) => c.daemonReload) ? [{ label: 'systemctl daemon-reload', script: 'systemctl daemon-reload' }] : []),
    ...services.filter((s) => !isLeaving(s)).flatMap(serviceSteps),
    ...(versioned ? [pruneStep(paths)] : []),
  ];
}

/** Keeps the newest versions of the history; older ones go. */
function pruneStep(paths: HostPaths): Step {
  return {
    label: `keep the last ${paths.keepVersions} versions`,
    script: `n=0; for d in $(ls -1 ${quote(paths.historyDir)} | sort -rn); do case $d in *[!0-9]*) continue ;; esac; n=$((n + 1)); [ $n -le ${paths.keepVersions} ] || rm -rf ${quote(paths.historyDir)}/"$d"; done`,
  };
}

/**
 * Each step's output is captured by the shell itself (`$( … )`), so a step never writes to a pipe the
 * controller may have closed; the shell's own writes only fail quietly once the trap has caught SIGPIPE.
 * Traps with a handler (not ignored) reset to the default in the commands a step runs.
 */
export function applyScript(steps: readonly Step[], changes: readonly Change[], run: RunIdentity, paths: HostPaths = HOST_PATHS): string {
  const { lockFile } = paths;
  const staged = changes.flatMap((c) => (c.kind === 'file' ? [quote(stagedPath(c.path)), quote(checkPath(c.path))] : []));
  // On exit the lock is emptied (the kernel releases the flock) and no staged file is left behind.
  const cleanup = [`: > ${quote(lockFile)}`, ...(staged.length > 0 ? [`rm -f ${staged.join(' ')}`] : [])].join('; ');
  return [
    '{',
    'export LC_ALL=C DEBIAN_FRONTEND=noninteractive',
    "trap ':' HUP PIPE",
    ...lockPrologue(run, quote(lockFile)),
    ...(changes.some((c) => c.kind === 'file' || c.kind === 'absent-file') ? versionPrologue(run, paths.historyDir) : []),
    // An interrupt or termination exits through the EXIT trap too; SIGKILL leaves the staged files to
    // the next facts read, and the lock stale, to be taken over by the next run.
    `trap ${quote(cleanup)} EXIT`,
    "trap 'exit 1' INT TERM",
    ...steps.map(
      (step, i) =>
        // 9>&-: only the script holds the lock, not what a step starts (a hung step cannot keep it).
        `echo '${STEP_MARK}${i}'\nout=$(\n{\n${step.script}\n} 9>&- 2>&1\n); rc=$?\n[ -z "$out" ] || printf '%s\\n' "$out"\n[ $rc -eq 0 ] || { echo '${FAIL_MARK}${i}'; exit 1; }`,
    ),
    `echo '${DONE_MARK}'`,
    '}',
    '',
  ].join('\n');
}

/** A validator names the staged copy it checked; the user knows the file by its real path. */
export function withRealPaths(output: string, changes: readonly Change[]): string {
  return changes.reduce(
    (text, c) => (c.kind === 'file' ? text.split(stagedPath(c.path)).join(c.path).split(checkPath(c.path)).join(c.path) : text),
    output,
  );
}

/**
 * One apply at a time on a host: flock on the lock file (fd 9) for the script's life. A lock held by a
 * live script stops this one, naming its holder; one left by a script killed outright is taken over,
 * and said so. With forceUnlock the live holder's process group (its script and whatever hangs in it)
 * is stopped first — never our own group.
 */
function lockPrologue(run: RunIdentity, lock: string): string[] {
  const info = [`run=${run.id}`, `controller=${run.controller}`, `pid=${run.pid}`, `user=${run.user}`, `started=${run.started}`].map(quote).join(' ');
  const takeLive = run.forceUnlock
    ? `{ holder=$(sed -n 's/^script_pgid=//p' ${lock}); [ -n "$holder" ] && [ "$holder" -gt 1 ] && [ "$holder" != "$3" ] && kill -TERM -"$holder" 2>/dev/null; flock -w 15 9; }`
    : 'false';
  return [
    // Fields after the command name in /proc/PID/stat: $3 is the process group, $22 the start time
    // (which tells a live holder from a reused pid).
    'read -r stat < /proc/$$/stat; set -- ${stat##*) }',
    `exec 9>>${lock} || exit 1`,
    `if ! flock -n 9 && ! ${takeLive}; then echo '${LOCKED_MARK}'; cat ${lock}; exit 3; fi`,
    `if [ -s ${lock} ]; then echo '${STALE_MARK}'; cat ${lock}; echo '${STALE_MARK}end'; fi`,
    `pgid=$3; shift 19; printf '%s\\n' ${info} "script_pid=$$" "script_pgid=$pgid" "script_start=$1" > ${lock}`,
  ];
}

/** Under the lock: this run's history directory is the next number (created only once files validated). */
function versionPrologue(run: RunIdentity, historyDir: string): string[] {
  const dir = quote(historyDir);
  return [
    newestVersionScript(historyDir),
    // The run's own number, so that one run is one number on every host it changes; past the host's newest.
    `n=${run.version ?? 0}; [ "$n" -gt "$last" ] || n=$((last + 1)); version=${dir}/$n`,
    `run_info=${quote([`run=${run.id}`, `controller=${run.controller}`, `user=${run.user}`, `started=${run.started}`].join('\n'))}`,
  ];
}

export interface StepOutcome {
  readonly ok: boolean;
  readonly completed: number; // steps that finished
  readonly failedStep?: number;
  readonly output?: string; // the failed step's output
  /** The script's end was never reported: the connection or the shell died while this step ran. */
  readonly lost?: boolean;
  /** Another run holds this host's lock: its description. Nothing was changed. */
  readonly lockedBy?: string;
  /** The lock was left by a run killed outright; this run took it over. Its description. */
  readonly tookOverFrom?: string;
}

const holderOf = (text: string): string => describeLockHolder(parseKeyValues(text));

/** Pure: reads the markers back. A missing marker means the connection or shell died mid-way. */
export function parseApplyOutput(stdout: string, stepCount: number): StepOutcome {
  const locked = stdout.indexOf(`${LOCKED_MARK}\n`);
  if (locked >= 0) return { ok: false, completed: 0, lockedBy: holderOf(stdout.slice(locked)) };
  const stale = new RegExp(`^${STALE_MARK}\n([\\s\\S]*?)^${STALE_MARK}end$`, 'm').exec(stdout);
  const tookOver = stale ? { tookOverFrom: holderOf(stale[1] ?? '') } : {};
  const failed = new RegExp(`^${FAIL_MARK}(\\d+)$`, 'm').exec(stdout);
  const started = [...stdout.matchAll(new RegExp(`^${STEP_MARK}(\\d+)$`, 'gm'))].map((m) => Number(m[1]));
  const last = started.length > 0 ? Math.max(...started) : -1;
  if (failed) {
    const index = Number(failed[1]);
    const begin = stdout.indexOf(`${STEP_MARK}${index}\n`) + `${STEP_MARK}${index}\n`.length;
    return { ok: false, completed: index, failedStep: index, output: stdout.slice(begin, failed.index).trim(), ...tookOver };
  }
  // Only the end marker proves the last step finished: a shell killed mid-step prints nothing more.
  if (!new RegExp(`^${DONE_MARK}$`, 'm').test(stdout)) {
    return { ok: false, completed: Math.max(last, 0), failedStep: Math.max(last, 0), lost: true, output: 'the script stopped without reporting (connection lost or shell killed)', ...tookOver };
  }
  return { ok: true, completed: stepCount, ...tookOver };
}
