// One ssh2 connection per host, reused for every step. Host keys are checked against the inventory's
// known_hosts file under its policy; scripts go over stdin to `sh -s`, so no script text is ever quoted.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Client, type ConnectConfig } from 'ssh2';
import { HostError } from '../errors.js';
import type { Host, SshSettings } from '../inventory/types.js';
import { quote } from './quote.js';
import {
  fingerprint,
  hostKeyAlgorithmsFor,
  hostLookupName,
  keyTypeOf,
  knownHostsLine,
  knownKeysFor,
} from './knownHosts.js';
import type { ExecResult, Transport } from './transport.js';

async function readOptional(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/**
 * ssh2 options for one hop, with the host-key check wired to known_hosts. `address` is the host as the
 * inventory writes it, which is what known_hosts is searched for and records (as OpenSSH records the name
 * typed); `ip`, when given, is where to connect: the IP every inventory check was made against.
 */
async function hopConfig(
  address: string,
  port: number,
  ssh: SshSettings,
  ip?: string,
): Promise<{ config: ConnectConfig; where: string; hostKeyProblem: () => string | undefined; recorded: () => Promise<void> }> {
  const lookupName = hostLookupName(address, port);
  const known = knownKeysFor(await readOptional(ssh.knownHostsFile), lookupName);
  let problem: string | undefined;
  let recorded: Promise<void> = Promise.resolve();
  const config: ConnectConfig = {
    host: ip ?? address,
    port,
    username: ssh.user,
    readyTimeout: ssh.connectTimeoutMs,
    keepaliveInterval: ssh.keepaliveIntervalMs,
    keepaliveCountMax: 3,
    tryKeyboard: false,
    ...(ssh.identityFile ? { privateKey: await readFile(ssh.identityFile) } : {}),
    ...(ssh.useAgent && process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}),
    ...(ssh.password ? { password: ssh.password.value } : {}),
    ...(known.length > 0 && ssh.hostKeyPolicy !== 'off'
      ? { algorithms: { serverHostKey: hostKeyAlgorithmsFor(known) as never } }
      : {}),
    hostVerifier: (blob: Buffer): boolean => {
      if (ssh.hostKeyPolicy === 'off') return true;
      if (known.some((k) => k.revoked && k.blob.equals(blob))) {
        problem = `host key of ${lookupName} is marked @revoked in ${ssh.knownHostsFile}`;
        return false;
      }
      if (known.some((k) => !k.revoked && k.blob.equals(blob))) return true;
      if (known.length === 0 && ssh.hostKeyPolicy === 'accept-new') {
        // ssh2 wants a synchronous answer: the write is awaited once the connection is up.
        recorded = mkdir(dirname(ssh.knownHostsFile), { recursive: true }).then(() =>
          appendFile(ssh.knownHostsFile, knownHostsLine(lookupName, blob), { mode: 0o600 }),
        );
        return true;
      }
      problem =
        known.length === 0
          ? `no host key for ${lookupName} in ${ssh.knownHostsFile} (hostKeyPolicy strict; add it, or use accept-new once)`
          : [
              `HOST KEY MISMATCH for ${lookupName}: it presented ${keyTypeOf(blob)} ${fingerprint(blob)}, but ${known
                .map((k) => `${ssh.knownHostsFile}:${k.line} expects ${k.type} ${fingerprint(k.blob)}`)
                .join(' and ')} — possible man-in-the-middle; refusing to connect.`,
              `If the host was reinstalled, remove the old key (line ${known.map((k) => k.line).join(', ')}): ssh-keygen -f ${quote(ssh.knownHostsFile)} -R ${quote(lookupName)}`,
            ].join(' ');
      return false;
    },
  };
  const where = `${address}:${port}${ip !== undefined && ip !== address ? ` (${ip})` : ''}`;
  return { config, where, hostKeyProblem: () => problem, recorded: () => recorded };
}

type Hop = Awaited<ReturnType<typeof hopConfig>>;

/** Connects one hop; with accept-new, the first-seen key is on disk before this returns. */
async function connect(label: string, hop: Hop, sock?: NodeJS.ReadableStream): Promise<Client> {
  const client = await handshake(label, hop.where, sock ? { ...hop.config, sock: sock as never } : hop.config, hop.hostKeyProblem);
  try {
    await hop.recorded();
  } catch (error) {
    client.end();
    throw new HostError(label, `cannot record the host key of ${hop.where} in known_hosts: ${(error as Error).message}`);
  }
  return client;
}

function handshake(label: string, where: string, config: ConnectConfig, hostKeyProblem: () => string | undefined): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .once('ready', () => resolve(client))
      .once('error', (error: Error & { level?: string }) => {
        const why =
          hostKeyProblem() ??
          (error.level === 'client-authentication'
            ? `authentication failed for user ${config.username} (tried: ${[
                config.privateKey ? 'key file' : '',
                config.agent ? 'agent' : '',
                config.password ? 'password' : '',
              ]
                .filter(Boolean)
                .join(', ') || 'nothing: set ssh.identityFile, ssh.password or an agent'})`
            : error.message);
        reject(new HostError(label, `ssh ${where}: ${why}`));
      })
      .connect(config);
  });
}

