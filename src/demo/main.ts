// `npm run demo`: the whole job on a local lab — boot real hosts, converge them with `up`, verify.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { labUp } from '../lab/index.js';
import { PROJECT_ROOT } from '../playbook/playbook.js';
import { loadInventory } from '../inventory/load.js';

// The CLI as installed: the bundle (package.json's bin), not dist/cli/main.js.
const cli = join(PROJECT_ROOT, 'dist', 'cli', 'ha-provision.mjs');

async function main(): Promise<number> {
  process.stdout.write('==> ha-provision lab up (2 lbs + 3 servers with an apiserver stand-in)\n');
  const { inventoryFile } = await labUp({ name: 'lab', lbs: 2, servers: 3, subnet: '10.213.0.0/24' }, (line) => process.stdout.write(`    ${line}\n`));
  process.stdout.write(`\n==> ha-provision up ${inventoryFile} --yes\n`);
  const up = spawnSync(process.execPath, [cli, 'up', inventoryFile, '--yes'], { stdio: 'inherit' });
  if (up.status !== 0) return up.status ?? 1;
  const { cluster } = await loadInventory(inventoryFile);
  const url = `https://${cluster.vip.address}:${cluster.frontendPort}${cluster.healthCheck?.path ?? '/healthz'}`;
  process.stdout.write(
    [
      '',
      `The VIP serves: ${url}`,
      `  curl -k ${url}`,
      `  npx ha-provision plan ${inventoryFile}      # exit 0: in sync`,
      `  npx ha-provision verify ${inventoryFile}`,
      '  npx ha-provision lab status                 # which lb holds the VIP',
      '  npx ha-provision lab down                   # remove the lab',
      '',
    ].join('\n'),
  );
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    process.stderr.write(`demo: ${error.message}\n`);
    process.exitCode = 1;
  },
);
