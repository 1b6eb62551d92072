// The apply script's text: which commands each change becomes, in which order, and how its output reads.
// Running it for real with `sh` (atomic installs, the host lock, drift) is in test/integration/apply.test.ts.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applySteps, parseApplyOutput, withRealPaths, type Step } from '../../src/apply/script.js';
import { restoreChanges } from '../../src/apply/restore.js';
import type { Change } from '../../src/resources/types.js';
import { before, file, type FileChange } from '../fixtures/changes.js';

/** Label and script of each step, e.g. ["install haproxy", "apt-get update -q && …"]. */
const shown = (steps: readonly Step[]): [string, string][] => steps.map((s) => [s.label, s.script]);

describe('applySteps', () => {
  it.each<[string, Change[], [string, string][]]>([
    [
      'apt-get refreshes the index first and keeps managed configs',
      [{ kind: 'package', manager: 'apt-get', install: ['haproxy', 'keepalived'], versions: {}, upgrade: [] }],
      [['install haproxy, keepalived', 'apt-get update -q && apt-get install -y -q -o Dpkg::Options::=--force-confold haproxy keepalived']],
    ],
    ['dnf', [{ kind: 'package', manager: 'dnf', install: ['haproxy', 'keepalived', 'curl'], versions: {}, upgrade: [] }], [['install haproxy, keepalived, curl', 'dnf install -y -q haproxy keepalived curl']]],
    ['yum', [{ kind: 'package', manager: 'yum', install: ['keepalived'], versions: {}, upgrade: [] }], [['install keepalived', 'yum install -y -q keepalived']]],
    [
      'apt: a pinned upgrade names its version',
      [{ kind: 'package', manager: 'apt-get', install: [], versions: { haproxy: '2.6.12-1+deb12u4' }, upgrade: [{ name: 'haproxy', from: '2.6.12-1+deb12u3', to: '2.6.12-1+deb12u4' }] }],
      [['change haproxy 2.6.12-1+deb12u3 → 2.6.12-1+deb12u4', 'apt-get update -q && apt-get install -y -q -o Dpkg::Options::=--force-confold haproxy=2.6.12-1+deb12u4']],
    ],
    [
      'apt: a pinned downgrade is allowed explicitly',
      [{ kind: 'package', manager: 'apt-get', install: [], versions: { haproxy: '2.6.12-1+deb12u3' }, upgrade: [{ name: 'haproxy', from: '2.6.12-1+deb12u4', to: '2.6.12-1+deb12u3' }] }],
      [['change haproxy 2.6.12-1+deb12u4 → 2.6.12-1+deb12u3', 'apt-get update -q && apt-get install -y -q -o Dpkg::Options::=--force-confold --allow-downgrades haproxy=2.6.12-1+deb12u3']],
    ],
    ['dnf: a pinned install is name-version', [{ kind: 'package', manager: 'dnf', install: ['haproxy'], versions: { haproxy: '2.4.22-3.el9' }, upgrade: [] }], [['install haproxy-2.4.22-3.el9', 'dnf install -y -q haproxy-2.4.22-3.el9']]],
    [
      'a sysctl is written to /proc/sys',
      [{ kind: 'sysctl', key: 'net.ipv4.ip_nonlocal_bind', from: '0', to: '1' }],
      [['sysctl net.ipv4.ip_nonlocal_bind=1', "printf '%s\\n' 1 > /proc/sys/net/ipv4/ip_nonlocal_bind"]],
    ],
    [
      'a route is replaced (idempotent, unlike `ip route add`)',
      [{ kind: 'route', route: { to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }, action: 'add' }],
      [['route add 10.244.0.0/16 via 192.168.20.1 dev eth1', 'ip route replace 10.244.0.0/16 via 192.168.20.1 dev eth1']],
    ],
    [
      'leftover staging files are removed first',
      [{ kind: 'leftovers', paths: ['/etc/keepalived/.keepalived.conf.ha-provision-new'] }],
      [['remove staging files of an interrupted run', 'rm -f /etc/keepalived/.keepalived.conf.ha-provision-new']],
    ],
    [
      'an interrupted dpkg run is finished, keeping the configs this tool manages, never waiting on a prompt',
      [{ kind: 'package-repair' }],
      [['finish the interrupted dpkg run (dpkg --configure -a)', 'dpkg --configure -a --force-confdef --force-confold < /dev/null']],
    ],
  ])('%s', (_name, changes, expected) => {
    expect(shown(applySteps(changes))).toEqual(expected);
  });

  // A service step loads, checks that the service loaded its config, and only then clears the marker.
  it.each<[string, Change, string, string[]]>([
    [
      'start takes a service the package already started',
      { kind: 'service', name: 'haproxy', actions: ['start'], why: 'not running', loads: [], logFaults: ['Loading failure'] },
      'systemctl reload-or-restart haproxy &&',
      ["[ \"$state\" = active ]", "fault='Loading failure'", 'rm -f /var/lib/ha-provision/pending/haproxy'],
    ],
    ['reload', { kind: 'service', name: 'keepalived', actions: ['reload'], why: 'changed', loads: [], logFaults: [] }, 'systemctl reload keepalived &&', ['systemctl is-active keepalived', 'rm -f /var/lib/ha-provision/pending/keepalived']],
    ['restart', { kind: 'service', name: 'keepalived', actions: ['restart'], why: 'changed', loads: [], logFaults: [] }, 'systemctl restart keepalived &&', ['rm -f /var/lib/ha-provision/pending/keepalived']],
  ])('service %s: load, check it loaded, clear the marker', (_what, change, first, fragments) => {
    const [step] = applySteps([change]);
    expect(step?.script.startsWith(first)).toBe(true);
    for (const fragment of fragments) expect(step?.script).toContain(fragment);
    expect(step?.script.trimEnd().endsWith(fragments.at(-1)!)).toBe(true);
    expect(step?.loads).toBe(change.kind === 'service' ? change.name : undefined);
  });

  it('enabling is a step of its own, with no load check', () => {
    const steps = applySteps([{ kind: 'service', name: 'haproxy', actions: ['enable', 'start'], why: 'x', loads: [], logFaults: [] }]);
    expect(shown(steps)[0]).toEqual(['enable haproxy', 'systemctl enable -q haproxy']);
    expect(steps.map((s) => s.loads)).toEqual([undefined, 'haproxy']);
  });

  it('orders packages, kernel state, files, then services, whatever order the changes come in', () => {
    const steps = applySteps([
      { kind: 'service', name: 'haproxy', actions: ['reload'], why: 'x', loads: ['/etc/haproxy/haproxy.cfg'], logFaults: [] },
      file('/etc/haproxy/haproxy.cfg', 'x\n'),
      { kind: 'route', route: { to: '10.244.0.0/16', via: '192.168.20.1', dev: 'eth1' }, action: 'add' },
      { kind: 'sysctl', key: 'net.ipv4.ip_nonlocal_bind', to: '1' },
      { kind: 'package', manager: 'apt-get', install: ['haproxy'], versions: {}, upgrade: [] },
    ]);
    expect(steps.map((s) => s.label)).toEqual([
      'check that no file changed since the plan',
      'install haproxy',
      'sysctl net.ipv4.ip_nonlocal_bind=1',
      'route add 10.244.0.0/16 via 192.168.20.1 dev eth1',
      'upload /etc/haproxy/haproxy.cfg',
      'mark haproxy as due to load new files',
      'record this version',
      'install /etc/haproxy/haproxy.cfg',
      'reload haproxy',
      'keep the last 10 versions',
    ]);
  });

  describe('files', () => {
    const cfg = file('/etc/haproxy/haproxy.cfg', 'global\n', { before: before('old\n'), validate: 'haproxy -c -q -f %s', owner: 'root', group: 'haproxy', mode: '0640' });
    const conf = file('/etc/keepalived/keepalived.conf', 'vrrp_instance VI_1 {}\n', { validate: 'keepalived -t -f %s' });
    const unit = file('/etc/systemd/system/ha-provision-routes.service', '[Unit]\n', { daemonReload: true });
    const steps = applySteps([cfg, conf, unit]);
    const script = (label: string): string => steps.find((s) => s.label === label)?.script ?? `(no step "${label}")`;

    it('uploads every file, then validates every file, then installs them', () => {
      expect(steps.map((s) => s.label)).toEqual([
        'check that no file changed since the plan',
        'upload /etc/haproxy/haproxy.cfg',
        'upload /etc/keepalived/keepalived.conf',
        'upload /etc/systemd/system/ha-provision-routes.service',
        'validate /etc/haproxy/haproxy.cfg',
        'validate /etc/keepalived/keepalived.conf',
        'record this version',
        'install /etc/haproxy/haproxy.cfg',
        'install /etc/keepalived/keepalived.conf',
        'install /etc/systemd/system/ha-provision-routes.service',
        'systemctl daemon-reload',
        'keep the last 10 versions',
      ]);
    });

    it.each([
      ['stages next to the target, owned and moded as wanted', 'upload /etc/haproxy/haproxy.cfg', ['mkdir -p /etc/haproxy', '> /etc/haproxy/.haproxy.cfg.ha-provision-new', 'chown root:haproxy /etc/haproxy/.haproxy.cfg.ha-provision-new', 'chmod 0640 /etc/haproxy/.haproxy.cfg.ha-provision-new']],
      ['validates the staged copy, not the target', 'validate /etc/haproxy/haproxy.cfg', ['haproxy -c -q -f /etc/haproxy/.haproxy.cfg.ha-provision-new']],
      [
        'keeps the file that existed and the new one in this run\'s version, then moves the staged copy in',
        'install /etc/haproxy/haproxy.cfg',
        ['cp -p /etc/haproxy/haproxy.cfg "$version/before"/etc/haproxy/haproxy.cfg', 'cp -p /etc/haproxy/.haproxy.cfg.ha-provision-new "$version/after"/etc/haproxy/haproxy.cfg', 'mv -f /etc/haproxy/.haproxy.cfg.ha-provision-new /etc/haproxy/haproxy.cfg'],
      ],
    ])('%s', (_name, label, fragments) => {
      for (const fragment of fragments) expect(script(label)).toContain(fragment);
    });

    it('keeps no previous version of a file that did not exist', () => {
      expect(script('install /etc/keepalived/keepalived.conf')).not.toContain('$version/before');
      expect(script('install /etc/keepalived/keepalived.conf')).toMatch(/mv -f \/etc\/keepalived\/\.keepalived\.conf\.ha-provision-new \/etc\/keepalived\/keepalived\.conf$/);
    });

    it.each<[string, FileChange[], boolean]>([
      ['a unit file changed', [unit], true],
      ['only other files changed', [cfg, conf], false],
    ])('daemon-reload when %s', (_name, changes, expected) => {
      expect(applySteps(changes).some((s) => s.script === 'systemctl daemon-reload')).toBe(expected);
    });

    it('quotes a validate command placeholder that needs quoting', () => {
      const odd = applySteps([file("/etc/odd dir/it's.cfg", 'x\n', { validate: 'check %s' })]);
      expect(odd.find((s) => s.label.startsWith('validate'))?.script).toBe(`check '/etc/odd dir/.it'\\''s.cfg.ha-provision-new'`);
    });
  });
});

