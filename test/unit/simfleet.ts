// A simulated fleet behind a fake Connector, for the strategy tests: each host answers the facts exec
// from its state (the services the exec asks about, and those its managed record names besides), carries
// out an apply script's file renames and service actions, and runs the playbook's drain commands. Its lbs
// elect a VIP holder the way keepalived does here: the highest priority among those whose keepalived
// runs, that are not drained (track_file) and whose proxy is up (track_script): the proxy its managed
// record says it runs, haproxy or nginx, so a fleet can switch topology. Nothing here talks to a real host.
import { od } from '../fixtures/od.js';
import type { Connector } from '../../src/agent/agent.js';
import { DONE_MARK, FAIL_MARK, STEP_MARK } from '../../src/apply/script.js';
import { HostError } from '../../src/errors.js';
import { freshHostFacts } from '../../src/facts/gather.js';
import { MANAGED_RECORD, parseManagedRecord } from '../../src/facts/managed.js';
import { hasRole, type Host, type Inventory } from '../../src/inventory/types.js';
import { type Playbook } from '../../src/playbook/playbook.js';
import { resourcesFor } from '../../src/playbook/desired.js';
import type { ExecResult, Transport } from '../../src/transport/transport.js';

interface SimFile {
  content: string;
  owner: string;
  group: string;
  mode: string;
}

export interface SimEvent {
  readonly host: string;
  readonly what: string; // "apply", "reload haproxy", "restart haproxy", "drain", "undrain", "restore"
  readonly holders: readonly string[]; // the VIP holders at that moment
}

export class SimHost {
  files = new Map<string, SimFile>();
  services = new Map<string, string>(); // name → ActiveState
  packages: Record<string, string> = {};
  sysctls: Record<string, string> = {};
  routes: string[] = [];
  drained = false;
  reachable = true;
  /** A service that fails to load new files (its load step fails): the run restores the host. */
  failLoading?: string;
  failedLoad = false; // its next apply is the run's restore of the previous files
  /** The drain command fails, printing this on stderr. */
  failDrain?: string;
  constructor(readonly host: Host) {}

  /** The services its managed record says it keeps running (what the last run put there). */
  running(): readonly string[] {
    return parseManagedRecord(this.files.get(MANAGED_RECORD)?.content ?? '').running;
  }
}

export class SimFleet {
  readonly hosts = new Map<string, SimHost>();
  readonly events: SimEvent[] = [];
  /** Called on every apply exec: e.g. a fake clock moves on. */
  onApply: (host: string) => void = () => undefined;

  private constructor(
    readonly inventory: Inventory,
    readonly playbook: Playbook,
  ) {}

  /** Every host converged to the inventory: its files as the playbook renders them, services active. */
  static async converged(inventory: Inventory, playbook: Playbook): Promise<SimFleet> {
    const fleet = new SimFleet(inventory, playbook);
    for (const host of inventory.hosts) {
      const sim = new SimHost(host);
      for (const r of await resourcesFor(playbook, inventory, host, freshHostFacts('debian'))) {
        if (r.kind === 'file') sim.files.set(r.path, { content: r.content, owner: r.owner, group: r.group, mode: r.mode });
        if (r.kind === 'package') for (const n of r.names) sim.packages[n] = r.versions[n] ?? '1.0';
        if (r.kind === 'sysctl') sim.sysctls[r.key] = r.value;
        if (r.kind === 'route' && r.state === 'present') sim.routes.push(`${r.route.to} via ${r.route.via} dev ${r.route.dev}`);
        if (r.kind === 'service') sim.services.set(r.name, r.state === 'running' ? 'active' : 'inactive');
      }
      fleet.hosts.set(host.name, sim);
    }
    return fleet;
  }

  holders(): string[] {
    const ok = [...this.hosts.values()].filter(
      (h) => hasRole(h.host, 'lb') && h.reachable && !h.drained && h.services.get('keepalived') === 'active' && h.running().every((s) => h.services.get(s) === 'active'),
    );
    const top = ok.sort((a, b) => (b.host.priority ?? 0) - (a.host.priority ?? 0))[0];
    return top ? [top.host.name] : [];
  }

