// Pure: when a service did not load the files a run gave it (it is not active, or it logged one of its
// fault patterns, like haproxy's "Loading failure!" for a port it cannot bind), the changes that put
// back what the plan saw before: every file of the run that had a previous version (removed ones
// included), a reload-or-restart of each service that was due to load any of them, and the services the
// run stopped, started again (a topology switch whose new proxy failed gets its old one back). The
// previous contents come from the plan itself, so a restore needs no backup file on the host.
import { sha256 } from '../facts/facts.js';
import type { Change } from '../resources/types.js';

type FileChange = Extract<Change, { kind: 'file' }>;

export function restoreChanges(applied: readonly Change[]): Change[] {
  const files = applied.filter((c): c is FileChange & { before: NonNullable<FileChange['before']> } => c.kind === 'file' && c.before !== undefined);
  const restored: Change[] = files.map((f) => ({
    ...f,
    // What is on disk now is this run's version: the drift check expects exactly that.
    before: { content: f.content, sha256: sha256(Buffer.from(f.content, 'utf8')), owner: f.owner, group: f.group, mode: f.mode },
    content: f.before.content,
    owner: f.before.owner,
    group: f.before.group,
    mode: f.before.mode,
    peerShared: [],
  }));
  for (const c of applied) {
    if (c.kind !== 'absent-file') continue;
    const { content, owner, group, mode } = c.before;
    restored.push({ kind: 'file', path: c.path, content, owner, group, mode, daemonReload: c.daemonReload, secrets: [], peerShared: [], peers: [] });
  }
  const paths = new Set(restored.flatMap((c) => (c.kind === 'file' ? [c.path] : [])));
  for (const c of applied) {
    if (c.kind !== 'service') continue;
    if (c.actions.includes('stop') || c.actions.includes('disable')) {
      const back = [...(c.actions.includes('disable') ? (['enable'] as const) : []), ...(c.actions.includes('stop') ? (['start'] as const) : [])];
      restored.push({ ...c, actions: back, why: 'it ran before this run stopped it' });
      continue;
    }
    const loads = c.loads.filter((p) => paths.has(p));
    // `start` is reload-or-restart: a service that fell over on the new config is started on the old one.
    if (loads.length > 0) restored.push({ ...c, actions: ['start'], why: 'load the previous config again', loads });
  }
  return restored;
}
