// A host's desired state from the playbook: what to read from it before planning (factNeeds), and its
// tasks rendered into resources against its facts (resourcesFor). The playbook file itself is read and
// checked in playbook.ts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { FactNeeds, HostFacts } from '../facts/gather.js';
import { LEGACY_ROUTES_RECORD, MANAGED_RECORD, parseRouteLines } from '../facts/managed.js';
import { hasRole, type Host, type Inventory, type Route } from '../inventory/types.js';
import type { Resource } from '../resources/types.js';
import { withManagedRecord } from './managed.js';
import { inventoryHasSectionFor, type FileSpec, type Playbook, type Task } from './playbook.js';
import { compileTemplate, renderPath } from './templates.js';
import { hostVars, type HostVars } from './vars.js';

/** The task is for this host: its role, and the inventory sections the task needs (facts come later). */
const appliesTo = (task: Task, host: Host, inventory: Inventory): boolean =>
  (task.on === 'all' || hasRole(host, task.on)) && inventoryHasSectionFor(task, inventory);

const compiled = new Map<string, Promise<HandlebarsTemplateDelegate>>();

async function template(playbook: Playbook, name: string): Promise<HandlebarsTemplateDelegate> {
  const file = playbook.templateDirs.map((dir) => join(dir, name)).find((f) => existsSync(f));
  if (!file) throw new UsageError(`${playbook.file}: template ${name} not found in ${playbook.templateDirs.join(', ')}`);
  let fn = compiled.get(file);
  if (!fn) {
    // One compile per template and run, however many hosts ask for it at once.
    fn = compileTemplate(readFileSync(file, 'utf8')); // synchronously: see loadInventory
    compiled.set(file, fn);
    fn.catch(() => compiled.delete(file));
  }
  return fn;
}

/**
 * What to read from a host before planning: everything its tasks could touch, whatever the facts say;
 * with `health`, what only verify and a rollout's gates read (services' logged faults, an lb's probes
 * of its backends), not a plan.
 */
export function factNeeds(playbook: Playbook, inventory: Inventory, host: Host, { history = false, health = true } = {}): FactNeeds {
  const vars = hostVars(inventory, host);
  const tasks = playbook.tasks.filter((t) => appliesTo(t, host, inventory));
  const bodies = tasks.map((t) => t.body);
  return {
    packages: bodies.flatMap((b) => (b.kind === 'packages' ? b.names : [])),
    sysctls: bodies.some((b) => b.kind === 'sysctls') ? vars.sysctls.map((s) => s.key) : [],
    files: [
      ...tasks.flatMap((t) => (t.body.kind === 'file' ? expand(t, vars).map((v) => renderPath((t.body as { file: FileSpec }).file.path, v)) : [])),
      ...bodies.flatMap((b) => (b.kind === 'absent-file' ? [b.path] : [])),
      MANAGED_RECORD,
      ...(bodies.some((b) => b.kind === 'routes') ? [LEGACY_ROUTES_RECORD] : []),
    ],
    services: bodies.flatMap((b) => (b.kind === 'service' ? [b.name] : [])),
    enablementOnly: bodies.flatMap((b) => (b.kind === 'service' && b.state === 'enabled' ? [b.name] : [])),
    serviceFaults: health ? Object.fromEntries(bodies.flatMap((b) => (b.kind === 'service' && b.logFaults.length > 0 ? [[b.name, b.logFaults]] : []))) : {},
    serviceLogTransports: Object.fromEntries(bodies.flatMap((b) => (b.kind === 'service' && b.logTransports ? [[b.name, b.logTransports]] : []))),
    // Per-device files of devices that may have left the inventory (RHEL's route-DEV): read them all, so
    // that the plan shows truthfully what emptying them changes.
    fileGlobs: tasks.flatMap((t) => (t.body.kind === 'file' && t.forEach === 'routeDevices' ? [renderPath(t.body.file.path, { ...vars, dev: '*' })] : [])),
    backends: health && hasRole(host, 'lb') ? vars.servers.map((s) => `${s.address}:${inventory.cluster.backendPort}`) : [],
    history,
  };
}

