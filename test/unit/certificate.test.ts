// verify --ca judges what a Go client (kubectl, kubelet) would: SANs only, RFC 6125 wildcards, the
// chain, the dates. Certificates are committed fixtures (fixtures/certs/make.sh), parsed with node's
// X509Certificate; the connection itself is not part of these tests.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  certificateChecks,
  distributionHint,
  dnsNameMatches,
  explainChainError,
  parseSubjectAltName,
  sanFix,
  type CertificateInput,
  type Observed,
} from '../../src/verify/certificate.js';

const fixture = (name: string): X509Certificate => new X509Certificate(readFileSync(join(import.meta.dirname, 'fixtures', 'certs', `${name}.crt`)));
const GOOD = fixture('vip-and-names'); // IP:10.0.0.100, DNS:api.example.com, DNS:*.k8s.example.com
const NO_VIP = fixture('no-vip'); // IP:10.0.0.21, DNS:kubernetes, DNS:kubernetes.default.svc
const CN_ONLY = fixture('cn-only'); // CN=10.0.0.100, no SAN at all
const DAY = 86_400_000;
const midLife = (c: X509Certificate): Date => new Date(new Date(c.validFrom).getTime() + 100 * DAY);

const judge = (observed: Observed[], more: Partial<CertificateInput> = {}) =>
  certificateChecks({ caFile: '/tmp/ca.crt', vip: '10.0.0.100', port: 6443, connections: observed.reduce((n, o) => n + o.seen, 0), failures: [], observed, now: midLife(GOOD), ...more });
const byName = (checks: ReturnType<typeof judge>, part: string) => checks.find((c) => c.name.includes(part));

describe('dnsNameMatches (RFC 6125 §6.4.3, as Go matches)', () => {
  it.each([
    ['exact', 'api.example.com', 'api.example.com', true],
    ['case-insensitive', 'API.Example.com', 'api.example.COM', true],
    ['a trailing dot on the name', 'api.example.com', 'api.example.com.', true],
    ['another name', 'api.example.com', 'web.example.com', false],
    ['a wildcard: one leftmost label', '*.example.com', 'api.example.com', true],
    ['a wildcard covers no deeper name', '*.example.com', 'a.api.example.com', false],
    ['a wildcard does not cover its parent', '*.example.com', 'example.com', false],
    ['a partial wildcard covers nothing', 'a*.example.com', 'api.example.com', false],
    ['a wildcard only leftmost', 'api.*.com', 'api.example.com', false],
    ['a bare wildcard covers nothing', '*', 'localhost', false],
    ['an empty label in the name', '*.example.com', '.example.com', false],
  ])('%s: %s vs %s → %s', (_what, pattern, host, expected) => {
    expect(dnsNameMatches(pattern, host)).toBe(expected);
  });
});

describe('parseSubjectAltName', () => {
  it.each([
    ['node form', 'DNS:localhost, IP Address:10.0.0.1, DNS:*.a.b', { dns: ['localhost', '*.a.b'], ips: ['10.0.0.1'] }],
    ['quoted value (node escapes special characters)', 'DNS:"a,b.example", URI:http://x, IP Address:10.0.0.2', { dns: ['a,b.example'], ips: ['10.0.0.2'] }],
    ['no SAN extension', undefined, { dns: [], ips: [] }],
  ] as const)('%s', (_what, text, expected) => {
    expect(parseSubjectAltName(text)).toEqual(expected);
  });
});

describe('certificateChecks: SAN coverage', () => {
  it.each([
    ['IP SAN present, endpoint unset', GOOD, undefined, { vip: true }],
    ['IP SAN absent', NO_VIP, undefined, { vip: false }],
    ['the VIP in the CN only does not count', CN_ONLY, undefined, { vip: false }],
    ['endpoint: exact DNS SAN', GOOD, 'api.example.com', { vip: true, endpoint: true }],
    ['endpoint: one-label wildcard', GOOD, 'prod.k8s.example.com', { vip: true, endpoint: true }],
    ['endpoint: two labels under the wildcard', GOOD, 'a.prod.k8s.example.com', { vip: true, endpoint: false }],
    ['endpoint: not among the SANs', NO_VIP, 'api.example.com', { vip: false, endpoint: false }],
  ] as const)('%s', (_what, certificate, endpoint, expected) => {
    const checks = judge([{ certificate, seen: 1 }], endpoint ? { endpoint } : {});
    expect(byName(checks, 'covers the VIP 10.0.0.100')?.ok).toBe(expected.vip);
    const endpointCheck = byName(checks, 'covers cluster.endpoint');
    expect(endpointCheck?.ok).toBe('endpoint' in expected ? expected.endpoint : undefined);
    expect(byName(checks, 'chains to the CA')?.ok).toBe(true);
  });

  it('names what covered it', () => {
    const checks = judge([{ certificate: GOOD, seen: 1 }], { endpoint: 'x.k8s.example.com' });
    expect(byName(checks, 'covers the VIP')?.detail).toBe('covered by IP:10.0.0.100');
    expect(byName(checks, 'covers cluster.endpoint')?.detail).toBe('covered by DNS:*.k8s.example.com');
  });

  it('a missing SAN lists the SANs there are and names both fixes', () => {
    const detail = byName(judge([{ certificate: NO_VIP, seen: 1 }]), 'covers the VIP')!.detail;
    expect(detail).toContain('not among its SANs (IP:10.0.0.21, DNS:kubernetes, DNS:kubernetes.default.svc)');
    expect(detail).toContain('apiServer.certSANs');
    expect(detail).toContain('kubeadm init phase certs apiserver');
    expect(detail).toContain('--tls-san 10.0.0.100');
  });

  it('two servers with different certificates: the one that lacks the VIP is named', () => {
    const checks = judge([{ certificate: GOOD, seen: 2 }, { certificate: NO_VIP, seen: 1 }]);
    const vip = byName(checks, 'covers the VIP')!;
    expect(vip.ok).toBe(false);
    expect(vip.detail).toMatch(/^kube-apiserver \(sha256 [0-9A-F:]{11}…, 1×\): not among its SANs/);
    expect(byName(checks, 'chains to the CA')!.detail).toContain('3 of 3 connections, 2 distinct certificates');
  });
});

