// OpenSSH known_hosts: plain and hashed (`|1|salt|hash`) host patterns, `[host]:port` for other ports,
// `*`/`?` wildcards, `!` negation, `@revoked`. Enough to check host keys the way `ssh` would.
import { createHash, createHmac } from 'node:crypto';

export interface KnownKey {
  readonly type: string; // e.g. ssh-ed25519
  readonly blob: Buffer; // the public key as sent by the server
  readonly revoked: boolean;
  readonly line: number; // 1-based, in the known_hosts file
}

/** OpenSSH's fingerprint of a public key: `SHA256:` and the unpadded base64 of its blob's digest. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function hostLookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

type Matcher = (name: string) => boolean;

/** One host pattern as a test: hashed (HMAC with its salt), a glob (compiled once), or a plain name. */
function matcherOf(pattern: string): Matcher {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return () => false;
    const key = Buffer.from(salt, 'base64');
    return (name) => createHmac('sha1', key).update(name).digest('base64') === hash;
  }
  if (/[*?]/.test(pattern)) {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    const re = new RegExp(`^${body}$`, 'i');
    return (name) => re.test(name);
  }
  const plain = pattern.toLowerCase();
  return (name) => name.toLowerCase() === plain;
}

interface Entry {
  readonly allow: readonly Matcher[];
  readonly deny: readonly Matcher[]; // `!pattern`: a negated match wins
  readonly key: KnownKey;
}

/** The file's usable lines, parsed once per text: a run looks up every host of the fleet in the same file. */
function entriesOf(fileText: string): readonly Entry[] {
  if (parsed?.text === fileText) return parsed.entries;
  const entries: Entry[] = [];
  for (const [index, raw] of fileText.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]?.startsWith('@')) marker = fields.shift();
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64 || marker === '@cert-authority') continue;
    const patterns = hosts.split(',');
    entries.push({
      allow: patterns.filter((p) => !p.startsWith('!')).map(matcherOf),
      deny: patterns.filter((p) => p.startsWith('!')).map((p) => matcherOf(p.slice(1))),
      key: { type, blob: Buffer.from(base64, 'base64'), revoked: marker === '@revoked', line: index + 1 },
    });
  }
  parsed = { text: fileText, entries };
  return entries;
}
let parsed: { readonly text: string; readonly entries: readonly Entry[] } | undefined;

/** Every key the file lists for `name` (from hostLookupName). */
export function knownKeysFor(fileText: string, name: string): KnownKey[] {
  return entriesOf(fileText)
    .filter((e) => e.allow.some((m) => m(name)) && !e.deny.some((m) => m(name)))
    .map((e) => e.key);
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('ascii');
}

/** The line `accept-new` appends for a first-seen host. */
export function knownHostsLine(name: string, blob: Buffer): string {
  return `${name} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`;
}

/** Host-key algorithms to offer so the server presents a key type the file knows (as OpenSSH does). */
export function hostKeyAlgorithmsFor(keys: readonly KnownKey[]): string[] {
  const algorithms = new Set<string>();
  for (const { type } of keys) {
    if (type === 'ssh-rsa') ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'].forEach((a) => algorithms.add(a));
    else algorithms.add(type);
  }
  return [...algorithms];
}
