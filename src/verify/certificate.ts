// verify --ca: the API server's certificate as a client of the VIP sees it. Clients (kubectl, kubelet,
// client-go) are Go programs: they trust the cluster CA, take the name or address they dialled from the
// certificate's SANs only (never its CN) and match a wildcard as one whole leftmost label. The judgement
// below is pure (certificates and verification results in, checks out); observeCertificates() does the
// connecting, from this machine with node:tls, bounded in time.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { UsageError } from '../errors.js';
import { hasRole, type Inventory } from '../inventory/types.js';
import type { Check } from './verify.js';

/** Below this many days left, a valid certificate is a warning (kubeadm's own renewal nags at 30). */
export const EXPIRY_WARNING_DAYS = 30;
const MS_PER_DAY = 86_400_000;

export interface Sans {
  readonly dns: readonly string[];
  readonly ips: readonly string[];
}

/** The DNS and IP entries of node's `subjectAltName` text ("DNS:a, IP Address:10.0.0.1"); quoted values too. */
export function parseSubjectAltName(text: string | undefined): Sans {
  const dns: string[] = [];
  const ips: string[] = [];
  // node quotes a value that holds a comma, quote or other special character, as a JSON string.
  for (const m of (text ?? '').matchAll(/(DNS|IP Address|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,\s*|$)/g)) {
    const raw = m[2] ?? '';
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (m[1] === 'DNS') dns.push(value);
    else if (m[1] === 'IP Address') ips.push(value);
  }
  return { dns, ips };
}

/**
 * Whether a DNS SAN matches a host name, as Go's crypto/x509 (and RFC 6125 §6.4.3) match it: case-
 * insensitive, a trailing dot ignored, and "*" only as the whole leftmost label standing for exactly one
 * label — so *.example.com covers api.example.com, but neither example.com nor a.b.example.com, and
 * partial wildcards (a*.example.com) cover nothing.
 */
export function dnsNameMatches(pattern: string, host: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/\.$/, '');
  const patternLabels = norm(pattern).split('.');
  const hostLabels = norm(host).split('.');
  if (patternLabels.length !== hostLabels.length || hostLabels.some((l) => l === '')) return false;
  if (patternLabels.length < 2 && patternLabels[0] === '*') return false; // a bare "*" covers nothing
  return patternLabels.every((label, i) => (i === 0 && label === '*') || (!label.includes('*') && label === hostLabels[i]));
}

/** Which distribution's fix to name: one the inventory points at, or both (undefined). */
export type Distribution = 'kubeadm' | 'k3s/RKE2';

/**
 * A hint from the inventory: static pods in /etc/kubernetes/manifests are kubeadm's layout; port 9345
 * through the VIP is RKE2's supervisor. Anything else could be either.
 */
export function distributionHint(cluster: Pick<Inventory['cluster'], 'mode' | 'extraPorts'>): Distribution | undefined {
  if (cluster.mode === 'static-pod') return 'kubeadm';
  if (cluster.extraPorts.includes(9345)) return 'k3s/RKE2';
  return undefined;
}

/** How to add names to the API server's certificate, per distribution. */
export function sanFix(names: readonly string[], hint?: Distribution): string {
  const list = names.join(', ');
  const kubeadm =
    `kubeadm: add ${list} to apiServer.certSANs in the ClusterConfiguration (kubectl -n kube-system get cm kubeadm-config), ` +
    'then on each control-plane node move /etc/kubernetes/pki/apiserver.crt and apiserver.key away, ' +
    'run `kubeadm init phase certs apiserver --config FILE` and restart kube-apiserver';
  const k3s =
    `k3s/RKE2: add ${names.map((n) => `--tls-san ${n}`).join(' ')} on every server (tls-san: [${list}] in /etc/rancher/k3s/config.yaml ` +
    'or /etc/rancher/rke2/config.yaml), then restart k3s or rke2-server';
  return `fix: ${hint === 'kubeadm' ? kubeadm : hint === 'k3s/RKE2' ? k3s : `${kubeadm}; ${k3s}`}`;
}

/** What node's chain verification error code means here, in words a user can act on. */
export function explainChainError(code: string, caFile: string, issuer: string): string {
  const notOurs = `not issued by the CA in ${caFile} (wrong --ca file? the certificate's issuer is ${issuer})`;
  const words: Record<string, string> = {
    DEPTH_ZERO_SELF_SIGNED_CERT: `the server's certificate is self-signed, ${notOurs}`,
    SELF_SIGNED_CERT_IN_CHAIN: `the chain the server sends ends in a self-signed CA that is not the one in ${caFile} (wrong --ca file? issuer ${issuer})`,
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: notOurs,
    UNABLE_TO_GET_ISSUER_CERT: notOurs,
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: notOurs,
    CERT_SIGNATURE_FAILURE: `a signature does not verify: the issuer's name matches ${caFile} but not its key (a CA made again with the same name?)`,
    CERT_HAS_EXPIRED: 'the certificate has expired',
    CERT_NOT_YET_VALID: 'the certificate is not valid yet (or this clock is behind)',
  };
  return `${words[code] ?? 'the chain does not verify'} (node: ${code})`;
}

