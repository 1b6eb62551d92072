// The playbook + templates for haproxy-keepalived, rendered for the example inventory: what a user
// would check in the files and commands before trusting them on a fleet (Debian and RHEL family).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../../src/inventory/load.js';
import { builtinPlaybook, loadPlaybook, runningServices } from '../../src/playbook/playbook.js';
import { factNeeds, resourcesFor } from '../../src/playbook/desired.js';
import { diffResources } from '../../src/resources/diff.js';
import { applySteps } from '../../src/apply/script.js';
import { describeChange } from '../../src/plan/format.js';
import type { HostFacts } from '../../src/facts/gather.js';
import { layoutProblems, layoutWarnings } from '../../src/playbook/layout.js';
import { EMPTY_RECORD, parseRouteLines } from '../../src/facts/managed.js';
import type { Resource } from '../../src/resources/types.js';
import { bareHost, exampleFile, fileOf, namedInventory, renderNamed } from '../fixtures/rendered.js';

const inventory = parseInventory(readFileSync(exampleFile, 'utf8'), exampleFile, { HA_KEEPALIVED_PASS: 'k33pal1v' });

async function render(hostName: string, facts: HostFacts): Promise<Resource[]> {
  const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
  const host = inventory.hosts.find((h) => h.name === hostName)!;
  return resourcesFor(playbook, inventory, host, facts);
}

