// Handlebars templates, compiled once per content and kept compiled on disk. Compiling the built-in
// templates costs more than a converged run's planning (tens of ms, plus loading the compiler); a run
// that finds them in the cache loads only Handlebars' runtime. The cache is keyed by the template's
// text, Handlebars' version and the options, so an edited template or an upgrade compiles afresh, and a
// cache that cannot be read or written only costs the compile.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

// noEscape: these are config files, not HTML; strict: a misspelt variable is an error, not "".
const OPTIONS = Object.freeze({ noEscape: true, strict: true });
const require = createRequire(import.meta.url);
// The runtime build has the compiler's API minus compile/precompile (its own types declare nothing).
// Loaded by the first template, not at start-up: commands that render nothing (completion, --help) skip it.
// An import(), so that the CLI's bundle holds it (and V8's code cache with it): every plan renders, and
// Node's loader took 10-40 ms to read and compile its files on each run. The compiler stays outside.
let loaded: Promise<typeof import('handlebars')> | undefined;
const runtime = (): Promise<typeof import('handlebars')> =>
  (loaded ??= import('handlebars/runtime.js').then((m) => (m as unknown as { default: typeof import('handlebars') }).default.create()));

/** The compiler, loaded only when something is not in the cache. */
const compiler = (): typeof import('handlebars') => require('handlebars') as typeof import('handlebars');

export const templateCacheDir = (): string =>
  join(process.env.HA_PROVISION_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ha-provision'), 'templates');

const keyOf = (hb: typeof import('handlebars'), source: string): string => createHash('sha256').update(`${hb.VERSION}\0${JSON.stringify(OPTIONS)}\0${source}`).digest('hex').slice(0, 40);

/** A precompiled template's spec (JavaScript source that Handlebars itself generated) as a template function. */
function load(hb: typeof import('handlebars'), spec: string): HandlebarsTemplateDelegate {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the spec is Handlebars' own output, from this user's cache
  return hb.template(new Function(`return ${spec};`)() as TemplateSpecification);
}

/** Compiles `source` (syntax errors throw here, naming the line), from the disk cache when it is there. */
export async function compileTemplate(source: string): Promise<HandlebarsTemplateDelegate> {
  const hb = await runtime();
  const file = join(templateCacheDir(), `${keyOf(hb, source)}.js`);
  let cached: string | undefined;
  try {
    cached = readFileSync(file, 'utf8'); // synchronously, as every file read before connecting (loadInventory)
  } catch {
    // not cached yet
  }
  if (cached !== undefined) {
    try {
      return load(hb, cached);
    } catch {
      // a torn or foreign file: compile again and replace it
    }
  }
  // A copy: Handlebars adds its own keys to the options it is given, which would change every later key.
  const spec = compiler().precompile(source, { ...OPTIONS }) as string;
  const fn = load(hb, spec);
  const temp = `${file}.${process.pid}.tmp`;
  await mkdir(templateCacheDir(), { recursive: true })
    .then(() => writeFile(temp, spec, { mode: 0o644 }))
    .then(() => rename(temp, file))
    .catch(() => undefined);
  return fn;
}

/** For a short template needed synchronously (a path with {{…}}): compiled in memory, not cached. */
export const compileInline = (source: string): HandlebarsTemplateDelegate => compiler().compile(source, { ...OPTIONS });

// Paths with {{…}} (a forEach task's), compiled once per process.
const compiledPaths = new Map<string, HandlebarsTemplateDelegate>();

/** Compiles a path through the template cache ahead of use: a run that finds it there never loads the compiler. */
export async function precompilePath(path: string): Promise<void> {
  if (path.includes('{{') && !compiledPaths.has(path)) compiledPaths.set(path, await compileTemplate(path));
}

/** A path with its {{…}} filled in: precompiled by loadPlaybook, or compiled here for a task built otherwise. */
export function renderPath(path: string, vars: object): string {
  if (!path.includes('{{')) return path;
  let fn = compiledPaths.get(path);
  if (!fn) compiledPaths.set(path, (fn = compileInline(path)));
  return fn(vars);
}
