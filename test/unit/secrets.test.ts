// The keepalived password cannot be recovered from what the tool prints: `facts` shows no plain hash of
// a file that holds it, and a plan masks it where it stands, with one mask over paths and lines alike.
import { describe, expect, it } from 'vitest';
import { factsSummary } from '../../src/cli/output.js';
import { freshHostFacts } from '../../src/facts/gather.js';
import { sha256 } from '../../src/facts/facts.js';
import { fileDiff } from '../../src/plan/format.js';
import { MASK, redactor } from '../../src/redact.js';
import type { Change, Resource } from '../../src/resources/types.js';

const CONF = (pass: string): string => `vrrp_instance demo {\n    authentication {\n        auth_type PASS\n        auth_pass ${pass}\n    }\n}\n`;
const resource = (path: string, content: string, secrets: RegExp[]): Resource => ({
  kind: 'file',
  path,
  content,
  mode: '0640',
  owner: 'root',
  group: 'root',
  daemonReload: false,
  secrets,
  peerShared: [],
  peers: [],
});

describe('facts output', () => {
  const facts = {
    ...freshHostFacts('debian'),
    files: {
      '/etc/keepalived/keepalived.conf': { content: CONF('s3cret!1'), sha256: sha256(CONF('s3cret!1')), owner: 'root', group: 'root', mode: '640' },
      '/etc/haproxy/haproxy.cfg': { content: 'global\n', sha256: sha256('global\n'), owner: 'root', group: 'root', mode: '644' },
    },
  };
  const resources = [resource('/etc/keepalived/keepalived.conf', '', [/auth_pass\s+(\S+)/g]), resource('/etc/haproxy/haproxy.cfg', '', [])];
  const printed = JSON.stringify(factsSummary(facts, resources));

  it('prints no plain hash of a file that holds a secret: a guess could be confirmed against it offline', () => {
    expect(printed).not.toContain(sha256(CONF('s3cret!1')));
    expect(printed).not.toContain('s3cret!1');
  });

  it('prints the hash of its masked text instead, which changes with everything but the secret', () => {
    const files = (factsSummary(facts, resources) as { files: Record<string, Record<string, string>> }).files;
    expect(files['/etc/keepalived/keepalived.conf']).toEqual({ maskedSha256: sha256(CONF(MASK)), owner: 'root', group: 'root', mode: '640' });
    expect(files['/etc/haproxy/haproxy.cfg']?.sha256).toBe(sha256('global\n'));
  });
});

describe('a plan masks a secret where it stands', () => {
  const change = (before: string, after: string): Extract<Change, { kind: 'file' }> => ({
    kind: 'file',
    path: '/etc/keepalived/keepalived.conf',
    before: { content: before, sha256: sha256(before), owner: 'root', group: 'root', mode: '640' },
    content: after,
    mode: '0640',
    owner: 'root',
    group: 'root',
    daemonReload: false,
    secrets: [/auth_pass\s+(\S+)/g],
    peerShared: [],
    peers: [],
  });

  it('the fallback mask covers the diff headers as well as its lines', () => {
    // A value that occurs in the path too (refused at validation; here to show both are masked alike).
    const diff = fileDiff(change(CONF('keepalived'), CONF('keepalived').replace('PASS', 'AH')), redactor(['keepalived']));
    expect(diff).not.toContain('keepalived');
    expect(diff).toContain(`--- a/etc/${MASK}/${MASK}.conf`);
  });

  it('a rotated password shows as one masked line, neither value in clear', () => {
    const diff = fileDiff(change(CONF('0ldPass1'), CONF('n3wPass2')), redactor(['n3wPass2']));
    expect(diff).not.toMatch(/0ldPass1|n3wPass2/);
    expect(diff).toContain(`+        auth_pass ${MASK} (changed)`);
  });
});
