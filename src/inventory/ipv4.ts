// IPv4 arithmetic on unsigned 32-bit numbers: validation, subnets, and which route a packet takes.

/** Dotted-quad form only; leading zeros are refused because some tools read them as octal. */
export function parseIpv4(s: string): number | undefined {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

export const formatIpv4 = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** Network mask for a prefix as an unsigned 32-bit number. */
export const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** The prefix length of `cidr` ("default" is /0) when it contains `address`, else undefined. */
export function matchLength(cidr: string, address: string): number | undefined {
  const [net = '', bits = '32'] = cidr === 'default' ? ['0.0.0.0', '0'] : cidr.split('/');
  const a = parseIpv4(address);
  const n = parseIpv4(net);
  const prefix = Number(bits);
  if (a === undefined || n === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const mask = maskOf(prefix);
  return ((a & mask) >>> 0) === ((n & mask) >>> 0) ? prefix : undefined;
}

/** "10.10.10.100/24" → address and prefix; only for text the schema already accepted as a CIDR. */
export function splitCidr(cidr: string): { readonly address: string; readonly prefix: number } {
  const [address = '', prefix = ''] = cidr.split('/');
  return { address, prefix: Number(prefix) };
}
