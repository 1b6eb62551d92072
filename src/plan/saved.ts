// Saved plans, for change tickets (terraform's `plan -out` / `apply PLANFILE`): `plan --out FILE` keeps
// what was reviewed; `up|rollout --plan FILE` plans again and applies only if every host's plan is that
// one, naming the host and file that differ. The file holds no secret in clear: a file that carries one
// is fingerprinted with an HMAC whose key is derived (scrypt, salted) from the inventory's secrets, so a
// guess of a secret costs an scrypt to check; every other file, by its sha256.
import { createHash, createHmac, randomBytes, scryptSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import type { Redactor } from '../redact.js';
import type { Change } from '../resources/types.js';
import { describeChange } from './format.js';

const FORMAT = 'ha-provision-plan/1';

/** A host's planned changes (the orchestrator's HostReport fits). */
interface HostPlan {
  readonly host: string;
  readonly changes: readonly Change[];
}

export interface SavedChange {
  readonly subject: string; // what it changes: a path, a package, a sysctl, a route, a service
  readonly describe: string; // as the plan showed it, secrets masked
  readonly before?: string; // fingerprint of the host's state it was planned against
  readonly after: string; // fingerprint of what it makes the host look like
}

export interface SavedPlan {
  readonly format: typeof FORMAT;
  readonly created: string;
  readonly cluster: string;
  readonly inventory: string;
  readonly salt: string;
  readonly hosts: Readonly<Record<string, readonly SavedChange[]>>;
  readonly text: string; // the plan as reviewed, secrets masked
}

/** Fingerprints file contents; secret-bearing ones keyed by the secrets themselves (see above). */
export function fingerprinter(secrets: readonly string[], salt: string): (text: string, secret: boolean) => string {
  const key = secrets.length ? scryptSync(secrets.join('\0'), salt, 32) : undefined;
  return (text, secret) => (secret && key ? `hmac:${createHmac('sha256', key).update(text).digest('hex')}` : `sha256:${createHash('sha256').update(text).digest('hex')}`);
}

const stable = (value: unknown): string => JSON.stringify(value, (_, v: unknown) => (v instanceof RegExp ? v.source : v));

export function savedChange(change: Change, fingerprint: (text: string, secret: boolean) => string, redact: Redactor): SavedChange {
  const describe = redact(describeChange(change));
  switch (change.kind) {
    case 'file': {
      const secret = change.secrets.length > 0;
      const state = (content: string, mode: string, owner: string, group: string) => `${fingerprint(content, secret)} ${parseInt(mode, 8).toString(8)} ${owner}:${group}`;
      const before = change.before ? { before: state(change.before.content, change.before.mode, change.before.owner, change.before.group) } : {};
      return { subject: change.path, describe, ...before, after: state(change.content, change.mode, change.owner, change.group) };
    }
    case 'absent-file':
      // Its patterns for secrets left with the layout: fingerprinted as if it held one.
      return { subject: change.path, describe, before: fingerprint(change.before.content, true), after: 'absent' };
    case 'package':
      return { subject: `packages ${[...change.install, ...change.upgrade.map((u) => u.name)].join(' ')}`, describe, before: stable(change.upgrade.map((u) => [u.name, u.from])), after: stable([change.install, change.versions]) };
    case 'sysctl':
      return { subject: `sysctl ${change.key}`, describe, before: String(change.from), after: change.to };
    case 'route':
      return { subject: `route ${change.route.to}`, describe, after: stable([change.action, change.route]) };
    case 'service':
      return { subject: `service ${change.name}`, describe, after: stable([change.actions, change.loads]) };
    case 'leftovers':
      return { subject: 'leftovers', describe, after: stable(change.paths) };
    case 'package-repair':
      return { subject: 'dpkg', describe, after: 'configure -a' };
  }
}

export function savePlan(
  hosts: readonly HostPlan[],
  context: { cluster: string; inventory: string; secrets: readonly string[]; redact: Redactor; text: string },
): SavedPlan {
  const salt = randomBytes(16).toString('hex');
  const fingerprint = fingerprinter(context.secrets, salt);
  return {
    format: FORMAT,
    created: new Date().toISOString(),
    cluster: context.cluster,
    inventory: context.inventory,
    salt,
    hosts: Object.fromEntries(hosts.map((h) => [h.host, h.changes.map((c) => savedChange(c, fingerprint, context.redact))])),
    text: context.text,
  };
}

export async function writePlan(file: string, plan: SavedPlan): Promise<void> {
  await writeFile(file, `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600 });
}

export async function readPlan(file: string): Promise<SavedPlan> {
  let plan: SavedPlan;
  try {
    plan = JSON.parse(await readFile(file, 'utf8')) as SavedPlan;
  } catch (error) {
    throw new UsageError(`--plan ${file}: cannot read a saved plan: ${(error as Error).message}`);
  }
  if (plan?.format !== FORMAT || typeof plan.hosts !== 'object' || typeof plan.salt !== 'string') {
    throw new UsageError(`--plan ${file}: not a saved plan (expected format ${FORMAT}, written by \`ha-provision plan --out FILE\`)`);
  }
  return plan;
}

/**
 * How the fresh plan differs from the saved one, one line per difference naming host and subject
 * (empty: it is the same plan). Hosts outside this run (--limit) are not compared.
 */
export function planDrift(saved: SavedPlan, fresh: readonly HostPlan[], secrets: readonly string[], redact: Redactor): string[] {
  const fingerprint = fingerprinter(secrets, saved.salt);
  const out: string[] = [];
  for (const host of fresh) {
    const before = saved.hosts[host.host];
    if (!before) {
      out.push(`${host.host}: not in the saved plan`);
      continue;
    }
    const now = host.changes.map((c) => savedChange(c, fingerprint, redact));
    for (const s of before) {
      const n = now.find((c) => c.subject === s.subject);
      if (!n) out.push(`${host.host}: ${s.subject}: planned "${s.describe}", but there is nothing to change now (changed on the host since the plan was saved)`);
      else if (n.before !== s.before) out.push(`${host.host}: ${s.subject} changed on the host since the plan was saved`);
      else if (n.after !== s.after) out.push(`${host.host}: ${s.subject}: what it would become differs from the saved plan (the inventory, templates or secrets changed)`);
    }
    for (const n of now.filter((c) => !before.some((s) => s.subject === c.subject))) out.push(`${host.host}: ${n.subject}: "${n.describe}" is not in the saved plan`);
  }
  return out;
}