/** One distinct certificate the VIP presented: on how many connections, and what node's verification said. */
export interface Observed {
  readonly certificate: X509Certificate;
  readonly chainError?: string; // node's code (tlsSocket.authorizationError); absent: it chains to the CA
  readonly seen: number;
}

export interface CertificateInput {
  readonly caFile: string;
  readonly vip: string;
  readonly port: number;
  readonly endpoint?: string;
  readonly hint?: Distribution;
  readonly connections: number; // attempted
  readonly failures: readonly string[]; // why each failed attempt failed
  readonly observed: readonly Observed[];
  readonly now: Date;
}

const cn = (dn: string): string => /(?:^|\n)CN=([^\n]*)/.exec(dn)?.[1] ?? dn.replace(/\n/g, ', ');

/** Names one certificate among several: its CN and the start of its SHA-256 fingerprint. */
const label = (o: Observed, many: boolean): string => (many ? `${cn(o.certificate.subject)} (sha256 ${o.certificate.fingerprint256.slice(0, 11)}…, ${o.seen}×): ` : '');

const showSans = (sans: Sans): string => [...sans.ips.map((ip) => `IP:${ip}`), ...sans.dns.map((d) => `DNS:${d}`)].join(', ') || 'none';

function expiry(certificate: X509Certificate, now: Date): { ok: boolean; warning: boolean; detail: string } {
  const from = new Date(certificate.validFrom);
  const to = new Date(certificate.validTo);
  const days = Math.floor((to.getTime() - now.getTime()) / MS_PER_DAY);
  if (now < from) return { ok: false, warning: false, detail: `not valid before ${from.toISOString()} (is this machine's clock right?)` };
  if (now > to) return { ok: false, warning: false, detail: `expired ${to.toISOString()}` };
  if (days < EXPIRY_WARNING_DAYS) return { ok: true, warning: true, detail: `expires ${to.toISOString()}, in ${days} days: renew it` };
  return { ok: true, warning: false, detail: `valid until ${to.toISOString()} (${days} days)` };
}

/**
 * Pure: the checks of what the VIP presented. With no handshake at all, one failing check that says
 * why; otherwise chain, VIP coverage, endpoint coverage (when set) and validity, each over every distinct
 * certificate seen (behind a round-robin VIP, each server may have its own).
 */
export function certificateChecks(input: CertificateInput): Check[] {
  const { caFile, vip, port, endpoint, observed } = input;
  const where = `${vip}:${port}`;
  const failed = input.failures.length > 0 ? `${input.failures.length} of ${input.connections} TLS connections failed: ${[...new Set(input.failures)].join('; ')}` : '';
  const chainName = `API server certificate through the VIP ${where} chains to the CA in ${caFile}`;
  if (observed.length === 0) {
    return [{ name: chainName, ok: false, detail: `no TLS handshake: ${[...new Set(input.failures)].join('; ')} (this machine must reach the VIP on port ${port})` }];
  }
  const many = observed.length > 1;
  const all = (parts: readonly string[]): string => parts.join('; ');
  const seen = `${input.connections - input.failures.length} of ${input.connections} connections, ${observed.length} distinct certificate${many ? 's' : ''}`;

  const chainBad = observed.filter((o) => o.chainError);
  const checks: Check[] = [
    {
      name: chainName,
      ok: chainBad.length === 0 && !failed,
      detail: chainBad.length > 0
        ? all(chainBad.map((o) => `${label(o, many)}${explainChainError(o.chainError!, caFile, cn(o.certificate.issuer))}`))
        : failed || `issued by ${cn(observed[0]!.certificate.issuer)} (${seen})`,
    },
  ];

  const coverage = (name: string, target: string, covers: (sans: Sans) => string | undefined): void => {
    const results = observed.map((o) => {
      const sans = parseSubjectAltName(o.certificate.subjectAltName);
      return { o, sans, by: covers(sans) };
    });
    const missing = results.filter((r) => r.by === undefined);
    checks.push({
      name,
      ok: missing.length === 0,
      detail: missing.length === 0
        ? `covered by ${[...new Set(results.map((r) => r.by))].join(', ')}`
        : `${all(missing.map((r) => `${label(r.o, many)}not among its SANs (${showSans(r.sans)})`))}; ${sanFix([target], input.hint)}`,
    });
  };
  coverage(`API server certificate covers the VIP ${vip} (IP SAN)`, vip, (sans) => (sans.ips.includes(vip) ? `IP:${vip}` : undefined));
  if (endpoint) {
    coverage(`API server certificate covers cluster.endpoint ${endpoint} (DNS SAN; sent as SNI)`, endpoint, (sans) => {
      const match = sans.dns.find((d) => dnsNameMatches(d, endpoint));
      return match === undefined ? undefined : `DNS:${match}`;
    });
  }

  const validity = observed.map((o) => ({ o, ...expiry(o.certificate, input.now) }));
  const bad = validity.filter((v) => !v.ok || v.warning);
  checks.push({
    name: `API server certificate valid now and for ${EXPIRY_WARNING_DAYS} days more`,
    ok: validity.every((v) => v.ok),
    ...(validity.every((v) => v.ok) && bad.length > 0 ? { warning: true } : {}),
    detail: all((bad.length > 0 ? bad : validity.slice(0, 1)).map((v) => `${label(v.o, many)}${v.detail}`)),
  });
  return checks;
}

