// A host written as a name: the SSH connection goes to the IP the inventory resolved, while known_hosts is
// searched for, and records, the name as written (as OpenSSH records the name typed). An in-process ssh2
// server on 127.0.0.1 stands in for the host; the name never reaches a resolver.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host, HostKeyPolicy } from '../../src/inventory/types.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { acceptPassword, answerHello, listen, PASSWORD } from '../fixtures/sshServer.js';

const NAME = 'cp1.example.invalid'; // .invalid: would never resolve, so a connection proves the IP was used
const hostKey = utils.generateKeyPairSync('ed25519');
const [keyType = '', keyBase64 = ''] = hostKey.public.trim().split(' ');

let server: Awaited<ReturnType<typeof listen>>;
let port: number;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ha-ssh-address-'));
  server = await listen(hostKey.private, (client) => {
    acceptPassword(client);
    answerHello(client);
  });
  port = server.port;
});

afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function host(knownHostsFile: string, hostKeyPolicy: HostKeyPolicy): Host {
  return {
    name: 'server-1',
    address: NAME,
    ip: '127.0.0.1',
    roles: ['server'],
    ssh: {
      user: 'root', port, password: { value: PASSWORD, source: 'literal' }, useAgent: false, knownHostsFile, hostKeyPolicy,
      connectTimeoutMs: 5_000, commandTimeoutMs: 5_000, keepaliveIntervalMs: 15_000,
    },
  };
}

describe('SSH to a host written as a name', () => {
  it.each([
    ['the name', `[${NAME}]:PORT`, true],
    ['only the IP', '[127.0.0.1]:PORT', false],
  ])('strict: known_hosts listing %s', async (_what, pattern, connects) => {
    const file = join(dir, `known_hosts_${connects}`);
    writeFileSync(file, `${pattern.replace('PORT', String(port))} ${keyType} ${keyBase64}\n`);
    const opening = SshTransport.open(host(file, 'strict'));
    if (!connects) {
      await expect(opening).rejects.toThrow(`ssh ${NAME}:${port} (127.0.0.1): no host key for [${NAME}]:${port} in ${file}`);
      return;
    }
    const transport = await opening;
    try {
      expect((await transport.exec('true')).stdout).toBe('hello\n');
    } finally {
      transport.close();
    }
  });

  it('accept-new records the name as written', async () => {
    const file = join(dir, 'known_hosts_new');
    const transport = await SshTransport.open(host(file, 'accept-new'));
    transport.close();
    expect(readFileSync(file, 'utf8')).toBe(`[${NAME}]:${port} ${keyType} ${keyBase64}\n`);
  });
});
