// Leaving a layout: the record each host keeps of what the tool manages, and what a plan does with what
// the record names and the playbook no longer renders (a topology switch haproxy-keepalived ↔ nginx).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { od } from '../fixtures/od.js';
import { describe, expect, it } from 'vitest';
import { applySteps } from '../../src/apply/script.js';
import { restoreChanges } from '../../src/apply/restore.js';
import { freshHostFacts, parseGathered, type HostFacts } from '../../src/facts/gather.js';
import { EMPTY_RECORD, formatManagedRecord, MANAGED_RECORD, managedFact, parseManagedRecord } from '../../src/facts/managed.js';
import { parseInventory } from '../../src/inventory/load.js';
import { describeChange } from '../../src/plan/format.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT } from '../../src/playbook/playbook.js';
import { factNeeds, resourcesFor } from '../../src/playbook/desired.js';
import { diffResources } from '../../src/resources/diff.js';
import type { Change, Resource } from '../../src/resources/types.js';

const exampleFile = join(PROJECT_ROOT, 'inventory', 'example.yaml');
const example = readFileSync(exampleFile, 'utf8');
const inventoryOf = (topology: string) => parseInventory(example.replace(/topology: \S+/, `topology: ${topology}`), exampleFile, { HA_KEEPALIVED_PASS: 'k33pal1v' });

const fileFact = (content: string, mode = '644') => ({ content, sha256: createHash('sha256').update(content).digest('hex'), owner: 'root', group: 'root', mode });

/** A Debian lb converged to `topology`: every file as rendered, every service active and enabled, the record written. */
async function convergedLb(topology: string, name = 'lb-1'): Promise<HostFacts> {
  const inventory = inventoryOf(topology);
  const resources = await resourcesFor(await loadPlaybook(builtinPlaybook(topology)), inventory, inventory.hosts.find((h) => h.name === name)!, freshHostFacts('debian'));
  const files = Object.fromEntries(resources.flatMap((r) => (r.kind === 'file' ? [[r.path, fileFact(r.content, r.mode.replace(/^0/, ''))]] : [])));
  const services = Object.fromEntries(resources.flatMap((r) => (r.kind === 'service' ? [[r.name, { active: r.state === 'running' ? 'active' : 'inactive', enabled: 'enabled', mainPid: 1, startedAt: '1' }]] : [])));
  const packages = Object.fromEntries(resources.flatMap((r) => (r.kind === 'package' ? r.names.map((n) => [n, '1.0']) : [])));
  return {
    ...freshHostFacts('debian'),
    packageManager: 'apt-get',
    sysctls: { 'net.ipv4.ip_nonlocal_bind': '1' },
    routes: inventory.routes,
    packages,
    files,
    services,
    managed: parseManagedRecord(files[MANAGED_RECORD]!.content),
  };
}

async function planSwitch(from: string, to: string): Promise<Change[]> {
  const inventory = inventoryOf(to);
  const host = inventory.hosts.find((h) => h.name === 'lb-1')!;
  const facts = await convergedLb(from);
  return diffResources(await resourcesFor(await loadPlaybook(builtinPlaybook(to)), inventory, host, facts), facts, 'lb-1');
}