describe('haproxy.cfg', () => {
  it('balances TCP over every server with an HTTPS health check (no ssl-hello-chk)', async () => {
    const cfg = fileOf(await render('lb-1', bareHost('debian', 'apt-get')), '/etc/haproxy/haproxy.cfg');
    expect(cfg).toMatch(/frontend apiserver\n\s+bind \*:6443\n\s+mode tcp/);
    expect(cfg).toMatch(/balance roundrobin/);
    expect(cfg).toContain('option httpchk GET /healthz');
    expect(cfg).toContain('check check-ssl verify none');
    expect(cfg).not.toContain('ssl-hello-chk');
    expect(cfg).toMatch(/option redispatch\n\s+retries 1\n/); // the one retry goes to another server
    const servers = cfg.match(/^\s+server \S+ \S+$/gm)?.map((l) => l.trim());
    expect(servers).toEqual(['server server-1 10.10.10.50:6443', 'server server-2 10.10.10.51:6443', 'server server-3 10.10.10.52:6443']);
  });

  it('an extra port (RKE2 9345) gets a frontend and a TCP-checked backend of its own', async () => {
    const withExtra = parseInventory(readFileSync(exampleFile, 'utf8').replace('  backendPort: 6443', '  backendPort: 6443\n  extraPorts: [9345]'), exampleFile, { HA_KEEPALIVED_PASS: 'k33pal1v' });
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    const cfg = fileOf(await resourcesFor(playbook, withExtra, withExtra.hosts[0]!, bareHost('debian', 'apt-get')), '/etc/haproxy/haproxy.cfg');
    expect(cfg).toMatch(/frontend port-9345\n\s+bind \*:9345\n[\s\S]*default_backend port-9345\n/);
    const backend = cfg.slice(cfg.indexOf('backend port-9345'));
    expect(backend).toContain('option tcp-check');
    expect(backend.match(/^\s+server \S+ \S+$/gm)?.map((l) => l.trim())).toEqual(['server server-1 10.10.10.50:9345', 'server server-2 10.10.10.51:9345', 'server server-3 10.10.10.52:9345']);
    const nginx = await loadPlaybook(builtinPlaybook('nginx'));
    const conf = fileOf(await resourcesFor(nginx, { ...withExtra, cluster: { ...withExtra.cluster, topology: 'nginx' } }, withExtra.hosts[0]!, bareHost('debian', 'apt-get')), '/etc/nginx/nginx.conf');
    expect(conf).toMatch(/upstream port_9345 \{\n\s+server 10\.10\.10\.50:9345 max_fails=3 fail_timeout=10s;/);
    expect(conf).toMatch(/listen 9345;\n\s+proxy_pass port_9345;/);
  });

  it('falls back to TCP checks without a healthCheck', async () => {
    const text = readFileSync(exampleFile, 'utf8').replace(/^\s+healthCheck:.*$/m, '');
    const tcpInventory = parseInventory(text, exampleFile, { HA_KEEPALIVED_PASS: 'k33pal1v' });
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    const resources = await resourcesFor(playbook, tcpInventory, tcpInventory.hosts[0]!, bareHost('debian', 'apt-get'));
    const cfg = fileOf(resources, '/etc/haproxy/haproxy.cfg');
    expect(cfg).toContain('option tcp-check');
    expect(cfg).not.toContain('httpchk');
  });
});

describe('keepalived', () => {
  it.each([
    ['lb-1', 'MASTER', 200],
    ['lb-2', 'BACKUP', 100],
  ])('%s starts as %s with priority %i', async (name, state, priority) => {
    const conf = fileOf(await render(name, bareHost('debian', 'apt-get')), '/etc/keepalived/keepalived.conf');
    expect(conf).toContain(`state ${state}`);
    expect(conf).toContain(`priority ${priority}`);
    expect(conf).toContain('interface eth1');
    expect(conf).toContain('virtual_router_id 51');
    expect(conf).toContain('auth_pass k33pal1v');
    expect(conf).toContain('10.10.10.100/24 dev eth1');
    expect(conf).toMatch(/enable_script_security/);
    expect(conf).toMatch(/script_user root/);
    expect(conf).toMatch(/track_script \{\s+check_apiserver\s+\}/);
    expect(conf).not.toContain('unicast_peer');
  });

  it('check_apiserver.sh matches the VIP exactly (10.10.10.100 is not 10.10.10.1)', async () => {
    const script = fileOf(await render('lb-1', bareHost('debian', 'apt-get')), '/etc/keepalived/check_apiserver.sh');
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain('grep -q "inet 10.10.10.100/"');
    expect(script).toContain('https://127.0.0.1:6443/healthz');
  });

  // By default the check lowers a failing lb below every other (the recipes' weight): haproxy dying on
  // the holder moves the VIP, while no API server up yet (kubeadm init) leaves it held by one lb.
  it('the derived check weight is rendered, and described as the drop it is', async () => {
    const resources = await render('lb-1', bareHost('debian', 'apt-get'));
    expect(fileOf(resources, '/etc/keepalived/keepalived.conf')).toMatch(/vrrp_script check_apiserver \{[^}]*\n {4}weight -101\n/);
    expect(fileOf(resources, '/etc/keepalived/check_apiserver.sh')).toContain("a failure lowers this node's priority by 101.");
  });

  it('the drain flag is a track_file: FAULT while it holds 1, no reload needed', async () => {
    const conf = fileOf(await render('lb-2', bareHost('debian', 'apt-get')), '/etc/keepalived/keepalived.conf');
    expect(conf).toMatch(/track_file drain \{\s+file \/run\/ha-provision-drain\s+weight 0\s+init_file 0\s+\}/);
    expect(conf).toMatch(/track_file \{\s+drain\s+\}/);
  });
});

describe('per family: what runs on a bare host', () => {
  it.each([
    ['debian', 'apt-get', 'apt-get update -q && apt-get install -y -q -o Dpkg::Options::=--force-confold haproxy keepalived curl'],
    ['rhel', 'dnf', 'dnf install -y -q haproxy keepalived curl'],
    ['rhel', 'yum', 'yum install -y -q haproxy keepalived curl'],
  ] as const)('%s with %s installs the lb packages with: %s', async (family, manager, expected) => {
    const facts = bareHost(family, manager);
    const steps = applySteps(diffResources(await render('lb-1', facts), facts, 'lb-1'));
    expect(steps.find((s) => s.label.startsWith('install '))).toEqual({ label: 'install haproxy, keepalived, curl', script: expected });
    expect(steps.map((s) => s.label)).toEqual(
      expect.arrayContaining(['sysctl net.ipv4.ip_nonlocal_bind=1', 'route add 10.244.0.0/16 via 192.168.20.1 dev eth1', 'validate /etc/haproxy/haproxy.cfg', 'enable haproxy', 'start keepalived']),
    );
  });

  it('Debian persists routes in a boot unit; RHEL in network-scripts/route-DEV', async () => {
    const debian = await render('server-1', bareHost('debian', 'apt-get'));
    expect(fileOf(debian, '/etc/ha-provision/routes.sh')).toContain('ip route replace 10.244.0.0/16 via 192.168.20.1 dev eth1');
    expect(fileOf(debian, '/etc/systemd/system/ha-provision-routes.service')).toContain('ExecStart=/etc/ha-provision/routes.sh');
    expect(debian.some((r) => r.kind === 'file' && r.path.startsWith('/etc/sysconfig'))).toBe(false);

    const rhel = await render('server-1', bareHost('rhel', 'dnf'));
    expect(fileOf(rhel, '/etc/sysconfig/network-scripts/route-eth1')).toMatch(/^10\.244\.0\.0\/16 via 192\.168\.20\.1 dev eth1$/m);
    expect(rhel.some((r) => r.kind === 'file' && /routes\.sh$|\.service$/.test(r.path))).toBe(false);
    expect(fileOf(rhel, '/etc/ha-provision/managed')).toMatch(/^route 10\.244\.0\.0\/16 via 192\.168\.20\.1 dev eth1$/m);
    expect(rhel.some((r) => r.kind === 'service' && r.name === 'ha-provision-routes')).toBe(false);
  });

  // Every route on eth2 left the inventory: the live route is deleted, and route-eth2 must be emptied too,
  // or the network service brings the route back at the next boot.
  it('RHEL: a device whose every route left the inventory gets its route-DEV file emptied, and the plan says so', async () => {
    const OLD = '# Managed by ha-provision (cluster demo): static routes on eth2, applied by the network service.\n10.96.0.0/12 via 192.168.30.1 dev eth2\n';
    const file = (content: string) => ({ content, sha256: '', owner: 'root', group: 'root', mode: '644' });
    const facts: HostFacts = {
      ...bareHost('rhel', 'dnf'),
      routes: [{ to: '10.96.0.0/12', via: '192.168.30.1', dev: 'eth2' }],
      files: { '/etc/sysconfig/network-scripts/route-eth2': file(OLD) },
      managed: { ...EMPTY_RECORD, routes: parseRouteLines('10.244.0.0/16 via 192.168.20.1 dev eth1\n10.96.0.0/12 via 192.168.30.1 dev eth2\n') },
    };
    const resources = await render('server-1', facts);
    const emptied = fileOf(resources, '/etc/sysconfig/network-scripts/route-eth2');
    expect(emptied).toBe('# Managed by ha-provision (cluster demo): static routes on eth2, applied by the network service.\n');
    expect(fileOf(resources, '/etc/sysconfig/network-scripts/route-eth1')).toMatch(/^10\.244\.0\.0\/16 via 192\.168\.20\.1 dev eth1$/m);
    const plan = diffResources(resources, facts, 'server-1').map(describeChange);
    expect(plan).toContain('route delete 10.96.0.0/12 via 192.168.30.1 dev eth2');
    expect(plan).toContain('update /etc/sysconfig/network-scripts/route-eth2');
    // The plan can be truthful only if the host's route-* files are read: every one of them, by glob.
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    expect(factNeeds(playbook, inventory, inventory.hosts.find((h) => h.name === 'server-1')!).fileGlobs).toEqual(['/etc/sysconfig/network-scripts/route-*']);
  });

  it('sysctls persist in /etc/sysctl.d on every host', async () => {
    for (const family of ['debian', 'rhel'] as const) {
      const resources = await render('server-2', bareHost(family, family === 'debian' ? 'apt-get' : 'dnf'));
      expect(fileOf(resources, '/etc/sysctl.d/90-ha-provision.conf')).toContain('net.ipv4.ip_nonlocal_bind = 1');
    }
  });

  it('verify checks the services the playbook keeps running: haproxy and keepalived on lbs, none on servers', async () => {
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    expect(runningServices(playbook, 'lb')).toEqual(['haproxy', 'keepalived']);
    expect(runningServices(playbook, 'server')).toEqual([]); // the routes unit is a boot-time oneshot
  });

  it.each<[string, string, { node: string; service: string } | undefined]>([
    ['haproxy-keepalived', 'services', { node: 'keepalived', service: 'haproxy' }],
    ['nginx', 'services', { node: 'keepalived', service: 'nginx' }],
    ['haproxy-keepalived', 'static-pod', undefined], // kubelet runs the daemons: no drill
    ['kube-vip', 'services', undefined],
  ])('verify --failover stops what %s (%s) declares: %j', async (topology, mode, drill) => {
    expect((await loadPlaybook(builtinPlaybook(topology, mode as 'services' | 'static-pod'))).drill).toEqual(drill);
  });

  it('a drill naming a service the playbook does not run is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-provision-drill-'));
    writeFileSync(join(dir, 'p.yaml'), 'tasks:\n  - service: { name: haproxy }\ndrill: { node: keepalived, service: haproxy }\n');
    await expect(loadPlaybook(join(dir, 'p.yaml'))).rejects.toThrow(/drill\.node: must name a service the playbook runs/);
  });

  it('servers get no load-balancer packages, files or services', async () => {
    const resources = await render('server-1', bareHost('debian', 'apt-get'));
    expect(resources.filter((r) => r.kind === 'package')).toEqual([]);
    expect(resources.some((r) => r.kind === 'file' && r.path.includes('haproxy'))).toBe(false);
    expect(resources.some((r) => r.kind === 'service' && r.name === 'keepalived')).toBe(false);
  });
});

