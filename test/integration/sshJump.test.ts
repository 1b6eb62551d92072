// SshTransport through jump hosts (real sockets on loopback, so an integration test): hosts behind the
// same hop share one connection to it, which ends with the last of them; two hops chain. In-process ssh2
// servers on 127.0.0.1 stand in for the bastions (they forward channels as sshd's direct-tcpip does) and
// for the target.
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import { Server, utils, type Connection } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host, JumpHop } from '../../src/inventory/types.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { acceptPassword, answerHello, PASSWORD } from '../fixtures/sshServer.js';

const hostKey = utils.generateKeyPairSync('ed25519').private;

interface Stand {
  server: Server;
  port: number;
  logins: number; // authenticated connections so far
  open: number; // connections open now
}

/** An sshd stand-in: password logins, counted; a bastion forwards channels, a target answers execs. */
async function stand(role: 'bastion' | 'target'): Promise<Stand> {
  const s: Stand = { server: undefined as unknown as Server, port: 0, logins: 0, open: 0 };
  s.server = new Server({ hostKeys: [hostKey] }, (client: Connection) => {
    s.open += 1;
    client.on('close', () => (s.open -= 1)).on('error', () => undefined);
    acceptPassword(client);
    client.on('ready', () => (s.logins += 1));
    if (role === 'bastion') {
      client.on('tcpip', (accept, _reject, info) => {
        const channel = accept();
        const socket = tcpConnect(info.destPort, info.destIP);
        channel.pipe(socket).pipe(channel);
        socket.on('error', () => channel.close());
        channel.on('close', () => socket.destroy());
      });
    } else {
      answerHello(client);
    }
  });
  await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
  s.port = (s.server.address() as AddressInfo).port;
  return s;
}

const settings = { user: 'root', password: { value: PASSWORD, source: 'literal' }, useAgent: false, knownHostsFile: '/dev/null', hostKeyPolicy: 'off', connectTimeoutMs: 5_000, keepaliveIntervalMs: 15_000 } as const;
const hop = (s: Stand, spec: string): JumpHop => ({ ...settings, spec, address: '127.0.0.1', port: s.port });
const host = (name: string, target: Stand, proxyJump: readonly JumpHop[]): Host => ({
  name, address: '127.0.0.1', ip: '127.0.0.1', roles: ['server'],
  ssh: { ...settings, port: target.port, commandTimeoutMs: 5_000, proxyJump },
});
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

let bastion: Stand;
let inner: Stand;
let target: Stand;
beforeAll(async () => {
  [bastion, inner, target] = await Promise.all([stand('bastion'), stand('bastion'), stand('target')]);
});
afterAll(() => {
  for (const s of [bastion, inner, target]) s.server.close();
});

describe('SSH through jump hosts', () => {
  it('hosts behind one bastion share one connection to it, which ends with the last host', async () => {
    const chain = [hop(bastion, 'bastion')];
    const before = { bastion: bastion.logins, target: target.logins };
    const [a, b, c] = await Promise.all(['server-1', 'server-2', 'server-3'].map((n) => SshTransport.open(host(n, target, chain))));
    expect(await Promise.all([a!, b!, c!].map(async (t) => (await t.exec('true')).stdout))).toEqual(['hello\n', 'hello\n', 'hello\n']);
    expect(bastion.logins - before.bastion).toBe(1);
    expect(target.logins - before.target).toBe(3);
    a!.close();
    b!.close();
    await settle();
    expect(bastion.open).toBe(1); // c still rides on it
    c!.close();
    await settle();
    expect(bastion.open).toBe(0);
  });

  it('two hops: the second bastion is reached through the first, each once', async () => {
    const chain = [hop(bastion, 'bastion'), hop(inner, 'inner')];
    const before = { bastion: bastion.logins, inner: inner.logins };
    const transports = await Promise.all(['server-1', 'server-2'].map((n) => SshTransport.open(host(n, target, chain))));
    expect((await transports[1]!.exec('true')).stdout).toBe('hello\n');
    expect([bastion.logins - before.bastion, inner.logins - before.inner]).toEqual([1, 1]);
    for (const t of transports) t.close();
    await settle();
    expect([bastion.open, inner.open]).toEqual([0, 0]);
  });

  it('a hop that refuses names itself in the host\'s error, and leaves nothing open', async () => {
    const wrong: JumpHop = { ...hop(bastion, 'ops@bastion'), password: { value: 'wrong', source: 'literal' } };
    await expect(SshTransport.open(host('server-1', target, [wrong]))).rejects.toThrow(/^server-1: jump host ops@bastion: ssh 127\.0\.0\.1:\d+: authentication failed for user root/);
    await settle();
    expect(bastion.open).toBe(0);
  });
});