describe('the managed record', () => {
  it('reads back what it wrote: files (with daemon-reload), services, packages', () => {
    const record = {
      files: [{ path: '/etc/haproxy/haproxy.cfg', daemonReload: false }, { path: '/etc/systemd/system/x.service', daemonReload: true }],
      services: ['haproxy', 'ha-provision-routes'],
      running: ['haproxy'],
      packages: ['haproxy', 'curl'],
      routes: [{ to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }],
    };
    expect(parseManagedRecord(formatManagedRecord(record))).toEqual(record);
    expect(formatManagedRecord(record)).toContain('file /etc/systemd/system/x.service daemon-reload\nservice haproxy running\nservice ha-provision-routes\npackage haproxy\npackage curl\nroute 10.244.0.0/16 via 192.168.20.1 dev eth1\n');
  });

  it('a converged host records every file and service its playbook renders, and the packages', async () => {
    const record = (await convergedLb('haproxy-keepalived')).managed;
    expect(record.files.map((f) => f.path)).toEqual(expect.arrayContaining(['/etc/haproxy/haproxy.cfg', '/etc/keepalived/keepalived.conf', '/etc/keepalived/check_apiserver.sh']));
    expect(record.files.find((f) => f.path.endsWith('ha-provision-routes.service'))?.daemonReload).toBe(true);
    expect(record.services).toEqual(['ha-provision-routes', 'haproxy', 'keepalived']);
    expect(record.running).toEqual(['haproxy', 'keepalived']); // the routes unit is a boot-time oneshot
    expect(record.packages).toEqual(['haproxy', 'keepalived', 'curl']);
  });

  it('the fact reads recorded entries the playbook does not read itself, and only those', () => {
    const fact = managedFact({ files: ['/etc/keepalived/keepalived.conf'], services: ['keepalived'] });
    expect(fact.command).toContain("case \"$name\" in /etc/keepalived/keepalived.conf) continue ;; esac");
    const stdout = [
      '@missing /etc/gone.conf',
      '@file /etc/haproxy/haproxy.cfg',
      'root root 644 7',
      '@content',
      od('global\n'),
      '@@managed-services',
      'haproxy',
      'ActiveState=active',
      'UnitFileState=enabled',
    ].join('\n');
    const parsed = fact.parse(stdout);
    expect(parsed.files['/etc/haproxy/haproxy.cfg']?.content).toBe('global\n');
    expect(parsed.files['/etc/gone.conf']).toBeUndefined();
    expect(parsed.services.haproxy).toMatchObject({ active: 'active', enabled: 'enabled' });
  });

  it('the record is read as one of the files, in the same exec', () => {
    const text = formatManagedRecord({ files: [{ path: '/etc/haproxy/haproxy.cfg', daemonReload: false }], services: ['haproxy'], running: ['haproxy'], packages: ['haproxy'], routes: [] });
    const needs = { packages: [], sysctls: [], files: [MANAGED_RECORD], services: [], serviceFaults: {}, backends: [] };
    const stdout = `@@ha-provision-fact files\n@file ${MANAGED_RECORD}\nroot root 644 ${Buffer.byteLength(text)}\n@content\n${od(text)}\n@@ha-provision-fact end\n`;
    expect(parseGathered(needs, stdout).managed).toEqual({ files: [{ path: '/etc/haproxy/haproxy.cfg', daemonReload: false }], services: ['haproxy'], running: ['haproxy'], packages: ['haproxy'], routes: [] });
    expect(parseGathered(needs, '@@ha-provision-fact end\n').managed).toEqual(EMPTY_RECORD);
  });

  it('no record (a host never provisioned, or by an older version): nothing leaves', () => {
    expect(managedFact({ files: [], services: [] }).parse('')).toEqual({ files: {}, services: {} });
  });
});

