// Host-key checking against a known_hosts file built with real keys from ssh-keygen (kept as fixtures),
// including entries hashed by `ssh-keygen -H`. Each lookup names the keys OpenSSH would accept for that
// host. The same checks against a live ssh-keygen are in test/integration/knownHosts.test.ts.
import { describe, expect, it } from 'vitest';
import { fingerprint, hostKeyAlgorithmsFor, hostLookupName, keyTypeOf, knownHostsLine, knownKeysFor, type KnownKey } from '../../src/transport/knownHosts.js';
import { FINGERPRINTS, keys, KNOWN_HOSTS, type Label } from '../fixtures/knownHosts.js';

/** Names the keys found, in file order, so a failure reads as "expected plain, got rsa". */
function describeKeys(found: readonly KnownKey[]): string[] {
  return found.map((k) => {
    const label = (Object.keys(keys) as Label[]).find((l) => keys[l].blob.equals(k.blob)) ?? 'UNKNOWN KEY';
    expect(k.type).toBe(keys[label as Label]?.type);
    return k.revoked ? `${label} (revoked)` : label;
  });
}

describe('knownKeysFor', () => {
  it.each<[string, string, number, string[]]>([
    ['a plain entry, first name', 'lb-1.example.com', 22, ['plain']],
    ['a plain entry, host names are case-insensitive', 'LB-1.Example.COM', 22, ['plain']],
    ['an address listed with a name, plus wildcard entries', '10.0.0.1', 22, ['plain', 'rsa', 'ecdsa']],
    ['[host]:port for a non-standard port (wildcards do not match it)', '10.0.0.1', 2222, ['port']],
    ['a port with no entry of its own', '10.0.0.1', 2200, []],
    ['a wildcard inside [host]:port', '10.0.2.3', 2222, ['port']],
    ['a wildcard inside [host]:port is for that port only', '10.0.2.3', 22, []],
    ['a wildcard `*` (matches more than one octet digit)', '10.0.0.10', 22, ['rsa', 'ecdsa']],
    ['a negated pattern excludes that host from the line', '10.0.0.5', 22, ['rsa']],
    ['`?` matches exactly one character', '10.0.1.7', 22, ['qmark']],
    ['`?` does not match two characters', '10.0.1.17', 22, []],
    ['a wildcard needs the whole name to match', '10.0.0', 22, []],
    ['@revoked keys are returned marked revoked', '10.0.0.9', 22, ['rsa', 'ecdsa', 'revoked (revoked)']],
    ['@cert-authority lines are ignored', 'lb-9.example.com', 22, []],
    ['a commented-out entry is ignored', 'lb-2.example.com', 22, []],
    ['a hashed entry', 'hashed.example.com', 22, ['hashed']],
    ['a hashed [host]:port entry', 'hashed.example.com', 2222, ['hashedPort']],
    ['a hashed entry does not match other names', 'other.example.com', 22, []],
  ])('%s: %s port %d', (_case, host, port, expected) => {
    expect(describeKeys(knownKeysFor(KNOWN_HOSTS, hostLookupName(host, port)))).toEqual(expected);
  });

  it('returns nothing from an empty file', () => {
    expect(knownKeysFor('', 'lb-1.example.com')).toEqual([]);
  });

  it.each([
    ['port 22', '10.1.1.1', 22],
    ['another port', '10.1.1.1', 2222],
  ])('reads back the line accept-new appends (%s)', (_case, host, port) => {
    const name = hostLookupName(host, port);
    const line = knownHostsLine(name, keys.plain.blob);
    expect(describeKeys(knownKeysFor(line, name))).toEqual(['plain']);
  });
});

describe('hostLookupName', () => {
  it.each([
    ['lb-1', 22, 'lb-1'],
    ['10.0.0.1', 22, '10.0.0.1'],
    ['10.0.0.1', 2222, '[10.0.0.1]:2222'],
    ['lb-1.example.com', 8022, '[lb-1.example.com]:8022'],
  ])('%s port %d → %s', (host, port, expected) => {
    expect(hostLookupName(host, port)).toBe(expected);
  });
});

describe('keyTypeOf', () => {
  it.each<[Label, string]>([
    ['plain', 'ssh-ed25519'],
    ['rsa', 'ssh-rsa'],
    ['ecdsa', 'ecdsa-sha2-nistp256'],
  ])('reads the type inside the %s key blob: %s', (label, expected) => {
    expect(keyTypeOf(keys[label].blob)).toBe(expected);
    expect(keyTypeOf(keys[label].blob)).toBe(keys[label].type); // what ssh-keygen wrote in the .pub
  });
});

describe('hostKeyAlgorithmsFor', () => {
  const known = (...types: string[]): KnownKey[] => types.map((type, i) => ({ type, blob: Buffer.alloc(0), revoked: false, line: i + 1 }));

  it.each<[string, KnownKey[], string[]]>([
    ['no known keys', [], []],
    ['ed25519', known('ssh-ed25519'), ['ssh-ed25519']],
    ['rsa offers the SHA-2 signatures first', known('ssh-rsa'), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']],
    ['ecdsa', known('ecdsa-sha2-nistp256'), ['ecdsa-sha2-nistp256']],
    ['several types keep file order', known('ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256'), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ecdsa-sha2-nistp256']],
    ['duplicates are offered once', known('ssh-ed25519', 'ssh-rsa', 'ssh-ed25519', 'ssh-rsa'), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']],
  ])('%s', (_case, input, expected) => {
    expect(hostKeyAlgorithmsFor(input)).toEqual(expected);
  });

  it('offers the algorithms of the keys a real file lists for a host', () => {
    expect(hostKeyAlgorithmsFor(knownKeysFor(KNOWN_HOSTS, '10.0.0.5'))).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
});

describe('what a host-key mismatch shows', () => {
  // OpenSSH prints both fingerprints and the offending line; the user checks them against the host.
  it.each<[Label]>([['plain'], ['rsa'], ['ecdsa']])('the %s key\'s fingerprint is the one ssh-keygen -l printed', (label) => {
    expect(FINGERPRINTS[label]).toMatch(/^SHA256:/);
    expect(fingerprint(keys[label].blob)).toBe(FINGERPRINTS[label]);
  });

  it('each key knows its line in the file, to name the one to remove', () => {
    expect(knownKeysFor(KNOWN_HOSTS, 'lb-1.example.com').map((k) => k.line)).toEqual([3]);
    expect(knownKeysFor(KNOWN_HOSTS, '10.0.0.5').map((k) => k.line)).toEqual([6]);
  });
});
