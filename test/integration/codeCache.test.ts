// The installed CLI's V8 code cache (src/cli/ha-provision.mts): written after a run that did its job, never
// after one that stopped early (its cache would hold half the functions, and be kept for good), and written
// again when V8 refuses the one it found; the caches of other bundles go when it is written.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtCli } from '../fixtures/built.js';

let cache = '';
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'hp-v8-'));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [builtCli(), ...args], { encoding: 'utf8', env: { ...process.env, HA_PROVISION_CACHE: cache } });
const cacheFiles = (word: string): string[] => {
  try {
    return readdirSync(join(cache, 'v8')).filter((f) => f.includes(`-${word}-node`));
  } catch {
    return []; // no directory: nothing written
  }
};

describe('the code cache', () => {
  it('is written by a run that did its job, once per command word', () => {
    expect(run('--version').status).toBe(0);
    expect(cacheFiles('--version')).toHaveLength(1);
    expect(cacheFiles('plan')).toEqual([]);
  });

  it("is not a command's when the run only showed that command's help", () => {
    expect(run('plan', '--help').status).toBe(0);
    expect(run('up', '-h').status).toBe(0);
    expect(cacheFiles('plan')).toEqual([]);
    expect(cacheFiles('up')).toEqual([]);
    expect(cacheFiles('help')).toHaveLength(1);
  });

  it('is not written by a run that stopped early, so that a later full run writes it', () => {
    const missing = join(cache, 'missing.yaml');
    expect(run('plan', missing).status).toBe(1);
    expect(cacheFiles('plan')).toEqual([]);
    expect(run('render', join(cache, 'none.yaml')).status).not.toBe(0);
    expect(cacheFiles('render')).toEqual([]);
  });

  it('is written again when V8 refuses the one it found', () => {
    expect(run('--version').status).toBe(0);
    const [name] = cacheFiles('--version');
    const file = join(cache, 'v8', name!);
    writeFileSync(file, 'not a code cache');
    expect(run('--version').status).toBe(0);
    expect(statSync(file).size).toBeGreaterThan(1000);
  });

  it("removes other bundles' caches (an earlier version's) when it writes this bundle's", () => {
    mkdirSync(join(cache, 'v8'));
    const stale = ['0123456789abcdef0123456789abcdef-plan-nodev20.0.0-x64.bin', '0123456789abcdef0123456789abcdef-up-nodev20.0.0-x64.bin.77.tmp'];
    for (const name of stale) writeFileSync(join(cache, 'v8', name), 'an earlier bundle');
    expect(run('--version').status).toBe(0);
    const left = readdirSync(join(cache, 'v8'));
    expect(left).toEqual(cacheFiles('--version'));
    expect(left).toHaveLength(1);
  });
});
