// A playbook (playbooks/<topology>.yaml) lists tasks in order: which hosts (`on`), an optional
// condition on facts (`when`), and one resource each. This reads and checks the file; desired.ts renders
// its tasks for a host (on the controller, with Handlebars; a user's --templates DIR shadows the built-in
// ones file by file).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../errors.js';
import type { OsFamily } from '../facts/facts.js';
import { JOURNAL_TRANSPORTS, type JournalTransport } from '../facts/services.js';
import { hasRole, type Host, type Inventory, type Mode } from '../inventory/types.js';
import { readLayout, type Layout } from './layout.js';
import type { ServiceState } from '../resources/types.js';
import { precompilePath } from './templates.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface FileSpec {
  readonly path: string; // may hold {{…}} (with forEach)
  readonly template: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly validate?: string;
  readonly daemonReload: boolean;
  readonly secrets: readonly string[];
  /** Settings every host of the task must change together (name → regex, group 1 the value). */
  readonly peerShared: Readonly<Record<string, string>>;
}

export type TaskBody =
  | { readonly kind: 'packages'; readonly names: readonly string[] }
  | { readonly kind: 'sysctls' } // every inventory sysctl
  /** Every inventory route; those the host's managed record lists and the inventory no longer has are deleted. */
  | { readonly kind: 'routes' }
  | { readonly kind: 'file'; readonly file: FileSpec }
  /** `file: { path, state: absent }`: a file that must not exist. */
  | { readonly kind: 'absent-file'; readonly path: string; readonly daemonReload: boolean }
  | {
      readonly kind: 'service';
      readonly name: string;
      readonly state: ServiceState;
      readonly reloadOn: readonly string[];
      readonly onChange: 'reload' | 'restart';
      /** Files that take effect only on a restart (a systemd drop-in's LimitNOFILE): restart, not onChange. */
      readonly restartOn: readonly string[];
      readonly logFaults: readonly string[]; // POSIX EREs: logged since the last (re)load, verify fails
      /** The journal transports (_TRANSPORT) logFaults reads; all when absent. */
      readonly logTransports?: readonly JournalTransport[];
      /** The package that ships it, and what its maintainer scripts do to it on an upgrade. */
      readonly package?: string;
      readonly onUpgrade: 'reload' | 'restart';
    };

/**
 * How a host is taken out of service before a change that interrupts it, and put back after (rollout):
 * shell commands, run as root. For keepalived, a track_file flag that hands the VIP to a peer at once.
 */
export interface Drain {
  readonly on: 'all' | 'lb' | 'server';
  readonly run: string;
  readonly undo: string;
}

export interface Task {
  readonly name: string;
  readonly on: 'all' | 'lb' | 'server';
  /** family: the host's OS family (a fact); has: the inventory has that section (a layout's optional part). */
  readonly when?: { readonly family?: OsFamily; readonly has?: 'keepalived' };
  readonly forEach?: 'routeDevices';
  readonly body: TaskBody;
}

/** verify --failover: the services the drill stops on the VIP holder (the VIP's daemon, then the proxy). */
export interface DrillSpec {
  readonly node: string;
  readonly service: string;
}

export interface Playbook {
  readonly file: string;
  /** Absent: the layout has no services to stop (kubelet runs its daemons), and no drill. */
  readonly drill?: DrillSpec;
  /** What the layout asks of the inventory (layout.ts); the default: a proxy on the lbs, with keepalived. */
  readonly layout: Layout;
  readonly tasks: readonly Task[];
  readonly drain?: Drain;
  readonly templateDirs: readonly string[]; // searched in order
}

const BODY_KEYS = ['packages', 'sysctls', 'routes', 'file', 'service'] as const;

