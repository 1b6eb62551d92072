// Everything that reaches a remote shell passes through quote.ts, so the property that matters is
// checked against real shells: a quoted string comes out of `sh` exactly as it went in. (That quoting
// leaves plain words readable is a unit test: test/unit/quote.test.ts.)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { command, quote, writeFileCommand } from '../../src/transport/quote.js';

const SHELLS = ['sh', 'bash'] as const; // sh is dash on Debian

const NASTY: readonly [string, string][] = [
  ['empty string', ''],
  ['spaces', '  two  spaces  '],
  ['single quote', "it's"],
  ['escaped-quote sequence', `'\\''`],
  ['double quotes', 'say "hi"'],
  ['command substitution', '$(rm -rf /)'],
  ['backticks', '`id`'],
  ['variable', '$HOME ${PATH}'],
  ['newlines', 'line one\nline two\n'],
  ['tab and carriage return', 'a\tb\r\n'],
  ['glob', '*'],
  ['glob in a path', '/etc/*.conf'],
  ['tilde', '~'],
  ['tilde path', '~root/x'],
  ['leading dash', '-rf'],
  ['leading double dash', '--help'],
  ['semicolon and pipe', 'a; b | c && d || e'],
  ['redirections', '> /tmp/x < /etc/passwd 2>&1'],
  ['backslashes', 'C:\\path\\n'],
  ['braces and brackets', '{a,b} [ab] !x #c'],
  ['unicode', 'héllo wörld ✓ 🚀 密码'],
  ['only quotes', `''''`],
  ['percent (printf format)', '%s %d %%'],
  ['here-doc terminator text', 'HA_PROVISION_EOF'],
];

describe('quote', () => {
  describe.each(SHELLS)('through %s', (shell) => {
    it.each(NASTY)('%s survives unchanged', (_name, value) => {
      const out = execFileSync(shell, ['-c', `printf '%s' ${quote(value)}`], { encoding: 'utf8' });
      expect(out).toBe(value);
    });
  });
});

describe('command', () => {
  it.each([
    ['plain words', ['systemctl', 'reload', 'haproxy']],
    ['words with spaces and quotes', ['echo', "it's a test", '"x y"']],
    ['empty argument kept as an argument', ['printf', '', 'x']],
    ['injection attempts stay arguments', ['ls', '$(touch /tmp/pwned)', '`id`; rm -rf /']],
    ['numbers', ['chmod', 644, 'file']],
  ])('%s: each argv word reaches the program as one argument', (_name, argv) => {
    // `printf '[%s]'` prints each argument it receives in brackets.
    const out = execFileSync('sh', ['-c', `printf '[%s]' ${command(...argv)}`], { encoding: 'utf8' });
    expect(out).toBe(argv.map((a) => `[${a}]`).join(''));
  });
});

describe('writeFileCommand', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ha-quote-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (script: string) => spawnSync('sh', ['-c', script], { cwd: dir, encoding: 'utf8' });

  it.each([
    ['empty', ''],
    ['one line with trailing newline', 'global\n  maxconn 4000\n'],
    ['no trailing newline', 'last line has no newline'],
    ['the here-doc terminator as a line', 'before\nHA_PROVISION_EOF\nafter\n'],
    ['the terminator as the last line, no newline', 'x\nHA_PROVISION_EOF'],
    ['shell syntax', "$(touch pwned) `touch pwned2` ${HOME} 'q' \"d\"\n"],
    ['CRLF line endings', 'a\r\nb\r\n'],
    ['UTF-8 and control bytes', 'mot de passe: pässwörd ✓ 🚀\n\t\u0001\u001b[0m\u007f\n'],
    ['longer than one base64 line', `${'0123456789abcdef'.repeat(40)}\n`.repeat(20)],
    ['blank lines', '\n\n\n'],
  ])('writes %s byte for byte, then runs andThen', (_name, content) => {
    const target = join(dir, "conf file's name.cfg");
    const result = run(`${writeFileCommand(target, content, 'touch and-then-ran')}\necho after-here-doc`);

    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(target)).toEqual(Buffer.from(content, 'utf8'));
    expect(existsSync(join(dir, 'and-then-ran'))).toBe(true);
    // The here-document ended where it should: the next line of the script ran.
    expect(result.stdout).toBe('after-here-doc\n');
    // Nothing in the content was executed.
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
    expect(existsSync(join(dir, 'pwned2'))).toBe(false);
  });

  // A local user watching the directory (inotify) must never be able to open the file: it is 0600
  // before its first byte is written, also when a leftover of an earlier run had a wider mode.
  it.each([
    ['a new file', undefined],
    ['over a world-readable leftover', 0o644],
  ])('writes %s private from its first byte', (_name, leftoverMode) => {
    const target = join(dir, 'secret.conf');
    if (leftoverMode !== undefined) writeFileSync(target, 'old\n', { mode: leftoverMode });
    // andThen runs right after the write: the mode it sees is the mode the content was written under.
    const result = run(`umask 022; ${writeFileCommand(target, 'auth_pass hunter22\n', `stat -c %a ${target}`)}`);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('600');
  });

  it.each([
    ['with andThen', 'touch and-then-ran'],
    ['without andThen', undefined],
  ])('%s: a failed write does not run andThen and fails the command', (_name, andThen) => {
    const result = run(writeFileCommand(join(dir, 'no-such-dir', 'file'), 'content\n', andThen));
    expect(result.status).not.toBe(0);
    expect(existsSync(join(dir, 'and-then-ran'))).toBe(false);
  });
});
