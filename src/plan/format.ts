// A plan as a human reads it: per host, each change on one line, files as unified diffs. Secrets are
// masked before diffing: an unchanged password shows no line, a changed one a masked line marked (changed).
import { createRequire } from 'node:module';
import type { FileFact } from '../facts/facts.js';
import type { Change } from '../resources/types.js';
import { capturedSecrets, maskPatterns, MASK, type Redactor } from '../redact.js';

/** A unified diff with 3 lines of context. `diff` is loaded on the first one, not at start-up: a converged run shows none. */
function twoFilesPatch(oldName: string, newName: string, before: string, after: string): string {
  const { createTwoFilesPatch } = createRequire(import.meta.url)('diff') as typeof import('diff');
  return createTwoFilesPatch(oldName, newName, before, after, '', '', { context: 3 });
}

export function fileDiff(change: Extract<Change, { kind: 'file' }>, redact: Redactor): string {
  // A changed secret must still show as a changed line, without showing either value.
  const secretChanged =
    change.before !== undefined &&
    capturedSecrets(change.before.content, change.secrets).join('\n') !== capturedSecrets(change.content, change.secrets).join('\n');
  const mask = (text: string, label = MASK): string => maskPatterns(text, change.secrets, label);
  const before = change.before ? mask(change.before.content) : '';
  const patch = twoFilesPatch(
    change.before ? `a${change.path}` : '/dev/null',
    `b${change.path}`,
    before,
    mask(change.content, secretChanged ? `${MASK} (changed)` : MASK),
  );
  // Drop the "===" banner jsdiff prints; keep ---/+++ and hunks like `diff -u`. The fallback mask runs
  // over the whole patch, headers included, so a path and the line below it can never disagree.
  return redact(patch)
    .split('\n')
    .filter((l) => !l.startsWith('===='))
    .map((l) => (l.startsWith('--- ') || l.startsWith('+++ ') ? l.trimEnd() : l)) // no empty-header tab
    .join('\n')
    .trimEnd();
}

/** " (mode only) mode 644 → 0640", " owner nobody:root → root:root", …: what changes besides the content. */
function fileStateChange(change: Extract<Change, { kind: 'file' }>, before: FileFact): string {
  const what: string[] = [];
  const notes: string[] = [];
  if (before.owner !== change.owner || before.group !== change.group) {
    what.push('owner');
    notes.push(`owner ${before.owner}:${before.group} → ${change.owner}:${change.group}`);
  }
  if (parseInt(before.mode, 8) !== parseInt(change.mode, 8)) {
    what.push('mode');
    notes.push(`mode ${before.mode} → ${change.mode}`);
  }
  const only = before.content === change.content ? ` (${what.join(' and ')} only)` : '';
  return `${only}${notes.map((n) => ` ${n}`).join(',')}`;
}

/** One line per change (the summary a user scans first). */
export function describeChange(change: Change): string {
  switch (change.kind) {
    case 'leftovers':
      return `remove ${change.paths.join(', ')} (left by an interrupted run)`;
    case 'package-repair':
      return 'finish the interrupted dpkg run (dpkg --configure -a)';
    case 'package': {
      const install = change.install.map((n) => (change.versions[n] ? `${n} ${change.versions[n]}` : n));
      const upgrade = change.upgrade.map((u) => `${u.name} ${u.from} → ${u.to}`);
      return [install.length > 0 ? `install ${install.join(', ')}` : '', upgrade.length > 0 ? `change ${upgrade.join(', ')}` : ''].filter(Boolean).join('; ') + ` (${change.manager})`;
    }
    case 'sysctl':
      return `sysctl ${change.key}: ${change.from ?? '(unset)'} → ${change.to}`;
    case 'route':
      return `route ${change.action} ${change.route.to} via ${change.route.via} dev ${change.route.dev}`;
    case 'file': {
      if (!change.before) return `create ${change.path} (mode ${change.mode})`;
      return `update ${change.path}${fileStateChange(change, change.before)}`;
    }
    case 'absent-file':
      return `remove ${change.path} (${change.why})`;
    case 'service':
      return `${change.actions.join(' + ')} ${change.name} (${change.why})`;
  }
}

export function formatHostPlan(host: string, changes: readonly Change[], redact: Redactor): string {
  if (changes.length === 0) return `${host}: in sync`;
  const lines = [`${host}: ${changes.length} change${changes.length === 1 ? '' : 's'}`];
  for (const change of changes) {
    lines.push(`  ~ ${redact(describeChange(change))}`);
    if (change.kind === 'file' && change.before?.content !== change.content) {
      lines.push(...fileDiff(change, redact).split('\n').map((l) => `    ${l}`));
    }
  }
  return lines.join('\n');
}