describe('restoring after a service did not load its new config', () => {
  const cfg = file('/etc/haproxy/haproxy.cfg', 'new haproxy\n', { before: before('old haproxy\n', '640', 'root', 'haproxy') });
  const check = file('/etc/keepalived/check_apiserver.sh', 'new check\n', { mode: '0755' }); // new on this host
  const haproxy: Change = { kind: 'service', name: 'haproxy', actions: ['reload'], why: 'x', loads: ['/etc/haproxy/haproxy.cfg'], logFaults: ['Loading failure'] };
  const keepalived: Change = { kind: 'service', name: 'keepalived', actions: ['enable', 'reload'], why: 'x', loads: ['/etc/keepalived/check_apiserver.sh'], logFaults: [] };
  const restored = restoreChanges([cfg, check, haproxy, keepalived]);

  it('puts back every file that had a previous version, with its owner and mode, from the plan itself', () => {
    expect(restored.filter((c) => c.kind === 'file').map((c) => c.kind === 'file' && [c.path, c.content, `${c.owner}:${c.group}`, c.mode])).toEqual([
      ['/etc/haproxy/haproxy.cfg', 'old haproxy\n', 'root:haproxy', '640'],
    ]);
  });

  it('expects on disk what this run wrote (the drift check), and makes the services load the old files', () => {
    const file0 = restored[0]!;
    expect(file0.kind === 'file' && file0.before?.sha256).toBe(createHash('sha256').update('new haproxy\n').digest('hex'));
    expect(restored.filter((c) => c.kind === 'service')).toEqual([{ ...haproxy, actions: ['start'], why: 'load the previous config again', loads: ['/etc/haproxy/haproxy.cfg'] }]);
  });

  it('a run of only new files has nothing to restore', () => {
    expect(restoreChanges([check, keepalived])).toEqual([]);
  });
});

