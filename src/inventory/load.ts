// Loading the inventory: YAML text → a validated, resolved `Inventory`, or one `InventoryError` carrying
// every problem at once. Nothing here connects to anything but the resolver, asked for host names only
// once everything else is valid (resolve.ts); every value that later ends up in a config file or on a
// shell line is checked here first, so the rest of the program can trust it.
//
// A short pipeline: the YAML is read into plain values, noting the line of every key path (yamlSource.ts);
// the schema (schema.ts) says what is wrong with its shape, in its own words (issues.ts); the rules between
// values run on the parts that are valid (checks.ts); secrets and paths are resolved (build.ts); and last,
// host names are looked up and the address rules run again on every IP.

import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { buildDraft, type Draft } from './build.js';
import { checkAddresses, checkInventory } from './checks.js';
import { addIssues } from './issues.js';
import { validParts } from './parts.js';
import type { Problems } from './problems.js';
import { NOTHING_RESOLVED, resolveNames, systemResolver, type Resolution, type Resolver } from './resolve.js';
import { InventorySchema } from './schema.js';
import type { Host, Inventory } from './types.js';
import { readYaml } from './yamlSource.js';

/** Whether a file exists; the default ssh config (~/.ssh/config) is used only when it does. */
export type FileExists = (file: string) => boolean;
/** For pure parsing: no file is taken to exist, so nothing depends on the machine's home directory. */
export const NO_FILES: FileExists = () => false;

/**
 * Reads and validates an inventory file, host names resolved on this machine. A file that can't be read
 * or isn't YAML is a `UsageError`.
 */
export async function loadInventory(file: string, env: NodeJS.ProcessEnv = process.env, resolver: Resolver = systemResolver): Promise<Inventory> {
  let text: string;
  try {
    // Read synchronously, as the playbook, its templates and the SSH key are: nothing else runs before the
    // first connect, and fs/promises' readFile is four thread-pool round trips (open, stat, read, close),
    // during which the process waits (about 10 ms of a plan's start, measured with those together).
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new UsageError(`cannot read inventory ${file}: ${reason}`);
  }
  return parseAndResolveInventory(text, file, env, os.homedir(), resolver, existsSync);
}

/** What loadInventory does with the file's text: validates it, then resolves the host names in it. */
export async function parseAndResolveInventory(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv,
  homeDir: string,
  resolver: Resolver,
  exists: FileExists = existsSync,
): Promise<Inventory> {
  const checked = check(text, file, env, homeDir, exists);
  // An inventory with problems is worth no DNS query: they are reported as they are.
  const names = checked.problems.count === 0 ? (checked.draft?.hosts ?? []).filter((h) => h.ip === undefined).map((h) => h.address) : [];
  return complete(checked, await resolveNames(names, resolver));
}

/**
 * Pure: validates inventory text. `file` names it in errors and anchors relative paths. A host written
 * as a name takes its IP from `resolved` (resolveNames); without one there it is a problem.
 */
export function parseInventory(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  homeDir: string = os.homedir(),
  resolved: Resolution = NOTHING_RESOLVED,
  exists: FileExists = NO_FILES,
): Inventory {
  return complete(check(text, file, env, homeDir, exists), resolved);
}

interface Checked {
  readonly file: string; // as given, for the error
  readonly problems: Problems;
  readonly draft: Draft | undefined; // undefined: something is missing or invalid (then problems say what)
}

/** Every rule; the address rules only on hosts written as IPv4 addresses (complete() does the rest). */
function check(text: string, file: string, env: NodeJS.ProcessEnv, home: string, exists: FileExists): Checked {
  const source = readYaml(text, file);
  const problems = source.problems;
  const shape = InventorySchema.safeParse(source.root);
  if (!shape.success) addIssues(problems, InventorySchema, shape.error.issues);
  const parts = validParts(source);
  checkInventory(problems, parts);
  const rawSsh = (source.root as { ssh?: unknown } | undefined)?.ssh;
  // A key with no value means "not given", as everywhere in the inventory.
  const writtenSshKeys = new Set(rawSsh && typeof rawSsh === 'object' ? Object.entries(rawSsh).filter(([, v]) => v !== null && v !== undefined).map(([k]) => k) : []);
  const draft = buildDraft({ p: problems, env, home, file: path.resolve(file), exists, writtenSshKeys }, parts);
  return { file, problems, draft };
}

/** Gives each host written as a name its IP, and runs the address rules the first step had to skip. */
function complete({ file, problems, draft }: Checked, resolved: Resolution): Inventory {
  if (problems.count > 0 || draft === undefined) throw problems.toError(file);
  const hosts: Host[] = [];
  for (const h of draft.hosts) {
    const ip = h.ip ?? resolved.ips.get(h.address);
    if (ip !== undefined) {
      hosts.push({ ...h, ip });
      continue;
    }
    const failure = resolved.failures.get(h.address);
    const alias = draft.sshConfig && !h.sshSources?.alias ? ` (it is no Host alias with a HostName in ${h.sshSources?.config ?? draft.sshConfig} either)` : '';
    problems.add(['hosts', h.name, 'address'], failure === undefined
      ? `${h.address} is a host name and was not resolved to an IPv4 address${alias}`
      : `cannot resolve ${h.address} to an IPv4 address on this machine (${failure})${alias}; fix the name or its DNS record, or write the IPv4 address`);
  }
  // With every IP known from the start, the first step already ran these rules, and found nothing.
  if (problems.count === 0 && draft.hosts.some((h) => h.ip === undefined)) checkAddresses(problems, draft.cluster, hosts);
  if (problems.count > 0) throw problems.toError(file);
  return { ...draft, hosts };
}
