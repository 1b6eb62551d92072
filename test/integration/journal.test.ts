// The journal filter behind a service's faults, run for real by `sh` and awk through a stand-in journalctl
// that prints a canned journal: only what the daemon logged since it last started or reloaded counts.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servicesFact } from '../../src/facts/services.js';
import { gatherScript, type HostFacts } from '../../src/facts/gather.js';
import { parseInventory } from '../../src/inventory/load.js';
import { factNeeds } from '../../src/playbook/desired.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT } from '../../src/playbook/playbook.js';

describe('service faults from the journal, run for real through a stand-in journalctl', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ha-journal-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const read = (log: string[]): HostFacts['services'] => {
    const journalctl = join(dir, 'journalctl');
    writeFileSync(journalctl, log.length > 0 ? `#!/bin/sh\ncat <<'EOF'\n${log.join('\n')}\nEOF\n` : '#!/bin/sh\n');
    chmodSync(journalctl, 0o755);
    const fact = servicesFact(['keepalived', 'haproxy'], { keepalived: ['Disabling track script', 'Unsafe permissions'] });
    const out = spawnSync('sh', ['-c', fact.command], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    return fact.parse(out.stdout);
  };
  const LOADED = ['Starting keepalived.service - Keepalive Daemon (LVS and VRRP)...', 'Starting Keepalived v2.2.7 (01/16,2022)', 'VRRP_Script(check_apiserver) succeeded'];
  const DISABLED = [
    'Reloading keepalived.service - Keepalive Daemon (LVS and VRRP)...',
    "Unsafe permissions found for script '/etc/keepalived/check_apiserver.sh' - disabling.",
    'Disabling track script check_apiserver due to insecure',
    'Reloaded keepalived.service - Keepalive Daemon (LVS and VRRP).',
  ];
  const FIXED = ['Reloading keepalived.service - Keepalive Daemon (LVS and VRRP)...', 'VRRP_Script(check_apiserver) considered successful on reload', 'Reloaded keepalived.service - Keepalive Daemon (LVS and VRRP).'];

  // The window: the unit's last lines of journal. When they do not reach back to its last start or
  // reload (a unit that logs much, or a start long ago), the faults are the window's, and it says so.
  const LATER = ["Unsafe permissions found for script '/etc/keepalived/check_apiserver.sh' - disabling.", 'VRRP_Script(check_apiserver) succeeded'];

  it.each<[string, string[], string[], boolean]>([
    ['a clean start', LOADED, [], true],
    ['a reload that disabled the track script', [...LOADED, ...DISABLED], [DISABLED[1]!, DISABLED[2]!], true],
    ['a later reload that loaded it again', [...LOADED, ...DISABLED, ...FIXED], [], true],
    ['lines with no start or reload among them', LATER, [LATER[0]!], false],
    ['no lines at all', [], [], false],
  ])('%s', (_name, log, faults, sinceLoad) => {
    const services = read(log);
    expect(services.keepalived?.faults).toEqual(faults);
    expect(services.keepalived?.faultsSinceLoad).toBe(sinceLoad);
    expect(services.haproxy?.faults).toBeUndefined(); // no fault patterns: not read
  });

  // haproxy's traffic log (a line per connection, over syslog) must not push its last reload out of the
  // lines read: the shipped playbook reads its faults from what it printed (stdout) and systemd's lines.
  it("the shipped playbook reads haproxy's faults from stdout and systemd's lines only, keepalived's from all", async () => {
    const args = join(dir, 'args');
    const journalctl = join(dir, 'journalctl');
    writeFileSync(journalctl, `#!/bin/sh\necho "$*" >> '${args}'\n`);
    chmodSync(journalctl, 0o755);
    writeFileSync(args, '');
    const playbook = await loadPlaybook(builtinPlaybook('haproxy-keepalived'));
    const example = join(PROJECT_ROOT, 'inventory', 'example.yaml');
    const inventory = parseInventory(readFileSync(example, 'utf8'), example, { HA_KEEPALIVED_PASS: 'k33pal1v' });
    const lb = inventory.hosts.find((h) => h.roles.includes('lb'))!;
    spawnSync('sh', ['-c', gatherScript(factNeeds(playbook, inventory, lb))], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    const calls = readFileSync(args, 'utf8').trim().split('\n');
    expect(calls.find((c) => c.startsWith('-u haproxy.service '))).toMatch(/^-u haproxy\.service _TRANSPORT=stdout _TRANSPORT=journal -b /);
    expect(calls.find((c) => c.startsWith('-u keepalived.service '))).toMatch(/^-u keepalived\.service -b /);
  });
});
