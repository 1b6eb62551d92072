// The transport signs the login with a key object it made once per run, not through ssh2's own signing
// (which hands OpenSSL the key's PEM text for every host). Each kind of client key must still log in: an
// in-process ssh2 server on 127.0.0.1 takes the key only when its signature verifies, with the hash the
// client named (rsa-sha2-256/512 for RSA; none for ed25519, and for ECDSA, whose curve implies it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils, type ParsedKey } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../src/inventory/types.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { answerHello, listen } from '../fixtures/sshServer.js';

const hostKey = utils.generateKeyPairSync('ed25519');
const clientKeys = {
  ed25519: utils.generateKeyPairSync('ed25519'),
  'rsa 2048': utils.generateKeyPairSync('rsa', { bits: 2048 }),
  'ecdsa 256': utils.generateKeyPairSync('ecdsa', { bits: 256 }),
  'ecdsa 384': utils.generateKeyPairSync('ecdsa', { bits: 384 }),
  'ecdsa 521': utils.generateKeyPairSync('ecdsa', { bits: 521 }),
};
const accepted = Object.values(clientKeys).map((k) => utils.parseKey(k.public) as ParsedKey);
const verified: string[] = [];

let server: Awaited<ReturnType<typeof listen>>;
let dir: string;
let knownHosts: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ha-ssh-keytypes-'));
  server = await listen(hostKey.private, (client) => {
    client.on('authentication', (ctx) => {
      const key = ctx.method === 'publickey' ? accepted.find((k) => k.getPublicSSH().equals(ctx.key.data)) : undefined;
      if (!key || ctx.method !== 'publickey') return ctx.reject(['publickey']);
      if (!ctx.signature) return ctx.accept(); // the query before the signed request
      if (key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      verified.push(`${key.type} ${ctx.hashAlgo ?? 'none'}`);
      return ctx.accept();
    });
    answerHello(client);
  });
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${server.port} ${hostKey.public.trim().split(' ').slice(0, 2).join(' ')}\n`);
});

afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('each kind of client key logs in, its signature verified by the host', () => {
  it.each(Object.entries(clientKeys))('%s', async (name, key) => {
    const identityFile = join(dir, `id_${name.replace(' ', '_')}`);
    writeFileSync(identityFile, key.private, { mode: 0o600 });
    const host: Host = {
      name: 'server-1',
      address: '127.0.0.1',
      ip: '127.0.0.1',
      roles: ['server'],
      ssh: {
        user: 'root', port: server.port, identityFile, useAgent: false, knownHostsFile: knownHosts, hostKeyPolicy: 'strict',
        connectTimeoutMs: 5_000, commandTimeoutMs: 5_000, keepaliveIntervalMs: 15_000,
      },
    };
    const before = verified.length;
    const transport = await SshTransport.open(host);
    try {
      expect((await transport.exec('true')).stdout).toBe('hello\n');
    } finally {
      transport.close();
    }
    expect(verified.slice(before)).toEqual([expect.stringMatching(name.startsWith('rsa') ? /^ssh-rsa sha(256|512)$/ : /^(ssh-ed25519|ecdsa-sha2-nistp\d+) none$/)]);
  });
});