describe('validator output', () => {
  it('names the real file, with its line numbers, not the staged copy or the twin the validator read', () => {
    const changes = [file('/etc/haproxy/haproxy.cfg', 'x'), file('/etc/keepalived/keepalived.conf', 'y')];
    const output = [
      "[ALERT]    (2275) : config : parsing [/etc/haproxy/.haproxy.cfg.ha-provision-new:31] : unknown keyword 'no-such-keyword' in 'backend' section",
      '(/etc/keepalived/.keepalived.conf.ha-provision-check: Line 19) number \'900\' outside range [1, 255]',
    ].join('\n');
    expect(withRealPaths(output, changes)).toBe(
      [
        "[ALERT]    (2275) : config : parsing [/etc/haproxy/haproxy.cfg:31] : unknown keyword 'no-such-keyword' in 'backend' section",
        "(/etc/keepalived/keepalived.conf: Line 19) number '900' outside range [1, 255]",
      ].join('\n'),
    );
  });
});

describe('parseApplyOutput', () => {
  const M = '@@ha-provision-step ';
  const F = '@@ha-provision-failed ';
  const D = '@@ha-provision-done\n';

  it.each<[string, string, number, object]>([
    ['every step ran', `${M}0\n${M}1\nok\n${M}2\n${D}`, 3, { ok: true, completed: 3 }],
    ['nothing to do', D, 0, { ok: true, completed: 0 }],
    ['the last step started but never finished', `${M}0\n${M}1\nok\n${M}2\n`, 3, { ok: false, failedStep: 2 }],
    ['a step failed', `${M}0\n${M}1\nE: Unable to locate package haproxy\n${F}1\n`, 3, { ok: false, completed: 1, failedStep: 1, output: 'E: Unable to locate package haproxy' }],
    ['the connection dropped before any step', '', 3, { ok: false, failedStep: 0 }],
    ['the connection dropped during a middle step', `${M}0\n${M}1\nReading package lists...`, 3, { ok: false, failedStep: 1 }],
  ])('%s', (_name, stdout, stepCount, expected) => {
    expect(parseApplyOutput(stdout, stepCount)).toMatchObject(expected);
  });
});
