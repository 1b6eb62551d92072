#!/usr/bin/env node
// The CLI as installed (package.json's bin; compiled to dist/cli/ha-provision.mjs). It runs the bundle next
// to it, ha-provision.cjs (dist/cli/main.js and every library it imports in one file: src/build/bundle.ts),
// through V8's code cache. Node 20 has no compile cache for modules (module.enableCompileCache came in 22),
// so the bundle runs as a vm.Script, whose compiled code is written to the user's cache directory when a
// run ends without a usable cache, and handed back to V8 by the next runs: they skip compiling most of
// the bundle (start-up figures in the README). One cache per command word (plan, render, help for any
// --help, …): each holds the functions its command compiled, which differ (a render with the cache of
// --help compiled ~25 ms more). The file's name also holds the bundle's hash (npm gives every installed
// file the same mtime) and Node's version; V8 itself refuses a cache made by another V8 or under other
// flags (a --cpu-prof run, say), and compiles then, as it does when no cache can be read or written.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = join(dirname(fileURLToPath(import.meta.url)), 'ha-provision.cjs');
const source = readFileSync(bundle);
// Where the templates' cache lives too (playbook/templates.ts), in a directory of its own.
const cacheDir = join(process.env.HA_PROVISION_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ha-provision'), 'v8');
// Help of any command compiles what --help does, not what the command does: it keeps a cache of its own
// (the first `plan --help` would otherwise write plan's cache, and every later plan compile the rest).
const asksHelp = process.argv.slice(2).some((a) => a === '--help' || a === '-h');
const command = asksHelp ? 'help' : /^[a-z_-]{1,20}$/i.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
const bundleHash = createHash('sha256').update(source).digest('hex').slice(0, 32);
const cacheFile = join(cacheDir, `${bundleHash}-${command}-node${process.version}-${process.arch}.bin`);
let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // none yet
}

// The function Node's CommonJS loader wraps a file in; the hashbang line dropped, as that loader drops it.
const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source.toString('utf8').replace(/^#!.*/, '')}\n})`;
const script = new Script(wrapped, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
if (!cachedData || script.cachedDataRejected) {
  // At exit, so that the cache holds the functions this run compiled as well, not only the top level;
  // and only after a run that did its job (0, or 2: changes planned). A cache is kept for good once V8
  // accepts it, and one written by a run that stopped early (a typo in the inventory, a host down) holds
  // half the functions: every later run of that command then compiled the rest (~70 ms at 80 hosts).
  process.once('exit', (code) => {
    if (code !== 0 && code !== 2) return;
    try {
      mkdirSync(cacheDir, { recursive: true });
      const temp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(temp, script.createCachedData());
      renameSync(temp, cacheFile);
      // Caches of other bundles (an earlier version, a rebuild) are never read again: about 1 MB per
      // command word each, so they go when this bundle writes its own. Two versions used in turn each
      // write theirs again after the other's run: one slower start per switch.
      for (const name of readdirSync(cacheDir)) if (!name.startsWith(`${bundleHash}-`)) rmSync(join(cacheDir, name), { force: true });
    } catch {
      // not writable: the next run compiles again
    }
  });
}
const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
