// The completion scripts are generated from the flag tables main.ts parses with: every command and each
// of its flags appears, in both shells. Host names come from the inventory's YAML alone.
import { describe, expect, it } from 'vitest';
import { bashScript, COMPLETED_COMMANDS, hostNamesOf, zshScript } from '../../src/cli/completion.js';
import { OPTIONS } from '../../src/cli/options.js';

describe('completion scripts', () => {
  it.each([['bash', bashScript()], ['zsh', zshScript()]])('%s: every command, and each command\'s flags in its own branch', (_shell, script) => {
    for (const command of COMPLETED_COMMANDS) expect(script).toContain(` ${command}`);
    for (const [command, table] of Object.entries(OPTIONS)) {
      const branch = script.split('\n').find((l) => l.trimStart().startsWith(`${command})`) || l.trimStart().startsWith(`(${command})`));
      expect(branch, command).toBeDefined();
      for (const flag of Object.keys(table)) expect(branch).toMatch(new RegExp(`[ '(]--${flag}[ ')]`));
    }
    // The hidden command is called by the scripts, never offered.
    expect(script.split('\n').filter((l) => l.includes('__complete')).every((l) => l.includes('__complete hosts "$file"'))).toBe(true);
    expect(COMPLETED_COMMANDS).not.toContain('__complete');
  });

  it.each([
    ['bash', bashScript({ frob: { help: { type: 'boolean' }, knob: { type: 'string' } } }), "    frob) flags='--help --knob'; valued=' --knob ' ;;"],
    ['zsh', zshScript({ frob: { help: { type: 'boolean' }, knob: { type: 'string' } } }), '    (frob) flags=(--help --knob); valued=(--knob) ;;'],
  ])('%s: a flag added to a table is completed, and a flag taking a value is known as one', (_shell, script, line) => {
    expect(script.split('\n')).toContain(line);
  });

  it('bash registers the function for ha-provision, falling back to file names; zsh is a native #compdef script', () => {
    expect(bashScript()).toMatch(/^complete -o default -F _ha_provision ha-provision$/m);
    expect(zshScript().split('\n')[0]).toBe('#compdef ha-provision');
    expect(zshScript()).toMatch(/compdef _ha_provision ha-provision/);
  });
});

describe('host names for --limit', () => {
  it.each<[string, string, string[]]>([
    ['an inventory whose secret is an unset environment variable', 'cluster:\n  keepalived: { authPass: { env: HA_NEVER_SET_FOR_COMPLETION } }\nhosts:\n  lb-1: { address: 10.0.0.11 }\n  server-1: { address: 10.0.0.21 }\n', ['lb-1', 'server-1']],
    ['an inventory that would not validate', 'apiVersion: wrong\nhosts:\n  a: 1\n  b.c: {}\n', ['a', 'b.c']],
    ['no hosts key', 'cluster: {}\n', []],
    ['hosts as a list', 'hosts: [a, b]\n', []],
    ['not YAML', 'hosts: {\n', []],
    ['a name a shell would split or expand is left out', 'hosts:\n  "a b": {}\n  "$(x)": {}\n  ok: {}\n', ['ok']],
  ])('%s', (_what, text, names) => expect(hostNamesOf(text)).toEqual(names));
});
