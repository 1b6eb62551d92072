// Unicast VRRP, proven on a bridge that drops multicast VRRP (as clouds do): without `unicast` both lbs
// take the VIP, which shows the block is real; with `unicast: true` exactly one holds it, and a dead
// haproxy on the holder still moves it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { blockMulticastVrrp, droppedAdverts, unblockMulticastVrrp } from '../../src/lab/vrrp.js';
import { cli, expectFailoverAndBack, expectOneStableHolder, labSuite, onHost, startTestLab, vipHolders, waitFor } from './harness.js';

const NAME = 'e2euni';
const SUBNET = '10.213.59.0/24';
const VIP = '10.213.59.100';
const lbs = [`${NAME}-lb-1`, `${NAME}-lb-2`];
let multicast = '';
let unicast = '';


labSuite('unicast VRRP where multicast is dropped', () => {
  beforeAll(async () => {
    const lab = await startTestLab({ name: NAME, subnet: SUBNET, lbs: 2, servers: 1 });
    multicast = lab.inventoryFile;
    unicast = join(lab.dir, 'unicast.yaml');
    writeFileSync(unicast, readFileSync(multicast, 'utf8').replace('    unicast: false', '    unicast: true'));
    await blockMulticastVrrp(NAME);
  });
  afterAll(() => unblockMulticastVrrp(NAME));

  it('multicast VRRP dropped on the bridge: without unicast both lbs take the VIP, and verify says so', async () => {
    const up = await cli(['up', multicast, '--yes']);
    expect(up.code).toBe(1);
    expect(await waitFor(async () => (await vipHolders(NAME, lbs, VIP)).length === 2)).toBe(true);
    expect(up.stdout).toMatch(/FAIL +exactly one lb holds the VIP 10\.213\.59\.100: held by e2euni-lb-1, e2euni-lb-2/);
    expect(await droppedAdverts(NAME)).toBeGreaterThan(0);
  });

  it('with unicast: true, exactly one lb holds the VIP and requests through it succeed', async () => {
    const up = await cli(['up', unicast, '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await onHost(NAME, lbs[0]!, 'cat /etc/keepalived/keepalived.conf')).toMatch(/unicast_src_ip 10\.213\.59\.11\n\s+unicast_peer \{\n\s+10\.213\.59\.12\n/);
    expect(await expectOneStableHolder(NAME, lbs, VIP, 5_000)).toBe(lbs[0]);
    const before = (await droppedAdverts(NAME)) ?? 0;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await droppedAdverts(NAME)).toBe(before); // nothing multicast left to drop: the adverts go unicast
  });

  it('failover works over unicast: haproxy dying on the holder moves the VIP; up brings it back', async () => {
    const up = await expectFailoverAndBack(NAME, lbs, VIP, 'haproxy', unicast);
    expect(up.stdout).toContain('start haproxy');
  });
});
