// The plan's file diff against this machine's `diff -u`: the same hunks for the same edit. The unit test
// compares with hunks captured once (test/fixtures/haproxyCfg.ts); this one keeps that capture honest.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileDiff } from '../../src/plan/format.js';
import { redactor } from '../../src/redact.js';
import { before, file } from '../fixtures/changes.js';
import { DIFF_U_HUNKS, HAPROXY_CFG, HAPROXY_CFG_EDITED, hunksOf } from '../fixtures/haproxyCfg.js';

/** What `diff -u old new` prints (it exits 1 when the files differ). */
function diffU(old: string, next: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ha-diff-'));
  try {
    writeFileSync(join(dir, 'old'), old);
    writeFileSync(join(dir, 'new'), next);
    try {
      return execFileSync('diff', ['-u', join(dir, 'old'), join(dir, 'new')], { encoding: 'utf8' });
    } catch (error) {
      return (error as { stdout: string }).stdout;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('fileDiff', () => {
  it('has the same hunks as `diff -u`', () => {
    const expected = diffU(HAPROXY_CFG, HAPROXY_CFG_EDITED);
    const ours = fileDiff(file('/etc/haproxy/haproxy.cfg', HAPROXY_CFG_EDITED, { before: before(HAPROXY_CFG) }), redactor([]));

    expect(ours).toMatch(/^--- a\/etc\/haproxy\/haproxy\.cfg\s*\n\+\+\+ b\/etc\/haproxy\/haproxy\.cfg\s*\n@@ /);
    expect(hunksOf(ours)).toBe(hunksOf(expected));
    expect(expected).toContain('@@'); // the oracle did produce hunks
  });

  it('the hunks the unit test holds are the ones `diff -u` prints', () => {
    expect(hunksOf(diffU(HAPROXY_CFG, HAPROXY_CFG_EDITED))).toBe(DIFF_U_HUNKS);
  });
});
