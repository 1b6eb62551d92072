// A simulated fleet behind a fake Connector, for the strategy tests: each host answers the facts exec
// from its state, carries out an apply script's file renames and service actions, and runs the
// playbook's drain commands. Its lbs elect a VIP holder the way keepalived does here: the highest
// priority among those whose keepalived runs, that are not drained (track_file) and whose haproxy is up
// (track_script). Nothing here talks to a real host.
import type { Connector } from '../../src/agent/agent.js';
import { DONE_MARK, FAIL_MARK, STEP_MARK } from '../../src/apply/script.js';
import { HostError } from '../../src/errors.js';
import { freshHostFacts } from '../../src/facts/gather.js';
import { hasRole, type Host, type Inventory } from '../../src/inventory/types.js';
import { factNeeds, resourcesFor, type Playbook } from '../../src/playbook/playbook.js';
import { stagedPath } from '../../src/staging.js';
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
      (h) => hasRole(h.host, 'lb') && h.reachable && !h.drained && h.services.get('keepalived') === 'active' && h.services.get('haproxy') === 'active',
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
    if (script.includes('@@ha-provision-fact ')) return ok(this.facts(sim));
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
      for (const [path] of sim.files) {
        const file = staged.get(stagedPath(path));
        if (file && (body.includes(`mv -f ${stagedPath(path)} ${path}`) || body.includes(`mv -f '${stagedPath(path)}' '${path}'`))) sim.files.set(path, file);
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
        this.events.push({ host: sim.host.name, what: `${action} ${service}`, holders: this.holders() });
      }
    }
    out.push(DONE_MARK);
    return { code: 0, stdout: `${out.join('\n')}\n`, stderr: '' };
  }

  private facts(sim: SimHost): string {
    const holds = this.holders().includes(sim.host.name);
    const section = (name: string, body: string) => `@@ha-provision-fact ${name}\n${body}`;
    const lbAddress = `2: ${sim.host.interface ?? 'eth0'}    inet ${sim.host.ip}/24 brd x scope global`;
    const vip = `2: ${sim.host.interface ?? 'eth0'}    inet ${this.inventory.cluster.vip.address}/24 scope global secondary`;
    const servers = this.inventory.hosts.filter((h) => hasRole(h, 'server'));
    return [
      section('os', 'ID=debian\nVERSION_ID=12'),
      section('packageManager', 'apt-get'),
      section('systemd', 'yes'),
      section('packages', Object.entries(sim.packages).map(([n, v]) => `${n}\t${v}\tii`).join('\n')),
      section('sysctls', Object.entries(sim.sysctls).map(([k, v]) => `${k}\t${v}`).join('\n')),
      section('routes', sim.routes.join('\n')),
      section('addresses', [lbAddress, ...(holds ? [vip] : [])].join('\n')),
      // As the facts' one stat and one `cat | base64` print them, and systemctl show's blocks in the order asked.
      section('files', [...[...sim.files].map(([p, f]) => `@file ${p}\n${f.owner} ${f.group} ${parseInt(f.mode, 8).toString(8)} ${Buffer.byteLength(f.content)}`), '@content', Buffer.from([...sim.files.values()].map((f) => f.content).join('')).toString('base64')].join('\n')),
      section('services', factNeeds(this.playbook, this.inventory, sim.host).services.map((n) => `ActiveState=${sim.services.get(n) ?? 'inactive'}\nUnitFileState=enabled`).join('\n\n')),
      section('backends', hasRole(sim.host, 'lb') ? servers.map((s) => `${s.address}:${this.inventory.cluster.backendPort} ${this.sim(s.name).reachable ? 'ok' : 'fail'}`).join('\n') : ''),
      section('end', ''),
    ].join('\n');
  }
}
