// The schema's issues → the inventory's problems, in the words the schema gives them (schema.ts), with
// the key path and line Problems adds. Three kinds need more than the issue's own message: unknown keys
// (one problem per key, with a "did you mean" and every allowed key), a union whose input is of one
// branch's kind (that branch's issue says more than "must be a string or { env: NAME }"), and a record key.

import type * as z from 'zod';
import type { Problems, Seg, Segs } from './problems.js';
import { formatPath } from './problems.js';

type Issue = z.core.$ZodIssue;

/** Adds one problem per issue of `schema` (at most one per key path: one mistake, one problem). */
export function addIssues(problems: Problems, schema: z.ZodType, issues: readonly Issue[]): void {
  const seen = new Set<string>();
  const add = (segs: Segs, message: string): void => {
    const key = formatPath(segs);
    if (seen.has(key)) return;
    seen.add(key);
    problems.add(segs, message);
  };
  const visit = (issue: Issue, prefix: Segs): void => {
    const segs = [...prefix, ...(issue.path as Seg[])];
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = keysAllowedAt(schema, segs);
        for (const key of issue.keys) {
          const hint = didYouMean(key, allowed);
          add([...segs, key], `unknown key${hint ? ` (did you mean ${hint}?)` : ''}; allowed here: ${allowed.join(', ')}`);
        }
        return;
      }
      case 'invalid_key': {
        add(segs, issue.issues[0]?.message ?? issue.message);
        return;
      }
      case 'invalid_union': {
        // A branch that failed on more than the input's type is the one the user meant.
        const meant = issue.errors.filter((branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0));
        if (meant.length === 1) for (const inner of meant[0] ?? []) visit(inner, segs);
        else add(segs, issue.message);
        return;
      }
      default:
        add(segs, issue.message);
    }
  };
  for (const issue of issues) visit(issue, []);
}

interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly innerType?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly in?: z.ZodType;
}
const defOf = (schema: z.ZodType): Def => (schema as unknown as { def: Def }).def;

/** The keys of the mapping the schema expects at `segs`, in the schema's order. */
export function keysAllowedAt(schema: z.ZodType, segs: Segs): string[] {
  const at = (s: z.ZodType, rest: Segs): string[] | undefined => {
    const def = defOf(s);
    const inner = def.innerType ?? def.in;
    if (inner) return at(inner, rest);
    if (def.type === 'union') {
      for (const option of def.options ?? []) {
        const found = at(option, rest);
        if (found) return found;
      }
      return undefined;
    }
    const [head, ...tail] = rest;
    if (head === undefined) return def.type === 'object' ? Object.keys(def.shape ?? {}) : undefined;
    if (def.type === 'object') {
      const child = def.shape?.[String(head)];
      return child ? at(child, tail) : undefined;
    }
    const child = def.type === 'record' ? def.valueType : def.type === 'array' ? def.element : undefined;
    return child ? at(child, tail) : undefined;
  };
  return at(schema, segs) ?? [];
}

function didYouMean(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3; // only close typos
  for (const candidate of allowed) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
