// Host-key checking against this machine's ssh-keygen: it finds the line accept-new appends, prints the
// fingerprints a mismatch shows, and hashes entries (`ssh-keygen -H`) as knownKeysFor reads them. The
// keys are the fixtures test/unit uses, so this also checks what those fixtures claim about ssh-keygen.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint, hostLookupName, knownHostsLine, knownKeysFor } from '../../src/transport/knownHosts.js';
import { entry, FINGERPRINTS, keys, KEYS_DIR, type Label } from '../fixtures/knownHosts.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ha-known-hosts-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ssh-keygen -F', () => {
  it.each([
    ['port 22', '10.1.1.1', 22],
    ['another port', '10.1.1.1', 2222],
  ])('finds the line accept-new appends (%s)', (_case, host, port) => {
    const name = hostLookupName(host, port);
    const file = join(dir, `appended-${port}`);
    writeFileSync(file, knownHostsLine(name, keys.plain.blob));
    // OpenSSH finds the same entry: exit 0 and the line echoed back.
    const found = execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' });
    expect(found).toContain(keys.plain.base64);
  });
});

describe('ssh-keygen -l', () => {
  // OpenSSH prints both fingerprints and the offending line; the user checks them against the host.
  it.each<[Label]>([['plain'], ['rsa'], ['ecdsa']])('the %s key\'s fingerprint is the one ssh-keygen -l prints (and the one the fixture holds)', (label) => {
    const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(KEYS_DIR, `${label}.pub`)], { encoding: 'utf8' }).split(' ')[1];
    expect(fingerprint(keys[label].blob)).toBe(printed);
    expect(FINGERPRINTS[label]).toBe(printed);
  });
});

describe('ssh-keygen -H', () => {
  // Hashes are salted: a file hashed now differs from the fixture, and must read the same.
  let hashed: string;
  beforeAll(() => {
    const file = join(dir, 'hashed_known_hosts');
    writeFileSync(file, `${entry('hashed.example.com', 'hashed')}\n${entry('[hashed.example.com]:2222', 'hashedPort')}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    hashed = readFileSync(file, 'utf8');
  });

  it.each<[string, string, number, Label[]]>([
    ['a hashed entry', 'hashed.example.com', 22, ['hashed']],
    ['a hashed [host]:port entry', 'hashed.example.com', 2222, ['hashedPort']],
    ['a hashed entry does not match other names', 'other.example.com', 22, []],
  ])('%s: %s port %d', (_case, host, port, expected) => {
    expect(hashed.startsWith('|1|')).toBe(true);
    const found = knownKeysFor(hashed, hostLookupName(host, port));
    expect(found.map((k) => k.blob.toString('base64'))).toEqual(expected.map((label) => keys[label].base64));
  });
});
