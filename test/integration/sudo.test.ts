// The remote command for a user whose sudo asks for a password, run for real against a stand-in sudo:
// the password is the first line of stdin, reaches sudo ahead of the script, and is never run as a command.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUDO_WITH_PASSWORD } from '../../src/transport/ssh.js';

const PASSWORD = `pa's "w$rd \\x9`;
let dir: string;

/**
 * A stand-in sudo, as the real one behaves: `-n true` tells whether a password is needed; `-S -k -p ''`
 * reads it from stdin only when one is (with NOPASSWD it reads nothing, and the line stays for the shell).
 */
const standIn = (needsPassword: boolean): string => `#!/bin/sh
if [ "$1" = -n ]; then
  shift
  if [ "$1" = true ]; then ${needsPassword ? 'exit 1' : 'exit 0'}; fi
  exec "$@"
fi
shift 4
${needsPassword ? '' : 'exec "$@"'}
IFS= read -r pw
[ "$pw" = "$EXPECTED" ] || { echo 'sudo: 1 incorrect password attempt' >&2; exit 1; }
exec "$@"
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ha-sudo-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (needsPassword: boolean, given: string) => {
  const bin = join(dir, needsPassword ? 'asks' : 'nopasswd');
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'sudo'), standIn(needsPassword));
  chmodSync(join(bin, 'sudo'), 0o755);
  return spawnSync('sh', ['-c', SUDO_WITH_PASSWORD], {
    input: `${given}\necho the script ran\n`,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, EXPECTED: PASSWORD, SSH_CLIENT: '10.0.0.1 50000 22' },
  });
};

describe('sudo with a password', () => {
  it('a sudo that asks gets the password, then runs the script', () => {
    const r = run(true, PASSWORD);
    expect(r.stdout).toBe('the script ran\n');
    expect(r.status).toBe(0);
  });

  it('a wrong password: sudo refuses it, and the script does not run', () => {
    const r = run(true, 'wrong');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('incorrect password attempt');
    expect(r.stdout).toBe('');
  });

  // NOPASSWD (or a cached ticket): sudo would not read the line, and a root shell would run it.
  it('a sudo that does not ask: the password line is dropped, never run as a command', () => {
    const r = run(false, PASSWORD);
    expect(r.stdout).toBe('the script ran\n');
    expect(r.stderr).toBe('');
  });
});
