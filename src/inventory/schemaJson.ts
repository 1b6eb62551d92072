// The JSON Schema shipped as schema/inventory.schema.json, generated from the zod schema (schema.ts) so
// that editors (yaml-language-server) check an inventory as the loader does. `npm run schema` writes it
// (writeSchema.ts); a unit test fails when the committed file differs from what this produces.
//
// It knows the shape, not the rules between values (checks.ts) nor the environment: an inventory it
// accepts may still be refused by `ha-provision plan` (equal priorities, a VIP outside the lb subnet, …).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { InventorySchema } from './schema.js';

/** Where the file lives in the package: two directories up, the same from src/inventory, dist/inventory and the CLI bundle in dist/cli. */
export const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema', 'inventory.schema.json');

/** The file's text: the schema of the inventory as written (defaults are optional there). */
export function inventorySchemaText(): string {
  const schema = z.toJSONSchema(InventorySchema, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify(schema, null, 2)}\n`;
}