// ---- reading the CA and connecting ----

export interface CaBundle {
  readonly file: string;
  readonly pem: string; // every certificate of the file, for node:tls's `ca`
}

/** The --ca file, checked before anything connects: readable, and PEM certificates only are used. */
export async function readCaFile(file: string): Promise<CaBundle> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`--ca ${file}: cannot read it (${error.code ?? error.message}); give the cluster CA certificate, e.g. /etc/kubernetes/pki/ca.crt (kubeadm) or /var/lib/rancher/k3s/server/tls/server-ca.crt (k3s), copied to this machine`);
  });
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    // Nothing of the file is echoed: it might be a private key.
    const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) ? ' (it holds a private key: give the CA certificate, ca.crt, not its key)' : '';
    throw new UsageError(`--ca ${file}: holds no PEM certificate ("-----BEGIN CERTIFICATE-----")${key}; give the cluster CA, e.g. /etc/kubernetes/pki/ca.crt (kubeadm) or /var/lib/rancher/k3s/server/tls/server-ca.crt (k3s)`);
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new UsageError(`--ca ${file}: certificate ${i + 1} of ${blocks.length} does not parse (${(error as Error).message})`);
    }
  });
  return { file, pem: blocks.join('\n') };
}

type Handshake = { certificate: X509Certificate; chainError?: string } | { error: string };

function handshake(address: string, port: number, ca: string, servername: string | undefined, timeoutMs: number): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({
      host: address,
      port,
      ca,
      ...(servername ? { servername } : {}),
      // Judged here, not refused: `authorized` then reflects the chain alone; the SANs are judged by
      // certificateChecks, as the client that dials the VIP or the endpoint would.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => finish({ error: `no TLS handshake within ${timeoutMs} ms` }), timeoutMs);
    function finish(result: Handshake): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerX509Certificate();
      if (!certificate) return finish({ error: 'the server sent no certificate' });
      const code = socket.authorized ? undefined : String(socket.authorizationError);
      finish({ certificate, ...(code ? { chainError: code } : {}) });
    });
    socket.once('error', (error: Error) => finish({ error: error.message }));
  });
}

/** The most connections made: enough to meet each server behind a round-robin VIP in a usual cluster. */
const MAX_CONNECTIONS = 7;

/**
 * Connects to the VIP once per server (at most MAX_CONNECTIONS, one after the other: round robin then
 * reaches each), each bounded by `timeoutMs`, and judges what was presented.
 */
export async function verifyCertificate(inventory: Inventory, ca: CaBundle, timeoutMs = 5000, now = (): Date => new Date()): Promise<Check[]> {
  const { vip, frontendPort, endpoint } = inventory.cluster;
  const connections = Math.min(MAX_CONNECTIONS, Math.max(1, inventory.hosts.filter((h) => hasRole(h, 'server')).length));
  const failures: string[] = [];
  const byFingerprint = new Map<string, { certificate: X509Certificate; chainError?: string; seen: number }>();
  for (let i = 0; i < connections; i += 1) {
    const result = await handshake(vip.address, frontendPort, ca.pem, endpoint, timeoutMs);
    if ('error' in result) {
      failures.push(result.error);
      if (byFingerprint.size === 0 && i === 0) break; // nothing answers: one bounded wait is enough to say so
      continue;
    }
    const key = result.certificate.fingerprint256;
    const had = byFingerprint.get(key);
    byFingerprint.set(key, had ? { ...had, seen: had.seen + 1 } : { ...result, seen: 1 });
  }
  return certificateChecks({
    caFile: ca.file,
    vip: vip.address,
    port: frontendPort,
    ...(endpoint ? { endpoint } : {}),
    ...(distributionHint(inventory.cluster) ? { hint: distributionHint(inventory.cluster)! } : {}),
    connections: failures.length > 0 && byFingerprint.size === 0 ? failures.length : connections,
    failures,
    observed: [...byFingerprint.values()],
    now: now(),
  });
}

/** verify --ca FILE: the file read and checked now (before any connection), the check run later. */
export async function certificateCheck(caFile: string): Promise<(inventory: Inventory) => Promise<Check[]>> {
  const ca = await readCaFile(caFile);
  return (inventory) => verifyCertificate(inventory, ca);
}
