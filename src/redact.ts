// Secrets never reach output: every text that leaves the program for a human or a file passes here.
export type Redactor = (text: string) => string;

export const MASK = '********';

/** Masks each known secret value wherever it appears. */
export function redactor(secrets: readonly string[]): Redactor {
  const values = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  return (text) => values.reduce((t, v) => t.split(v).join(MASK), text);
}

/** Masks group 1 of each pattern (e.g. `auth_pass\s+(\S+)`): catches old values no inventory knows. */
export function maskPatterns(text: string, patterns: readonly RegExp[]): string {
  return patterns.reduce(
    (t, re) => t.replace(new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`), (match, secret: string) => match.replace(secret, MASK)),
    text,
  );
}
