// The CLI as a user meets it: bad input is refused before any connection opens, with exit 1 and an
// error naming the file and key; --help and --version answer. Needs the build (npm test builds first).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/playbook/playbook.js';

const cli = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'ha-cli-'));
let server: Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  // Stands where sshd would: counts connections, answers nothing.
  server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const inventory = (authPass: string, lb2Priority = 100): string => `apiVersion: ha-provision/v1
cluster:
  name: t
  vip: 127.0.0.100/8
  keepalived: { authPass: ${authPass} }
ssh: { port: ${port}, knownHostsFile: ${join(dir, 'known_hosts')}, connectTimeout: 2s }
hosts:
  lb-1: { address: 127.0.0.1, roles: [lb], interface: lo, priority: 200 }
  lb-2: { address: 127.0.0.2, roles: [lb], interface: lo, priority: ${lb2Priority} }
  server-1: { address: 127.0.0.3, roles: [server] }
`;

// Asynchronous, so the counting server above keeps accepting while the CLI runs.
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ha-provision CLI', () => {
  it.each([
    ['an auth_pass keepalived would cut', 'waytoolongpass', 100, 'cluster.keepalived.authPass'],
    ['an unset env secret', '{ env: HA_TEST_UNSET_VAR }', 100, 'HA_TEST_UNSET_VAR'],
    ['equal lb priorities', 'pw', 200, 'hosts.lb-2.priority'],
  ])('refuses %s before connecting to any host', async (_what, authPass, lb2Priority, fragment) => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, inventory(authPass, lb2Priority));
    const before = connections;
    const r = await runCli(['plan', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain(fragment);
    expect(r.stderr).not.toContain('waytoolongpass');
    expect(connections).toBe(before);
  });

  it('connects once a valid inventory passes validation (so the test above can fail)', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, inventory('pw'));
    const before = connections;
    const r = await runCli(['plan', file]);
    expect(r.code).toBe(1); // nothing speaks SSH there
    expect(connections).toBeGreaterThan(before);
  });

  it('render writes every host\'s files without connecting, privately', async () => {
    const file = join(dir, 'render.yaml');
    writeFileSync(file, inventory('pw'));
    const out = join(dir, 'rendered');
    const before = connections;
    const r = await runCli(['render', file, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote 18 files for 3 hosts'); // 4 system files each + 3 per lb
    expect(readFileSync(join(out, 'lb-1/etc/haproxy/haproxy.cfg'), 'utf8')).toContain('server server-1 127.0.0.3:6443');
    expect(statSync(join(out, 'lb-2/etc/keepalived/keepalived.conf')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(out, 'server-1/etc/haproxy'))).toBe(false);
    expect(connections).toBe(before);
  });

  it.each([['up'], ['plan'], ['verify'], ['facts'], ['render'], ['lab']])('%s --help describes the command', async (command) => {
    const r = await runCli([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: /);
  });

  it('--version prints the package version; an unknown command exits 1 with help', async () => {
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });
});
