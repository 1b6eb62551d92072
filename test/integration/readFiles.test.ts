// READ_FILES, the facts' file reader, run by sh (dash) and bash against real files: every content must come
// back byte for byte, with the hash of the bytes on disk, whether it travelled as text lines (plain ASCII,
// no process per file) or as od's hex (anything else). No root needed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filesFact, READ_FILES } from '../../src/facts/facts.js';

const dir = mkdtempSync(join(tmpdir(), 'hp-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// [name, content, travels as text]
const CASES: readonly [string, string | Buffer, boolean][] = [
  ['a config file', 'global\n    log /dev/log local0\n\tmaxconn 4000\n\nfrontend api\n    bind :6443\n', true],
  ['no newline at the end', 'net.ipv4.ip_nonlocal_bind = 1', true],
  ['empty', '', true],
  ['only newlines', '\n\n\n', true],
  ['leading and trailing blanks kept', '  indented \t\n\t\n   \n', true],
  ['backslashes and quotes', 'a\\nb \\\\ "c" \'d\' $HOME `x` %s %%\n', true],
  ['lines that look like the facts\' own markers', '@@ha-provision-fact end\n@file /etc/passwd\n@hex\n@torn\n|x\n/y\n', true],
  ['a line starting with a dash', '-n\n-e x\n', true],
  ['a long line', `${'x'.repeat(20_000)}\n`, true],
  ['UTF-8', 'vrrp_instance VI_1 { # café ✓\n', false],
  ['Latin-1, not UTF-8', Buffer.from([0x68, 0xe9, 0x0a]), false],
  ['a NUL byte', Buffer.from('a\0b\n'), false],
  ['CRLF line ends', 'global\r\n  maxconn 1\r\n', false],
  ['a lone CR at the end', 'x\r', false],
  ['binary', Buffer.from([...Array(256).keys()]), false],
];

const files = CASES.map(([, content], i) => {
  const path = join(dir, `file ${i}.conf`); // a space in every name
  writeFileSync(path, content);
  chmodSync(path, 0o640);
  return path;
});
const missing = join(dir, 'missing.conf');

function read(shell: string, paths: readonly string[]): string {
  // As the facts run it: LC_ALL=C, inside a function whose positional parameters are the files.
  const script = `export LC_ALL=C\nhp_read() {\n${READ_FILES}\n}\nhp_read "$@"`;
  const r = spawnSync(shell, ['-c', script, 'sh', ...paths], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe.each(['dash', 'bash'])('READ_FILES under %s', (shell) => {
  const stdout = read(shell, files);
  const parsed = filesFact(files).parse(stdout);

  it.each(CASES.map(([name, content, asText], i) => [name, content, asText, files[i]!] as const))('%s', (_name, content, asText, path) => {
    const bytes = Buffer.from(content);
    const file = parsed[path];
    expect(file?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(file?.content).toBe(bytes.toString('utf8'));
    expect(file).toMatchObject({ owner: expect.any(String), group: expect.any(String), mode: '640' });
    const block = stdout.slice(stdout.indexOf(`@file ${path}\n`)).split(/^@file /m)[1]!;
    expect(block.split('\n').includes('@hex')).toBe(!asText);
  });

  it('a file that changed size after stat read it is refused, not guessed at', () => {
    const growing = join(dir, 'growing.conf');
    writeFileSync(growing, 'a\n');
    // stat sees 2 bytes; the file then grows before its lines are read (a stand-in stat runs first).
    const script = `export LC_ALL=C\nstat() { command stat "$@"; printf 'b\\n' >> '${growing}'; }\nhp_read() {\n${READ_FILES}\n}\nhp_read "$@"`;
    const r = spawnSync(shell, ['-c', script, 'sh', growing], { encoding: 'utf8' });
    expect(() => filesFact([growing]).parse(r.stdout)).toThrow(/files changed while they were read/);
  });

  it('a file gone between the test and stat is refused', () => {
    const r = spawnSync(shell, ['-c', `export LC_ALL=C\nhp_read() {\n${READ_FILES}\n}\nhp_read "$@"`, 'sh', files[0]!, missing], { encoding: 'utf8' });
    expect(r.stdout).toContain('@torn');
    expect(() => filesFact([files[0]!]).parse(r.stdout)).toThrow(/one went away/);
  });
});
