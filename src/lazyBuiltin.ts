// Node built-ins that only some runs use, loaded on first use rather than at start-up, where every run
// would pay for them: node:https (with tls) about 2.5 ms, node:dns/promises and node:readline/promises
// about 1 ms each, measured here after net and crypto were loaded. A require, not an import(): the
// CLI's bundle runs as a vm.Script (cli/ha-provision.mts), which cannot import() what it leaves outside.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazyBuiltin<T>(name: `node:${string}`): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
