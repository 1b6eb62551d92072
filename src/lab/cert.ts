// The lab's certificates, as a cluster has them: a lab CA (ca.crt, ca.key 0600, in the lab dir, made once
// per lab) and the apiserver stand-in's serving certificate signed by it, with the VIP and the servers'
// addresses as IP SANs. Clients trust the CA, not one certificate: `verify --ca <lab dir>/ca.crt` works
// on the lab as on a kubeadm cluster, and a certificate made again (a lab that grew) is still trusted.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDir } from './state.js';
import { exists, must } from './util.js';

export const labCaFile = (name: string): string => join(labDir(name), 'ca.crt');
const labCaKeyFile = (name: string): string => join(labDir(name), 'ca.key');
const certFile = (name: string): string => join(labDir(name), 'standin.crt');
const certKeyFile = (name: string): string => join(labDir(name), 'standin.key');
/** What the stand-in certificate was made from (SANs and the CA's fingerprint): made again when it differs. */
const stampFile = (name: string): string => `${certFile(name)}.made-from`;

/** The DNS name the lab's stand-in certificate carries, for trying cluster.endpoint on the lab. */
export const labEndpoint = (name: string): string => `api.${name}.lab.internal`;

/** An openssl config with the extensions of a CA and of a TLS server certificate (as kubeadm's). */
function opensslConfig(commonName: string, san: string): string {
  return [
    '[req]', 'distinguished_name = dn', 'prompt = no', '',
    '[dn]', `CN = ${commonName}`, '',
    '[ca]', 'basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign, digitalSignature', 'subjectKeyIdentifier = hash', '',
    '[server]', 'basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment', 'extendedKeyUsage = serverAuth',
    'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid', `subjectAltName = ${san}`, '',
  ].join('\n');
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** The lab CA, made once; its key never leaves the lab dir (0600). */
async function ensureLabCa(name: string): Promise<string> {
  if (!(await exists(labCaFile(name))) || !(await exists(labCaKeyFile(name)))) {
    const work = await mkdtemp(join(tmpdir(), 'ha-lab-ca-'));
    try {
      await writeFile(join(work, 'openssl.cnf'), opensslConfig(`ha-provision lab ${name} CA`, 'DNS:unused'));
      await must('openssl', ['req', '-x509', ...EC_KEY, '-days', '3650', '-config', join(work, 'openssl.cnf'), '-extensions', 'ca', '-keyout', join(work, 'ca.key'), '-out', join(work, 'ca.crt')]);
      await writeFile(labCaKeyFile(name), await readFile(join(work, 'ca.key')), { mode: 0o600 });
      await writeFile(labCaFile(name), await readFile(join(work, 'ca.crt')), { mode: 0o644 });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  await chmod(labCaKeyFile(name), 0o600);
  return readFile(labCaFile(name), 'utf8');
}

/**
 * A serving certificate for `sans` (openssl's form: "IP:10.0.0.1,DNS:x") signed by lab `name`'s CA, as
 * PEM text; nothing is kept. Tests use it to give servers a certificate that lacks a SAN.
 */
export async function signWithLabCa(name: string, sans: string, days = 3650): Promise<{ cert: string; key: string }> {
  await ensureLabCa(name);
  const work = await mkdtemp(join(tmpdir(), 'ha-lab-cert-'));
  try {
    const cnf = join(work, 'openssl.cnf');
    await writeFile(cnf, opensslConfig(`apiserver-standin-${name}`, sans));
    await must('openssl', ['req', '-new', ...EC_KEY, '-config', cnf, '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.csr')]);
    await must('openssl', [
      'x509', '-req', '-in', join(work, 'tls.csr'), '-CA', labCaFile(name), '-CAkey', labCaKeyFile(name), '-set_serial', `0x${randomHex(16)}`,
      '-days', String(days), '-extfile', cnf, '-extensions', 'server', '-out', join(work, 'tls.crt'),
    ]);
    return { cert: await readFile(join(work, 'tls.crt'), 'utf8'), key: await readFile(join(work, 'tls.key'), 'utf8') };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// A random serial, as CAs give (no serial file to keep); its top bit clear, so that it is positive.
const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex').replace(/^[89a-f]/, '7');

/**
 * The stand-in's certificate, signed by the lab CA, valid for the VIP, `serverIps`, 127.0.0.1, localhost
 * and labEndpoint(name); made again when any of that (or the CA) changed. Returns it with the CA.
 */
export async function ensureStandinCert(name: string, vip: string, serverIps: readonly string[]): Promise<{ ca: string; cert: string; key: string }> {
  const ca = await ensureLabCa(name);
  const san = ['DNS:localhost', `DNS:${labEndpoint(name)}`, ...[vip, ...serverIps, '127.0.0.1'].map((ip) => `IP:${ip}`)].join(',');
  const stamp = `${san}\n${ca}`;
  if (!(await exists(certFile(name))) || !(await exists(certKeyFile(name))) || (await readFile(stampFile(name), 'utf8').catch(() => '')) !== stamp) {
    const made = await signWithLabCa(name, san);
    await writeFile(certKeyFile(name), made.key, { mode: 0o600 });
    await writeFile(certFile(name), made.cert, { mode: 0o644 });
    await writeFile(stampFile(name), stamp);
  }
  await chmod(certKeyFile(name), 0o600);
  return { ca, cert: await readFile(certFile(name), 'utf8'), key: await readFile(certKeyFile(name), 'utf8') };
}