describe('sanFix', () => {
  it.each([
    ['no hint: both', undefined, ['apiServer.certSANs', 'tls-san: [10.0.0.100, api.example.com]'], []],
    ['kubeadm', 'kubeadm', ['apiServer.certSANs', 'move /etc/kubernetes/pki/apiserver.crt and apiserver.key away'], ['tls-san']],
    ['k3s/RKE2', 'k3s/RKE2', ['--tls-san 10.0.0.100 --tls-san api.example.com', 'config.yaml'], ['certSANs']],
  ] as const)('%s', (_what, hint, has, hasNot) => {
    const text = sanFix(['10.0.0.100', 'api.example.com'], hint);
    for (const part of has) expect(text).toContain(part);
    for (const part of hasNot) expect(text).not.toContain(part);
  });

  it.each([
    [{ mode: 'services', extraPorts: [] }, undefined],
    [{ mode: 'static-pod', extraPorts: [] }, 'kubeadm'],
    [{ mode: 'services', extraPorts: [9345] }, 'k3s/RKE2'],
  ] as const)('the inventory hints %j → %s', (cluster, expected) => {
    expect(distributionHint(cluster)).toBe(expected);
  });
});

describe('certificateChecks: validity and chain', () => {
  const validTo = new Date(GOOD.validTo).getTime();
  it.each([
    ['valid for long', midLife(GOOD), { ok: true, warning: undefined, detail: /^valid until .* \(\d+ days\)$/ }],
    ['expires within 30 days: a warning', new Date(validTo - 10 * DAY), { ok: true, warning: true, detail: /expires .*, in 10 days: renew it/ }],
    ['expired', new Date(validTo + DAY), { ok: false, warning: undefined, detail: /^expired / }],
    ['not yet valid', new Date(new Date(GOOD.validFrom).getTime() - DAY), { ok: false, warning: undefined, detail: /^not valid before .*clock/ }],
  ] as const)('%s', (_what, now, expected) => {
    const check = byName(judge([{ certificate: GOOD, seen: 1 }], { now }), 'valid now')!;
    expect(check.ok).toBe(expected.ok);
    expect(check.warning).toBe(expected.warning);
    expect(check.detail).toMatch(expected.detail);
  });

  it.each([
    ['DEPTH_ZERO_SELF_SIGNED_CERT', /self-signed, not issued by the CA in \/tmp\/ca.crt \(wrong --ca file\? the certificate's issuer is fixture CA\) \(node: DEPTH_ZERO_SELF_SIGNED_CERT\)/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /^not issued by the CA in \/tmp\/ca.crt \(wrong --ca file\?.*\(node: UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/],
    ['SELF_SIGNED_CERT_IN_CHAIN', /ends in a self-signed CA that is not the one in/],
    ['SOMETHING_NEW', /^the chain does not verify \(node: SOMETHING_NEW\)$/],
  ])('chain error %s', (code, expected) => {
    expect(explainChainError(code, '/tmp/ca.crt', 'fixture CA')).toMatch(expected);
    const check = byName(judge([{ certificate: GOOD, seen: 1, chainError: code }]), 'chains to the CA')!;
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(expected);
  });

  it('no handshake at all: one failing check saying why, and that this machine must reach the VIP', () => {
    const checks = judge([], { connections: 1, failures: ['ECONNREFUSED'] });
    expect(checks).toEqual([
      { name: 'API server certificate through the VIP 10.0.0.100:6443 chains to the CA in /tmp/ca.crt', ok: false, detail: 'no TLS handshake: ECONNREFUSED (this machine must reach the VIP on port 6443)' },
    ]);
  });

  it('some connections failed: the chain check fails and counts them', () => {
    const check = byName(judge([{ certificate: GOOD, seen: 2 }], { connections: 3, failures: ['no TLS handshake within 5000 ms'] }), 'chains to the CA')!;
    expect(check).toMatchObject({ ok: false, detail: '1 of 3 TLS connections failed: no TLS handshake within 5000 ms' });
  });
});
