// The layouts whose daemons kubelet runs: kube-vip's static pod, and haproxy + keepalived as static pods
// (mode: static-pod). No kubelet here: what a user checks is that each manifest is a v1 Pod with what
// kubelet needs, the configs land where the manifests mount them, and kube-vip's is what kube-vip renders.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { freshHostFacts } from '../../src/facts/gather.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { layoutProblems } from '../../src/playbook/layout.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT, runningServices } from '../../src/playbook/playbook.js';
import { resourcesFor } from '../../src/playbook/desired.js';
import type { Resource } from '../../src/resources/types.js';

const exampleFile = join(PROJECT_ROOT, 'inventory', 'example.yaml');
const EXAMPLE = readFileSync(exampleFile, 'utf8');
const ENV = { HA_KEEPALIVED_PASS: 'k33pal1v' };

/** The example's two lbs as control planes (roles [lb, server]) running kube-vip; no keepalived section. */
const KUBE_VIP = EXAMPLE.replace(/topology: \S+/, 'topology: kube-vip')
  .replace(/\n {2}keepalived:\n(?: {4}.*\n)+/, '\n')
  .replace(/roles: \[lb\]/g, 'roles: [lb, server]');
const STATIC = EXAMPLE.replace(/(topology: \S+)/, '$1\n  mode: static-pod\n  staticPods: { keepalivedImage: registry.example.com/keepalived:2.2.8 }');

async function rendered(text: string, hostName = 'lb-1'): Promise<{ inventory: Inventory; resources: Resource[]; file: (path: string) => string }> {
  const inventory = parseInventory(text, exampleFile, ENV);
  const playbook = await loadPlaybook(builtinPlaybook(inventory.cluster.topology, inventory.cluster.mode));
  expect(layoutProblems(playbook.layout, inventory)).toEqual([]);
  const resources = await resourcesFor(playbook, inventory, inventory.hosts.find((h) => h.name === hostName)!, freshHostFacts('debian'));
  const file = (path: string): string => {
    const r = resources.find((x) => x.kind === 'file' && x.path === path);
    if (!r || r.kind !== 'file') throw new Error(`${path} not rendered`);
    return r.content;
  };
  return { inventory, resources, file };
}

interface Pod {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: {
    hostNetwork: boolean;
    containers: { name: string; image: string; command?: string[]; args?: string[]; env?: { name: string; value?: string }[]; securityContext?: { capabilities?: { add?: string[] } }; volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[]; livenessProbe?: { httpGet: { path: string; port: number; host: string } } }[];
    volumes: { name: string; hostPath: { path: string; type?: string } }[];
  };
}

/** A manifest as kubelet reads it: one v1 Pod in kube-system, on the host network. */
function pod(text: string): Pod {
  const p = parseYaml(text) as Pod;
  expect([p.apiVersion, p.kind, p.metadata.namespace, p.spec.hostNetwork]).toEqual(['v1', 'Pod', 'kube-system', true]);
  return p;
}

/** Where a container sees a host path, and whether read-only. */
const mounts = (p: Pod): Record<string, [string, boolean]> =>
  Object.fromEntries(p.spec.containers[0]!.volumeMounts.map((m) => [p.spec.volumes.find((v) => v.name === m.name)!.hostPath.path, [m.mountPath, m.readOnly === true]]));

