// Multicast VRRP blocked on a lab's bridge, as on clouds that carry no multicast: keepalived's adverts
// to 224.0.0.18 are dropped between the lab's hosts (an nftables bridge-family rule on the controller,
// matching the lab's own ports only), while unicast VRRP between peers still passes.
import { must, run } from './util.js';
import { loadState } from './state.js';
import { LabError } from '../errors.js';

const table = (lab: string): string => `ha_provision_${lab.replace(/-/g, '_')}`;

export async function blockMulticastVrrp(lab: string): Promise<void> {
  const state = await loadState(lab);
  const ports = Object.values(state?.hosts ?? {}).flatMap((h) => (h.veth ? [h.veth] : []));
  if (ports.length === 0) throw new LabError(`lab "${lab}" has no running hosts to cut multicast VRRP between`);
  await unblockMulticastVrrp(lab);
  const t = table(lab);
  await must('nft', ['add', 'table', 'bridge', t]);
  await must('nft', ['add', 'chain', 'bridge', t, 'forward', '{ type filter hook forward priority 0; policy accept; }']);
  await must('nft', ['add', 'rule', 'bridge', t, 'forward', 'iifname', `{ ${ports.join(', ')} }`, 'ip', 'protocol', 'vrrp', 'ip', 'daddr', '224.0.0.18', 'counter', 'drop']);
}

/** How many multicast adverts the block dropped (proof that it bit), or undefined when none is set. */
export async function droppedAdverts(lab: string): Promise<number | undefined> {
  const r = await run('nft', ['list', 'table', 'bridge', table(lab)]);
  if (r.code !== 0) return undefined;
  return Number(/counter packets (\d+)/.exec(r.stdout)?.[1] ?? 0);
}

export async function unblockMulticastVrrp(lab: string): Promise<void> {
  await run('nft', ['delete', 'table', 'bridge', table(lab)]); // absent: nothing to do
}