/**
 * One set of variables per device for a forEach task. With `recorded` (the routes this tool managed last
 * time), a device whose every route left the inventory still gets its file, with no routes: otherwise
 * its old route-DEV file would bring the deleted routes back at the next boot.
 */
function expand(task: Task, vars: HostVars, recorded: readonly Route[] = []): HostVars[] {
  if (task.forEach !== 'routeDevices') return [vars];
  const gone = [...new Set(recorded.map((r) => r.dev))].filter((dev) => !vars.routeDevices.some((d) => d.dev === dev));
  return [...vars.routeDevices, ...gone.map((dev) => ({ dev, routes: [] }))].map((d) => ({ ...vars, dev: d.dev, devRoutes: d.routes }));
}

/** The routes this tool put on the host last time: its managed record, or the file older versions kept. */
function recordedRoutes(facts: HostFacts): readonly Route[] {
  const legacy = facts.files[LEGACY_ROUTES_RECORD];
  return facts.managed.routes.length > 0 || !legacy ? facts.managed.routes : parseRouteLines(legacy.content);
}

/** Desired state of one host: its tasks, filtered by role and facts, rendered into resources. */
export async function resourcesFor(playbook: Playbook, inventory: Inventory, host: Host, facts: HostFacts): Promise<Resource[]> {
  const vars = hostVars(inventory, host);
  const resources: Resource[] = [];
  for (const task of playbook.tasks) {
    if (!appliesTo(task, host, inventory) || (task.when?.family !== undefined && task.when.family !== facts.os.family)) continue;
    const body = task.body;
    switch (body.kind) {
      case 'packages':
        resources.push({ kind: 'package', names: body.names, versions: Object.fromEntries(body.names.flatMap((n) => (inventory.packages[n] ? [[n, inventory.packages[n]]] : []))) });
        break;
      case 'sysctls':
        for (const { key, value } of vars.sysctls) resources.push({ kind: 'sysctl', key, value });
        break;
      case 'routes': {
        for (const route of inventory.routes) resources.push({ kind: 'route', route, state: 'present' });
        const recorded = recordedRoutes(facts);
        // Dropped from the inventory. A route whose destination is still wanted (a new gateway or device)
        // is not deleted: `ip route replace` already swapped it, and there would be nothing left to delete.
        for (const route of recorded.filter((r) => !inventory.routes.some((w) => w.to === r.to))) {
          resources.push({ kind: 'route', route, state: 'absent' });
        }
        break;
      }
      case 'service':
        resources.push({ kind: 'service', name: body.name, state: body.state, reloadOn: body.reloadOn, onChange: body.onChange, restartOn: body.restartOn, logFaults: body.logFaults, logTransports: body.logTransports });
        break;
      case 'absent-file':
        resources.push({ kind: 'absent-file', path: body.path, daemonReload: body.daemonReload, why: `task "${task.name}" removes it` });
        break;
      case 'file': {
        const peers = inventory.hosts.filter((h) => h.name !== host.name && appliesTo(task, h, inventory)).map((h) => h.name);
        for (const v of expand(task, vars, recordedRoutes(facts))) {
          const render = await template(playbook, body.file.template);
          resources.push({
            kind: 'file',
            path: renderPath(body.file.path, v),
            content: render(v),
            mode: body.file.mode,
            owner: body.file.owner,
            group: body.file.group,
            ...(body.file.validate ? { validate: body.file.validate } : {}),
            daemonReload: body.file.daemonReload,
            secrets: body.file.secrets.map((s) => new RegExp(s, 'g')),
            peerShared: Object.entries(body.file.peerShared).map(([name, re]) => ({ name, pattern: new RegExp(re, 'g') })),
            peers,
          });
        }
        break;
      }
    }
  }
  return withManagedRecord(resources, facts);
}
