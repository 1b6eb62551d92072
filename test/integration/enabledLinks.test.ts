// The install-link lookup that spares a converged host `systemctl` (servicesFact's enabled-only units),
// run by sh against unit directories built under a temporary root: it may say "enabled" only where
// `systemctl is-enabled` would, and must hand every other case back to systemctl. No root needed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enabledByLinksFunction, servicesFact } from '../../src/facts/services.js';

const UNIT = 'ha-provision-routes.service';
const INSTALLED = '[Unit]\nDescription=x\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Builds a tree: paths ending in `->` TARGET are symlinks, others files with the given text. */
function tree(entries: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'hp-links-'));
  for (const [path, value] of Object.entries(entries)) {
    const at = join(root, path);
    mkdirSync(dirname(at), { recursive: true });
    if (value.startsWith('-> ')) symlinkSync(value.slice(3), at);
    else writeFileSync(at, value);
  }
  return root;
}

const enabled = (dir: string): boolean =>
  spawnSync('sh', ['-c', `${enabledByLinksFunction(dir)}\nhp_enabled ${UNIT}`]).status === 0;

describe('hp_enabled: install links read as systemctl is-enabled would', () => {
  const wants = `/etc/systemd/system/multi-user.target.wants/${UNIT}`;
  const unit = `/etc/systemd/system/${UNIT}`;
  it.each<[string, Record<string, string>, boolean]>([
    ['a unit file with its WantedBy link', { [unit]: INSTALLED, [wants]: `-> ${unit}` }, true],
    ['a RequiredBy link in .requires', { [unit]: INSTALLED.replace('WantedBy', 'RequiredBy'), [`/etc/systemd/system/multi-user.target.requires/${UNIT}`]: `-> ${unit}` }, true],
    ['two targets, both linked', { [unit]: `${INSTALLED}WantedBy=a.target\n`, [wants]: `-> ${unit}`, [`/etc/systemd/system/a.target.wants/${UNIT}`]: `-> ${unit}` }, true],
    ['a file without a trailing newline', { [unit]: INSTALLED.trimEnd(), [wants]: `-> ${unit}` }, true],
    ['the link missing (disabled)', { [unit]: INSTALLED }, false],
    ['two targets, one link missing', { [unit]: `${INSTALLED}WantedBy=a.target\n`, [wants]: `-> ${unit}` }, false],
    ['masked: the unit is a link to /dev/null', { [unit]: '-> /dev/null', [wants]: `-> ${unit}` }, false],
    ['masked at run time', { [unit]: INSTALLED, [wants]: `-> ${unit}`, [`/run/systemd/system/${UNIT}`]: '-> /dev/null' }, false],
    ['a transient unit of that name', { [unit]: INSTALLED, [wants]: `-> ${unit}`, [`/run/systemd/transient/${UNIT}`]: INSTALLED }, false],
    ['no [Install] section (static)', { [unit]: '[Service]\nExecStart=/bin/true\n', [wants]: `-> ${unit}` }, false],
    ['WantedBy outside [Install]', { [unit]: '[Unit]\nWantedBy=multi-user.target\n', [wants]: `-> ${unit}` }, false],
    ['a key written with spaces around =', { [unit]: INSTALLED.replace('WantedBy=', 'WantedBy = '), [wants]: `-> ${unit}` }, false],
    ['the unit only in /lib (a package unit)', { [`/lib/systemd/system/${UNIT}`]: INSTALLED, [wants]: `-> /lib/systemd/system/${UNIT}` }, false],
    ['no unit at all', {}, false],
  ])('%s → %s', (_name, entries, expected) => {
    expect(enabled(tree(entries))).toBe(expected);
  });

  it('the fact reports a linked unit enabled without asking systemctl, and asks it about the rest', () => {
    const dir = tree({ [unit]: INSTALLED, [wants]: `-> ${unit}` });
    const fact = servicesFact(['ha-provision-routes', 'no-such-unit-hp'], {}, ['ha-provision-routes', 'no-such-unit-hp'], { root: dir });
    // A fake systemctl on PATH records what it was asked, so the test needs no systemd.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" > ${join(dir, 'asked')}\nprintf 'ActiveState=inactive\\nUnitFileState=\\n'\n`, { mode: 0o755 });
    const run = spawnSync('sh', ['-c', fact.command], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
    const asked = spawnSync('cat', [join(dir, 'asked')], { encoding: 'utf8' }).stdout.trim();
    expect(asked).toBe('show -p ActiveState,UnitFileState,MainPID,ExecMainStartTimestampMonotonic no-such-unit-hp.service');
    expect(fact.parse(run.stdout)).toEqual({
      'ha-provision-routes': { active: 'unread', enabled: 'enabled', mainPid: 0, startedAt: '0' },
      'no-such-unit-hp': { active: 'inactive', enabled: '', mainPid: 0, startedAt: '0' },
    });
  });
});
