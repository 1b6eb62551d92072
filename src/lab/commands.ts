// The lab's commands as an API (what the CLI, the bench, the demo and the tests call): lab up (check the
// counts fit the subnet, boot what is missing, write the inventory), lab down (remove everything the lab
// made), status, and the faults a test injects into one host: stop, start, partition, heal, exec.
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LabError, UsageError } from '../errors.js';
import { ensureImage } from './image.js';
import { labCaFile } from './cert.js';
import { renderInventory } from './inventory.js';
import { SCHEMA_FILE } from '../inventory/schemaJson.js';
import { allLinks, deleteLink, ensureBridge, findLink, subnetConflict } from './net.js';
import { cgroupDirs, execArgs, findInit, removeCgroups, resolveVeth, stopHost, waitReady } from './host.js';
import { raiseArpTable, raiseInotifyLimit, raiseNetBacklog, ensurePrereqs, requireRootLinux } from './prereqs.js';
import {
  bootHosts,
  hostFiles,
  isUp,
  keyFile,
  knownHostsFile,
  ordered,
  partitioned,
  readyTimeout,
  requireHost,
  requireState,
  statusOf,
  waitAllReady,
  writeKnownHosts,
  type LabHostStatus,
} from './fleet.js';
import { MAX_LBS, MAX_SERVERS, desiredHosts, labNet, serverOffset } from './plan.js';
import {
  STATE_ROOT,
  bridgeName,
  checkLabName,
  hostPaths,
  labDir,
  loadState,
  saveState,
  sha256,
  virtualRouterId,
  withLabLock,
  type HostState,
} from './state.js';
import { exists, isAlive, listDir, listSubdirs, must, run, safeRemove, unmountUnder } from './util.js';

export interface LabOptions {
  name: string;
  lbs: number;
  servers: number;
  subnet: string;
  inventoryFile?: string;
}

const noop = (): void => undefined;