/** Reads and checks a playbook; errors name the file, the task and what is allowed. */
export async function loadPlaybook(file: string, userTemplates?: string): Promise<Playbook> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')); // synchronously: see loadInventory
  } catch (error) {
    throw new UsageError(`${file}: cannot read playbook: ${(error as Error).message}`);
  }
  const fail = (where: string, what: string): never => {
    throw new UsageError(`${file}: ${where}: ${what}`);
  };
  const rawTasks = (doc as { tasks?: unknown })?.tasks;
  if (!Array.isArray(rawTasks)) fail('tasks', 'must be a list of tasks');
  const tasks = (await withIncludes(rawTasks as Record<string, unknown>[], file, fail)).map((raw, i): Task => {
    const where = `tasks[${i}]`;
    const bodyKeys = BODY_KEYS.filter((k) => k in raw);
    if (bodyKeys.length !== 1) fail(where, `needs exactly one of ${BODY_KEYS.join(', ')}`);
    for (const key of Object.keys(raw)) {
      if (!['name', 'on', 'when', 'forEach', ...BODY_KEYS].includes(key)) fail(`${where}.${key}`, 'unknown key; allowed: name, on, when, forEach and one of ' + BODY_KEYS.join(', '));
    }
    const on = (raw.on ?? 'all') as Task['on'];
    if (!['all', 'lb', 'server'].includes(on)) fail(`${where}.on`, 'must be all, lb or server');
    const when = raw.when as Task['when'];
    const whenOk = when === undefined || (typeof when === 'object' && Object.keys(when).length > 0 && Object.keys(when).every((k) => k === 'family' || k === 'has')
      && (when.family === undefined || ['debian', 'rhel'].includes(when.family)) && (when.has === undefined || when.has === 'keepalived'));
    if (!whenOk) fail(`${where}.when`, 'allowed: { family: debian | rhel, has: keepalived } (either or both)');
    if (raw.forEach !== undefined && raw.forEach !== 'routeDevices') fail(`${where}.forEach`, 'allowed: routeDevices');
    const key = bodyKeys[0]!;
    const value = raw[key] as Record<string, unknown>;
    let body: TaskBody;
    switch (key) {
      case 'packages':
        if (!Array.isArray(value) || value.some((n) => typeof n !== 'string' || !/^[a-z0-9][a-z0-9+.-]*$/.test(n))) fail(`${where}.packages`, 'must be a list of package names');
        body = { kind: 'packages', names: value as unknown as string[] };
        break;
      case 'sysctls':
        body = { kind: key };
        break;
      case 'routes':
        if (value?.record !== undefined) fail(`${where}.routes.record`, 'no longer needed: every host keeps its routes in its record of what is managed (/etc/ha-provision/managed); remove it');
        body = { kind: key };
        break;
      case 'file':
        // Paths go into the host's managed record one per line, split at whitespace.
        if (typeof value?.path !== 'string' || !/^\/\S+$/.test(value.path)) fail(`${where}.file.path`, 'must be an absolute path without whitespace');
        if (value.state !== undefined && value.state !== 'absent') fail(`${where}.file.state`, 'allowed: absent (a file that must not exist; leave it out for a file rendered from a template)');
        if (value.state === 'absent') {
          body = { kind: 'absent-file', path: value.path as string, daemonReload: value.daemonReload === true };
          break;
        }
        if (typeof value.template !== 'string') fail(`${where}.file`, 'needs path and template (or state: absent)');
        if (!/^0?[0-7]{3}$/.test(String(value.mode ?? ''))) fail(`${where}.file.mode`, 'must be an octal mode in quotes, e.g. "0644"');
        if (value.validate !== undefined && !String(value.validate).includes('%s')) fail(`${where}.file.validate`, 'must contain %s (the staged file)');
        for (const key of ['owner', 'group'] as const) {
          if (value[key] !== undefined && !/^[a-z_][a-z0-9_-]*$/.test(String(value[key]))) fail(`${where}.file.${key}`, 'must be a user or group name');
        }
        for (const pattern of [...((value.secrets as string[] | undefined) ?? []), ...Object.values((value.peerShared as Record<string, string> | undefined) ?? {})]) {
          if (!/\(/.test(String(pattern))) fail(`${where}.file`, `pattern ${String(pattern)} needs a group ( … ): its group 1 is the value`);
        }
        body = {
          kind: 'file',
          file: {
            path: value.path as string,
            template: value.template as string,
            mode: String(value.mode),
            owner: String(value.owner ?? 'root'),
            group: String(value.group ?? 'root'),
            ...(value.validate !== undefined ? { validate: String(value.validate) } : {}),
            daemonReload: value.daemonReload === true,
            secrets: (value.secrets as string[] | undefined) ?? [],
            peerShared: (value.peerShared as Record<string, string> | undefined) ?? {},
          },
        };
        break;
      case 'service':
        if (typeof value?.name !== 'string') fail(`${where}.service.name`, 'required');
        if (value.running !== undefined) fail(`${where}.service.running`, 'replaced by state: running | enabled | stopped');
        if (value.state !== undefined && !['running', 'enabled', 'stopped'].includes(value.state as string)) {
          fail(`${where}.service.state`, 'must be running (enabled and active; the default), enabled (started at boot only, e.g. a oneshot) or stopped (stopped and disabled)');
        }
        for (const key of ['onChange', 'onUpgrade'] as const) {
          if (value[key] !== undefined && !['reload', 'restart'].includes(value[key] as string)) fail(`${where}.service.${key}`, 'must be reload or restart');
        }
        if (value.package !== undefined && typeof value.package !== 'string') fail(`${where}.service.package`, 'must be a package name');
        if (value.logTransports !== undefined) {
          const list = value.logTransports;
          if (!Array.isArray(list) || list.length === 0 || list.some((t) => !(JOURNAL_TRANSPORTS as readonly unknown[]).includes(t))) {
            fail(`${where}.service.logTransports`, `must be a list of journal transports from ${JOURNAL_TRANSPORTS.join(', ')}`);
          }
          if (!Array.isArray(value.logFaults) || value.logFaults.length === 0) fail(`${where}.service.logTransports`, 'only with logFaults: it says where they are looked for');
        }
        body = {
          kind: 'service',
          name: value.name as string,
          state: (value.state as ServiceState | undefined) ?? 'running',
          reloadOn: (value.reloadOn as string[] | undefined) ?? [],
          onChange: (value.onChange as 'reload' | 'restart' | undefined) ?? 'reload',
          restartOn: (value.restartOn as string[] | undefined) ?? [],
          logFaults: (value.logFaults as string[] | undefined) ?? [],
          logTransports: value.logTransports as JournalTransport[] | undefined,
          ...(typeof value.package === 'string' ? { package: value.package } : {}),
          onUpgrade: (value.onUpgrade as 'reload' | 'restart' | undefined) ?? 'restart',
        };
        break;
    }
    return { name: typeof raw.name === 'string' ? raw.name : key, on, ...(when ? { when } : {}), ...(raw.forEach ? { forEach: 'routeDevices' as const } : {}), body };
  });
  const templateDirs = [...(userTemplates ? [resolve(userTemplates)] : []), join(PROJECT_ROOT, 'templates')];
  const drain = readDrain((doc as { drain?: unknown }).drain, fail);
  const layout = readLayout((doc as { layout?: unknown }).layout, fail);
  const drill = (doc as { drill?: Record<string, unknown> }).drill;
  if (drill !== undefined) {
    for (const key of ['node', 'service']) {
      if (!tasks.some((t) => t.body.kind === 'service' && t.body.name === drill?.[key])) fail(`drill.${key}`, 'must name a service the playbook runs');
    }
  }
  // Paths with {{…}} (forEach) compiled now, through the template cache: a run that finds them there
  // never loads Handlebars' compiler.
  await Promise.all(tasks.map((t) => (t.body.kind === 'file' ? precompilePath(t.body.file.path) : undefined)));
  return { file, layout, tasks, ...(drain ? { drain } : {}), ...(drill ? { drill: { node: String(drill.node), service: String(drill.service) } } : {}), templateDirs };
}

