import { formatCidr, ipv4Mask, ipv6Mask, parseIp } from '../../core/ip.js';

/**
 * The address prefix tokens are bound to, in CIDR form: IPv4 /24, IPv6 /48 — wide enough that a
 * client moving inside its provider's pool keeps its cookies, narrow enough that a stolen token
 * is useless from elsewhere. Returns the text itself when it is not an address.
 * @example
 * addressPrefix('203.0.113.7') // '203.0.113.0/24'
 * addressPrefix('2001:db8:1:2::5') // '2001:db8:1::/48'
 */
export function addressPrefix(address: string): string {
  const ip = parseIp(address);
  if (!ip) return address;
  return ip.family === 4
    ? formatCidr({ family: 4, network: (ip.value & ipv4Mask(24)) >>> 0, prefix: 24 })
    : formatCidr({ family: 6, network: ip.value & ipv6Mask(48), prefix: 48 });
}
