// Secrets never reach output: every text that leaves the program for a human or a file passes here.
export type Redactor = (text: string) => string;

export const MASK = '********';

/** Masks each known secret value wherever it appears. */
export function redactor(secrets: readonly string[]): Redactor {
  const values = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  return (text) => values.reduce((t, v) => t.split(v).join(MASK), text);
}

/** The values group 1 of each pattern captures (e.g. `auth_pass\s+(\S+)`), in order. */
export function capturedSecrets(text: string, patterns: readonly RegExp[]): string[] {
  return patterns.flatMap((re) => [...text.matchAll(new RegExp(re.source, 'g'))].map((m) => m[1] ?? ''));
}

/** Masks group 1 of each pattern at its own position: catches old values no inventory knows. */
export function maskPatterns(text: string, patterns: readonly RegExp[], mask: string = MASK): string {
  return patterns.reduce((t, re) => {
    let out = '';
    let at = 0;
    for (const m of t.matchAll(new RegExp(re.source, 'gd'))) {
      const span = m.indices?.[1];
      if (!span) continue;
      out += t.slice(at, span[0]) + mask;
      at = span[1];
    }
    return out + t.slice(at);
  }, text);
}
