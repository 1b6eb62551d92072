// READ_FILES, the facts' file reader (one stat, one od), run by sh (dash) and bash against real files:
// every content must come back byte for byte, with the hash of the bytes on disk. No root needed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filesFact, READ_FILES } from '../../src/facts/facts.js';

const dir = mkdtempSync(join(tmpdir(), 'hp-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES: readonly [string, string | Buffer][] = [
  ['a config file', 'global\n    log /dev/log local0\n\tmaxconn 4000\n\nfrontend api\n    bind :6443\n'],
  ['no newline at the end', 'net.ipv4.ip_nonlocal_bind = 1'],
  ['empty', ''],
  ['lines that look like the facts\' own markers', '@@ha-provision-fact end\n@file /etc/passwd\nroot root 644 1\n@content\n'],
  ['UTF-8', 'vrrp_instance VI_1 { # café ✓\n'],
  ['Latin-1, not UTF-8', Buffer.from([0x68, 0xe9, 0x0a])],
  ['NUL bytes and CRLF', Buffer.from('a\0b\r\n')],
  ['every byte', Buffer.from([...Array(256).keys()])],
];

const files = CASES.map(([, content], i) => {
  const path = join(dir, `file ${i}.conf`); // a space in every name
  writeFileSync(path, content);
  chmodSync(path, 0o640);
  return path;
});

/** As the facts run it: LC_ALL=C, inside a function whose positional parameters are the files. */
const reader = (prelude = ''): string => `export LC_ALL=C\n${prelude}\nhp_read() {\n${READ_FILES}\n}\nhp_read "$@"`;
const read = (shell: string, paths: readonly string[], prelude?: string) => spawnSync(shell, ['-c', reader(prelude), 'sh', ...paths], { encoding: 'utf8' });

describe.each(['dash', 'bash'])('READ_FILES under %s', (shell) => {
  const parsed = filesFact(files).parse(read(shell, files).stdout);

  it.each(CASES.map(([name, content], i) => [name, content, files[i]!] as const))('%s', (_name, content, path) => {
    const bytes = Buffer.from(content);
    expect(parsed[path]?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(parsed[path]?.content).toBe(bytes.toString('utf8'));
    expect(parsed[path]).toMatchObject({ owner: expect.any(String), group: expect.any(String), mode: '640' });
  });

  it('a file that grew after stat read its size is refused, not guessed at', () => {
    const growing = join(dir, `growing-${shell}.conf`);
    writeFileSync(growing, 'a\n');
    // stat sees 2 bytes; the file then grows before od reads it.
    const r = read(shell, [files[0]!, growing], `stat() { command stat "$@"; printf 'b\\n' >> '${growing}'; }`);
    expect(() => filesFact([files[0]!, growing]).parse(r.stdout)).toThrow(/files changed while they were read/);
  });

  it('a file gone between the test and stat is refused, not taken for missing', () => {
    const r = read(shell, [files[0]!, join(dir, 'gone.conf')]);
    expect(() => filesFact([files[0]!]).parse(r.stdout)).toThrow(/one went away/);
  });
});
