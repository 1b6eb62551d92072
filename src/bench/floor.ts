// The bare-ssh2 floor the bench compares the CLI with: one Node process that opens one ssh2 connection to
// every host at once, runs `true` on each, and closes. Nothing else is loaded: the gap between this and a
// converged `up` is what the tool itself costs. Usage: node dist/bench/floor.js HOSTS.json
// (HOSTS.json: { "privateKey": PATH, "hosts": [{ "host": ADDRESS, "port": 22, "username": "root" }] }).
import { readFileSync } from 'node:fs';
import { Client } from 'ssh2';

interface Target {
  readonly host: string;
  readonly port: number;
  readonly username: string;
}

const spec = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as { privateKey: string; hosts: Target[] };
const privateKey = readFileSync(spec.privateKey);

function runTrue(target: Target): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .on('ready', () => {
        client.exec('true', (error, stream) => {
          if (error) return reject(error);
          stream.on('close', () => {
            client.end();
            resolve();
          });
          stream.resume();
        });
      })
      .on('error', reject)
      .connect({ ...target, privateKey, readyTimeout: 30_000 });
  });
}

Promise.all(spec.hosts.map(runTrue)).catch((error: Error) => {
  process.stderr.write(`floor: ${error.message}\n`);
  process.exitCode = 1;
});
