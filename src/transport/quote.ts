// The only place a string becomes shell. Everything that reaches a remote `sh` is either a fixed
// fragment written in this codebase or a value passed through `quote`.

/** POSIX single-quoting: safe for any byte string, including quotes and newlines. */
export function quote(value: string | number): string {
  const s = String(value);
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s)) return s; // nothing the shell would interpret
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A command line from argv, each word quoted. */
export function command(...argv: readonly (string | number)[]): string {
  return argv.map(quote).join(' ');
}

/**
 * Writes `content` verbatim to `path` through a here-document (base64, so any byte survives).
 * The file is private (0600) from its first byte: it may hold a secret that a later chmod would come
 * too late for, and a leftover file is removed first because `>` keeps an existing file's mode.
 * `andThen` runs only if the write succeeded; it sits on the first line, as sh reads the body after it.
 */
export function writeFileCommand(path: string, content: string, andThen?: string): string {
  const encoded = Buffer.from(content, 'utf8').toString('base64').replace(/.{1,76}/g, '$&\n');
  const target = quote(path);
  return `rm -f ${target} && (umask 077 && base64 -d > ${target}) <<'HA_PROVISION_EOF'${andThen ? ` && ${andThen}` : ''}\n${encoded}HA_PROVISION_EOF`;
}
