// Pure: a change that every peer must make in the same run (keepalived's auth_pass, virtual_router_id,
// …) is refused when a peer is left out of the run: two lbs that disagree on them stop hearing each
// other and both take the VIP.
import type { Change } from '../resources/types.js';

/** Why this host's changes cannot be applied without peers that are outside the run; undefined if they can. */
export function peersLeftOut(changes: readonly Change[], inRun: ReadonlySet<string>): string | undefined {
  const reasons = changes.flatMap((c) => {
    if (c.kind !== 'file' || c.peerShared.length === 0) return [];
    const missing = c.peers.filter((p) => !inRun.has(p));
    return missing.length === 0 ? [] : [{ settings: c.peerShared, path: c.path, missing }];
  });
  if (reasons.length === 0) return undefined;
  const missing = [...new Set(reasons.flatMap((r) => r.missing))];
  const what = reasons.map((r) => `${r.settings.join(', ')} in ${r.path}`).join('; ');
  return (
    `this changes ${what}, which its peers must change in the same run (peers that disagree both take the VIP): ` +
    `add ${missing.join(', ')} to --limit, or drop --limit`
  );
}
