// Records one run of up, rollout or rollback in the controller's history however it ends: with its
// report, with the error it threw, or interrupted (Ctrl-C, SIGTERM, or the process leaving early). The
// last two are written synchronously from the signal or exit handler: nothing asynchronous runs there.
// A run killed outright (SIGKILL, power loss) leaves no record; its hosts still say what was applied.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants, hostname, userInfo } from 'node:os';
import { newRunId, type HostReport, type Progress, type RunReport } from '../agent/orchestrator.js';
import { redactor } from '../redact.js';
import { buildRecord, recordLine, type RecordedCommand, type RunContext, type RunEnd } from './record.js';
import { appendRecord, prepareHistory } from './store.js';

export interface Recording {
  readonly file: string;
  readonly runId: string; // the run must take this id (RunOptions.runId)
  /** Wraps the run's progress (if any) to learn each host's last step and when applying starts. */
  observe(progress: Progress | undefined): Progress;
  /** The plan, as the run is about to apply it. */
  planned(plan: readonly HostReport[]): void;
  end(report: RunReport, exitCode: number): void;
  fail(error: unknown): void;
  /** Stops listening for signals; a run that neither ended nor failed by now is recorded as interrupted. */
  close(): void;
}

/** The file's hash; a file gone unreadable since it was loaded must not fail the run over its record. */
function sha256Of(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (error) {
    return `unreadable: ${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? `uid ${process.getuid?.() ?? '?'}`; // no passwd entry (a container)
  }
}

/** Who, where, when and with what: read once, as the run starts. */
export function runContext(command: RecordedCommand, flags: RunContext['flags'], inventoryFile: string, playbookFile: string): RunContext {
  const sudoUser = process.env.SUDO_USER;
  return {
    command,
    runId: newRunId(),
    flags,
    user: osUser(),
    ...(sudoUser ? { sudoUser } : {}),
    controller: hostname(),
    pid: process.pid,
    started: new Date(),
    inventory: { file: inventoryFile, sha256: sha256Of(inventoryFile) },
    playbook: { file: playbookFile, sha256: sha256Of(playbookFile) },
  };
}

export function startRecording(context: RunContext, options: { readonly file: string; readonly secrets: readonly string[]; readonly warn: (line: string) => void }): Recording {
  const { file, secrets, warn } = options;
  const redact = redactor(secrets);
  // Said before any host is touched: a history that cannot be written never stops or fails a run.
  try {
    prepareHistory(file);
  } catch (error) {
    warn(`this run cannot be recorded in ${file}: ${redact((error as Error).message)}`);
  }
  let written = false;
  let plan: readonly HostReport[] | undefined;
  let applying = false;
  const steps = new Map<string, string>();

  const write = (end: RunEnd): void => {
    if (written) return;
    written = true;
    try {
      appendRecord(file, recordLine(buildRecord(context, end, new Date(), secrets), secrets));
    } catch (error) {
      warn(`this run was not recorded in ${file}: ${redact((error as Error).message)}`);
    }
  };
  const partial = (kind: 'failed' | 'interrupted', exitCode: number, error: string): void =>
    write({ kind, exitCode, error, ...(plan ? { plan } : {}), applying, steps });

  const onSignal = (signal: NodeJS.Signals): void => {
    const code = 128 + (constants.signals[signal] ?? 0);
    partial('interrupted', code, `interrupted by ${signal}`);
    // The TTY progress (listr2) ends the process on SIGINT itself, after putting the terminal right.
    if (process.listenerCount(signal) <= 1) process.exit(code);
  };
  const onExit = (code: number): void => partial('interrupted', code, 'the process ended before the run did');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);

  return {
    file,
    runId: context.runId,
    observe: (progress) => ({
      phase(name) {
        if (name === 'apply') applying = true;
        progress?.phase?.(name);
      },
      step(host, text) {
        steps.set(host, text);
        progress?.step(host, text);
      },
      done: (host, report) => progress?.done(host, report),
      ...(progress?.close ? { close: () => progress.close!() } : {}),
    }),
    planned(p) {
      plan = p;
    },
    end: (report, exitCode) => write({ kind: 'report', report, exitCode }),
    fail(error) {
      // Ctrl-C at the confirmation question closes readline, which rejects with an AbortError.
      const interrupted = (error as Error)?.name === 'AbortError';
      partial(interrupted ? 'interrupted' : 'failed', interrupted ? 130 : 1, (error as Error)?.message ?? String(error));
    },
    close() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', onExit);
      partial('interrupted', 130, 'the run ended without a report');
    },
  };
}
