// Whether a command asks before it applies: decided from the terminal and flags alone. The CLI run as a
// process (exit codes, refusals before connecting) is in test/integration/cli.test.ts.
import { describe, expect, it } from 'vitest';
import { asksFirst } from '../../src/cli/confirm.js';

describe('asking before applying', () => {
  // --json used to imply --yes: on a TTY, `up --json` applied without asking.
  it.each<[string, { tty: boolean; yes: boolean }, boolean]>([
    ['a TTY', { tty: true, yes: false }, true],
    ['a TTY with --yes', { tty: true, yes: true }, false],
    ['no TTY (the plan is printed, then applied)', { tty: false, yes: false }, false],
  ])('%s', (_what, how, asks) => {
    expect(asksFirst(how)).toBe(asks);
  });
});
