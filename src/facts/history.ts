// What was applied when, read back from the host's history directory (see staging.ts): for `rollback`
// only, as it carries file contents. Each version is one run that changed files on this host.
import { quote } from '../transport/quote.js';
import { HISTORY_DIR, newestVersionScript } from '../staging.js';
import { lines, parseKeyValues, sha256, type Fact, type FileFact } from './facts.js';

export interface Version {
  readonly number: number;
  readonly run: string; // "run 5f2c… by deploy from controller ci-7 at 2026-11-24T14:02:11Z"
  readonly before: Readonly<Record<string, FileFact>>; // the files this run replaced, as they were
  readonly after: Readonly<Record<string, FileFact>>; // the files this run wrote
}

export function historyFact(paths: readonly string[], dir: string = HISTORY_DIR): Fact<Version[]> {
  const show = (side: string): string =>
    paths.map((p) => `f="$d/${side}"${quote(p)}; [ -f "$f" ] && { echo ${quote(`@file ${side} ${p}`)}; stat -c '%U %G %a' "$f"; base64 < "$f"; }`).join('\n');
  return {
    name: 'history',
    command: paths.length === 0 ? '' : [
      `for d in ${quote(dir)}/*; do n=\${d##*/}; case $n in ''|*[!0-9]*) continue ;; esac`,
      '  echo "@version $n"; cat "$d/run"',
      show('before'),
      show('after'),
      'done',
    ].join('\n'),
    parse(stdout) {
      const versions: Version[] = [];
      for (const block of stdout.split(/^@version /m).slice(1)) {
        const [head = '', ...rest] = block.split(/^@file /m);
        const [number = '', ...info] = lines(head);
        const kv = parseKeyValues(info.join('\n'));
        const sides: Record<'before' | 'after', Record<string, FileFact>> = { before: {}, after: {} };
        for (const entry of rest) {
          const [title = '', meta = '', ...body] = entry.split('\n');
          const [side, ...path] = title.split(' ');
          const [owner = '', group = '', mode = ''] = meta.split(' ');
          const bytes = Buffer.from(body.join(''), 'base64');
          if (side === 'before' || side === 'after') sides[side][path.join(' ')] = { content: bytes.toString('utf8'), sha256: sha256(bytes), owner, group, mode };
        }
        versions.push({ number: Number(number), run: `run ${kv.run ?? '?'} by ${kv.user ?? '?'} from controller ${kv.controller ?? '?'} at ${kv.started ?? '?'}`, ...sides });
      }
      return versions.sort((a, b) => a.number - b.number);
    },
  };
}

/** The newest version number on this host (0 when none): read on every run, builtins only. */
export function historyHeadFact(dir: string = HISTORY_DIR): Fact<number> {
  return {
    name: 'history-head',
    command: `${newestVersionScript(dir)}; echo "$last"`,
    parse: (stdout) => Number(stdout.trim()) || 0,
  };
}
