// Every command's flags, as node:util parseArgs reads them. main.ts parses with these tables and the
// completion scripts are generated from them, so a flag added here is completed without a second list.
import type { ParseArgsConfig } from 'node:util';

export type OptionTable = NonNullable<ParseArgsConfig['options']>;

const COMMON: OptionTable = {
  help: { type: 'boolean', short: 'h' },
  'ask-sudo-password': { type: 'boolean' },
  limit: { type: 'string' },
  concurrency: { type: 'string' },
  json: { type: 'boolean' },
  playbook: { type: 'string' },
  templates: { type: 'string' },
};

const PLANNING: OptionTable = { ...COMMON, 'allow-ssh-path-change': { type: 'boolean' } };

const APPLYING: OptionTable = { ...PLANNING, 'dry-run': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, 'no-verify': { type: 'boolean' }, 'force-unlock': { type: 'boolean' }, plan: { type: 'string' }, history: { type: 'string' } };

export const OPTIONS: Record<string, OptionTable> = {
  up: APPLYING,
  rollout: { ...APPLYING, batch: { type: 'string' }, pause: { type: 'string' }, window: { type: 'string' }, tz: { type: 'string' }, 'wait-for-window': { type: 'boolean' } },
  plan: { ...PLANNING, out: { type: 'string' } },
  rollback: { ...PLANNING, 'dry-run': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, 'no-verify': { type: 'boolean' }, 'force-unlock': { type: 'boolean' }, to: { type: 'string' }, history: { type: 'string' } },
  verify: { ...COMMON, ca: { type: 'string' }, failover: { type: 'boolean' }, 'failover-backends': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' } },
  facts: COMMON,
  render: { ...COMMON, out: { type: 'string' }, family: { type: 'string' } },
  init: {
    help: { type: 'boolean', short: 'h' },
    lb: { type: 'string' },
    server: { type: 'string' },
    vip: { type: 'string' },
    name: { type: 'string' },
    interface: { type: 'string' },
    topology: { type: 'string' },
    user: { type: 'string' },
    'ssh-port': { type: 'string' },
    'identity-file': { type: 'string' },
    'known-hosts': { type: 'string' },
    'auth-pass-env': { type: 'string' },
    probe: { type: 'boolean' },
  },
  completion: { help: { type: 'boolean', short: 'h' } },
  history: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, history: { type: 'string' } },
};

/** Flags whose value is a local path: the completion scripts offer files there. */
export const PATH_FLAGS: readonly string[] = ['playbook', 'templates', 'out', 'plan', 'identity-file', 'known-hosts', 'ca', 'history'];
