// The rendered haproxy.cfg checked by haproxy itself (`haproxy -c`), on a machine that cannot resolve the
// backends written as names.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { fileOf, renderNamed } from '../fixtures/rendered.js';
import { suiteNeeding } from './tools.js';

suiteNeeding('haproxy', ['-v'], 'hosts written as names, checked by haproxy -c', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-haproxy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The point of init-addr libc,none: a name the lb cannot resolve leaves that server down, not haproxy.
  it('haproxy -c accepts the config though this machine cannot resolve cp1.example.invalid', async () => {
    const cfg = fileOf((await renderNamed('haproxy-keepalived', 'lb-1')).resources, '/etc/haproxy/haproxy.cfg');
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, cfg);
    const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
    expect(check.stderr).toContain("could not resolve address 'cp1.example.invalid', disabling server");
    expect(check.status, check.stderr).toBe(0);
    writeFileSync(file, cfg.replaceAll(' init-addr libc,none', ''));
    expect(spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' }).status).not.toBe(0); // the default: haproxy would not start
  });
});
