// The command line of `ha-provision lab …`: the help texts, parsing each subcommand's arguments (and the
// defaults an existing lab gives them), finding the lab a host belongs to when --name is not given, the
// status table, and runLabCommand, which calls the commands in commands.ts and prints their results.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { LabError, UsageError } from '../errors.js';
import { labCaFile } from './cert.js';
import { execArgs } from './host.js';
import { ordered, partitioned, requireState, type LabHostStatus } from './fleet.js';
import { DEFAULTS, labNet } from './plan.js';
import { execTarget, labDown, labHeal, labPartition, labStart, labStatus, labStop, labUp } from './commands.js';
import { STATE_ROOT, checkLabName, loadState, type LabState } from './state.js';
import { listDir } from './util.js';

const HELP: Record<string, string> = {
  lab: `Usage: ha-provision lab <command> [options]

A local fleet of real test hosts: systemd-booted Debian 12 containers (systemd-nspawn) on a bridge, each
with sshd, its own address, apt from a local repository (haproxy, keepalived, nginx; no internet) and,
on servers, an apiserver stand-in (HTTPS :6443 /healthz). Needs root on Linux; installs its own tools.

Commands:
  up                     boot the lab (idempotent) and write its inventory
  down                   remove everything the lab made (caches stay)
  status                 each host, its address, up/down and which lb holds the VIP
  stop NODE              crash a host (like power loss); its disk stays
  start NODE             boot a stopped host again with the same disk
  partition NODE         cut a host off the network (its link goes down)
  heal NODE              connect it again
  exec NODE -- CMD...    run a command inside a host (no SSH), exit with its code

Options: --name NAME (default lab); --help on every command.`,
  up: `Usage: ha-provision lab up [--name lab] [--lbs 2] [--servers 3] [--subnet 10.213.0.0/24] [--inventory FILE] [--json]

Builds (once, cached under ~/.cache/ha-provision/) a Debian 12 image and a local apt repository, then
boots the hosts in parallel and waits until each answers SSH (servers: the stand-in's /healthz).
Addresses: bridge .1, lbs .11…, servers .21…, VIP .100. Running hosts are left alone.
Writes the inventory to inventory/<name>.yaml (or --inventory FILE). For an existing lab the
counts and subnet default to what it has. The servers' certificate is signed by the lab's own CA,
/var/lib/ha-provision/lab/<name>/ca.crt (printed, and in --json as caFile): \`verify --ca\` takes it.`,
  down: `Usage: ha-provision lab down [--name lab]

Powers every host off and removes the lab's processes, mounts, bridge, veths, cgroups, state and
inventory. The image caches stay.`,
  status: `Usage: ha-provision lab status [--name lab] [--json]

Each host, its address, roles, up/down, whether its link is cut, and which lb holds the VIP.`,
  stop: `Usage: ha-provision lab stop NODE [--name LAB]

Crashes NODE (like power loss: its processes are killed); returns when they are gone. Its disk stays.`,
  start: `Usage: ha-provision lab start NODE [--name LAB]

Boots NODE again with the same disk; returns when it answers SSH (servers: the stand-in too).`,
  partition: `Usage: ha-provision lab partition NODE [--name LAB]

Cuts NODE off the lab network (ip link set vb-NODE down).`,
  heal: `Usage: ha-provision lab heal NODE [--name LAB]

Connects NODE again (ip link set vb-NODE up).`,
  exec: `Usage: ha-provision lab exec NODE [--name LAB] -- CMD [ARGS...]

Runs CMD inside NODE through nsenter (no SSH), with its output, and exits with its exit code.`,
};

/** The lab owning host `node`, when --name is not given. */
async function labOfNode(node: string): Promise<string> {
  for (const name of await listDir(STATE_ROOT)) {
    if (name.startsWith('.')) continue;
    if ((await loadState(name))?.hosts[node]) return name;
  }
  throw new LabError(`no lab has a host "${node}" (see \`ha-provision lab status --name LAB\`)`);
}

type Values = Record<string, string | boolean | undefined>;

function parse(sub: string, args: string[], options: Record<string, { type: 'string' | 'boolean' }>): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${HELP[sub] ?? HELP.lab}`);
  }
}

function count(value: string | boolean | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new UsageError(`--${flag} must be a whole number, got ${String(value)}`);
  return Number(value);
}

function printStatus(name: string, state: LabState, hosts: LabHostStatus[], cut: Set<string>): string {
  const { vip } = labNet(state.subnet);
  const holder = hosts.find((h) => h.holdsVip)?.name;
  const rows = [['HOST', 'ADDRESS', 'ROLES', 'STATE', 'VIP']];
  for (const h of hosts) rows.push([h.name, h.address, h.roles.join(','), h.up ? (cut.has(h.name) ? 'up (partitioned)' : 'up') : 'down', h.holdsVip ? vip : '']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  return `lab "${name}" on ${state.bridge} (${state.subnet}), VIP ${vip}: ${holder ? `held by ${holder}` : 'not held'}\n${table}\nCA of the servers' certificate: ${labCaFile(name)}\n`;
}