describe('routes dropped from the inventory', () => {
  const old = { to: '10.99.0.0/16', via: '192.168.20.1', dev: 'eth1' };
  const recordOf = (routes: string[]) => ({ content: `# header\n${routes.join('\n')}\n`, sha256: '', owner: 'root', group: 'root', mode: '644' });
  it.each([
    ['recorded and still live: deleted', [`10.99.0.0/16 via 192.168.20.1 dev eth1`], [old], ['route delete 10.99.0.0/16 via 192.168.20.1 dev eth1']],
    ['recorded but already gone: nothing to do', [`10.99.0.0/16 via 192.168.20.1 dev eth1`], [], []],
    ['live but never recorded (not ours): left alone', [], [old], []],
    ['recorded and still in the inventory: kept', ['10.244.0.0/16 via 192.168.20.1 dev eth1'], [], []],
    // A new gateway is one `ip route replace`: deleting the old route afterwards would fail (it is gone).
    [
      'recorded with another gateway: replaced, not deleted',
      ['10.244.0.0/16 via 192.168.20.254 dev eth1'],
      [{ to: '10.244.0.0/16', via: '192.168.20.254', dev: 'eth1' }],
      ['route add 10.244.0.0/16 via 192.168.20.1 dev eth1'],
    ],
    [
      'recorded on another device: replaced, not deleted',
      ['10.244.0.0/16 via 192.168.20.1 dev eth0'],
      [{ to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth0' }],
      ['route add 10.244.0.0/16 via 192.168.20.1 dev eth1'],
    ],
  ])('%s', async (_what, recorded, live, expected) => {
    const inventoryRoute = { to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }; // live, as wanted, unless replaced
    const wanted = live.some((r) => r.to === inventoryRoute.to) ? [] : [inventoryRoute];
    const facts = { ...bareHost('debian', 'apt-get'), routes: [...live, ...wanted], managed: { ...EMPTY_RECORD, routes: parseRouteLines(recorded.join('\n')) } };
    const changes = diffResources(await render('server-1', facts), facts, 'server-1');
    expect(changes.filter((c) => c.kind === 'route').map(describeChange)).toEqual(expected);
  });

  it('a playbook that still names a routes record is told the host keeps it now', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ha-pb-')), 'pb.yaml');
    writeFileSync(file, 'tasks:\n  - on: all\n    routes: { record: /etc/ha-provision/routes }\n');
    await expect(loadPlaybook(file)).rejects.toThrow(`${file}: tasks[0].routes.record: no longer needed: every host keeps its routes in its record of what is managed`);
  });

  it('the routes in the managed record count as recorded, as those of the file older versions kept (which then goes)', async () => {
    const gone = { to: '10.96.0.0/12', via: '192.168.30.1', dev: 'eth2' };
    const live = [{ to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }, gone];
    const fromRecord = { ...bareHost('debian', 'apt-get'), routes: live, managed: { files: [], services: [], packages: [], routes: live } };
    expect(diffResources(await render('server-1', fromRecord), fromRecord, 'server-1').filter((c) => c.kind === 'route').map(describeChange)).toEqual(['route delete 10.96.0.0/12 via 192.168.30.1 dev eth2']);
    const legacy = { ...bareHost('debian', 'apt-get'), routes: live, files: { '/etc/ha-provision/routes': recordOf(['10.244.0.0/16 via 192.168.20.1 dev eth1', '10.96.0.0/12 via 192.168.30.1 dev eth2']) } };
    const plan = diffResources(await render('server-1', legacy), legacy, 'server-1').map(describeChange);
    expect(plan).toContain('route delete 10.96.0.0/12 via 192.168.30.1 dev eth2');
    expect(plan).toContain('remove /etc/ha-provision/routes (replaced by /etc/ha-provision/managed)');
  });
});

describe('topology: nginx (the k3s recipe, with the VIP)', () => {
  const nginxInventory = parseInventory(readFileSync(exampleFile, 'utf8').replace(/topology: haproxy-keepalived/, 'topology: nginx'), exampleFile, { HA_KEEPALIVED_PASS: 'k33pal1v' });
  const renderNginx = async (hostName: string) => {
    const playbook = await loadPlaybook(builtinPlaybook('nginx'));
    return { playbook, resources: await resourcesFor(playbook, nginxInventory, nginxInventory.hosts.find((h) => h.name === hostName)!, bareHost('debian', 'apt-get')) };
  };

  it('one lb and no keepalived section: nginx alone, on the lb\'s own address, with a warning; two lbs need keepalived', async () => {
    const text = readFileSync(exampleFile, 'utf8').replace(/topology: haproxy-keepalived/, 'topology: nginx').replace(/\n {2}keepalived:\n(?: {4}.*\n)+/, '\n');
    const single = parseInventory(text.replace(/^lb-2: .*\n/m, '').replace(/^ {2}lb-2: .*\n/m, '').replace(/vip: \S+/, 'vip: 10.10.10.98/24'), exampleFile, {});
    const playbook = await loadPlaybook(builtinPlaybook('nginx'));
    expect(layoutProblems(playbook.layout, single)).toEqual([]);
    expect(layoutWarnings(single)).toEqual(['lb-1 is the only load balancer: a single point of failure for the API endpoint (10.10.10.98, no VIP that could move); add a second lb and a keepalived section for a VIP that fails over']);
    const resources = await resourcesFor(playbook, single, single.hosts[0]!, bareHost('debian', 'apt-get'));
    expect(resources.flatMap((r) => (r.kind === 'package' ? r.names : r.kind === 'service' ? [r.name] : r.kind === 'file' && r.path.includes('keepalived') ? [r.path] : []))).toEqual(['nginx', 'libnginx-mod-stream', 'curl', 'ha-provision-routes', 'nginx']);
    expect(runningServices(playbook, 'lb', single)).toEqual(['nginx']);
    const pair = parseInventory(text, exampleFile, {});
    expect(layoutProblems(playbook.layout, pair)).toEqual([{ path: 'cluster.keepalived', message: 'lb-1, lb-2 share the VIP through keepalived: add this section, at least { authPass: { env: NAME } } (only a single lb may go without)' }]);
    expect(layoutWarnings(nginxInventory)).toEqual([]);
  });

  it('a stream proxy over every server, with passive health, validated by nginx -t before it replaces anything', async () => {
    const { resources } = await renderNginx('lb-1');
    const conf = fileOf(resources, '/etc/nginx/nginx.conf');
    expect(conf).toContain('include /etc/nginx/modules-enabled/*.conf;'); // the stream module
    expect(conf).toMatch(/stream \{\n\s+upstream apiserver \{/);
    expect(conf.match(/^\s+server \S+ max_fails=3 fail_timeout=10s;$/gm)?.map((l) => l.trim().split(' ')[1])).toEqual(['10.10.10.50:6443', '10.10.10.51:6443', '10.10.10.52:6443']);
    expect(conf).toMatch(/listen 6443;\n\s+proxy_pass apiserver;/);
    const file = resources.find((r) => r.kind === 'file' && r.path === '/etc/nginx/nginx.conf');
    expect(file && file.kind === 'file' ? file.validate : undefined).toBe('nginx -t -q -c %s');
    expect(resources.some((r) => r.kind === 'file' && r.path.includes('haproxy'))).toBe(false);
  });

  it('keepalived holds the VIP as in the haproxy layout, and its check goes through nginx', async () => {
    const { resources, playbook } = await renderNginx('lb-2');
    expect(fileOf(resources, '/etc/keepalived/keepalived.conf')).toContain('10.10.10.100/24 dev eth1');
    expect(fileOf(resources, '/etc/keepalived/check_apiserver.sh')).toContain('https://127.0.0.1:6443/healthz');
    expect(resources.filter((r) => r.kind === 'package').flatMap((r) => (r.kind === 'package' ? r.names : []))).toEqual(['nginx', 'libnginx-mod-stream', 'curl', 'keepalived']);
    expect(runningServices(playbook, 'lb')).toEqual(['nginx', 'keepalived']);
  });
});

// Hosts written as names (resolved by a table here, as the controller would): keepalived gets the IPs,
// haproxy and nginx the names, which they resolve on the lb at each start or reload.
describe('hosts written as names', () => {
  it.each([
    ['haproxy-keepalived', 'lb-1', '10.10.10.98', ['10.10.10.99']],
    ['haproxy-keepalived', 'lb-2', '10.10.10.99', ['10.10.10.98']],
    ['nginx', 'lb-1', '10.10.10.98', ['10.10.10.99']],
  ] as const)('%s: keepalived on %s has IPs as its unicast source and peers', async (topology, hostName, src, peers) => {
    const conf = fileOf((await renderNamed(topology, hostName)).resources, '/etc/keepalived/keepalived.conf');
    expect(conf).toContain(`unicast_src_ip ${src}\n`);
    expect(conf.match(/unicast_peer \{([^}]*)\}/)?.[1]?.trim().split(/\s+/)).toEqual(peers);
    expect(conf).not.toContain('example.invalid');
  });

  it('haproxy keeps the names, each starting without an address if it does not resolve; the IPs stay as they were', async () => {
    const named = await namedInventory('haproxy-keepalived');
    const withExtra = { ...named, cluster: { ...named.cluster, extraPorts: [9345] } };
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    const cfg = fileOf(await resourcesFor(playbook, withExtra, withExtra.hosts[0]!, bareHost('debian', 'apt-get')), '/etc/haproxy/haproxy.cfg');
    expect(cfg.match(/^\s+server .*$/gm)?.map((l) => l.trim())).toEqual([
      'server server-1 cp1.example.invalid:6443 init-addr libc,none',
      'server server-2 10.10.10.51:6443',
      'server server-3 10.10.10.52:6443',
      'server server-1 cp1.example.invalid:9345 init-addr libc,none',
      'server server-2 10.10.10.51:9345',
      'server server-3 10.10.10.52:9345',
    ]);
  });

  it('nginx keeps the names in its upstream', async () => {
    const conf = fileOf((await renderNamed('nginx', 'lb-1')).resources, '/etc/nginx/nginx.conf');
    expect(conf.match(/^\s+server \S+ max_fails=3 fail_timeout=10s;$/gm)?.map((l) => l.trim().split(' ')[1])).toEqual(['cp1.example.invalid:6443', '10.10.10.51:6443', '10.10.10.52:6443']);
  });

  it('the lbs probe the backends as written', async () => {
    expect((await renderNamed('haproxy-keepalived', 'lb-1')).needs.backends).toEqual(['cp1.example.invalid:6443', '10.10.10.51:6443', '10.10.10.52:6443']);
  });
});
