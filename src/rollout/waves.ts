// Pure: a planned fleet → the order a rolling update changes it in. Servers first, in batches; then the
// lbs one by one, the VIP holder last; or, when a change must reach every lb at once (a peer-shared
// setting such as keepalived's auth_pass), all lbs in one tight step.
import type { Playbook } from '../playbook/playbook.js';
import type { Change } from '../resources/types.js';

/** What a host's changes do to the service it gives while they apply. */
export type Impact = 'none' | 'reload' | 'restart';

export interface PlannedHost {
  readonly name: string;
  readonly lb: boolean;
  readonly priority: number; // lbs: keepalived priority (the highest is where the VIP belongs)
  readonly changes: readonly Change[];
}

export type Wave =
  | { readonly kind: 'servers'; readonly hosts: readonly string[] }
  | { readonly kind: 'lb'; readonly host: string; readonly impact: Impact; readonly why: readonly string[]; readonly holder: boolean }
  | { readonly kind: 'lbs-together'; readonly hosts: readonly string[]; readonly settings: readonly string[]; readonly impact: Impact; readonly why: readonly string[] };

/**
 * Classifies by what the service sees: a reload keeps established connections (haproxy's old workers
 * finish them), a restart or a first start does not, and a package upgrade does what its maintainer
 * scripts do (the playbook's `onUpgrade` for the service that package ships).
 */
export function impactOf(changes: readonly Change[], playbook: Playbook): { impact: Impact; why: string[] } {
  const why: string[] = [];
  let impact: Impact = 'none';
  const raise = (to: Impact, reason: string): void => {
    why.push(reason);
    if (to === 'restart' || impact === 'none') impact = to;
  };
  const services = playbook.tasks.flatMap((t) => (t.body.kind === 'service' ? [t.body] : []));
  for (const change of changes) {
    if (change.kind === 'service') {
      if (change.actions.includes('restart')) raise('restart', `restarts ${change.name}`);
      else if (change.actions.includes('start')) raise('restart', `starts ${change.name}`);
      else if (change.actions.includes('reload')) raise('reload', `reloads ${change.name}`);
      else if (change.actions.includes('stop')) raise('restart', `stops ${change.name}`);
    } else if (change.kind === 'package') {
      for (const { name } of change.upgrade) {
        const service = services.find((s) => s.package === name);
        if (service) raise(service.onUpgrade, `upgrading ${name} ${service.onUpgrade === 'restart' ? 'restarts' : 'reloads'} ${service.name}`);
      }
    }
  }
  return { impact, why };
}

/** Settings that every lb must change in the same step (group names from the playbook's peerShared). */
export const peerCoupled = (changes: readonly Change[]): string[] =>
  [...new Set(changes.flatMap((c) => (c.kind === 'file' ? c.peerShared : [])))];

export function rolloutWaves(hosts: readonly PlannedHost[], holders: readonly string[], playbook: Playbook, batch: number): Wave[] {
  const waves: Wave[] = [];
  const servers = hosts.filter((h) => !h.lb && h.changes.length > 0).map((h) => h.name);
  for (let i = 0; i < servers.length; i += Math.max(1, batch)) waves.push({ kind: 'servers', hosts: servers.slice(i, i + Math.max(1, batch)) });
  const lbs = hosts.filter((h) => h.lb && h.changes.length > 0);
  const settings = [...new Set(lbs.flatMap((h) => peerCoupled(h.changes)))];
  if (settings.length > 0) {
    const impacts = lbs.map((h) => impactOf(h.changes, playbook));
    const impact = impacts.some((i) => i.impact === 'restart') ? 'restart' : impacts.some((i) => i.impact === 'reload') ? 'reload' : 'none';
    waves.push({ kind: 'lbs-together', hosts: lbs.map((h) => h.name), settings, impact, why: [...new Set(impacts.flatMap((i) => i.why))] });
    return waves;
  }
  // BACKUPs first, lowest priority first (the last resort changes first); the holder after all of them.
  const order = [...lbs].sort((a, b) => Number(holders.includes(a.name)) - Number(holders.includes(b.name)) || a.priority - b.priority);
  for (const h of order) waves.push({ kind: 'lb', host: h.name, ...impactOf(h.changes, playbook), holder: holders.includes(h.name) });
  return waves;
}

/** The wave's name in a sentence: "servers a, b", "BACKUP lb-2", "VIP holder lb-1", "every lb". */
export function waveLabel(wave: Wave): string {
  if (wave.kind === 'servers') return `servers ${wave.hosts.join(', ')}`;
  if (wave.kind === 'lb') return `${wave.holder ? 'VIP holder' : 'BACKUP'} ${wave.host}`;
  return `every lb at once (${wave.hosts.join(', ')})`;
}

export function describeWave(wave: Wave): string {
  switch (wave.kind) {
    case 'servers':
      return `${waveLabel(wave)}; then their API health from the lbs`;
    case 'lb': {
      const how = wave.impact === 'restart' ? (wave.holder ? 'drain it (move the VIP to a BACKUP, confirmed through the VIP), change, check, give the VIP back' : 'drain, change, check, undrain') : 'change in place (reload; the VIP stays)';
      return `${waveLabel(wave)}: ${how}${wave.why.length ? ` — ${wave.why.join(', ')}` : ''}`;
    }
    case 'lbs-together':
      return `${waveLabel(wave)}: ${wave.settings.join(', ')} must match on all peers; BACKUPs are drained for the step so that no lb takes the VIP while peers disagree${wave.why.length ? ` — ${wave.why.join(', ')}` : ''}`;
  }
}
