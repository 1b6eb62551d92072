// The transport reads each known_hosts and key file once for a whole run, not once per host, yet must
// never act on a file that has since changed: a process that outlives one fleet (the bench rebuilds its
// lab between sizes, with new host keys and a new client key) meets exactly that. An in-process ssh2
// server on 127.0.0.1 stands in for the host.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils, type ParsedKey } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../src/inventory/types.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { answerHello, listen } from '../fixtures/sshServer.js';

const hostKey = utils.generateKeyPairSync('ed25519');
const otherHostKey = utils.generateKeyPairSync('ed25519');
const allowed = utils.generateKeyPairSync('ed25519'); // the one client key the server takes
const refused = utils.generateKeyPairSync('ed25519');
const allowedPublic = utils.parseKey(allowed.public) as ParsedKey;

let server: Awaited<ReturnType<typeof listen>>;
let port: number;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ha-ssh-files-'));
  server = await listen(hostKey.private, (client) => {
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || !ctx.key.data.equals(allowedPublic.getPublicSSH())) return ctx.reject(['publickey']);
      // The first query carries no signature; the second must be signed by the key.
      if (!ctx.signature) return ctx.accept();
      return allowedPublic.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject(['publickey']);
    });
    answerHello(client);
  });
  port = server.port;
});

afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const knownHostsLine = (key: { public: string }): string => `[127.0.0.1]:${port} ${key.public.trim().split(' ').slice(0, 2).join(' ')}\n`;

function host(name: string, identityFile: string, knownHostsFile: string): Host {
  return {
    name,
    address: '127.0.0.1',
    ip: '127.0.0.1',
    roles: ['server'],
    ssh: {
      user: 'root', port, identityFile, useAgent: false, knownHostsFile, hostKeyPolicy: 'strict',
      connectTimeoutMs: 5_000, commandTimeoutMs: 5_000, keepaliveIntervalMs: 15_000,
    },
  };
}

async function run(h: Host): Promise<string> {
  const transport = await SshTransport.open(h);
  try {
    return (await transport.exec('true')).stdout;
  } finally {
    transport.close();
  }
}

describe('key and known_hosts files, read once per run', () => {
  it('a known_hosts file rewritten since the last connection is read again: the old key is not trusted', async () => {
    const knownHosts = join(dir, 'known_hosts_rewritten');
    const key = join(dir, 'id_rewritten');
    writeFileSync(key, allowed.private, { mode: 0o600 });
    writeFileSync(knownHosts, knownHostsLine(hostKey));
    expect(await run(host('server-1', key, knownHosts))).toBe('hello\n');
    writeFileSync(knownHosts, knownHostsLine(otherHostKey));
    await expect(run(host('server-2', key, knownHosts))).rejects.toThrow(/HOST KEY MISMATCH/);
  });

  it('a key file replaced since the last connection is read again: the new key logs in', async () => {
    const knownHosts = join(dir, 'known_hosts_key');
    const key = join(dir, 'id_replaced');
    writeFileSync(knownHosts, knownHostsLine(hostKey));
    writeFileSync(key, refused.private, { mode: 0o600 });
    await expect(run(host('server-1', key, knownHosts))).rejects.toThrow(/authentication failed for user root \(tried: key file\)/);
    writeFileSync(key, allowed.private, { mode: 0o600 });
    expect(await run(host('server-2', key, knownHosts))).toBe('hello\n');
  });

  it('a file that is not a key is named, for the host that needed it', async () => {
    const knownHosts = join(dir, 'known_hosts_bad');
    const key = join(dir, 'id_garbage');
    writeFileSync(knownHosts, knownHostsLine(hostKey));
    writeFileSync(key, 'not a key\n', { mode: 0o600 });
    await expect(run(host('server-9', key, knownHosts))).rejects.toMatchObject({ host: 'server-9', reason: expect.stringContaining(`cannot use the key ${key}`) });
  });
});
