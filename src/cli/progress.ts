// Progress while hosts are worked on: plain timestamped lines (CI, pipes). On a TTY, progressTty.ts
// draws listr2 tasks instead; it is imported only there, as listr2 costs a converged run ~10% to load.
import type { Progress } from '../agent/orchestrator.js';

export function plainProgress(write: (line: string) => void): Progress {
  const started = Date.now();
  const stamp = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
  return {
    phase: (name) => write(`${stamp()} -- ${name}`),
    step: (host, text) => write(`${stamp()} ${host}: ${text}`),
    done: (host, r) => write(`${stamp()} ${host}: ${r.status}${r.error ? ` — ${r.error.split('\n')[0]}` : ''}`),
  };
}