/** CLI entry for `ha-provision lab ...` (args after "lab"); prints, returns the exit code; --help supported. */
export async function runLabCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const out = (s: string): void => void process.stdout.write(s);
  const progress = (line: string): void => void process.stderr.write(`${line}\n`);
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    out(`${HELP.lab}\n`);
    return sub ? 0 : 1;
  }
  switch (sub) {
    case 'up': {
      const { values, positionals } = parse(sub, rest, { name: { type: 'string' }, lbs: { type: 'string' }, servers: { type: 'string' }, subnet: { type: 'string' }, inventory: { type: 'string' }, json: { type: 'boolean' } });
      if (values.help) return out(`${HELP.up}\n`), 0;
      if (positionals.length > 0) throw new UsageError(`lab up takes no positional arguments\n\n${HELP.up}`);
      const name = (values.name as string | undefined) ?? DEFAULTS.name;
      checkLabName(name);
      const existing = process.getuid?.() === 0 ? await loadState(name) : undefined;
      const had = existing ? ordered(existing) : [];
      const result = await labUp(
        {
          name,
          lbs: count(values.lbs, 'lbs', existing ? had.filter((h) => h.roles.includes('lb')).length : DEFAULTS.lbs),
          servers: count(values.servers, 'servers', existing ? had.filter((h) => h.roles.includes('server')).length : DEFAULTS.servers),
          subnet: (values.subnet as string | undefined) ?? existing?.subnet ?? DEFAULTS.subnet,
          ...(values.inventory ? { inventoryFile: values.inventory as string } : existing?.inventoryFile ? { inventoryFile: existing.inventoryFile } : {}),
        },
        progress,
      );
      if (values.json) out(`${JSON.stringify(result, null, 2)}\n`);
      else {
        const state = await requireState(name);
        out(printStatus(name, state, result.hosts, new Set()));
        out(`inventory: ${result.inventoryFile}\nnext: npx ha-provision up ${result.inventoryFile}\n      npx ha-provision verify ${result.inventoryFile} --ca ${result.caFile}\n`);
      }
      return 0;
    }
    case 'down': {
      const { values, positionals } = parse(sub, rest, { name: { type: 'string' } });
      if (values.help) return out(`${HELP.down}\n`), 0;
      if (positionals.length > 0) throw new UsageError(`lab down takes no positional arguments\n\n${HELP.down}`);
      await labDown((values.name as string | undefined) ?? DEFAULTS.name, progress);
      return 0;
    }
    case 'status': {
      const { values, positionals } = parse(sub, rest, { name: { type: 'string' }, json: { type: 'boolean' } });
      if (values.help) return out(`${HELP.status}\n`), 0;
      if (positionals.length > 0) throw new UsageError(`lab status takes no positional arguments\n\n${HELP.status}`);
      const name = (values.name as string | undefined) ?? DEFAULTS.name;
      const hosts = await labStatus(name);
      const state = await requireState(name);
      const cut = await partitioned(state);
      if (values.json) {
        const { vip } = labNet(state.subnet);
        out(`${JSON.stringify({ name, subnet: state.subnet, bridge: state.bridge, vip, caFile: labCaFile(name), hosts: hosts.map((h) => ({ ...h, partitioned: cut.has(h.name) })) }, null, 2)}\n`);
      } else out(printStatus(name, state, hosts, cut));
      return 0;
    }
    case 'stop':
    case 'start':
    case 'partition':
    case 'heal': {
      const { values, positionals } = parse(sub, rest, { name: { type: 'string' } });
      if (values.help) return out(`${HELP[sub]}\n`), 0;
      const [node, ...more] = positionals;
      if (!node || more.length > 0) throw new UsageError(`lab ${sub} takes exactly one host name\n\n${HELP[sub]}`);
      const name = (values.name as string | undefined) ?? (await labOfNode(node));
      const fn = { stop: labStop, start: labStart, partition: labPartition, heal: labHeal }[sub];
      await fn(name, node);
      progress(`${node}: ${{ stop: 'stopped (crashed)', start: 'started', partition: 'partitioned (link down)', heal: 'healed (link up)' }[sub]}`);
      return 0;
    }
    case 'exec': {
      const dash = rest.indexOf('--');
      const before = dash >= 0 ? rest.slice(0, dash) : rest;
      const { values, positionals } = parse(sub, before, { name: { type: 'string' } });
      if (values.help) return out(`${HELP.exec}\n`), 0;
      const [node, ...cmdBefore] = positionals;
      const argv = dash >= 0 ? [...cmdBefore, ...rest.slice(dash + 1)] : cmdBefore;
      if (!node || argv.length === 0) throw new UsageError(`lab exec needs a host and a command\n\n${HELP.exec}`);
      const name = (values.name as string | undefined) ?? (await labOfNode(node));
      const h = await execTarget(name, node);
      const { cmd, args: cmdArgs, env } = execArgs(name, h, argv);
      return new Promise((resolveCode, reject) => {
        const child = spawn(cmd, cmdArgs, { env, stdio: 'inherit' });
        child.on('error', reject);
        child.on('close', (code, signal) => resolveCode(code ?? (signal ? 128 + 9 : 1)));
      });
    }
    default:
      throw new UsageError(`unknown lab command "${sub}"\n\n${HELP.lab}`);
  }
}
