// YAML text → plain values for the schema, recording the line of every key path on the way so that each
// problem can point into the file. Mappings become null-prototype objects (odd keys like "__proto__" stay
// plain keys), a key written with no value becomes `undefined` (not given), and the key order of each
// mapping is kept apart, since an object puts integer-like keys ("10", "2") first and hosts keep file order.

import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { UsageError } from '../errors.js';
import { Problems, formatPath, type Segs } from './problems.js';

export interface YamlSource {
  readonly root: unknown;
  readonly problems: Problems;
  /** Keys of the mapping at a key path, in file order (empty for anything else). */
  readonly keysAt: (segs: Segs) => readonly string[];
}

/** Enough nodes for any real inventory; stops alias "billion laughs" expansion long before it hurts. */
const MAX_NODES = 100_000;

/** Not YAML at all, or more than one document: a `UsageError` naming file, line and column. */
export function readYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  // uniqueKeys stays on (the default) but duplicate keys are reported below, with their key path.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const fatal = doc.errors.find((e) => e.code !== 'DUPLICATE_KEY');
  if (fatal) {
    const { line, col } = lineCounter.linePos(fatal.pos[0]);
    throw new UsageError(`${file}:${line}:${col}: not valid YAML: ${fatal.message}`);
  }

  const problems = new Problems();
  const keyOrder = new Map<string, string[]>();
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  let nodes = 0;
  const active = new Set<unknown>(); // nodes being converted: an alias back to one of them is a cycle

  const convert = (node: unknown, segs: Segs): unknown => {
    if (++nodes > MAX_NODES) {
      throw new UsageError(`${file}: more than ${MAX_NODES} values once aliases are expanded; an inventory never needs that many`);
    }
    if (node === null || node === undefined) return undefined;
    if (isAlias(node)) {
      const target = node.resolve(doc as Document.Parsed);
      if (target === undefined) {
        problems.addFinal(segs, `alias *${node.source} refers to an anchor &${node.source} that is not defined before it`);
        return undefined;
      }
      if (active.has(target)) {
        problems.addFinal(segs, `alias *${node.source} refers to a value that contains it (a cycle)`);
        return undefined;
      }
      return convert(target, segs);
    }
    if (isScalar(node)) return node.value ?? undefined;
    active.add(node);
    try {
      if (isSeq(node)) return node.items.map((item, i) => {
        const line = lineOf(item);
        if (line !== undefined) problems.lines.set(formatPath([...segs, i]), line);
        return convert(item, [...segs, i]);
      });
      if (isMap(node)) {
        const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        const keys: string[] = [];
        const keyLines = new Map<string, number | undefined>();
        for (const pair of node.items) {
          const k = isScalar(pair.key) ? pair.key.value : undefined;
          if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'boolean') {
            problems.add(segs, 'has a key that is not a plain name; keys must be plain strings', lineOf(pair.key));
            continue;
          }
          const key = String(k);
          const childSegs = [...segs, key];
          const line = lineOf(pair.key);
          if (keyLines.has(key)) {
            // yaml's own DUPLICATE_KEY error only gives a position; this one names the key.
            const first = keyLines.get(key);
            problems.add(childSegs, `duplicate key "${key}"${first ? ` (first defined at line ${first})` : ''}; YAML keys must be unique`, line);
            continue;
          }
          keyLines.set(key, line);
          keys.push(key);
          if (line !== undefined) problems.lines.set(formatPath(childSegs), line);
          out[key] = convert(pair.value, childSegs);
        }
        keyOrder.set(formatPath(segs), keys);
        return out;
      }
    } finally {
      active.delete(node);
    }
    return undefined;
  };

  const root = convert(doc.contents, []);
  return { root, problems, keysAt: (segs) => keyOrder.get(formatPath(segs)) ?? [] };
}
