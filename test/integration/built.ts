// The CLI as installed runs dist/, so its tests run dist/ too, rebuilt first when any source is newer:
// a test never passes or fails on a stale build. `npm test` builds before vitest, so there this is a check.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/playbook/playbook.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Path of dist/cli/main.js, built from the sources as they are now; throws with tsc's output if the build fails. */
export function builtCli(): string {
  const main = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');
  let builtAt = 0;
  try {
    builtAt = statSync(main).mtimeMs;
  } catch {
    // not built yet
  }
  const sources = Math.max(newestMtime(join(PROJECT_ROOT, 'src')), statSync(join(PROJECT_ROOT, 'tsconfig.json')).mtimeMs);
  if (builtAt < sources) {
    const tsc = join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const build = spawnSync(process.execPath, [tsc, '-p', join(PROJECT_ROOT, 'tsconfig.json')], { encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`building dist/ for the CLI tests failed:\n${build.stdout}${build.stderr}`);
  }
  return main;
}
