// The fact commands run for real on this machine: sysctls from /proc/sys, backend probes through nc and
// curl against local listeners, files by glob, and the whole gather script (this machine must be
// Debian-like: it expects apt-get and dpkg). No root needed.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendsFact, filesFact, sysctlsFact } from '../../src/facts/facts.js';
import { gatherFacts, gatherScript, parseGathered, type FactNeeds } from '../../src/facts/gather.js';
import { HostError } from '../../src/errors.js';
import type { Transport } from '../../src/transport/transport.js';

const sh = (script: string): string => execFileSync('sh', ['-c', script], { encoding: 'utf8' });

describe('sysctls', () => {
  const fact = sysctlsFact(['net.ipv4.ip_nonlocal_bind', 'net.ipv4.ip_forward', 'net.ipv4.ip_local_port_range', 'net.ipv4.no_such_key', 'kernel.ostype']);


  it('reads /proc/sys for real', () => {
    const values = fact.parse(sh(fact.command));
    expect(values['kernel.ostype']).toBe('Linux');
    expect(values['net.ipv4.ip_forward']).toBe(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim());
    expect(values).not.toHaveProperty('net.ipv4.no_such_key');
  });
});

describe('backends', () => {
  describe('probes for real', () => {
    let server: Server;
    let open: string;
    let closed: string;
    let bin: string;

    beforeAll(async () => {
      // A listener that accepts and hangs up at once: reachable, but it speaks neither TLS nor anything.
      server = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      open = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      closed = `127.0.0.1:${(probe.address() as AddressInfo).port}`;
      await new Promise((resolve) => probe.close(resolve));
      bin = mkdtempSync(join(tmpdir(), 'ha-bin-'));
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
      rmSync(bin, { recursive: true, force: true });
    });

    /** A directory with only `tool` in it: as PATH, each branch of the probe runs. */
    function only(tool: string): string {
      const toolDir = join(bin, tool);
      rmSync(toolDir, { recursive: true, force: true });
      execFileSync('mkdir', ['-p', toolDir]);
      const real = sh(`command -v ${tool}`).trim();
      if (!real) throw new Error(`${tool} is not installed on this machine`);
      symlinkSync(real, join(toolDir, tool));
      return toolDir;
    }

    it.each(['nc', 'curl'])('with only %s installed, an open port is ok and a closed one fails', async (tool) => {
      const toolDir = only(tool);
      const fact = backendsFact([open, closed]);
      const { stdout } = await promisify(execFile)('/bin/sh', ['-c', fact.command], { env: { PATH: toolDir }, encoding: 'utf8' });
      expect(fact.parse(stdout)).toEqual({ [open]: true, [closed]: false });
    });

    it('a curl too old for --parallel (it exits 2) falls back to one probe per backend', async () => {
      const toolDir = only('curl');
      const real = sh('command -v curl').trim();
      rmSync(join(toolDir, 'curl'));
      writeFileSync(join(toolDir, 'curl'), `#!/bin/sh\ncase " $* " in *" --parallel "*) exit 2 ;; esac\nexec ${real} "$@"\n`, { mode: 0o755 });
      const fact = backendsFact([open, closed]);
      const { stdout } = await promisify(execFile)('/bin/sh', ['-c', fact.command], { env: { PATH: toolDir }, encoding: 'utf8' });
      expect(stdout).toMatch(/ ok\n|ok$/m); // the per-backend lines, not curl's
      expect(fact.parse(stdout)).toEqual({ [open]: true, [closed]: false });
    });

    // A backend written as a name is probed as written: the lb resolves it, as haproxy and nginx do there.
    it.each(['nc', 'curl'])('with only %s installed, a name that resolves is probed, one that does not fails', async (tool) => {
      const toolDir = only(tool);
      const named = `localhost:${open.split(':')[1]}`;
      const unresolvable = `cp1.example.invalid:${open.split(':')[1]}`;
      const fact = backendsFact([named, unresolvable]);
      const { stdout } = await promisify(execFile)('/bin/sh', ['-c', fact.command], { env: { PATH: toolDir }, encoding: 'utf8' });
      expect(fact.parse(stdout)).toEqual({ [named]: true, [unresolvable]: false });
    });
  });
});

