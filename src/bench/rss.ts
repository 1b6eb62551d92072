// Preloaded into the CLI by the bench (node --import): records the process's peak RSS at exit.
import { writeFileSync } from 'node:fs';

const file = process.env.HA_PROVISION_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