  sim(name: string): SimHost {
    return this.hosts.get(name)!;
  }

  readonly connector: Connector = async (host) => this.transport(this.sim(host.name));

  private transport(sim: SimHost): Transport {
    let count = 0;
    return {
      get execCount() {
        return count;
      },
      exec: async (script) => {
        count += 1;
        if (!sim.reachable) throw new HostError(sim.host.name, 'Keepalive timeout');
        return this.exec(sim, script);
      },
      close: () => undefined,
    };
  }

  private exec(sim: SimHost, script: string): ExecResult {
    const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
    if (script.includes('@@ha-provision-fact ')) return ok(this.facts(sim, script));
    const drain = this.playbook.drain;
    if (drain && script === drain.run) {
      if (sim.failDrain) return { code: 1, stdout: '', stderr: sim.failDrain };
      sim.drained = true;
      this.events.push({ host: sim.host.name, what: 'drain', holders: this.holders() });
      return ok();
    }
    if (drain && script === drain.undo) {
      sim.drained = false;
      this.events.push({ host: sim.host.name, what: 'undrain', holders: this.holders() });
      return ok();
    }
    if (script.includes(STEP_MARK)) return this.apply(sim, script);
    return { code: 127, stdout: '', stderr: `simulated host cannot run: ${script.slice(0, 80)}` };
  }

  /** Carries out the steps this simulation knows (uploads, renames, service actions); the rest succeed. */
  private apply(sim: SimHost, script: string): ExecResult {
    this.onApply(sim.host.name);
    const restoring = sim.failedLoad;
    this.events.push({ host: sim.host.name, what: restoring ? 'restore' : 'apply', holders: this.holders() });
    const staged = new Map<string, SimFile>();
    const out: string[] = [];
    const steps = script.split(new RegExp(`^echo '${STEP_MARK}(\\d+)'$`, 'm')).slice(1);
    for (let i = 0; i < steps.length; i += 2) {
      const [index, body = ''] = [steps[i], steps[i + 1]];
      out.push(`${STEP_MARK}${index}`);
      // Paths are quoted only where the shell needs it (quote.ts): each pattern takes either form.
      for (const m of body.matchAll(/base64 -d > '?([^' )]+)'?\) <<'HA_PROVISION_EOF' && chown '?([^:' ]+):([^' ]+)'? \S+ && chmod '?([0-7]+)'? \S+\n([\s\S]*?)HA_PROVISION_EOF/g)) {
        staged.set(m[1]!, { owner: m[2]!, group: m[3]!, mode: m[4]!, content: Buffer.from(m[5]!.replace(/\n/g, ''), 'base64').toString('utf8') });
      }
      for (const [staging, file] of staged) {
        const path = stagingTarget(staging);
        if (body.includes(`mv -f ${staging} ${path}`) || body.includes(`mv -f '${staging}' '${path}'`)) sim.files.set(path, file);
      }
      // apt-get installs NAME or NAME=VERSION words (options begin with -, or hold Dpkg::).
      for (const m of body.matchAll(/apt-get install (.+)$/gm)) {
        for (const word of m[1]!.split(' ').filter((w) => !w.startsWith('-') && !w.includes('::'))) {
          const [name = '', version = '1.0'] = word.split('=');
          sim.packages[name] = version;
        }
      }
      for (const m of body.matchAll(/printf '%s\\n' '?([^' ]+)'? > '?\/proc\/sys\/([^'\n]+?)'?$/gm)) sim.sysctls[m[2]!.replace(/\//g, '.')] = m[1]!;
      for (const m of body.matchAll(/systemctl (reload|restart|reload-or-restart) '?([a-z-]+)'?/g)) {
        const [action, service] = [m[1]!, m[2]!];
        if (sim.failLoading === service && !restoring) {
          sim.failedLoad = true;
          this.events.push({ host: sim.host.name, what: `failed ${action} ${service}`, holders: this.holders() });
          out.push(`${service} did not load its config`, `${FAIL_MARK}${index}`);
          return { code: 1, stdout: `${out.join('\n')}\n`, stderr: '' };
        }
        sim.services.set(service, 'active');
        this.events.push({ host: sim.host.name, what: `${action} ${service}`, holders: this.holders() });
      }
      // A service the playbook no longer runs (a topology switch leaves it behind).
      for (const m of body.matchAll(/systemctl stop '?([a-z-]+)'?/g)) {
        sim.services.set(m[1]!, 'inactive');
        this.events.push({ host: sim.host.name, what: `stop ${m[1]!}`, holders: this.holders() });
      }
    }
    out.push(DONE_MARK);
    return { code: 0, stdout: `${out.join('\n')}\n`, stderr: '' };
  }

