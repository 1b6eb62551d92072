// `npm run schema`: writes schema/inventory.schema.json. A script of its own, imported by nothing: the CLI
// bundle (dist/cli/ha-provision.mjs) holds schemaJson.ts, and there an "am I the main module?" check
// would compare process.argv[1] with the bundle's own URL and fire on every run.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inventorySchemaText, SCHEMA_FILE } from './schemaJson.js';

writeFileSync(SCHEMA_FILE, inventorySchemaText());
console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
