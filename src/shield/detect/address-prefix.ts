/**
 * Address prefixes the detector aggregates on: IPv4 /24, IPv6 /64 (one subscriber's LAN, RFC 6177)
 * and /48 (one site), so a flood spread over many hosts of one network still shows as one source.
 */
import { formatCidr, ipv6Mask, parseIp } from '../../core/ip.js';

/** The narrow prefix (IPv4 /24, IPv6 /64) and, for IPv6, the /48 around a client address. */
export interface AddressPrefixes {
  readonly prefix: string;
  readonly prefix48: string | undefined;
}

const MASK64 = ipv6Mask(64);
const MASK48 = ipv6Mask(48);

/**
 * The prefixes of a normalized client address; `prefix` is the address itself when unparseable.
 * @example addressPrefixes('203.0.113.7') // { prefix: '203.0.113.0/24', prefix48: undefined }
 */
export function addressPrefixes(address: string): AddressPrefixes {
  // Fast path for the common dotted quad: string surgery instead of parse + format.
  const colon = address.indexOf(':');
  if (colon < 0) {
    const dot = address.lastIndexOf('.');
    return { prefix: dot > 0 ? `${address.slice(0, dot)}.0/24` : address, prefix48: undefined };
  }
  const ip = parseIp(address);
  if (ip === undefined) return { prefix: address, prefix48: undefined };
  if (ip.family === 4) return { prefix: formatCidr({ family: 4, network: (ip.value & 0xffffff00) >>> 0, prefix: 24 }), prefix48: undefined };
  return {
    prefix: formatCidr({ family: 6, network: ip.value & MASK64, prefix: 64 }),
    prefix48: formatCidr({ family: 6, network: ip.value & MASK48, prefix: 48 }),
  };
}
