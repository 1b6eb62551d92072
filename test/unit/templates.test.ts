// Templates compiled once and kept compiled on disk (src/playbook/templates.ts): the cache must never
// change what a template renders, and a broken or unwritable cache only costs the compile.
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileTemplate, templateCacheDir } from '../../src/playbook/templates.js';

let saved: string | undefined;
beforeEach(() => {
  saved = process.env.HA_PROVISION_CACHE;
  process.env.HA_PROVISION_CACHE = mkdtempSync(join(tmpdir(), 'ha-provision-templates-'));
});
afterEach(() => {
  if (saved === undefined) delete process.env.HA_PROVISION_CACHE;
  else process.env.HA_PROVISION_CACHE = saved;
});

const cached = (): string[] => readdirSync(templateCacheDir()).filter((f) => f.endsWith('.js'));

describe('the compiled-template cache', () => {
  it('a second compile of the same text comes from the cache and renders the same', async () => {
    const source = 'server {{name}} {{address}}:6443 check\n{{#each peers}}peer {{this}}\n{{/each}}';
    const vars = { name: 'cp-1', address: '10.0.0.21', peers: ['a', 'b'] };
    const first = await compileTemplate(source);
    expect(cached()).toHaveLength(1);
    const second = await compileTemplate(source);
    expect(cached()).toHaveLength(1);
    expect(second(vars)).toBe(first(vars));
    expect(second(vars)).toBe('server cp-1 10.0.0.21:6443 check\npeer a\npeer b\n');
  });

  it('an edited template is compiled afresh, never served from the old entry', async () => {
    await compileTemplate('port {{port}}');
    const edited = await compileTemplate('bind :{{port}}');
    expect(edited({ port: 8443 })).toBe('bind :8443');
    expect(cached()).toHaveLength(2);
  });

  it('keeps the compile options: no HTML escaping, and a missing variable is an error (strict)', async () => {
    for (let pass = 0; pass < 2; pass += 1) {
      const fn = await compileTemplate('a <{{x}}> & {{y}}');
      expect(fn({ x: '<b>', y: '"q"' })).toBe('a <<b>> & "q"');
      expect(() => fn({ x: 1 })).toThrow(/"y" not defined/);
    }
  });

  it('a torn cache file is compiled again and replaced', async () => {
    await compileTemplate('v={{v}}');
    const [file] = cached();
    writeFileSync(join(templateCacheDir(), file!), '{"compiler": [8, ');
    expect((await compileTemplate('v={{v}}'))({ v: 1 })).toBe('v=1');
    expect((await compileTemplate('v={{v}}'))({ v: 2 })).toBe('v=2');
  });

  it('a cache that cannot be written still compiles', async () => {
    process.env.HA_PROVISION_CACHE = join(mkdtempSync(join(tmpdir(), 'ha-provision-ro-')), 'sub');
    writeFileSync(process.env.HA_PROVISION_CACHE, 'a file where the cache directory would go');
    chmodSync(process.env.HA_PROVISION_CACHE, 0o444);
    expect((await compileTemplate('ok {{n}}'))({ n: 3 })).toBe('ok 3');
  });

  it('a syntax error is still an error, with its line', async () => {
    await expect(compileTemplate('line one\n{{#each x}}never closed')).rejects.toThrow(/line 2/);
  });
});
