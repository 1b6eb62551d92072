// `npm run build`, step 2 (after tsc): dist/cli/main.js and everything it imports, our modules and the
// libraries, as one ESM file: dist/cli/ha-provision.mjs, the CLI as installed (package.json's bin). Node
// then reads and compiles one file instead of resolving, reading and compiling ~300 (start-up measured
// in the README). dist/cli/main.js stays, for development.
//
// What the bundle must keep right:
// - Its depth. playbook.ts (PROJECT_ROOT) and schemaJson.ts (SCHEMA_FILE) find the package two
//   directories above their own file through import.meta.url, which in the bundle is the bundle's URL:
//   dist/cli/ holds the same answer as dist/playbook/ and dist/inventory/.
// - No module that runs as a script when process.argv[1] is its own file: in the bundle every module
//   has the bundle's URL (`npm run schema` has a file of its own for this, inventory/writeSchema.ts).
// - The lazy loads through createRequire(import.meta.url) (Handlebars' runtime and compiler, diff) stay
//   calls at run time, resolved from dist/cli/ into node_modules: esbuild bundles only `require` calls
//   of the global require, not of a variable made by createRequire.
// - ssh2's optional native parts: cpu-features and its crypto binding (a .node file, built when its
//   install script could compile it) stay outside, loaded from node_modules as before, and their
//   absence is still caught by ssh2 (it falls back to JavaScript).
// - The CommonJS libraries (ssh2, handlebars' runtime) find require, __filename and __dirname: an ESM
//   file has none, so the banner defines them.
import { build, type Plugin } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLE = join(root, 'dist', 'cli', 'ha-provision.mjs');

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

const banner = [
  "import { createRequire as __bundleCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bundleFileURLToPath } from 'node:url';",
  "import { dirname as __bundleDirname } from 'node:path';",
  'const require = __bundleCreateRequire(import.meta.url);',
  'const __filename = __bundleFileURLToPath(import.meta.url);',
  'const __dirname = __bundleDirname(__filename);',
].join('\n');

const result = await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outfile: BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['cpu-features'],
  plugins: [nativeAddons],
  banner: { js: banner },
  sourcemap: 'linked', // through tsc's maps to src/ (node --enable-source-maps); the sources stay in their files
  sourcesContent: false,
  logLevel: 'warning',
  metafile: true,
});

// A devDependency in the bundle (ajv, say) would be a dependency a user's install lacks, or dead weight.
const { devDependencies = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
const dev = Object.keys(result.metafile.inputs).filter((input) => Object.keys(devDependencies).some((name) => input.includes(`node_modules/${name}/`)));
if (dev.length > 0) throw new Error(`the bundle holds devDependencies (${dev.slice(0, 5).join(', ')}): import them lazily, or make them dependencies`);
chmodSync(BUNDLE, 0o755);
const bytes = result.metafile.outputs[relative(process.cwd(), BUNDLE).split(sep).join('/')]?.bytes;
console.log(`bundled ${Object.keys(result.metafile.inputs).length} modules into ${relative(process.cwd(), BUNDLE)}${bytes ? ` (${Math.round(bytes / 1024)} KiB)` : ''}`);
