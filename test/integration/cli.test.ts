// The CLI as a user meets it (node dist/cli/ha-provision.mjs as installed, rebuilt first if stale): bad input is refused before
// any connection opens, with exit 1 and an error naming the file and key; --help and --version answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtCli } from '../fixtures/built.js';

const dir = mkdtempSync(join(tmpdir(), 'ha-cli-'));
let server: Server;
let port = 0;
let connections = 0;
let cli: string;

beforeAll(async () => {
  cli = builtCli();
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

  // Masking "haproxy" wherever it stands would print /etc/********/********.cfg above an unmasked
  // a/etc/haproxy/haproxy.cfg: the value would be given away. It is refused instead.
  it.each([
    ['a word of a config path', 'haproxy'],
    ['a word of the keepalived config', 'global'],
    ['a host name', 'lb-1'],
  ])('refuses a keepalived password that also occurs outside its masked place (%s) before connecting', async (_what, authPass) => {
    const file = join(dir, 'exposed.yaml');
    writeFileSync(file, inventory(authPass));
    const before = connections;
    const r = await runCli(['plan', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}: cluster.keepalived.authPass: this secret also occurs in `);
    expect(r.stderr.replace(file, '')).not.toContain(authPass); // not named, nor where it occurs
    expect(connections).toBe(before);
  });

  // --json is an output format: whatever happens, stdout is one JSON document, with the usual exit codes.
  it.each<[string, (file: string) => string[], string]>([
    ['an unknown flag', (file) => ['plan', file, '--json', '--frobnicate'], 'usage'],
    ['a missing inventory', () => ['up', join(dir, 'nope.yaml'), '--json', '--yes'], 'usage'],
    ['an invalid inventory', (file) => ['verify', file, '--json'], 'inventory'],
    ['an unknown --limit host', (file) => ['facts', file, '--json', '--limit', 'lb-9'], 'usage'],
  ])('with --json, %s is reported as one JSON document on stdout', async (_what, args, kind) => {
    const file = join(dir, 'json.yaml');
    writeFileSync(file, kind === 'inventory' ? inventory('pw', 200) : inventory('pw'));
    const r = await runCli(args(file));
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { kind: string; message: string; problems?: unknown[] } };
    expect(doc.ok).toBe(false);
    expect(doc.error.kind).toBe(kind);
    expect(doc.error.message.length).toBeGreaterThan(0);
    if (kind === 'inventory') expect(doc.error.problems).toEqual([{ path: 'hosts.lb-2.priority', message: expect.stringContaining('priorities must differ') }]);
  });

  // A key given by mistake must not be echoed; nothing connects before the file is judged.
  it.each([
    ['a missing file', 'nope.crt', undefined, 'cannot read it (ENOENT); give the cluster CA certificate, e.g. /etc/kubernetes/pki/ca.crt'],
    ['a private key', 'ca.key', '-----BEGIN PRIVATE KEY-----\nS3CRETKEYMATERIAL\n-----END PRIVATE KEY-----\n', 'holds no PEM certificate ("-----BEGIN CERTIFICATE-----") (it holds a private key'],
    ['a broken certificate', 'bad.crt', '-----BEGIN CERTIFICATE-----\nnotbase64\n-----END CERTIFICATE-----\n', 'certificate 1 of 1 does not parse'],
  ])('verify --ca with %s refuses before connecting, naming the file', async (_what, name, content, message) => {
    const file = join(dir, 'ca-check.yaml');
    writeFileSync(file, inventory('pw'));
    const ca = join(dir, name);
    if (content !== undefined) writeFileSync(ca, content);
    const before = connections;
    const r = await runCli(['verify', file, '--ca', ca]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--ca ${ca}: ${message}`);
    expect(r.stderr + r.stdout).not.toContain('S3CRETKEYMATERIAL');
    expect(connections).toBe(before);
  });

  it('up outside a terminal without --yes refuses before connecting, and says to pass --yes', async () => {
    const file = join(dir, 'noyes.yaml');
    writeFileSync(file, inventory('pw'));
    const before = connections;
    const r = await runCli(['up', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no terminal is here to confirm the plan: review it with `ha-provision plan`, then pass --yes');
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
    expect(r.stdout).toContain('wrote 18 files for 3 hosts'); // 3 system files and the managed record each + 3 per lb
    expect(readFileSync(join(out, 'lb-1/etc/haproxy/haproxy.cfg'), 'utf8')).toContain('server server-1 127.0.0.3:6443');
    expect(statSync(join(out, 'lb-2/etc/keepalived/keepalived.conf')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(out, 'server-1/etc/haproxy'))).toBe(false);
    expect(connections).toBe(before);
  });

  it.each([['up'], ['plan'], ['rollback'], ['verify'], ['facts'], ['render'], ['lab'], ['init'], ['completion'], ['history']])('%s --help describes the command', async (command) => {
    const r = await runCli([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: /);
  });

  it.each<[string, string[], number, RegExp]>([
    ['no history yet: said, not an error', ['history', join(dir, 'nowhere', 'cluster.yaml')], 0, /^no history at .*nowhere\/\.ha-provision\/history\.jsonl: no up, rollout or rollback has been recorded there$/m],
    ['show of a run that is not there', ['history', 'show', '1', '--history', join(dir, 'none.jsonl')], 1, /no history at/],
    ['show without N', ['history', 'show'], 1, /history show takes N and at most one inventory/],
    ['show of a bad N', ['history', 'show', 'last'], 1, /N must be a run number \(1 or more; `history` lists them\), got last/],
  ])('history: %s', async (_, args, code, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  it('--version prints the package version; an unknown command exits 1 with help', async () => {
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });
});
