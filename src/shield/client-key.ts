/**
 * The key per-client accounting counts a client under: an IPv4 address as itself, an IPv6 address
 * as its prefix (/64 by default).
 *
 * Why: a subscriber is given a whole IPv6 prefix, not an address — at least a /64, one LAN
 * (RFC 6177 §2; RFC 8981 temporary addresses change within it every day, and a host may pick a
 * new one per connection). Counted per /128, a single bot walks its /64 and every per-client
 * limit sees a new client on each request: the per-address rate limit and connection cap, the
 * strikes that lead to a connection-level block, the pace of its no-JavaScript cookie, the
 * over-rate flag. Counted per /64, the prefix is the client — as many operators' rate limiters
 * count IPv6 clients. A prefix of 128 restores per-address counting.
 *
 * Addresses that are not IP text (a Unix socket's empty peer) are their own key.
 */
import { formatCidr, ipv6Mask, parseIp } from '../core/ip.js';

/** Maps a normalized client address to its accounting key. */
export type ClientKeyOf = (address: string) => string;

/** Parsed IPv6 keys remembered (a flood from one /64 parses once); cleared whole when full. */
const MEMO_MAX = 4096;

/** The key function for IPv6 prefix length `ipv6Prefix` (1–128). */
export function createClientKey(ipv6Prefix: number): ClientKeyOf {
  if (!Number.isInteger(ipv6Prefix) || ipv6Prefix < 1 || ipv6Prefix > 128) throw new RangeError(`ipv6Prefix must be 1-128, got ${ipv6Prefix}`);
  if (ipv6Prefix === 128) return (address) => address;
  const mask = ipv6Mask(ipv6Prefix);
  const memo = new Map<string, string>();
  return (address) => {
    // The common case first: no colon, an IPv4 dotted quad (or no address at all).
    if (address.indexOf(':') < 0) return address;
    const known = memo.get(address);
    if (known !== undefined) return known;
    const ip = parseIp(address);
    const key = ip === undefined || ip.family === 4 ? address : formatCidr({ family: 6, network: ip.value & mask, prefix: ipv6Prefix });
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(address, key);
    return key;
  };
}
