// Connections to jump hosts, shared: every host behind the same chain of hops goes through one connection
// per hop (each host on a forwarded channel of its own over it), opened when the first host needs it and
// closed when the last host using it closes. A bastion thus sees one login per run, not one per host.
import type { JumpHop } from '../inventory/types.js';

/** What the pool needs of a connection: to end it, and to hear that it ended. */
export interface HopClient {
  once(event: 'close', listener: () => void): unknown;
  end(): unknown;
  destroy(): unknown;
}

/** Opens one hop: directly (`via` undefined), or through a channel of the connection to the hop before it. */
export type OpenHop<C extends HopClient> = (hop: JumpHop, via: C | undefined) => Promise<C>;

/** The last hop's connection, held until released (once). `hard`: destroy rather than end politely. */
export interface Lease<C> {
  readonly client: C;
  release(hard?: boolean): void;
}

interface Entry<C> {
  readonly key: string;
  readonly client: Promise<C>;
  refs: number;
}

/** Hops are the same connection when reached the same way, as the same user with the same keys and checks. */
function keyOf(chain: readonly JumpHop[]): string {
  return JSON.stringify(chain.map((h) => [h.address, h.port, h.user, h.identityFile ?? null, h.password?.source ?? null, h.useAgent, h.knownHostsFile, h.hostKeyPolicy]));
}

export class JumpPool<C extends HopClient> {
  readonly #entries = new Map<string, Entry<C>>();

  constructor(private readonly open: OpenHop<C>) {}

  /** Connections open or opening now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The connection to the chain's last hop, opening what is not open yet (hosts asking at the same time
   * wait for the same attempt). A failed hop is forgotten, so that a later host tries it afresh.
   */
  async acquire(chain: readonly JumpHop[]): Promise<Lease<C>> {
    if (chain.length === 0) throw new Error('an empty jump chain has no connection to share');
    const held: Entry<C>[] = [];
    let via: C | undefined;
    try {
      for (let i = 0; i < chain.length; i++) {
        const entry = this.#entryFor(chain.slice(0, i + 1), via);
        entry.refs += 1;
        held.push(entry);
        via = await entry.client;
      }
    } catch (error) {
      this.#release(held, false);
      throw error;
    }
    let released = false;
    return {
      client: via as C,
      release: (hard = false) => {
        if (released) return;
        released = true;
        this.#release(held, hard);
      },
    };
  }

  #entryFor(prefix: readonly JumpHop[], via: C | undefined): Entry<C> {
    const key = keyOf(prefix);
    const existing = this.#entries.get(key);
    if (existing) return existing;
    const entry: Entry<C> = { key, client: this.open(prefix[prefix.length - 1]!, via), refs: 0 };
    this.#entries.set(key, entry);
    const forget = (): void => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    };
    // A connection that drops (the bastion rebooted) is not handed to the next host.
    entry.client.then((client) => client.once('close', forget), forget);
    return entry;
  }

  /** The innermost hop first: the connections behind a hop ride on its channels. */
  #release(held: readonly Entry<C>[], hard: boolean): void {
    for (const entry of [...held].reverse()) {
      entry.refs -= 1;
      if (entry.refs > 0) continue;
      if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
      entry.client.then((client) => (hard ? client.destroy() : client.end()), () => undefined);
    }
  }
}