describe('switching topology on a converged lb', () => {
  it.each<[string, string, string[]]>([
    [
      'haproxy-keepalived',
      'nginx',
      [
        'install nginx, libnginx-mod-stream (apt-get)',
        'create /etc/nginx/nginx.conf (mode 0644)',
        'remove /etc/haproxy/haproxy.cfg (ha-provision no longer manages it here)',
        'update /etc/ha-provision/managed',
        'enable + start nginx (not installed yet; not running)',
        'stop + disable haproxy (ha-provision no longer manages it here; its package stays installed)',
      ],
    ],
    [
      'nginx',
      'haproxy-keepalived',
      [
        'install haproxy (apt-get)',
        'create /etc/haproxy/haproxy.cfg (mode 0644)',
        'remove /etc/nginx/nginx.conf (ha-provision no longer manages it here)',
        'update /etc/ha-provision/managed',
        'enable + start haproxy (not installed yet; not running)',
        'stop + disable nginx (ha-provision no longer manages it here; its package stays installed)',
      ],
    ],
  ])('%s → %s: the plan removes the old files and stops and disables the old service; packages stay', async (from, to, expected) => {
    const changes = await planSwitch(from, to);
    expect(changes.map(describeChange).map((l) => l.replace(/^(update \S+).*/, '$1'))).toEqual(expected);
  });

  it('the host runs it in an order that frees the old proxy\'s port before the new one loads, and keeps what it removes', async () => {
    const labels = applySteps(await planSwitch('haproxy-keepalived', 'nginx')).map((s) => s.label);
    const at = (label: string): number => labels.indexOf(label);
    expect(at('validate /etc/nginx/nginx.conf')).toBeLessThan(at('stop haproxy'));
    expect(at('stop haproxy')).toBeLessThan(at('install /etc/nginx/nginx.conf'));
    expect(at('remove /etc/haproxy/haproxy.cfg')).toBeGreaterThan(at('stop haproxy'));
    expect(at('start nginx')).toBeGreaterThan(at('remove /etc/haproxy/haproxy.cfg'));
    const remove = applySteps(await planSwitch('haproxy-keepalived', 'nginx')).find((s) => s.label === 'remove /etc/haproxy/haproxy.cfg')!;
    expect(remove.script).toBe('mkdir -p "$version/before"/etc/haproxy && cp -p /etc/haproxy/haproxy.cfg "$version/before"/etc/haproxy/haproxy.cfg && rm -f /etc/haproxy/haproxy.cfg');
    expect(labels[0]).toBe('check that no file changed since the plan');
  });

  it('switched and converged: nothing more to do (the old service stays stopped and disabled, its file gone)', async () => {
    const inventory = inventoryOf('nginx');
    const host = inventory.hosts.find((h) => h.name === 'lb-1')!;
    const facts = await convergedLb('nginx');
    // What the host looks like after the switch: the old service stopped and disabled, still known to systemd.
    const after: HostFacts = { ...facts, services: { ...facts.services, haproxy: { active: 'inactive', enabled: 'disabled', mainPid: 0, startedAt: '0' } } };
    expect(diffResources(await resourcesFor(await loadPlaybook(builtinPlaybook('nginx')), inventory, host, after), after, 'lb-1')).toEqual([]);
  });

  it('a failed switch restores the removed file and starts the stopped service again', async () => {
    const restored = restoreChanges(await planSwitch('haproxy-keepalived', 'nginx'));
    expect(restored.map(describeChange).map((l) => l.replace(/^(update|create) (\S+).*/, '$1 $2'))).toEqual(expect.arrayContaining([
      'create /etc/haproxy/haproxy.cfg',
      'enable + start haproxy (it ran before this run stopped it)',
    ]));
  });

  it('reads the record in the same exec as everything else', async () => {
    const inventory = inventoryOf('nginx');
    expect(factNeeds(await loadPlaybook(builtinPlaybook('nginx')), inventory, inventory.hosts[0]!).files).toContain(MANAGED_RECORD);
  });
});

describe('playbook data: leaving, states, conditions', () => {
  it.each<[string, Record<string, unknown>, Resource['kind'] | RegExp]>([
    ['a file that must not exist', { name: 'old drop-in', on: 'lb', file: { path: '/etc/old.conf', state: 'absent' } }, 'absent-file'],
    ['state absent only', { file: { path: '/etc/x', state: 'gone' } }, /file\.state: allowed: absent/],
    ['no whitespace in paths (the record is one entry per line)', { file: { path: '/etc/a b', template: 't' } }, /file\.path: must be an absolute path without whitespace/],
    ['running: false is gone', { service: { name: 'x', running: false } }, /service\.running: replaced by state: running \| enabled \| stopped/],
    ['service states', { service: { name: 'x', state: 'paused' } }, /service\.state: must be running .* enabled .* or stopped/],
    ['fault patterns read from some journal transports', { service: { name: 'x', logFaults: ['oops'], logTransports: ['stdout', 'journal'] } }, 'service'],
    ['journal transports by their names', { service: { name: 'x', logFaults: ['oops'], logTransports: ['stderr'] } }, /service\.logTransports: must be a list of journal transports from journal, stdout, syslog, kernel, audit, driver/],
    ['journal transports as a list', { service: { name: 'x', logFaults: ['oops'], logTransports: 'stdout' } }, /service\.logTransports: must be a list/],
    ['journal transports only with fault patterns', { service: { name: 'x', logTransports: ['stdout'] } }, /service\.logTransports: only with logFaults/],
    ['a task for an optional part of the layout', { when: { has: 'keepalived' }, packages: ['keepalived'] }, 'packages'],
    ['when names what it may test', { when: { has: 'haproxy' }, packages: ['x'] }, /when: allowed: \{ family: debian \| rhel, has: keepalived \}/],
  ])('%s', async (_, task, expected) => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { stringify } = await import('yaml');
    const file = join(mkdtempSync(join(tmpdir(), 'pb-')), 'p.yaml');
    writeFileSync(file, stringify({ tasks: [task] }));
    if (expected instanceof RegExp) await expect(loadPlaybook(file)).rejects.toThrow(expected);
    else expect((await loadPlaybook(file)).tasks[0]!.body.kind).toBe(expected);
  });
});
