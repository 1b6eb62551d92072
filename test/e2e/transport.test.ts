// The SSH transport against real sshd: host-key policies (plain and hashed known_hosts), a non-root
// user through sudo, a password from the environment, a jump host, one connection per host, a host that
// does not answer, and hosts reached only through aliases of an ssh config, behind a ProxyJump bastion
// that gets one connection per run. A lab of 1 lb + 2 servers: the second server is the bastion, and
// stays out of the inventories (the other tests see 1 lb + 1 server).
import { beforeAll, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { labExec, labHeal, labPartition } from '../../src/lab/index.js';
import { cli, labSuite, startTestLab, type TestLab } from './harness.js';

const NAME = 'e2essh';
const SUBNET = '10.213.53.0/24';
const LB = `${NAME}-lb-1`;
const SERVER = `${NAME}-server-1`;
const LB_ADDRESS = '10.213.53.11';
const SERVER_ADDRESS = '10.213.53.21';
const BASTION = `${NAME}-server-2`;
const BASTION_ADDRESS = '10.213.53.22';
const PASSWORD = 'Corr3ct-h0rse'; // the deploy user's SSH password: must never be printed
// The sudo password of a user without NOPASSWD: quotes, a dollar, a space and a backslash.
const SUDO_PASSWORD = `pa's "w$rd \\x9`;
let lab: TestLab;
/** A host's SSH settings as `plan --json` and `facts --json` show them. */
interface SshView {
  readonly proxyJump: { readonly value: string | null; readonly hops: readonly { readonly hop: string; readonly hostName: { readonly value: string } }[] };
}
let base = '';

async function sh(node: string, script: string): Promise<string> {
  const r = await labExec(NAME, node, ['sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The lab inventory with its `ssh:` block replaced (host lines untouched). */
function inventoryWith(file: string, ssh: Record<string, string>): string {
  const block = `ssh:\n${Object.entries(ssh).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`;
  const path = join(lab.dir, file);
  writeFileSync(path, base.replace(/^ssh:\n(?: {2}.*\n)+/m, block));
  return path;
}

const acceptedLogins = (node: string) => sh(node, "journalctl -u ssh --no-pager -o cat | grep -c '^Accepted ' || true").then((s) => Number(s.trim()));

labSuite('ssh transport against real sshd', () => {
  beforeAll(async () => {
    lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 1, servers: 2 });
    base = readFileSync(lab.inventoryFile, 'utf8').replace(new RegExp(`^  ${BASTION}: .*\n`, 'm'), '');
    expect(base).not.toContain(BASTION_ADDRESS);
    // A deploy user with the lab's key, a password and passwordless sudo; a second user without sudo.
    for (const node of [LB, SERVER]) {
      await sh(node, [
        'useradd -m -s /bin/sh deploy && useradd -m -s /bin/sh nosudo',
        `printf 'deploy:%s\\n' '${PASSWORD}' | chpasswd`,
        'for u in deploy nosudo; do mkdir -p /home/$u/.ssh && cp /root/.ssh/authorized_keys /home/$u/.ssh/ && chown -R $u: /home/$u/.ssh; done',
        "echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy && chmod 0440 /etc/sudoers.d/deploy",
        // sudopw: sudo with its password (no NOPASSWD).
        'useradd -m -s /bin/sh sudopw && mkdir -p /home/sudopw/.ssh && cp /root/.ssh/authorized_keys /home/sudopw/.ssh/ && chown -R sudopw: /home/sudopw/.ssh',
        `echo ${Buffer.from(`sudopw:${SUDO_PASSWORD}\n`).toString('base64')} | base64 -d | chpasswd`,
        "echo 'sudopw ALL=(ALL) ALL' > /etc/sudoers.d/sudopw && chmod 0440 /etc/sudoers.d/sudopw",
        // The lab's sshd refuses passwords; this test opens them for deploy alone.
        "printf 'Match User deploy\\n    PasswordAuthentication yes\\n' > /etc/ssh/sshd_config.d/90-test-deploy.conf",
        'systemctl reload ssh',
      ].join(' && '));
    }
  });

  const known = () => /knownHostsFile: (\S+)/.exec(base)![1]!;
  const identity = () => /identityFile: (\S+)/.exec(base)![1]!;

  it('strict refuses a host whose key is not the known one, and one that is not listed', async () => {
    const wrong = join(lab.dir, 'wrong_known_hosts');
    // The server's real key filed under the lb's address: a key the lb will not present.
    const serverLine = readFileSync(known(), 'utf8').split('\n').find((l) => l.startsWith('10.213.53.21 '))!;
    writeFileSync(wrong, `${serverLine.replace('10.213.53.21', LB_ADDRESS)}\n`);
    const r = await cli(['facts', inventoryWith('wrong.yaml', { identityFile: identity(), knownHostsFile: wrong, hostKeyPolicy: 'strict' })]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`${LB}:\\s+error: ssh ${LB_ADDRESS}:22: HOST KEY MISMATCH`));
    // Both fingerprints, as OpenSSH shows them, and the line and command that fix the file.
    expect(r.stdout).toMatch(new RegExp(`it presented ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}, but ${wrong}:1 expects ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}`));
    expect(r.stdout).toContain(`remove the old key (line 1): ssh-keygen -f ${wrong} -R ${LB_ADDRESS}`);
    expect(r.stdout).toMatch(new RegExp(`${SERVER}:\\s+error: ssh 10.213.53.21:22: no host key for 10.213.53.21`));
  });

  it('accept-new records first-seen keys (the real ones), then holds them strictly', async () => {
    const fresh = join(lab.dir, 'fresh_known_hosts');
    writeFileSync(fresh, '');
    const file = inventoryWith('accept.yaml', { identityFile: identity(), knownHostsFile: fresh, hostKeyPolicy: 'accept-new' });
    expect((await cli(['facts', file])).code).toBe(0);
    const recorded = readFileSync(fresh, 'utf8').trim().split('\n').sort();
    // The bastion (out of the inventory) is not asked: only the inventory's hosts' keys are recorded.
    const real = readFileSync(known(), 'utf8').trim().split('\n').filter((l) => !l.startsWith(`${BASTION_ADDRESS} `)).map((l) => l.split(' ').slice(0, 3).join(' ')).sort();
    expect(recorded).toEqual(real);
    // A key that changed after it was recorded is refused, as under strict.
    const lbKey = recorded.find((l) => l.startsWith(`${LB_ADDRESS} `))!.split(' ')[2]!;
    const serverKey = recorded.find((l) => l.startsWith('10.213.53.21 '))!.split(' ')[2]!;
    writeFileSync(fresh, readFileSync(fresh, 'utf8').replace(lbKey, serverKey));
    const changed = await cli(['facts', file]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain('HOST KEY MISMATCH');
  });

  it('strict accepts hashed known_hosts entries (ssh-keygen -H)', async () => {
    const hashed = join(lab.dir, 'hashed_known_hosts');
    copyFileSync(known(), hashed);
    expect(spawnSync('ssh-keygen', ['-H', '-f', hashed]).status).toBe(0);
    expect(readFileSync(hashed, 'utf8')).toMatch(/^\|1\|/m);
    expect((await cli(['facts', inventoryWith('hashed.yaml', { identityFile: identity(), knownHostsFile: hashed })])).code).toBe(0);
  });

  it('a non-root user converges the hosts through sudo, one SSH connection per host', async () => {
    const file = inventoryWith('deploy.yaml', { user: 'deploy', identityFile: identity(), knownHostsFile: known() });
    const before = await Promise.all([acceptedLogins(LB), acceptedLogins(SERVER)]);
    const up = await cli(['up', file, '--yes', '--json']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const report = JSON.parse(up.stdout) as { hosts: { host: string; status: string; execs: number }[] };
    expect(report.hosts.map((h) => h.status)).toEqual(['changed', 'changed']);
    // Facts, apply, facts again (plus verify's re-reads while the VIP settles): all on one connection.
    expect(await Promise.all([acceptedLogins(LB), acceptedLogins(SERVER)])).toEqual(before.map((n) => n + 1));
    expect(await sh(LB, 'stat -c %U /etc/haproxy/haproxy.cfg')).toBe('root\n');
    expect((await cli(['plan', file])).code).toBe(0); // reads root-only keepalived.conf through sudo
  });

  // The password reaches sudo only on the channel's stdin: never argv, never any output, log or file.
  it('a user whose sudo asks for a password converges the hosts, and the password appears nowhere', async () => {
    const file = inventoryWith('sudopw.yaml', { user: 'sudopw', identityFile: identity(), knownHostsFile: known(), sudoPassword: '{ env: HA_TEST_SUDO_PASS }' });
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^cluster:\n/m, 'cluster:\n  haproxy: { timeouts: { client: 42s } }\n'));
    const before = await Promise.all([acceptedLogins(LB), acceptedLogins(SERVER)]);
    const up = await cli(['up', file, '--yes', '--json'], { env: { HA_TEST_SUDO_PASS: SUDO_PASSWORD } });
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await sh(LB, 'cat /etc/haproxy/haproxy.cfg')).toContain('timeout client 42s'); // applied as root
    expect(await Promise.all([acceptedLogins(LB), acceptedLogins(SERVER)])).toEqual(before.map((n) => n + 1));
    const plan = await cli(['plan', file], { env: { HA_TEST_SUDO_PASS: SUDO_PASSWORD } });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const wrong = await cli(['facts', file], { env: { HA_TEST_SUDO_PASS: `${SUDO_PASSWORD}-not` } });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('sudo refused the password given for user sudopw (from env HA_TEST_SUDO_PASS)');
    for (const output of [up.stdout, up.stderr, plan.stdout, plan.stderr, wrong.stdout, wrong.stderr]) {
      expect(output).not.toContain(SUDO_PASSWORD);
      expect(output).not.toContain('w$rd');
    }
    // Nothing on the hosts holds it either: their journals (sudo logs its command lines), /etc, /run, /var.
    const needle = Buffer.from('w$rd').toString('base64');
    for (const node of [LB, SERVER]) {
      const found = await sh(node, `n=$(echo ${needle} | base64 -d); { journalctl -o cat --no-pager; grep -rF -- "$n" /etc /run /var/lib/ha-provision /var/log 2>/dev/null; } | grep -cF -- "$n" || true`);
      expect(found.trim()).toBe('0');
    }
  });

  it('a user without passwordless sudo gets a clear error', async () => {
    const r = await cli(['facts', inventoryWith('nosudo.yaml', { user: 'nosudo', identityFile: identity(), knownHostsFile: known() })]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('user nosudo needs passwordless sudo (NOPASSWD) to run as root, or a sudo password');
  });

  it('a password from the environment logs in; a wrong one fails without being printed', async () => {
    const file = inventoryWith('password.yaml', { user: 'deploy', password: '{ env: HA_TEST_SSH_PASS }', agent: 'false', knownHostsFile: known() });
    const ok = await cli(['facts', file], { env: { HA_TEST_SSH_PASS: PASSWORD } });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(PASSWORD);
    const bad = await cli(['facts', file], { env: { HA_TEST_SSH_PASS: 'wrong-Pass-123' } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('authentication failed for user deploy');
    expect(bad.stdout + bad.stderr).not.toContain('wrong-Pass-123');
  });

  it('a key held by ssh-agent logs in with no identityFile', async () => {
    const agent = spawnSync('ssh-agent', ['-s'], { encoding: 'utf8' });
    const sock = /SSH_AUTH_SOCK=([^;]+);/.exec(agent.stdout)![1]!;
    const pid = Number(/SSH_AGENT_PID=(\d+);/.exec(agent.stdout)![1]);
    try {
      expect(spawnSync('ssh-add', [identity()], { env: { ...process.env, SSH_AUTH_SOCK: sock } }).status).toBe(0);
      const file = inventoryWith('agent.yaml', { knownHostsFile: known() });
      const r = await cli(['facts', file], { env: { SSH_AUTH_SOCK: sock } });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const without = await cli(['facts', file], { env: { SSH_AUTH_SOCK: '' } });
      expect(without.code).toBe(1);
      expect(without.stdout).toContain('authentication failed for user root');
    } finally {
      process.kill(pid); // the agent this test started, by its PID
    }
  });

  it('a jump host carries the connection: the server sees it come from the lb', async () => {
    const file = inventoryWith('jump.yaml', { identityFile: identity(), knownHostsFile: known(), jumpHost: LB_ADDRESS });
    const r = await cli(['facts', file, '--limit', SERVER]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await sh(SERVER, "journalctl -u ssh --no-pager -o cat | grep '^Accepted ' | tail -1")).toContain(`from ${LB_ADDRESS} `);
  });

  /**
   * An ssh config in the test's directory, and an inventory that names it and holds nothing else about
   * SSH: no IP, user, port or key, only the aliases (lb-alias, server-alias) as addresses.
   */
  function aliasInventory(file: string, config: string): string {
    const configFile = join(lab.dir, `${file}.ssh_config`);
    writeFileSync(configFile, config);
    const path = inventoryWith(file, { config: configFile });
    writeFileSync(path, readFileSync(path, 'utf8').replace(`address: ${LB_ADDRESS},`, 'address: lb-alias,').replace(`address: ${SERVER_ADDRESS},`, 'address: server-alias,'));
    expect(readFileSync(path, 'utf8')).not.toMatch(/10\.213\.53\.(11|21|22)|identityFile|knownHostsFile|user:|port: 22/);
    return path;
  }
  const lastLogin = (node: string) => sh(node, "journalctl -u ssh --no-pager -o cat | grep '^Accepted ' | tail -1");
  const hostsOf = (stdout: string) => (JSON.parse(stdout) as { hosts: { host: string; connections: number; ssh: SshView }[] }).hosts;

  it('ssh config aliases only: up and plan converge through a ProxyJump bastion, which gets one connection per run', async () => {
    const file = aliasInventory('aliases.yaml', [
      'Host lb-alias',
      `  HostName ${LB_ADDRESS}`,
      'Host server-alias',
      `  HostName ${SERVER_ADDRESS}`,
      'Host *-alias',
      '  ProxyJump bastion',
      'Host bastion',
      `  HostName ${BASTION_ADDRESS}`,
      'Host *',
      '  User root',
      `  IdentityFile ${identity()}`,
      `  UserKnownHostsFile ${known()}`,
      '  StrictHostKeyChecking yes',
      '',
    ].join('\n'));
    const before = await Promise.all([acceptedLogins(BASTION), acceptedLogins(LB), acceptedLogins(SERVER)]);
    const up = await cli(['up', file, '--yes', '--json']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    // One connection to the bastion for the whole run, one to each host (through it).
    expect(await Promise.all([acceptedLogins(BASTION), acceptedLogins(LB), acceptedLogins(SERVER)])).toEqual([before[0]! + 1, before[1]! + 1, before[2]! + 1]);
    for (const node of [LB, SERVER]) expect(await lastLogin(node)).toContain(`from ${BASTION_ADDRESS} `);
    // The report says where each setting came from.
    const lb = hostsOf(up.stdout).find((h) => h.host === LB)!;
    expect(lb.connections).toBe(1);
    expect(lb.ssh).toMatchObject({
      alias: 'lb-alias',
      hostName: { value: LB_ADDRESS, from: `${file}.ssh_config:2 (Host lb-alias)` },
      user: { value: 'root', from: expect.stringMatching(/ssh_config:10 \(Host \*\)$/) },
      port: { value: 22, from: 'default' },
      proxyJump: { value: 'bastion', hops: [{ hop: 'bastion', hostName: { value: BASTION_ADDRESS } }] },
    });
    expect(await sh(LB, 'cat /etc/haproxy/haproxy.cfg')).toContain(`${SERVER_ADDRESS}:6443`); // the HostName, not the alias

    const plan = await cli(['plan', file, '--json']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(hostsOf(plan.stdout).map((h) => h.ssh.proxyJump.value)).toEqual(['bastion', 'bastion']);
    expect(await acceptedLogins(BASTION)).toBe(before[0]! + 2);
  });

  it('a two-hop ProxyJump: bastion, then the lb, then the server', async () => {
    const file = aliasInventory('twohops.yaml', [
      'Host lb-alias',
      `  HostName ${LB_ADDRESS}`,
      'Host server-alias',
      `  HostName ${SERVER_ADDRESS}`,
      '  ProxyJump bastion,lb-alias',
      'Host bastion',
      `  HostName ${BASTION_ADDRESS}`,
      'Host *',
      `  IdentityFile ${identity()}`,
      `  UserKnownHostsFile ${known()}`,
      '',
    ].join('\n'));
    const before = await acceptedLogins(BASTION);
    const r = await cli(['facts', file, '--limit', SERVER, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [server] = JSON.parse(r.stdout) as { host: string; facts: { ssh: SshView } }[];
    expect(server!.facts.ssh.proxyJump.hops.map((h) => `${h.hop} ${h.hostName.value}`)).toEqual([`bastion ${BASTION_ADDRESS}`, `lb-alias ${LB_ADDRESS}`]);
    expect(await lastLogin(SERVER)).toContain(`from ${LB_ADDRESS} `);
    expect(await lastLogin(LB)).toContain(`from ${BASTION_ADDRESS} `);
    expect(await acceptedLogins(BASTION)).toBe(before + 1);
  });

  it('a host cut off the network fails within the connect timeout; the others still report', async () => {
    await labPartition(NAME, SERVER);
    try {
      const started = Date.now();
      const r = await cli(['facts', inventoryWith('timeout.yaml', { identityFile: identity(), knownHostsFile: known(), connectTimeout: '2s' })]);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`${SERVER}:\\s+error: ssh 10.213.53.21:22: Timed out while waiting for handshake`));
      expect(r.stdout).toMatch(new RegExp(`${LB}:\\n\\s+\\{`));
    } finally {
      await labHeal(NAME, SERVER);
    }
  });
});
