// A client of the VIP at a fixed rate: HTTPS GETs, each on a new TCP connection, so every request sees
// where the VIP is *now* (a kept-alive connection would stay on the old lb and hide a failover, or
// fail on it long after the VIP moved). Every request's start, end and outcome is kept, so a drill can
// ask afterwards how long requests failed after a given moment.
import { request } from 'node:https';

export interface ProbeTarget {
  readonly address: string;
  readonly port: number;
  readonly path: string;
}

export interface ProbeRequest {
  readonly startMs: number; // epoch ms
  readonly endMs: number;
  readonly ok: boolean; // 200 with the whole body read, within the timeout
  readonly error?: string;
}

export interface ProbeStats {
  readonly sent: number;
  readonly failed: number;
  readonly failures: readonly { readonly atMs: number; readonly error: string }[]; // atMs: when it started
}

export interface Probe {
  /** Stops sending and waits for the requests in flight (each ends within the timeout). */
  stop(): Promise<ProbeStats>;
  /** ms from `sinceMs` (epoch ms) until the first request started at or after it that succeeded, if any. */
  recoveredAfter(sinceMs: number): number | undefined;
  /** Requests finished so far (those in flight are not counted yet). */
  stats(): ProbeStats;
  /**
   * The stretch of [fromMs, toMs) in which requests went unanswered — failed, or took `slowMs` or more
   * (a SYN sent while no lb held the VIP is only retransmitted after 1 s, so such a request "succeeds"
   * a second late): from the start of the first such request to the start of the first prompt success
   * after the last one (absent: none yet). Undefined when every request was answered promptly.
   */
  outage(fromMs: number, toMs: number, slowMs?: number): { readonly startMs: number; readonly endMs?: number } | undefined;
  /** Finished requests that started in [fromMs, toMs). */
  between(fromMs: number, toMs: number): ProbeStats;
  /** Every finished request, in the order they started. */
  requests(): readonly ProbeRequest[];
}

/** One GET on its own connection; resolves (never rejects) with its outcome. */
function once(target: ProbeTarget, timeoutMs: number): Promise<ProbeRequest> {
  const startMs = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ startMs, endMs: Date.now(), ok, ...(error ? { error } : {}) });
    };
    const req = request(
      { host: target.address, port: target.port, path: target.path, method: 'GET', agent: false, rejectUnauthorized: false },
      (res) => {
        res.resume();
        res.once('end', () => done(res.statusCode === 200, res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`));
        res.on('error', (e) => done(false, e.message)); // `on`: a late second error must not go unhandled
      },
    );
    // A hard deadline for the whole request: the socket `timeout` option only bounds idle time.
    const timer = setTimeout(() => done(false, `no answer within ${timeoutMs} ms`), timeoutMs);
    req.on('error', (e) => done(false, e.message));
    req.end();
  });
}

const summarise = (list: readonly ProbeRequest[]): ProbeStats => {
  const failures = list.filter((r) => !r.ok).map((r) => ({ atMs: r.startMs, error: r.error ?? 'failed' }));
  return { sent: list.length, failed: failures.length, failures };
};

export function startProbe(target: ProbeTarget, perSecond: number, timeoutMs = 2_000): Probe {
  if (!(perSecond > 0)) throw new Error(`probe rate must be > 0 requests per second, got ${perSecond}`);
  const finished: ProbeRequest[] = [];
  const inFlight = new Set<Promise<ProbeRequest>>();
  const fire = (): void => {
    const p = once(target, timeoutMs);
    inFlight.add(p);
    void p.then((r) => {
      inFlight.delete(p);
      finished.push(r);
    });
  };
  fire();
  const timer = setInterval(fire, 1000 / perSecond);
  let stopped: Promise<ProbeStats> | undefined;
  const ordered = (): ProbeRequest[] => [...finished].sort((a, b) => a.startMs - b.startMs);

  return {
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await Promise.all(inFlight);
        return summarise(ordered());
      })();
      return stopped;
    },
    recoveredAfter(sinceMs) {
      const first = ordered().find((r) => r.startMs >= sinceMs && r.ok);
      return first ? first.startMs - sinceMs : undefined;
    },
    stats: () => summarise(ordered()),
    outage(fromMs, toMs, slowMs = 500) {
      const list = ordered().filter((r) => r.startMs >= fromMs && r.startMs < toMs);
      const bad = (r: ProbeRequest): boolean => !r.ok || r.endMs - r.startMs >= slowMs;
      const first = list.find(bad);
      if (!first) return undefined;
      let last = list.length - 1;
      while (!bad(list[last]!)) last -= 1;
      const back = list.slice(last + 1).find((r) => !bad(r));
      return { startMs: first.startMs, ...(back ? { endMs: back.startMs } : {}) };
    },
    between: (fromMs, toMs) => summarise(ordered().filter((r) => r.startMs >= fromMs && r.startMs < toMs)),
    requests: ordered,
  };
}