// sudo drops SSH_CLIENT, which the facts read to see how this host reaches the controller.
const SUDO = 'sudo -n env "SSH_CLIENT=$SSH_CLIENT" sh -s';
/**
 * The password is the first line on the channel's stdin, never in argv or on disk. A plain shell reads it;
 * if sudo does not need it (NOPASSWD, or a cached ticket) it is dropped there, so that it can never reach
 * the root shell as a command; otherwise it goes to `sudo -S` through a pipe, ahead of the script.
 * -k: a cached ticket must not leave the password line unread.
 */
export const SUDO_WITH_PASSWORD = `sh -c ${quote(
  [
    'IFS= read -r pw',
    `if sudo -n true 2>/dev/null; then unset pw; exec ${SUDO}; fi`,
    `{ printf '%s\\n' "$pw"; unset pw; exec cat; } | sudo -S -k -p '' env "SSH_CLIENT=$SSH_CLIENT" sh -s`,
  ].join('; '),
)}`;

export class SshTransport implements Transport {
  #execCount = 0;
  readonly #pending = new Set<() => void>(); // running commands: how to abandon each
  private constructor(
    private readonly host: Host,
    private readonly client: Client,
    private readonly jump: Client | undefined,
  ) {}

  static async open(host: Host): Promise<SshTransport> {
    const { ssh } = host;
    let jump: Client | undefined;
    let sock: NodeJS.ReadableStream | undefined;
    if (ssh.jumpHost) {
      const [jumpAddress = ssh.jumpHost, jumpPort = '22'] = ssh.jumpHost.split(':');
      const hop = await hopConfig(jumpAddress, Number(jumpPort), ssh);
      jump = await connect(`${host.name} (via ${ssh.jumpHost})`, hop);
      const jumpClient = jump;
      sock = await new Promise((resolve, reject) =>
        jumpClient.forwardOut('127.0.0.1', 0, host.ip, ssh.port, (error, stream) =>
          error ? reject(new HostError(host.name, `jump host ${ssh.jumpHost}: ${error.message}`)) : resolve(stream),
        ),
      );
    }
    const hop = await hopConfig(host.address, ssh.port, ssh, host.ip);
    try {
      const client = await connect(host.name, hop, sock);
      return new SshTransport(host, client, jump);
    } catch (error) {
      jump?.end();
      throw error;
    }
  }

  get execCount(): number {
    return this.#execCount;
  }

  exec(script: string): Promise<ExecResult> {
    this.#execCount += 1;
    const { ssh } = this.host;
    const shell = ssh.user === 'root' ? 'sh -s' : ssh.sudoPassword ? SUDO_WITH_PASSWORD : SUDO;
    const input = ssh.user !== 'root' && ssh.sudoPassword ? `${ssh.sudoPassword.value}\n${script}` : script;
    return new Promise((resolve, reject) => {
      // Registered before the channel opens: a host cut off may never answer the open either.
      let closeChannel = (): void => undefined;
      const timer = setTimeout(() => {
        this.#pending.delete(abandon);
        closeChannel();
        reject(new HostError(this.host.name, `command timed out after ${ssh.commandTimeoutMs / 1000}s`));
      }, ssh.commandTimeoutMs);
      const abandon = (): void => {
        clearTimeout(timer);
        reject(new HostError(this.host.name, 'the connection was closed while a command ran'));
      };
      this.#pending.add(abandon);
      this.client.exec(shell, (error, channel) => {
        if (error) {
          clearTimeout(timer);
          this.#pending.delete(abandon);
          return reject(new HostError(this.host.name, `exec: ${error.message}`));
        }
        closeChannel = () => channel.close();
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('close', (code: number | null, signal?: string) => {
          clearTimeout(timer);
          this.#pending.delete(abandon);
          const result = {
            code: code ?? 255,
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
          };
          if (ssh.user !== 'root' && result.code === 1 && /sudo: a (terminal|password) is required/.test(result.stderr)) {
            return reject(new HostError(this.host.name, `user ${ssh.user} needs passwordless sudo (NOPASSWD) to run as root, or a sudo password (ssh.sudoPassword, --ask-sudo-password)`));
          }
          if (ssh.sudoPassword && result.code === 1 && /incorrect password attempt/.test(result.stderr)) {
            return reject(new HostError(this.host.name, `sudo refused the password given for user ${ssh.user} (from ${ssh.sudoPassword.source})`));
          }
          if (signal) return reject(new HostError(this.host.name, `remote shell killed by signal ${signal}`));
          resolve(result);
        });
        channel.end(input);
      });
    });
  }

  /**
   * Ends the connection. A command still running (a host cut off, read with a deadline by a rollout's
   * gate) is abandoned: its timer and socket would otherwise keep this process alive until they time out.
   */
  close(): void {
    const abandoned = [...this.#pending];
    this.#pending.clear();
    for (const abandon of abandoned) abandon();
    // ssh2 destroys only a socket still writable: after end() it would wait for the peer's FIN.
    if (abandoned.length > 0) {
      this.client.destroy();
      this.jump?.destroy();
    } else {
      this.client.end();
      this.jump?.end();
    }
  }
}
