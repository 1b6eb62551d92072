// `npm run schema`: writes schema/inventory.schema.json. A script of its own, imported by nothing: the CLI
// bundle (dist/cli/ha-provision.cjs) holds schemaJson.ts, where every module has the bundle's URL, so an
// "am I the main module?" check there would fire whenever the bundle is the script Node runs.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inventorySchemaText, SCHEMA_FILE } from './schemaJson.js';

writeFileSync(SCHEMA_FILE, inventorySchemaText());
console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
