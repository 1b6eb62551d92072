// The bash completion script in a real bash: it parses (bash -n), and with COMP_WORDS/COMP_CWORD set as
// readline would set them, _ha_provision answers as a user would see it. `ha-provision` on PATH is the
// built CLI, so --limit's host names come from the real hidden `__complete hosts FILE`.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bashScript } from '../../src/cli/completion.js';
import { builtCli } from '../fixtures/built.js';
import { cli } from '../e2e/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'ha-completion-'));
const bin = join(dir, 'bin');

function bash(script: string, opts: { cwd?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
    encoding: 'utf8',
    cwd: opts.cwd ?? dir,
    env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: dir },
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  await cli(['--version']); // builds the bundle when src/ is newer
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'ha-provision'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(builtCli())} "$@"\n`);
  chmodSync(join(bin, 'ha-provision'), 0o755);
  writeFileSync(join(dir, 'script.bash'), bashScript());
  // Its keepalived password is an unset environment variable: completion must not need it.
  writeFileSync(join(dir, 'inv.yaml'), `apiVersion: ha-provision/v1
cluster: { name: c, vip: 10.0.0.100/24, keepalived: { authPass: { env: HA_UNSET_IN_THIS_TEST } } }
hosts:
  lb-1: { address: 10.0.0.11, roles: [lb], interface: eth1, priority: 200 }
  lb-2: { address: 10.0.0.12, roles: [lb], interface: eth1, priority: 100 }
  server-1: { address: 10.0.0.21, roles: [server] }
`);
});

describe('bash completion, in bash', () => {
  it('the script the CLI prints parses (bash -n) and is the one generated', () => {
    const printed = bash('ha-provision completion bash');
    expect(printed.status, printed.stderr).toBe(0);
    expect(printed.stdout).toBe(bashScript());
    const r = bash(`bash -n ${join(dir, 'script.bash')}`);
    expect(r.status, r.stderr).toBe(0);
  });

  // Words as readline splits them (COMP_WORDBREAKS splits "--limit=x" into "--limit" "=" "x"); the
  // cursor is on the last word, or on the one `at` names.
  it.each<[string, string[], string[], number?]>([
    ['a command', ['pl'], ['plan']],
    ['commands starting with r', ['r'], ['rollout', 'rollback', 'render']],
    ['a flag of up', ['up', 'inv.yaml', '--li'], ['--limit']],
    ['a flag of init', ['init', 'new.yaml', '--pr'], ['--probe']],
    ['only the flags of that command', ['facts', 'inv.yaml', '--f'], []],
    ['host names for --limit', ['up', 'inv.yaml', '--limit', ''], ['lb-1', 'lb-2', 'server-1']],
    ['after the last comma, without the hosts already listed', ['up', 'inv.yaml', '--limit', 'lb-1,'], ['lb-1,lb-2', 'lb-1,server-1']],
    ['after the last comma, a prefix', ['up', 'inv.yaml', '--limit', 'lb-1,s'], ['lb-1,server-1']],
    ['--limit=… (split at "=")', ['plan', 'inv.yaml', '--limit', '=', 'lb'], ['lb-1', 'lb-2']],
    ['the inventory after the cursor', ['verify', '--limit', 'l', 'inv.yaml'], ['lb-1', 'lb-2'], 2],
    ['the inventory is not a flag\'s value', ['plan', '--out', 'x.yaml', 'inv.yaml', '--limit', 's'], ['server-1']],
    ['no inventory on the line: no host names', ['up', '--limit', ''], []],
    ['the shells of completion', ['completion', ''], ['bash', 'zsh']],
  ])('%s: ha-provision %j', (_what, typed, expected, at = typed.length - 1) => {
    const words = ['ha-provision', ...typed];
    const cword = at + 1;
    const r = bash(`source ${join(dir, 'script.bash')}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
_ha_provision
printf '%s\\n' "\${COMPREPLY[@]}"`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(expected);
  });

  it('complete -p shows the function registered for ha-provision', () => {
    const r = bash(`source ${join(dir, 'script.bash')}; complete -p ha-provision`);
    expect(r.stdout.trim()).toBe('complete -o default -F _ha_provision ha-provision');
  });
});
