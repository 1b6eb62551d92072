// Leaving is data: every host keeps a record of what the tool manages there (facts/managed.ts). What
// the record names and the playbook no longer renders for the host — a topology switch, a task dropped
// or no longer applying — is removed (files) or stopped and disabled (services); packages stay.
import type { HostFacts } from '../facts/gather.js';
import { formatManagedRecord, LEGACY_ROUTES_RECORD, MANAGED_RECORD, type ManagedRecord } from '../facts/managed.js';
import type { Resource, ResourceOf } from '../resources/types.js';

const LEFT = 'ha-provision no longer manages it here';

/** The playbook's resources for a host, plus what leaves, plus the record of what is managed from now on. */
export function withManagedRecord(resources: readonly Resource[], facts: HostFacts): Resource[] {
  const files = resources.filter((r): r is ResourceOf<'file'> => r.kind === 'file');
  const services = resources.filter((r): r is ResourceOf<'service'> => r.kind === 'service');
  const kept = (path: string): boolean => resources.some((r) => (r.kind === 'file' || r.kind === 'absent-file') && r.path === path);
  const leaving: Resource[] = [
    // Read once for the routes it names (see recordedRoutes), then the managed record replaces it.
    ...(facts.files[LEGACY_ROUTES_RECORD] ? [{ kind: 'absent-file' as const, path: LEGACY_ROUTES_RECORD, daemonReload: false, why: 'replaced by /etc/ha-provision/managed' }] : []),
    ...facts.managed.files
      .filter((f) => !kept(f.path) && f.path !== MANAGED_RECORD)
      .map((f): Resource => ({ kind: 'absent-file', path: f.path, daemonReload: f.daemonReload, why: LEFT })),
    ...facts.managed.services
      .filter((name) => !services.some((s) => s.name === name))
      .map((name): Resource => ({ kind: 'service', name, state: 'stopped', why: `${LEFT}; its package stays installed`, reloadOn: [], onChange: 'reload', restartOn: [], logFaults: [] })),
  ];
  const record: ManagedRecord = {
    files: files.map((f) => ({ path: f.path, daemonReload: f.daemonReload })),
    services: services.filter((s) => s.state !== 'stopped').map((s) => s.name),
    running: services.filter((s) => s.state === 'running').map((s) => s.name),
    packages: [...new Set(resources.flatMap((r) => (r.kind === 'package' ? r.names : [])))],
    routes: resources.flatMap((r) => (r.kind === 'route' && r.state === 'present' ? [r.route] : [])),
  };
  return [
    ...resources,
    ...leaving,
    {
      kind: 'file', path: MANAGED_RECORD, content: formatManagedRecord(record), mode: '0644', owner: 'root', group: 'root',
      daemonReload: false, secrets: [], peerShared: [], peers: [],
    },
  ];
}