describe('files by glob, run for real on this machine', () => {
  it('reads every file a glob matches (and none when nothing matches), as it reads named files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-glob with space-')); // only the * is left unquoted
    try {
      writeFileSync(join(dir, 'route-eth1'), '10.244.0.0/16 via 192.168.20.1 dev eth1\n');
      writeFileSync(join(dir, 'route-eth2'), '10.96.0.0/12 via 192.168.30.1 dev eth2\n');
      writeFileSync(join(dir, 'ifcfg-eth1'), 'DEVICE=eth1\n');
      const fact = filesFact([], [join(dir, 'route-*'), join(dir, 'nothing-*')]);
      const files = fact.parse(spawnSync('sh', [], { input: fact.command, encoding: 'utf8' }).stdout);
      expect(Object.keys(files).sort()).toEqual([join(dir, 'route-eth1'), join(dir, 'route-eth2')]);
      expect(files[join(dir, 'route-eth2')]?.content).toBe('10.96.0.0/12 via 192.168.30.1 dev eth2\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gather, run for real on this machine', () => {
  let dir: string;
  let present: string;
  let missing: string;
  const run = (script: string): string => spawnSync('sh', [], { input: script, encoding: 'utf8' }).stdout;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ha-gather-'));
    present = join(dir, 'haproxy.cfg');
    missing = join(dir, 'keepalived.conf');
    writeFileSync(present, 'frontend kube-apiserver\n    bind *:6443\n    # pässwörd-free ✓\n');
    chmodSync(present, 0o640);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const needsFor = (): FactNeeds => ({
    packages: ['bash', 'nonexistent-pkg'],
    sysctls: ['kernel.ostype', 'net.ipv4.no_such_key'],
    files: [present, missing],
    services: ['cron'],
    serviceFaults: {},
    backends: [],
  });

  it('reads every fact in one script', () => {
    const needs = needsFor();
    const facts = parseGathered(needs, run(gatherScript(needs)));
    const bashVersion = sh("dpkg-query -W -f='${Version}' bash");

    expect(facts.os).toMatchObject({ id: 'debian', family: 'debian' });
    expect(facts.packageManager).toBe('apt-get');
    expect(facts.systemd).toBe(existsSync('/run/systemd/system'));
    expect(facts.packages).toEqual({ bash: bashVersion });
    expect(facts.sysctls).toEqual({ 'kernel.ostype': 'Linux' });
    expect(facts.files[present]).toEqual({
      content: readFileSync(present, 'utf8'),
      sha256: createHash('sha256').update(readFileSync(present)).digest('hex'),
      owner: sh('id -un').trim(),
      group: sh('id -gn').trim(),
      mode: '640',
    });
    expect(facts.files).toHaveProperty([missing]);
    expect(facts.files[missing]).toBeUndefined();
    expect(facts.addresses).toContainEqual({ dev: 'lo', cidr: '127.0.0.1/8' });
    // With systemd, whatever state cron is in; without it (a CI container), unknown: never a made-up state.
    expect(facts.services.cron).toEqual(facts.systemd
      ? expect.objectContaining({ active: expect.stringMatching(/^(active|inactive|failed)$/) })
      : { active: 'unknown', enabled: '', mainPid: 0, startedAt: '0' });
  });

  // e.g. an inventory with `sysctls: {}`, or a playbook with no file/service task for a role
  it.each<[string, Partial<FactNeeds>]>([
    ['no packages', { packages: [] }],
    ['no sysctls', { sysctls: [] }],
    ['no files', { files: [] }],
    ['no services', { services: [] }],
    ['no backends', { backends: [] }],
  ])('works for a host that needs %s', (_name, override) => {
    const needs: FactNeeds = { ...needsFor(), ...override };
    const facts = parseGathered(needs, run(gatherScript(needs)));
    expect(facts.os.family).toBe('debian');
  });

  it.each<[string, (stdout: string) => string]>([
    ['the connection dropped before the end marker', (s) => s.slice(0, s.indexOf('@@ha-provision-fact end'))],
    ['the connection dropped half-way', (s) => s.slice(0, Math.floor(s.length / 2))],
    ['no output at all', () => ''],
  ])('refuses output that stops early: %s', (_name, truncate) => {
    const needs = needsFor();
    const stdout = run(gatherScript(needs));
    expect(() => parseGathered(needs, stdout)).not.toThrow();
    expect(() => parseGathered(needs, truncate(stdout))).toThrow(/incomplete/);
  });

  it('gatherFacts names the host when the output is incomplete', async () => {
    const needs = needsFor();
    const cut: Transport = {
      execCount: 1,
      close: () => undefined,
      exec: async (script) => ({ code: 255, stdout: run(script).slice(0, 200), stderr: 'Connection reset by peer' }),
    };
    await expect(gatherFacts('lb-1', cut, needs)).rejects.toThrow(HostError);
    await expect(gatherFacts('lb-1', cut, needs)).rejects.toThrow(/^lb-1: reading facts failed \(exit 255\).*Connection reset by peer/);
  });
});
