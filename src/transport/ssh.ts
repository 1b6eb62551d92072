// One ssh2 connection per host, reused for every step; hosts behind jump hosts share the connections to
// them (jumpPool.ts). Host keys are checked against each hop's known_hosts file under its policy; scripts
// go over stdin to `sh -s`, so no script text is ever quoted.
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AgentAuthMethod, AuthMethod, Client, ConnectConfig, ParsedKey, PasswordAuthMethod, PublicKeyAuthMethod } from 'ssh2';
import { HostError } from '../errors.js';
import type { Host, JumpHop, SshSettings } from '../inventory/types.js';
import { JumpPool } from './jumpPool.js';
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

// One run connects to many hosts with the same key and known_hosts file: each file is read (and the key
// parsed) once, not once per host; ssh2 would otherwise parse the key on every connect. A file is read
// again when its identity, size or mtime changed (a process that outlives one fleet, such as the bench,
// meets a lab rebuilt with new keys; accept-new appends to known_hosts).
const fileMemos = new Map<string, { readonly stamp: string; readonly value: Promise<unknown> }>();

function readOnce<T>(file: string, read: () => Promise<T>): Promise<T> {
  let stamp = 'missing';
  try {
    const st = statSync(file);
    stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    // read() says what is wrong with it
  }
  const memo = fileMemos.get(file);
  if (memo?.stamp === stamp) return memo.value as Promise<T>;
  const value = read();
  value.catch(() => fileMemos.delete(file));
  fileMemos.set(file, { stamp, value });
  return value;
}

// Both read synchronously, as every file read before the first connect (loadInventory says why).
const knownHostsText = (file: string): Promise<string> =>
  readOnce(file, async () => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw error;
    }
  });

const privateKey = (file: string): Promise<ParsedKey> =>
  readOnce(file, () =>
    loadSsh2().then((ssh2) => {
      const data = readFileSync(file);
      // ssh2 is CommonJS: Node's ESM view of it names `Client` but not `utils` (the bundle's names both).
      const parsed = (ssh2.utils ?? (ssh2 as unknown as { default: typeof ssh2 }).default.utils).parseKey(data);
      if (parsed instanceof Error) throw new Error(`cannot use the key ${file}: ${parsed.message}`);
      const first = Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
      if (!first.isPrivateKey()) throw new Error(`cannot use the key ${file}: it holds no private key`);
      return signingWithKeyObject(first);
    }),
  );

/** The hash each key type signs with (RFC 8709: none for ed25519; RFC 5656 6.2.1 for ECDSA's curves). */
const HASH_OF_KEY_TYPE: Readonly<Record<string, string | null>> = {
  'ssh-ed25519': null,
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
};

/**
 * The key, signing through a KeyObject made once: ssh2 hands OpenSSL the key's PEM text, which it parses
 * again for every signature, one per host (0.53 ms a signature against 0.05 with a KeyObject, ed25519,
 * measured here). Signatures are the same bytes, and errors are returned as ssh2's own sign returns them.
 * Without a hash named, the key type's own is used where the SSH specs fix one (HASH_OF_KEY_TYPE); other
 * types (RSA's default) keep ssh2's path.
 */
function signingWithKeyObject(key: ParsedKey): ParsedKey {
  const keyObject = createPrivateKey(key.getPrivatePEM());
  const signing: Pick<ParsedKey, 'sign'> = {
    sign(data, algo) {
      const hash = algo ?? HASH_OF_KEY_TYPE[key.type];
      if (hash === undefined) return key.sign(data);
      try {
        return sign(hash, typeof data === 'string' ? Buffer.from(data) : data, keyObject);
      } catch (error) {
        return error as Buffer;
      }
    },
  };
  // The parsed key below it: ssh2 recognises a parsed key, and reads its other parts, through it.
  return Object.assign(Object.create(key) as ParsedKey, signing);
}

/** What connecting to one hop takes: a host's settings, or a jump hop's own. */
type HopSettings = Pick<SshSettings, 'user' | 'identityFile' | 'password' | 'useAgent' | 'knownHostsFile' | 'hostKeyPolicy' | 'connectTimeoutMs' | 'keepaliveIntervalMs'>;

/**
 * ssh2 options for one hop, with the host-key check wired to known_hosts. `address` is the host as the
 * inventory writes it, which is what known_hosts is searched for and records (as OpenSSH records the name
 * typed); `ip`, when given, is where to connect: the IP every inventory check was made against.
 */