  private facts(sim: SimHost, script: string): string {
    const holds = this.holders().includes(sim.host.name);
    const section = (name: string, body: string) => `@@ha-provision-fact ${name}\n${body}`;
    const lbAddress = `2: ${sim.host.interface ?? 'eth0'}    inet ${sim.host.ip}/24 brd x scope global`;
    const vip = `2: ${sim.host.interface ?? 'eth0'}    inet ${this.inventory.cluster.vip.address}/24 scope global secondary`;
    const servers = this.inventory.hosts.filter((h) => hasRole(h, 'server'));
    const asked = askedServices(script);
    const recorded = parseManagedRecord(sim.files.get(MANAGED_RECORD)?.content ?? '').services.filter((n) => !asked.includes(n));
    const shown = (name: string): string => `ActiveState=${sim.services.get(name) ?? 'inactive'}\nUnitFileState=enabled`;
    return [
      section('os', 'ID=debian\nVERSION_ID=12'),
      section('packageManager', 'apt-get'),
      section('systemd', 'yes'),
      section('packages', Object.entries(sim.packages).map(([n, v]) => `${n}\t${v}\tii`).join('\n')),
      section('sysctls', Object.entries(sim.sysctls).map(([k, v]) => `${k}\t${v}`).join('\n')),
      // As the one `ip -batch` prints them: the routes, then the addresses (no SSH_CLIENT here, so no route get).
      section('network', ['@peer ', ...sim.routes, lbAddress, ...(holds ? [vip] : [])].join('\n')),
      // As the facts' one stat and one `od` print them, and systemctl show's blocks in the order asked.
      section('files', [...[...sim.files].map(([p, f]) => `@file ${p}\n${f.owner} ${f.group} ${parseInt(f.mode, 8).toString(8)} ${Buffer.byteLength(f.content)}`), '@content', od([...sim.files.values()].map((f) => f.content).join(''))].join('\n')),
      section('services', `@show ${asked.join(' ')}\n${asked.map(shown).join('\n\n')}`),
      section('backends', hasRole(sim.host, 'lb') ? servers.map((s) => `${s.address}:${this.inventory.cluster.backendPort} ${this.sim(s.name).reachable ? 'ok' : 'fail'}`).join('\n') : ''),
      // The record's services the exec did not ask about, as managedFact prints them (their files: none here).
      section('managed', `@@managed-services\n${recorded.length ? `${recorded.join(' ')}\n${recorded.map(shown).join('\n\n')}` : ''}`),
      section('end', ''),
    ].join('\n');
  }
}

/** The path a staged copy replaces: the inverse of stagedPath (src/staging.ts). */
const stagingTarget = (staging: string): string => staging.replace(/\/\.([^/]+)\.ha-provision-new$/, '/$1');

/**
 * The units the facts exec asks about (names need no quoting), all answered by `systemctl show` here: the
 * simulated hosts have no install links, so the enabled-only units go to systemctl too, after the others.
 */
function askedServices(script: string): string[] {
  const direct = /^hp_services\(\) \{\n {2}set --(.*)$/m.exec(script)?.[1] ?? '';
  const byLinks = /^ {2}for u in (.+?); do if hp_enabled/m.exec(script)?.[1] ?? '';
  return [...direct.split(' '), ...byLinks.split(' ')].filter(Boolean);
}
