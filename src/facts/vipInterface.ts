// What `init --probe` learns from an lb in one exec: the interface whose subnet holds the VIP (where
// keepalived must add it) and the OS. The existing address and os-release facts do the reading.
import { addressesFact, osFact, type AddressFact, type OsFact } from './facts.js';
import { matchLength } from '../inventory/ipv4.js';

const MARK = '@@ha-provision-probe os';

/** Both facts in one script; os-release after a marker line. */
export const LB_PROBE_SCRIPT = ['export LC_ALL=C', `${addressesFact.command} 2>/dev/null`, `echo '${MARK}'`, `{ ${osFact.command}; } 2>/dev/null`, ''].join('\n');

export interface LbProbe {
  readonly addresses: readonly AddressFact[];
  readonly os: OsFact;
}

/** Pure: the script's output, cut at the marker. */
export function parseLbProbe(stdout: string): LbProbe {
  const at = stdout.indexOf(`${MARK}\n`);
  if (at < 0) throw new Error('the probe printed no os-release section (is this a Linux host with a POSIX sh?)');
  return { addresses: addressesFact.parse(stdout.slice(0, at)), os: osFact.parse(stdout.slice(at + MARK.length + 1)) };
}

/**
 * The interface with an address in the VIP's subnet (an address on the lb, in its own prefix, whose
 * network contains the VIP); its address other than the VIP itself, which a holder already carries.
 * A reason when none or more than one interface qualifies.
 */
export function vipInterface(probe: LbProbe, vip: string): { readonly dev: string } | { readonly problem: string } {
  const vipAddress = vip.split('/')[0] ?? '';
  const matching = probe.addresses.filter((a) => a.cidr.split('/')[0] !== vipAddress && matchLength(a.cidr, vipAddress) !== undefined);
  const devs = [...new Set(matching.map((a) => a.dev))];
  const seen = probe.addresses.filter((a) => a.dev !== 'lo').map((a) => `${a.dev} ${a.cidr}`).join(', ') || 'none';
  if (devs.length === 1) return { dev: devs[0]! };
  if (devs.length === 0) return { problem: `no interface has an address in the subnet of the VIP ${vip} (its IPv4 addresses: ${seen}); check --vip and its prefix` };
  return { problem: `several interfaces have an address in the subnet of the VIP ${vip} (${devs.join(', ')}); name one with --interface` };
}

/** "debian 12", for a comment beside the host; unknown families are said so (the playbooks know debian and rhel). */
export function osNote(os: OsFact): string {
  const what = `${os.id}${os.versionId ? ` ${os.versionId}` : ''}`;
  return os.family === 'unknown' ? `${what}: neither debian nor rhel family, not supported by the built-in playbooks` : `${what} (${os.family} family)`;
}
