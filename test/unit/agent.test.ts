// An agent's report when its host goes away mid-apply, and verify's judgement of the VIP over every lb
// (pure, on canned facts; the lab tests do the same against real hosts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostAgent } from '../../src/agent/agent.js';
import { STEP_MARK } from '../../src/apply/script.js';
import { HostError } from '../../src/errors.js';
import { freshHostFacts, type HostFacts } from '../../src/facts/gather.js';
import { parseInventory } from '../../src/inventory/load.js';
import { builtinPlaybook, loadPlaybook, PROJECT_ROOT } from '../../src/playbook/playbook.js';
import { redactor } from '../../src/redact.js';
import type { ExecResult, Transport } from '../../src/transport/transport.js';
import { hostChecks } from '../../src/verify/verify.js';

const exampleFile = join(PROJECT_ROOT, 'inventory', 'example.yaml');
const inventory = parseInventory(readFileSync(exampleFile, 'utf8'), exampleFile, { HA_KEEPALIVED_PASS: 'k33pal1v' });
const lb1 = inventory.hosts.find((h) => h.name === 'lb-1')!;

/** A transport whose one exec answers as a host whose connection dropped would. */
const dropping = (answer: () => Promise<ExecResult>): Transport => ({ execCount: 0, exec: answer, close: () => undefined });

describe('the connection lost while applying', () => {
  const agentWith = async (transport: Transport): Promise<HostAgent> => {
    const agent = new HostAgent(inventory, await loadPlaybook(builtinPlaybook('haproxy-keepalived')), lb1, async () => transport);
    agent.changes = [
      { kind: 'route', route: { to: '192.0.2.50/32', via: '10.10.10.1', dev: 'eth1' }, action: 'add' },
      { kind: 'sysctl', key: 'net.ipv4.ip_nonlocal_bind', to: '1' },
    ];
    return agent;
  };

  // It used to say "nothing after it ran", while the host (which finishes what it received) had run more.
  it.each<[string, () => Promise<ExecResult>, RegExp]>([
    [
      'the output stops in the middle of a step',
      async () => ({ code: 255, stdout: `${STEP_MARK}0\n`, stderr: '' }),
      /^lb-1: the connection was lost during step "sysctl net\.ipv4\.ip_nonlocal_bind=1"; .*later steps may have run/,
    ],
    [
      'the exec fails outright (keepalive timeout)',
      async () => Promise.reject(new HostError('lb-1', 'Keepalive timeout')),
      /^lb-1: Keepalive timeout while applying; .*later steps may have run/,
    ],
  ])('%s: the report says so, and that later steps may have run', async (_what, answer, message) => {
    const agent = await agentWith(dropping(answer));
    const error = await agent.apply(redactor([]), { id: 'c0ffee01', controller: 'ci-7', pid: 4121, user: 'deploy', started: '2026-11-24T14:02:11Z' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('nothing after it ran');
  });
});

describe('verify judges the VIP over every lb', () => {
  const VIP = inventory.cluster.vip.address;
  const lbFacts = (holds: boolean, over: Partial<HostFacts> = {}): HostFacts => ({
    ...freshHostFacts('debian'),
    addresses: [{ dev: 'eth1', cidr: '10.10.10.98/24' }, ...(holds ? [{ dev: 'eth1', cidr: `${VIP}/24` }] : [])],
    services: {
      haproxy: { active: 'active', enabled: 'enabled', mainPid: 10, startedAt: '1' },
      keepalived: { active: 'active', enabled: 'enabled', mainPid: 11, startedAt: '1', faults: [] },
    },
    backends: { '10.10.10.50:6443': true },
    ...over,
  });
  const holderCheck = (facts: Map<string, HostFacts>) => hostChecks(inventory, facts, ['haproxy', 'keepalived']).find((c) => c.name.startsWith('exactly one lb holds the VIP'));

  it.each<[string, [string, HostFacts][], boolean, string]>([
    ['one holder', [['lb-1', lbFacts(true)], ['lb-2', lbFacts(false)]], true, 'held by lb-1'],
    ['both hold it (a split pair)', [['lb-1', lbFacts(true)], ['lb-2', lbFacts(true)]], false, 'held by lb-1, lb-2'],
    // Under --limit lb-1 the check used to be skipped: lb-2, on the old password, held the VIP too.
    ['lb-2 could not be read', [['lb-1', lbFacts(true)]], false, 'cannot tell: lb-2 could not be read (held by lb-1)'],
  ])('%s', (_what, entries, ok, detail) => {
    expect(holderCheck(new Map(entries))).toMatchObject({ ok, detail });
  });

  it('keepalived that disabled its track script fails verify, with its own words', () => {
    const disabled = lbFacts(false, {
      services: { ...lbFacts(false).services, keepalived: { active: 'active', enabled: 'enabled', mainPid: 11, startedAt: '1', faults: ['Disabling track script check_apiserver due to insecure'] } },
    });
    const checks = hostChecks(inventory, new Map([['lb-1', lbFacts(true)], ['lb-2', disabled]]), ['haproxy', 'keepalived']);
    expect(checks.filter((c) => c.name.endsWith('runs its config without faults')).map((c) => [c.name, c.ok])).toEqual([
      ['lb-1: keepalived runs its config without faults', true],
      ['lb-2: keepalived runs its config without faults', false],
    ]);
    expect(checks.find((c) => !c.ok)?.detail).toContain('Disabling track script check_apiserver');
  });

  // haproxy logs every connection: its last lines of journal may not reach back to its last reload, and
  // then "nothing logged since its last (re)load" would claim more than was read.
  it.each<[string, boolean | undefined, string[], boolean, string]>([
    ['clean, since its last (re)load', true, [], true, 'nothing logged since its last (re)load'],
    ['clean, the window short of the last (re)load', false, [], true, 'nothing logged in the last 300 lines of its journal (its last (re)load is further back)'],
    ['a fault in a window short of the last (re)load', false, ['[ALERT] cannot bind socket'], false, 'logged in the last 300 lines of its journal (its last (re)load is further back): [ALERT] cannot bind socket'],
  ])('%s', (_what, faultsSinceLoad, faults, ok, detail) => {
    const haproxy = { active: 'active', enabled: 'enabled', mainPid: 10, startedAt: '1', faults, ...(faultsSinceLoad === undefined ? {} : { faultsSinceLoad }) };
    const facts = lbFacts(true, { services: { ...lbFacts(true).services, haproxy } });
    const check = hostChecks(inventory, new Map([['lb-1', facts], ['lb-2', lbFacts(false)]]), ['haproxy', 'keepalived']).find((c) => c.name === 'lb-1: haproxy runs its config without faults');
    expect(check).toMatchObject({ ok, detail });
  });
});
