// Tests that check our output against a real daemon's own validator need that daemon installed. As with
// the lab (test/e2e), CI must run them: under CI=true a missing tool fails the suite; elsewhere the suite
// is skipped and one line says why.
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

const installed = (tool: string, versionArgs: readonly string[]): boolean => spawnSync(tool, versionArgs, { stdio: 'ignore' }).status === 0;

/** describe() that runs where `tool` is installed; under CI=true, a suite that fails when it is not. */
export function suiteNeeding(tool: string, versionArgs: readonly string[], title: string, fn: () => void): void {
  if (installed(tool, versionArgs)) {
    describe(title, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(title, () => {
      it(`needs ${tool}`, () => {
        throw new Error(`${tool} is not installed, and CI must run these tests: install ${tool}`);
      });
    });
    return;
  }
  process.stderr.write(`"${title}" skipped: ${tool} is not installed (install it, or set CI=true to make this an error)\n`);
  describe.skip(title, fn);
}
