// Saved plans: what `plan --out` writes (no secret in clear) and how `--plan FILE` tells a host that
// drifted from one whose plan is unchanged.
import { describe, expect, it } from 'vitest';
import type { FileFact } from '../../src/facts/facts.js';
import { planDrift, savePlan } from '../../src/plan/saved.js';
import { redactor } from '../../src/redact.js';
import type { Change } from '../../src/resources/types.js';

const PASS = 'k33pPass';
const redact = redactor([PASS]);
const fact = (content: string): FileFact => ({ content, sha256: '', owner: 'root', group: 'root', mode: '640' });
const conf = (pass: string, priority = 100) => `vrrp_instance demo {\n    priority ${priority}\n    auth_pass ${pass}\n}\n`;
const keepalived = (before: string, after: string): Change => ({
  kind: 'file', path: '/etc/keepalived/keepalived.conf', before: fact(before), content: after, mode: '0640', owner: 'root', group: 'root',
  daemonReload: false, secrets: [/auth_pass\s+(\S+)/g], peerShared: [], peers: [],
});
const haproxy = (before: string, after: string): Change => ({
  kind: 'file', path: '/etc/haproxy/haproxy.cfg', before: { ...fact(before), mode: '644' }, content: after, mode: '0644', owner: 'root', group: 'root',
  daemonReload: false, secrets: [], peerShared: [], peers: [],
});
const reload: Change = { kind: 'service', name: 'haproxy', actions: ['reload'], why: 'haproxy.cfg changed', loads: ['/etc/haproxy/haproxy.cfg'], logFaults: [] };

const approved = [
  { host: 'lb-1', changes: [keepalived(conf(PASS, 100), conf(PASS, 150)), haproxy('timeout client 20s\n', 'timeout client 50s\n'), reload] },
  { host: 'server-1', changes: [] },
];
const saved = savePlan(approved, { cluster: 'demo', inventory: '/i.yaml', secrets: [PASS], redact, text: 'the plan' });

describe('saved plans', () => {
  it('hold no secret in clear, and no plain hash of a file that carries one', () => {
    const text = JSON.stringify(saved);
    expect(text).not.toContain(PASS);
    const secretFile = saved.hosts['lb-1']![0]!;
    expect(secretFile.after).toMatch(/^hmac:[0-9a-f]{64} 640 root:root$/);
    expect(saved.hosts['lb-1']![1]!.after).toMatch(/^sha256:[0-9a-f]{64} 644 root:root$/);
  });

  it.each<[string, typeof approved, string[]]>([
    ['the same plan again: applied as approved', approved, []],
    [
      'a hand edit on the host since',
      [{ host: 'lb-1', changes: [keepalived(conf(PASS, 100), conf(PASS, 150)), haproxy('timeout client 25s\n', 'timeout client 50s\n'), reload] }, approved[1]!],
      ['lb-1: /etc/haproxy/haproxy.cfg changed on the host since the plan was saved'],
    ],
    [
      'the secret changed since (a new auth_pass from the environment)',
      [{ host: 'lb-1', changes: [keepalived(conf(PASS, 100), conf('0therPas', 150)), haproxy('timeout client 20s\n', 'timeout client 50s\n'), reload] }, approved[1]!],
      ['lb-1: /etc/keepalived/keepalived.conf: what it would become differs from the saved plan (the inventory, templates or secrets changed)'],
    ],
    [
      'a host that was in sync has a change now',
      [approved[0]!, { host: 'server-1', changes: [{ kind: 'sysctl', key: 'net.ipv4.ip_nonlocal_bind', from: '0', to: '1' }] }],
      ['server-1: sysctl net.ipv4.ip_nonlocal_bind: "sysctl net.ipv4.ip_nonlocal_bind: 0 → 1" is not in the saved plan'],
    ],
    [
      'a planned change is no longer needed (someone applied it by hand)',
      [{ host: 'lb-1', changes: [keepalived(conf(PASS, 100), conf(PASS, 150)), reload] }, approved[1]!],
      ['lb-1: /etc/haproxy/haproxy.cfg: planned "update /etc/haproxy/haproxy.cfg", but there is nothing to change now (changed on the host since the plan was saved)'],
    ],
  ])('%s', (_name, fresh, drift) => {
    expect(planDrift(saved, fresh, [PASS], redact)).toEqual(drift);
  });
});
