// Pure: (resources, facts) → changes. Each kind compares one wanted value with one fact, pyinfra-style.
// Services are compared last because a changed file decides whether its service reloads.
import type { HostFacts } from '../facts/gather.js';
import { sameRoute } from '../inventory/types.js';
import { HostError } from '../errors.js';
import { capturedSecrets } from '../redact.js';
import type { Change, Resource, ResourceOf, ServiceAction } from './types.js';

const sameMode = (a: string, b: string): boolean => parseInt(a, 8) === parseInt(b, 8);

function diffPackage(r: ResourceOf<'package'>, facts: HostFacts, host: string): Change[] {
  // apt refuses every install until an interrupted dpkg run is finished.
  const repair: Change[] = facts.dpkgInterrupted && facts.packageManager === 'apt-get' ? [{ kind: 'package-repair' }] : [];
  const missing = r.names.filter((name) => facts.packages[name] === undefined);
  const upgrade = r.names.flatMap((name) => {
    const [from, to] = [facts.packages[name], r.versions[name]];
    return from !== undefined && to !== undefined && from !== to ? [{ name, from, to }] : [];
  });
  if (missing.length === 0 && upgrade.length === 0) return repair;
  if (!facts.packageManager) throw new HostError(host, `no apt-get, dnf or yum found to install ${[...missing, ...upgrade.map((u) => u.name)].join(', ')}`);
  const versions = Object.fromEntries(Object.entries(r.versions).filter(([name]) => missing.includes(name) || upgrade.some((u) => u.name === name)));
  return [...repair, { kind: 'package', manager: facts.packageManager, install: missing, versions, upgrade }];
}

function diffSysctl(r: ResourceOf<'sysctl'>, facts: HostFacts): Change[] {
  const current = facts.sysctls[r.key];
  return current === r.value ? [] : [{ kind: 'sysctl', key: r.key, ...(current !== undefined ? { from: current } : {}), to: r.value }];
}

function diffRoute(r: ResourceOf<'route'>, facts: HostFacts): Change[] {
  const live = facts.routes.some((f) => sameRoute(f, r.route));
  if (r.state === 'present') return live ? [] : [{ kind: 'route', route: r.route, action: 'add' }];
  return live ? [{ kind: 'route', route: r.route, action: 'delete' }] : [];
}

function diffFile(r: ResourceOf<'file'>, facts: HostFacts): Change[] {
  const before = facts.files[r.path];
  if (before && before.content === r.content && sameMode(before.mode, r.mode) && before.owner === r.owner && before.group === r.group) return [];
  // A peer-shared setting (e.g. auth_pass) whose value this change alters: the peers must change too.
  const peerShared = before
    ? r.peerShared.filter((s) => capturedSecrets(before.content, [s.pattern]).join('\n') !== capturedSecrets(r.content, [s.pattern]).join('\n')).map((s) => s.name)
    : [];
  return [
    {
      kind: 'file',
      path: r.path,
      ...(before ? { before } : {}),
      content: r.content,
      mode: r.mode,
      owner: r.owner,
      group: r.group,
      ...(r.validate ? { validate: r.validate } : {}),
      daemonReload: r.daemonReload,
      secrets: r.secrets,
      peerShared,
      peers: r.peers,
    },
  ];
}

function diffAbsentFile(r: ResourceOf<'absent-file'>, facts: HostFacts): Change[] {
  const before = facts.files[r.path];
  return before ? [{ kind: 'absent-file', path: r.path, before, daemonReload: r.daemonReload, why: r.why }] : [];
}

/** A service the tool no longer runs: stopped, and disabled so that a reboot does not start it again. */
function diffStoppedService(r: ResourceOf<'service'>, facts: HostFacts): Change[] {
  const state = facts.services[r.name];
  const actions: ServiceAction[] = [];
  if (state && !['inactive', 'failed', 'unknown'].includes(state.active)) actions.push('stop');
  if (state?.enabled === 'enabled') actions.push('disable');
  if (actions.length === 0) return [];
  return [{ kind: 'service', name: r.name, actions, why: r.why ?? 'not wanted running', loads: [], logFaults: [] }];
}

function diffService(r: ResourceOf<'service'>, facts: HostFacts, changedFiles: ReadonlySet<string>, host: string): Change[] {
  if (!facts.systemd) throw new HostError(host, `systemd is not running; cannot manage service ${r.name}`);
  if (r.state === 'stopped') return diffStoppedService(r, facts);
  const running = r.state === 'running';
  const state = facts.services[r.name];
  const actions: ServiceAction[] = [];
  const why: string[] = [];
  if (state?.enabled !== 'enabled' && state?.enabled !== 'static') {
    actions.push('enable');
    why.push(state?.enabled ? `is ${state.enabled}` : 'not installed yet');
  }
  const changed = [...r.reloadOn, ...r.restartOn].filter((p) => changedFiles.has(p));
  // Files an earlier run put in place that this service never loaded (that run died or its reload failed).
  const unloaded = (facts.pendingReloads[r.name] ?? []).filter((p) => !changed.includes(p));
  const loads = [...changed, ...unloaded];
  // A drop-in's LimitNOFILE, say, takes effect only when the service starts again.
  const restartFor = loads.filter((p) => r.restartOn.includes(p));
  if (running && state?.active !== 'active') {
    actions.push('start');
    why.push(state && state.active !== 'inactive' ? `is ${state.active}` : 'not running');
  } else if (running && loads.length > 0) {
    actions.push(restartFor.length > 0 ? 'restart' : r.onChange);
    if (changed.length > 0) why.push(`${changed.join(', ')} changed${restartFor.length > 0 ? ` (${restartFor.join(', ')} takes effect on a restart)` : ''}`);
    if (unloaded.length > 0) why.push(`has not loaded ${unloaded.join(', ')} since an earlier run installed ${unloaded.length === 1 ? 'it' : 'them'}`);
  }
  if (actions.length === 0) return [];
  return [{ kind: 'service', name: r.name, actions, why: why.join('; '), loads: running ? loads : [], logFaults: r.logFaults, logTransports: r.logTransports }];
}

export function diffResources(resources: readonly Resource[], facts: HostFacts, host: string): Change[] {
  // Staging files are a dead run's leftovers only when no live run holds the host's lock.
  const leftovers = facts.runLock?.alive ? [] : facts.leftoverStaging;
  const changes: Change[] = leftovers.length > 0 ? [{ kind: 'leftovers', paths: leftovers }] : [];
  for (const r of resources) {
    switch (r.kind) {
      case 'package': changes.push(...diffPackage(r, facts, host)); break;
      case 'sysctl': changes.push(...diffSysctl(r, facts)); break;
      case 'route': changes.push(...diffRoute(r, facts)); break;
      case 'file': changes.push(...diffFile(r, facts)); break;
      case 'absent-file': changes.push(...diffAbsentFile(r, facts)); break;
      case 'service': break; // below, once every file change is known
    }
  }
  const changedFiles = new Set(changes.flatMap((c) => (c.kind === 'file' ? [c.path] : [])));
  for (const r of resources) if (r.kind === 'service') changes.push(...diffService(r, facts, changedFiles, host));
  return changes;
}