/**
 * `- include: FILE` stands for that file's `tasks`, in place: the parts every layout shares (kernel
 * parameters, routes) are written once. FILE is looked for beside the playbook, then among the built-in
 * playbooks (a user's playbook can include system.yaml). One level: an included file includes nothing.
 */
async function withIncludes(raw: readonly Record<string, unknown>[], file: string, fail: (where: string, what: string) => never): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const [i, item] of raw.entries()) {
    if (typeof item?.include !== 'string') {
      out.push(item);
      continue;
    }
    if (Object.keys(item).length > 1) fail(`tasks[${i}]`, 'an include stands alone: { include: FILE }');
    const included = [dirname(file), join(PROJECT_ROOT, 'playbooks')].map((dir) => resolve(dir, item.include as string)).find((f) => existsSync(f)) ?? resolve(dirname(file), item.include);
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(included, 'utf8'));
    } catch (error) {
      fail(`tasks[${i}].include`, `cannot read ${included}: ${(error as Error).message}`);
    }
    const tasks = (doc as { tasks?: unknown })?.tasks;
    if (!Array.isArray(tasks) || tasks.some((t) => t?.include !== undefined)) fail(`tasks[${i}].include`, `${included} must hold a list of tasks, and no include`);
    out.push(...(tasks as Record<string, unknown>[]));
  }
  return out;
}

function readDrain(raw: unknown, fail: (where: string, what: string) => never): Drain | undefined {
  if (raw === undefined) return undefined;
  const d = raw as Record<string, unknown>;
  if (typeof d?.run !== 'string' || typeof d.undo !== 'string') fail('drain', 'needs run and undo (shell commands)');
  const on = (d.on ?? 'all') as Drain['on'];
  if (!['all', 'lb', 'server'].includes(on)) fail('drain.on', 'must be all, lb or server');
  return { on, run: d.run as string, undo: d.undo as string };
}

/**
 * `when: { has: SECTION }`: the task is part of the layout only when the inventory has that section (e.g.
 * keepalived: one lb without it serves alone). With no inventory to ask, the task counts.
 */
export const inventoryHasSectionFor = (task: Task, inventory: Inventory | undefined): boolean =>
  task.when?.has === undefined || inventory === undefined || inventory.cluster[task.when.has] !== undefined;

/** The services the playbook keeps running on a host of that role (what verify checks are active). */
export const runningServices = (playbook: Playbook, role: 'lb' | 'server', inventory?: Inventory): string[] =>
  playbook.tasks.flatMap((t) =>
    t.body.kind === 'service' && t.body.state === 'running' && (t.on === 'all' || t.on === role) && inventoryHasSectionFor(t, inventory) ? [t.body.name] : []);

/** Where a playbook drains: on this host? */
export const drainsOn = (playbook: Playbook, host: Host): Drain | undefined =>
  playbook.drain && (playbook.drain.on === 'all' || hasRole(host, playbook.drain.on)) ? playbook.drain : undefined;

/** Pinned packages that no task of the playbook installs: a pin that would do nothing. */
export const unusedPins = (playbook: Playbook, inventory: Inventory): string[] =>
  Object.keys(inventory.packages).filter((name) => !playbook.tasks.some((t) => t.body.kind === 'packages' && t.body.names.includes(name)));

/** playbooks/<topology>.yaml, or <topology>.static-pod.yaml for mode static-pod. */
export const builtinPlaybook = (topology: string, mode: Mode = 'services'): string =>
  join(PROJECT_ROOT, 'playbooks', `${topology}${mode === 'services' ? '' : `.${mode}`}.yaml`);