export async function labUp(opts: LabOptions, log: (line: string) => void = noop): Promise<{ inventoryFile: string; caFile: string; hosts: LabHostStatus[] }> {
  checkLabName(opts.name);
  for (const [flag, value, max] of [['lbs', opts.lbs, MAX_LBS], ['servers', opts.servers, MAX_SERVERS]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > max) throw new LabError(`--${flag} must be a whole number from 0 to ${max}, got ${String(value)}`);
  }
  if (opts.lbs + opts.servers === 0) throw new LabError('a lab needs at least one host (--lbs or --servers)');
  const net = labNet(opts.subnet);
  // The last server's address must lie inside the subnet, below its broadcast address.
  if (serverOffset(opts.servers) >= 2 ** (32 - net.subnet.prefix) - 1) {
    throw new LabError(`--servers ${opts.servers} does not fit in ${net.subnet.text}: give a larger subnet, e.g. --subnet ${net.subnet.text.replace(/\/\d+$/, '/23')}`);
  }
  const inventoryFile = resolve(opts.inventoryFile ?? join('inventory', `${opts.name}.yaml`));
  await ensurePrereqs(log);
  return withLabLock(opts.name, async () => {
    const started = Date.now();
    const image = await ensureImage(log);
    const bridge = bridgeName(opts.name);
    let state = await loadState(opts.name);
    if (state && state.subnet !== net.subnet.text) {
      throw new LabError(`lab "${opts.name}" already exists with subnet ${state.subnet}; use --subnet ${state.subnet}, or \`ha-provision lab down --name ${opts.name}\` first`);
    }
    for (const other of await listDir(STATE_ROOT)) {
      if (other === opts.name || other.startsWith('.')) continue;
      const o = await loadState(other);
      if (o && (o.subnet === net.subnet.text || o.bridge === bridge)) {
        throw new LabError(`lab "${other}" already uses ${o.subnet === net.subnet.text ? `subnet ${o.subnet}` : `bridge ${bridge}`}; pick another --subnet/--name or take it down first`);
      }
    }
    const conflict = await subnetConflict(net.subnet, bridge);
    if (conflict) throw new LabError(`subnet ${net.subnet.text} is already in use on this machine (${conflict}); pick another with --subnet`);

    if (state && state.rootfs !== image.rootfs && !(await exists(state.rootfs))) {
      // The image the overlays were made over is gone: their upper dirs no longer fit, start them fresh.
      log(`the lab's base image changed; its hosts start from the new one`);
      for (const h of Object.values(state.hosts)) {
        await stopHost(opts.name, h, 'poweroff');
        await safeRemove(hostPaths(opts.name, h.name).dir);
      }
      state = { ...state, rootfs: image.rootfs, repo: image.repo, hosts: {} };
    }
    state ??= { version: 1, name: opts.name, subnet: net.subnet.text, bridge, rootfs: image.rootfs, repo: image.repo, hosts: {} };
    const lab = state;

    const wanted = desiredHosts(opts.name, net, opts.lbs, opts.servers);
    const wantedNames = new Set(wanted.map((h) => h.name));
    const extra = Object.values(lab.hosts).filter((h) => !wantedNames.has(h.name));
    if (extra.length > 0) {
      log(`removing ${extra.map((h) => h.name).join(', ')} (not in --lbs ${opts.lbs} --servers ${opts.servers})`);
      await Promise.all(extra.map((h) => stopHost(opts.name, h, 'poweroff')));
      for (const h of extra) {
        await safeRemove(hostPaths(opts.name, h.name).dir);
        delete lab.hosts[h.name];
      }
    }
    for (const w of wanted) {
      const have = lab.hosts[w.name];
      if (!have || have.address !== w.address || have.roles.join() !== w.roles.join()) lab.hosts[w.name] = { ...w, nspawn: have?.nspawn, init: have?.init, veth: have?.veth };
    }
    await saveState(lab);

    let running = 0;
    for (const other of await listDir(STATE_ROOT)) {
      if (other !== opts.name && !other.startsWith('.')) running += Object.keys((await loadState(other))?.hosts ?? {}).length;
    }
    await raiseInotifyLimit(running + wanted.length, log);
    await raiseNetBacklog(running + wanted.length, log);
    await raiseArpTable(running + wanted.length, log);
    await ensureBridge(bridge, net.gateway, net.subnet.prefix);

    const files = await hostFiles(lab, net);
    const hosts = ordered(lab);
    for (const h of hosts) {
      // A run killed between booting a host and recording its init left it running: adopt it.
      if (isAlive(h.nspawn) && !isAlive(h.init)) {
        h.init = findInit(h.nspawn);
        h.veth = await resolveVeth(h.name);
      }
    }
    const toBoot = hosts.filter((h) => !isUp(h));
    if (toBoot.length > 0) log(`booting ${toBoot.map((h) => h.name).join(', ')}`);
    await bootHosts(lab, toBoot, files);
    // Hosts that were already running are left alone: only their SSH is checked (a stand-in a test
    // marked unhealthy stays so), and a partitioned one is left cut off.
    const cut = await partitioned(lab);
    for (const h of cut) log(`${h} is partitioned (\`ha-provision lab heal ${h}\` connects it again); left as it is`);
    const kept = hosts.filter((h) => !toBoot.includes(h) && !cut.has(h.name));
    await waitAllReady(lab, kept, (h) => waitReady(h, lab, files.ca, readyTimeout(hosts.length), false));

    await writeKnownHosts(lab);
    const inventory = renderInventory({
      name: opts.name,
      vip: `${net.vip}/${net.subnet.prefix}`,
      gateway: net.gateway,
      virtualRouterId: virtualRouterId(opts.name),
      identityFile: keyFile(opts.name),
      knownHostsFile: knownHostsFile(opts.name),
      hosts,
      schemaFile: SCHEMA_FILE,
    });
    await mkdir(dirname(inventoryFile), { recursive: true });
    await writeFile(inventoryFile, inventory);
    lab.inventoryFile = inventoryFile;
    lab.inventorySha256 = sha256(inventory);
    await saveState(lab);
    log(`lab "${opts.name}": ${hosts.length} hosts ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${toBoot.length} booted, ${hosts.length - toBoot.length} already running); inventory ${inventoryFile}`);
    return { inventoryFile, caFile: labCaFile(opts.name), hosts: await statusOf(lab) };
  });
}