describe('topology kube-vip', () => {
  it('renders, after its first line, exactly what kube-vip v1.2.3 `manifest pod --arp --leaderElection --controlplane` prints', async () => {
    const { file } = await rendered(KUBE_VIP);
    const golden = readFileSync(join(PROJECT_ROOT, 'test', 'unit', 'golden', 'kube-vip-v1.2.3.yaml'), 'utf8').replace(/^#.*\n/gm, '');
    const manifest = file('/etc/kubernetes/manifests/kube-vip.yaml');
    expect(manifest.split('\n')[0]).toMatch(/^# Managed by ha-provision/);
    expect(manifest.replace(/^#.*\n/, '')).toBe(golden.replace('value: eth0', 'value: eth1').replace('value: 192.168.0.40', 'value: 10.10.10.100'));
  });

  it.each<[string, (p: Pod) => unknown, unknown]>([
    ['ARP mode with leader election, as a control-plane VIP', (p) => Object.fromEntries((p.spec.containers[0]!.env ?? []).filter((e) => ['vip_arp', 'cp_enable', 'vip_leaderelection'].includes(e.name)).map((e) => [e.name, e.value])), { vip_arp: 'true', cp_enable: 'true', vip_leaderelection: 'true' }],
    ['the VIP, the interface and the API server port', (p) => ['address', 'vip_interface', 'port'].map((n) => p.spec.containers[0]!.env!.find((e) => e.name === n)?.value), ['10.10.10.100', 'eth1', '6443']],
    ['NET_ADMIN and NET_RAW, to add the address and answer ARP', (p) => p.spec.containers[0]!.securityContext?.capabilities?.add, ['NET_ADMIN', 'NET_RAW']],
    ['the kubeconfig for leader election', (p) => mounts(p), { '/etc/kubernetes/admin.conf': ['/etc/kubernetes/admin.conf', false] }],
    ['the image of the release it matches', (p) => p.spec.containers[0]!.image, 'ghcr.io/kube-vip/kube-vip:v1.2.3'],
  ])('%s', async (_, read, expected) => {
    expect(read(pod((await rendered(KUBE_VIP)).file('/etc/kubernetes/manifests/kube-vip.yaml')))).toEqual(expected);
  });

  it('the image and the kubeconfig come from the inventory (super-admin.conf while kubeadm init runs, Kubernetes ≥ 1.29)', async () => {
    const text = KUBE_VIP.replace(/(topology: kube-vip)/, '$1\n  kubeVip: { image: registry.example.com/kube-vip:v1.2.3, kubeconfig: /etc/kubernetes/super-admin.conf }');
    const p = pod((await rendered(text)).file('/etc/kubernetes/manifests/kube-vip.yaml'));
    expect([p.spec.containers[0]!.image, p.spec.volumes[0]!.hostPath.path]).toEqual(['registry.example.com/kube-vip:v1.2.3', '/etc/kubernetes/super-admin.conf']);
  });

  it('no keepalived, no proxy, no service to manage: only the manifest on the control planes, and no password needed', async () => {
    const { inventory, resources } = await rendered(KUBE_VIP);
    expect(inventory.cluster.keepalived).toBeUndefined();
    expect(resources.flatMap((r) => (r.kind === 'file' && !r.path.startsWith('/etc/ha-provision') && !r.path.includes('sysctl') && !r.path.includes('routes') ? [r.path] : []))).toEqual(['/etc/kubernetes/manifests/kube-vip.yaml']);
    expect(resources.filter((r) => r.kind === 'package')).toEqual([]);
    expect(runningServices(await loadPlaybook(builtinPlaybook('kube-vip')), 'lb')).toEqual([]);
  });
});

describe('mode static-pod (haproxy-keepalived)', () => {
  it('keepalived: NET_ADMIN, NET_BROADCAST and NET_RAW, its config directory read-only, the drain directory shared', async () => {
    const { file } = await rendered(STATIC);
    const p = pod(file('/etc/kubernetes/manifests/keepalived.yaml'));
    expect(p.spec.containers[0]!.securityContext?.capabilities?.add).toEqual(['NET_ADMIN', 'NET_BROADCAST', 'NET_RAW']);
    expect(mounts(p)).toEqual({ '/etc/keepalived': ['/etc/keepalived', true], '/run/ha-provision': ['/run/ha-provision', false] });
    expect(p.spec.containers[0]!.image).toBe('registry.example.com/keepalived:2.2.8');
    expect(p.spec.containers[0]!.command).toContain('--use-file=/etc/keepalived/keepalived.conf');
  });

  it('haproxy: its config directory read-only where the official image reads it, and a liveness probe on /healthz', async () => {
    const { file } = await rendered(STATIC);
    const p = pod(file('/etc/kubernetes/manifests/haproxy.yaml'));
    expect(mounts(p)).toEqual({ '/etc/haproxy': ['/usr/local/etc/haproxy', true] });
    expect(p.spec.containers[0]!.livenessProbe?.httpGet).toMatchObject({ host: '127.0.0.1', path: '/healthz', port: 8404 });
    expect(p.spec.containers[0]!.image).toBe('haproxy:2.8');
  });

  it('the configs land where the pods mount them, and answer the probe; the drain file is the one the pod watches', async () => {
    const { file, resources } = await rendered(STATIC);
    expect(file('/etc/haproxy/haproxy.cfg')).toMatch(/frontend healthz\n\s+bind 127\.0\.0\.1:8404\n\s+mode http\n\s+no log\n\s+monitor-uri \/healthz/);
    expect(file('/etc/haproxy/haproxy.cfg')).toContain('log stdout format raw local0');
    expect(file('/etc/haproxy/haproxy.cfg')).not.toMatch(/^\s+chroot /m);
    expect(file('/etc/keepalived/keepalived.conf')).toContain('file /run/ha-provision/drain');
    expect(file('/etc/keepalived/check_apiserver.sh')).toMatch(/^#!/);
    // kubelet runs the daemons: no packages, no services on the host.
    expect(resources.filter((r) => r.kind === 'package' || r.kind === 'service').map((r) => (r.kind === 'service' ? r.name : 'packages'))).toEqual(['ha-provision-routes']);
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived', 'static-pod'));
    expect(playbook.drain?.run).toBe('mkdir -p /run/ha-provision && echo 1 > /run/ha-provision/drain');
  });

  it('as services, the same templates keep their service form', async () => {
    const { file } = await rendered(EXAMPLE);
    expect(file('/etc/haproxy/haproxy.cfg')).toMatch(/chroot \/var\/lib\/haproxy/);
    expect(file('/etc/haproxy/haproxy.cfg')).not.toContain('frontend healthz');
    expect(file('/etc/keepalived/keepalived.conf')).toContain('file /run/ha-provision-drain');
  });
});