async function hopConfig(
  label: string,
  address: string,
  port: number,
  ssh: HopSettings,
  ip?: string,
): Promise<{ config: ConnectConfig; where: string; hostKeyProblem: () => string | undefined; recorded: () => Promise<void> }> {
  const lookupName = hostLookupName(address, port);
  const known = knownKeysFor(await knownHostsText(ssh.knownHostsFile), lookupName);
  const key = ssh.identityFile
    ? await privateKey(ssh.identityFile).catch((error: Error) => {
        throw new HostError(label, error.message);
      })
    : undefined;
  const agent = ssh.useAgent ? process.env.SSH_AUTH_SOCK : undefined;
  // Key, agent, password: OpenSSH's order. No `none` attempt first (ssh2's default): a round trip that
  // no server this tool provisions answers with success.
  const auth: (PublicKeyAuthMethod | AgentAuthMethod | PasswordAuthMethod)[] = [
    ...(key ? [{ type: 'publickey' as const, username: ssh.user, key }] : []),
    ...(agent ? [{ type: 'agent' as const, username: ssh.user, agent }] : []),
    ...(ssh.password ? [{ type: 'password' as const, username: ssh.user, password: ssh.password.value }] : []),
  ];
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
    authHandler: auth,
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

/** ssh2, loaded by the first connection: commands that connect nowhere (render, completion, --help) do not load it. */
let ssh2: Promise<typeof import('ssh2')> | undefined;
const loadSsh2 = (): Promise<typeof import('ssh2')> => (ssh2 ??= import('ssh2'));

/** Connects one hop; with accept-new, the first-seen key is on disk before this returns. */
async function connect(label: string, hop: Hop, sock?: NodeJS.ReadableStream): Promise<Client> {
  const { Client } = await loadSsh2();
  const client = await handshake(new Client(), label, hop.where, sock ? { ...hop.config, sock: sock as never } : hop.config, hop.hostKeyProblem);
  try {
    await hop.recorded();
  } catch (error) {
    client.end();
    throw new HostError(label, `cannot record the host key of ${hop.where} in known_hosts: ${(error as Error).message}`);
  }
  return client;
}

/** A channel from `via` to address:port, for the next hop's SSH to run over. */
function forward(via: Client, address: string, port: number): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) =>
    via.forwardOut('127.0.0.1', 0, address, port, (error, stream) =>
      error ? reject(new Error(`cannot open a channel to ${address}:${port} through it: ${error.message}`)) : resolve(stream),
    ),
  );
}

/** One hop of a jump chain, through the hop before it (if any); errors name the hop as written. */
async function openHop(hop: JumpHop, via: Client | undefined): Promise<Client> {
  const sock = via ? await forward(via, hop.address, hop.port).catch((error: Error) => {
    throw new HostError(hop.spec, error.message);
  }) : undefined;
  return connect(hop.spec, await hopConfig(hop.spec, hop.address, hop.port, hop), sock);
}

/** This process's jump connections: one run, so one connection per hop for the whole run. */
const jumps = new JumpPool<Client>(openHop);

function handshake(client: Client, label: string, where: string, config: ConnectConfig, hostKeyProblem: () => string | undefined): Promise<Client> {
  return new Promise((resolve, reject) => {
    client
      .once('ready', () => resolve(client))
      .once('error', (error: Error & { level?: string }) => {
        const why =
          hostKeyProblem() ??
          (error.level === 'client-authentication'
            ? `authentication failed for user ${config.username} (tried: ${
                (config.authHandler as AuthMethod[]).map((m) => (m.type === 'publickey' ? 'key file' : m.type)).join(', ') ||
                'nothing: set ssh.identityFile, ssh.password or an agent'
              })`
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
    private readonly releaseJump: (hard?: boolean) => void,
  ) {}

  /** Connects to the host, through its jump chain's shared connections when it has one. */
  static async open(host: Host): Promise<SshTransport> {
    const { ssh } = host;
    const chain = ssh.proxyJump ?? [];
    let lease: { client: Client; release: (hard?: boolean) => void } | undefined;
    let sock: NodeJS.ReadableStream | undefined;
    try {
      if (chain.length > 0) {
        lease = await jumps.acquire(chain).catch((error: unknown) => {
          throw error instanceof HostError ? new HostError(host.name, `jump host ${error.host}: ${error.reason}`) : error;
        });
        const last = chain[chain.length - 1]!;
        sock = await forward(lease.client, host.ip, ssh.port).catch((error: Error) => {
          throw new HostError(host.name, `jump host ${last.spec}: ${error.message}`);
        });
      }
      const client = await connect(host.name, await hopConfig(host.name, host.address, ssh.port, ssh, host.ip), sock);
      return new SshTransport(host, client, lease?.release ?? (() => undefined));
    } catch (error) {
      lease?.release();
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
    } else {
      this.client.end();
    }
    // The jump connections stay while other hosts still use them.
    this.releaseJump(abandoned.length > 0);
  }
}