export async function labDown(name: string, log: (line: string) => void = noop): Promise<void> {
  checkLabName(name);
  requireRootLinux();
  await withLabLock(name, async () => {
    const state = await loadState(name);
    const bridge = state?.bridge ?? bridgeName(name);
    // Hosts known from the state file, and any the state does not know (a run killed before saving it).
    const hosts = new Map<string, HostState>(Object.entries(state?.hosts ?? {}));
    const cgroupHosts = (await Promise.all(cgroupDirs(name).map(listSubdirs))).flat();
    for (const extra of [...cgroupHosts, ...(await listSubdirs(join(labDir(name), 'hosts')))]) {
      if (!hosts.has(extra)) hosts.set(extra, { name: extra, address: '', roles: [] });
    }
    const hadBridge = !!(await findLink(bridge));
    if (!state && hosts.size === 0 && !hadBridge && !(await exists(labDir(name)))) {
      log(`lab "${name}": nothing to remove`);
      return;
    }
    if (hosts.size > 0) log(`powering off ${[...hosts.keys()].join(', ')}`);
    await Promise.all([...hosts.values()].map((h) => stopHost(name, h, 'poweroff')));
    await unmountUnder(labDir(name));
    // Links still attached to the bridge can only be this lab's veths.
    for (const link of await allLinks()) if (link.master === bridge) await deleteLink(link.name);
    if (hadBridge) await deleteLink(bridge);
    await removeCgroups(cgroupDirs(name));
    for (const top of cgroupDirs(name).map((d) => dirname(d))) await rmdir(top).catch(() => undefined); // shared; only when empty
    if (state?.inventoryFile && state.inventorySha256) {
      const text = await readFile(state.inventoryFile, 'utf8').catch(() => undefined);
      if (text !== undefined && sha256(text) === state.inventorySha256) await rm(state.inventoryFile, { force: true });
    }
    await safeRemove(labDir(name));
    log(`lab "${name}" removed (${hosts.size} hosts, bridge ${bridge}); image caches kept`);
  });
}

export async function labStatus(name: string): Promise<LabHostStatus[]> {
  requireRootLinux();
  return statusOf(await requireState(name));
}

export async function labStop(name: string, node: string): Promise<void> {
  requireRootLinux();
  await withLabLock(name, async () => {
    const state = await requireState(name);
    const h = requireHost(state, node);
    await stopHost(name, h, 'crash');
    await saveState(state);
  });
}

export async function labStart(name: string, node: string): Promise<void> {
  requireRootLinux();
  await withLabLock(name, async () => {
    const state = await requireState(name);
    const h = requireHost(state, node);
    const net = labNet(state.subnet);
    const files = await hostFiles(state, net);
    await ensureBridge(state.bridge, net.gateway, net.subnet.prefix);
    if (isUp(h)) await waitReady(h, state, files.ca, readyTimeout(1));
    else await bootHosts(state, [h], files);
  });
}

async function setLink(name: string, node: string, upDown: 'up' | 'down'): Promise<void> {
  requireRootLinux();
  const state = await requireState(name);
  const h = requireHost(state, node);
  if (!isUp(h)) throw new LabError(`${node} is not running (\`ha-provision lab start ${node}\`)`);
  const veth = h.veth ?? (await resolveVeth(node));
  if (!veth || !(await findLink(veth))) throw new LabError(`${node}: its link vb-${node} is missing`);
  await must('ip', ['link', 'set', 'dev', veth, upDown]);
}

export async function labPartition(name: string, node: string): Promise<void> {
  await setLink(name, node, 'down');
}

export async function labHeal(name: string, node: string): Promise<void> {
  await setLink(name, node, 'up');
}

export async function execTarget(name: string, node: string): Promise<HostState> {
  requireRootLinux();
  const state = await requireState(name);
  const h = requireHost(state, node);
  if (!isUp(h)) throw new LabError(`${node} is not running (\`ha-provision lab start ${node}\`)`);
  return h;
}

export async function labExec(name: string, node: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (argv.length === 0) throw new UsageError('lab exec needs a command');
  const h = await execTarget(name, node);
  const { cmd, args, env } = execArgs(name, h, argv);
  return run(cmd, args, { env });
}
