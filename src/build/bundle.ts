// `npm run build`, step 2 (after tsc): dist/cli/main.js and everything it imports, our modules and the
// libraries, as one CommonJS file, dist/cli/ha-provision.cjs, which dist/cli/ha-provision.mjs (the CLI as
// installed, package.json's bin: src/cli/ha-provision.mts) runs through V8's code cache. Node then reads one
// file instead of resolving, reading and compiling ~300, and after the first run compiles little of it
// (start-up measured in the README). CommonJS, because Node 20 offers a code cache only for scripts
// (vm.Script), not for ES modules. dist/cli/main.js stays, for development.
//
// What the bundle must keep right:
// - Its depth. playbook.ts (PROJECT_ROOT) and schemaJson.ts (SCHEMA_FILE) find the package two
//   directories above their own file through import.meta.url, which in the bundle is the bundle's URL
//   (set by the banner: CommonJS has no import.meta): dist/cli/ holds the same answer as dist/playbook/
//   and dist/inventory/.
// - No module that runs as a script when process.argv[1] is its own file: in the bundle every module
//   has the bundle's URL (`npm run schema` has a file of its own for this, inventory/writeSchema.ts).
// - The lazy loads through createRequire(import.meta.url) (Handlebars' compiler, diff: needed on a
//   template cache miss, or to show a diff) stay calls at run time, resolved from dist/cli/ into
//   node_modules: esbuild bundles only `require` calls of the global require, not of a variable made by
//   createRequire. Handlebars' runtime, which every plan needs, is an import() and so in the bundle.
// - ssh2's optional native parts: cpu-features and its crypto binding (a .node file, built when its
//   install script could compile it) stay outside, loaded from node_modules as before, and their
//   absence is still caught by ssh2 (it falls back to JavaScript).
// - Strict mode, as our modules (ES modules) were written for: the banner starts with "use strict".
// - No import() left in it: esbuild turns those of bundled modules into requires, and one of an outside
//   module would fail in a vm.Script (it has no loader for it), so the build refuses it. Nor top-level
//   await, which esbuild refuses in CommonJS output.
import { build, type Plugin } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLE = join(root, 'dist', 'cli', 'ha-provision.cjs');
const LAUNCHER = join(root, 'dist', 'cli', 'ha-provision.mjs'); // tsc's output of src/cli/ha-provision.mts

/**
 * A native addon (`require('./crypto/build/Release/sshcrypto.node')` in ssh2) stays a require at run
 * time, rewritten from its package's directory to a package path (`ssh2/lib/…/sshcrypto.node`): a path
 * relative to ssh2's file would resolve next to the bundle, where no such file is.
 */
const nativeAddons: Plugin = {
  name: 'native-addons',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => {
      const file = resolve(args.resolveDir, args.path);
      const at = file.lastIndexOf(`${sep}node_modules${sep}`);
      if (at < 0) return { errors: [{ text: `${args.path} (from ${args.importer}): a native addon outside node_modules cannot be bundled` }] };
      return { path: file.slice(at + `${sep}node_modules${sep}`.length).split(sep).join('/'), external: true };
    });
  },
};

const banner = ['"use strict";', "var __bundleUrl = require('node:url').pathToFileURL(__filename).href;"].join('\n');

const result = await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outfile: BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['cpu-features'],
  plugins: [nativeAddons],
  banner: { js: banner },
  define: { 'import.meta.url': '__bundleUrl' },
  // Through tsc's maps to src/, for `node --enable-source-maps dist/cli/ha-provision.cjs …` (Node 20 applies none
  // to the launcher's vm.Script); the sources stay in their files.
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  metafile: true,
});

// A devDependency in the bundle (ajv, say) would be a dependency a user's install lacks, or dead weight.
const { devDependencies = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
const dev = Object.keys(result.metafile.inputs).filter((input) => Object.keys(devDependencies).some((name) => input.includes(`node_modules/${name}/`)));
if (dev.length > 0) throw new Error(`the bundle holds devDependencies (${dev.slice(0, 5).join(', ')}): import them lazily, or make them dependencies`);
const outside = Object.values(result.metafile.outputs).flatMap((o) => o.imports).filter((i) => i.kind === 'dynamic-import');
if (outside.length > 0) throw new Error(`the bundle would import() ${outside.map((i) => i.path).join(', ')} at run time, which a vm.Script cannot: bundle it, or require it`);
chmodSync(LAUNCHER, 0o755);
const bytes = result.metafile.outputs[relative(process.cwd(), BUNDLE).split(sep).join('/')]?.bytes;
console.log(`bundled ${Object.keys(result.metafile.inputs).length} modules into ${relative(process.cwd(), BUNDLE)}${bytes ? ` (${Math.round(bytes / 1024)} KiB)` : ''}`);
