// Problems found in an inventory, each with its key path and line, collected instead of thrown so that one
// run reports every problem at once. Shared by every step of loading (YAML reading, the schema's issues,
// the cross-field checks, resolution).

import { InventoryError, type InventoryProblem } from '../errors.js';

export type Seg = string | number;
export type Segs = readonly Seg[];

/** `hosts.lb-1.priority`, `routes[0].via` */
export function formatPath(segs: Segs): string {
  let out = '';
  for (const s of segs) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out === '' ? '(top level)' : out;
}

/** How a wrong value is shown in a message. Never used for secrets. */
export function show(v: unknown): string {
  if (typeof v === 'string') {
    const s = JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
    return v.trim() !== '' && /^-?\d+$/.test(v.trim()) ? `${s} (a string)` : s;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'a mapping';
  return 'nothing';
}

export class Problems {
  private readonly list: { path: string; message: string; line: number }[] = [];
  /** Line of every key path seen in the document (1-based), so problems can point into the file. */
  readonly lines = new Map<string, number>();
  /** Paths whose value the YAML reader already rejected (bad alias, …): later rules stay quiet there. */
  private readonly reported = new Set<string>();

  /** `line` overrides the line looked up for `segs` (a duplicate key shares its path with the first). */
  add(segs: Segs, message: string, atLine?: number): void {
    for (let n = segs.length; n > 0; n--) if (this.reported.has(formatPath(segs.slice(0, n)))) return;
    const line = atLine ?? this.lineOf(segs);
    const suffix = line === undefined ? '' : ` (line ${line})`;
    this.list.push({ path: formatPath(segs), message: message + suffix, line: line ?? 0 });
  }

  /** A problem with the value itself, not its content: nothing more will be said about that path. */
  addFinal(segs: Segs, message: string): void {
    this.add(segs, message);
    this.reported.add(formatPath(segs));
  }

  /** Whether a problem is already reported at exactly this path (a later rule then says nothing more there). */
  has(segs: Segs): boolean {
    const at = formatPath(segs);
    return this.list.some((p) => p.path === at);
  }

  get count(): number {
    return this.list.length;
  }

  /** All problems, in file order (stable, so problems on one line keep the order they were found in). */
  toError(file: string): InventoryError {
    const sorted = [...this.list].sort((a, b) => a.line - b.line);
    const problems: InventoryProblem[] = sorted.map((p) => ({ path: p.path, message: p.message }));
    return new InventoryError(file, problems);
  }

  // A missing key has no line of its own: point at the nearest enclosing key that exists.
  private lineOf(segs: Segs): number | undefined {
    for (let n = segs.length; n > 0; n--) {
      const line = this.lines.get(formatPath(segs.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  }
}
