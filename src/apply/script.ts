// Pure: a host's changes → ONE POSIX sh script (fed over stdin, so the upload rides in the same exec).
// Order: packages, kernel state, then files the Ansible way — stage next to the target, validate the
// staged copy, and only when every file validated: back up, rename atomically — then services.
// Each step prints a marker; on failure the script stops and the caller shows that step's output.
import { dirname, basename, join } from 'node:path';
import type { Change, ServiceAction } from '../resources/types.js';
import { command, quote, writeFileCommand } from '../transport/quote.js';

export const BACKUP_DIR = '/var/lib/ha-provision/backup';
export const STEP_MARK = '@@ha-provision-step ';
export const FAIL_MARK = '@@ha-provision-failed ';
export const DONE_MARK = '@@ha-provision-done';

export interface Step {
  readonly label: string;
  readonly script: string; // commands chained with && so the first failure fails the step
}

type FileChange = Extract<Change, { kind: 'file' }>;

export const stagedPath = (path: string): string => join(dirname(path), `.${basename(path)}.ha-provision-new`);
export const backupPath = (path: string): string => `${BACKUP_DIR}${path}`;

function installStep(change: Extract<Change, { kind: 'package' }>): Step {
  const script =
    change.manager === 'apt-get'
      ? // --force-confold: a package upgrade never replaces a config this tool manages.
        `apt-get update -q && ${command('apt-get', 'install', '-y', '-q', '-o', 'Dpkg::Options::=--force-confold', ...change.install)}`
      : command(change.manager, 'install', '-y', '-q', ...change.install);
  return { label: `install ${change.install.join(', ')}`, script };
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

export const checkPath = (path: string): string => join(dirname(path), `.${basename(path)}.ha-provision-check`);

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

function commitStep(change: FileChange): Step {
  const backup = change.before
    ? `${command('mkdir', '-p', dirname(backupPath(change.path)))} && ${command('cp', '-p', change.path, backupPath(change.path))} && `
    : '';
  return { label: `install ${change.path}`, script: `${backup}${command('mv', '-f', stagedPath(change.path), change.path)}` };
}

const serviceCommand: Record<ServiceAction, (unit: string) => string> = {
  enable: (unit) => command('systemctl', 'enable', '-q', unit),
  // The package may have started it already with its stock config: reload-or-restart takes either way.
  start: (unit) => command('systemctl', 'reload-or-restart', unit),
  reload: (unit) => command('systemctl', 'reload', unit),
  restart: (unit) => command('systemctl', 'restart', unit),
};

export function applySteps(changes: readonly Change[]): Step[] {
  const of = <K extends Change['kind']>(kind: K) => changes.filter((c): c is Extract<Change, { kind: K }> => c.kind === kind);
  const files = of('file');
  return [
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
    ...files.map(commitStep),
    ...(files.some((c) => c.daemonReload) ? [{ label: 'systemctl daemon-reload', script: 'systemctl daemon-reload' }] : []),
    ...of('service').flatMap((c) => c.actions.map((a) => ({ label: `${a} ${c.name}`, script: serviceCommand[a](c.name) }))),
  ];
}

export function applyScript(steps: readonly Step[], changes: readonly Change[]): string {
  const staged = changes.flatMap((c) => (c.kind === 'file' ? [quote(stagedPath(c.path)), quote(checkPath(c.path))] : []));
  return [
    'export LC_ALL=C DEBIAN_FRONTEND=noninteractive',
    // Whatever happens, no staged file is left behind (after a commit they no longer exist).
    // A signal exits through the EXIT trap too.
    ...(staged.length > 0 ? [`trap ${quote(`rm -f ${staged.join(' ')}`)} EXIT`, "trap 'exit 1' HUP INT TERM"] : []),
    ...steps.map((step, i) => `echo '${STEP_MARK}${i}'\n{\n${step.script}\n} 2>&1 || { echo '${FAIL_MARK}${i}'; exit 1; }`),
    `echo '${DONE_MARK}'`,
    '',
  ].join('\n');
}

export interface StepOutcome {
  readonly ok: boolean;
  readonly completed: number; // steps that finished
  readonly failedStep?: number;
  readonly output?: string; // the failed step's output
}

/** Pure: reads the markers back. A missing marker means the connection or shell died mid-way. */
export function parseApplyOutput(stdout: string, stepCount: number): StepOutcome {
  const failed = new RegExp(`^${FAIL_MARK}(\\d+)$`, 'm').exec(stdout);
  const started = [...stdout.matchAll(new RegExp(`^${STEP_MARK}(\\d+)$`, 'gm'))].map((m) => Number(m[1]));
  const last = started.length > 0 ? Math.max(...started) : -1;
  if (failed) {
    const index = Number(failed[1]);
    const begin = stdout.indexOf(`${STEP_MARK}${index}\n`) + `${STEP_MARK}${index}\n`.length;
    return { ok: false, completed: index, failedStep: index, output: stdout.slice(begin, failed.index).trim() };
  }
  // Only the end marker proves the last step finished: a shell killed mid-step prints nothing more.
  if (!new RegExp(`^${DONE_MARK}$`, 'm').test(stdout)) {
    return { ok: false, completed: Math.max(last, 0), failedStep: Math.max(last, 0), output: 'the script stopped without reporting (connection lost or shell killed)' };
  }
  return { ok: true, completed: stepCount };
}
