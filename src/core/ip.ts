/**
 * IP addresses and CIDR blocks in a compact canonical form: IPv4 as an unsigned 32-bit number,
 * IPv6 as a 128-bit bigint. IPv4-mapped IPv6 (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2, what
 * `socket.remoteAddress` reports on a dual-stack listener) is normalized to IPv4 so that one
 * client never has two identities.
 */

/** An IP address family. */
export type IpFamily = 4 | 6;

/** A parsed address: IPv4 as an unsigned 32-bit number, IPv6 as a bigint in [0, 2^128). */
export type ParsedIp =
  | { readonly family: 4; readonly value: number }
  | { readonly family: 6; readonly value: bigint };

/** A CIDR block whose network has its host bits cleared. */
export type Cidr =
  | { readonly family: 4; readonly network: number; readonly prefix: number }
  | { readonly family: 6; readonly network: bigint; readonly prefix: number };

const MAPPED_PREFIX = 0xffffn; // ::ffff:0:0/96 seen from bit 32 upwards
const LOW32 = 0xffffffffn;
const hextets = new Uint16Array(8); // scratch space: parsing is synchronous, never re-entered

const IPV4_MASKS: readonly number[] = Array.from({ length: 33 }, (_, p) => (p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0));
const IPV6_MASKS: readonly bigint[] = Array.from({ length: 129 }, (_, p) => ((1n << BigInt(p)) - 1n) << BigInt(128 - p));

/** The IPv4 netmask of a prefix length (0-32) as an unsigned 32-bit number. */
export function ipv4Mask(prefix: number): number {
  return IPV4_MASKS[prefix] ?? 0;
}

/** The IPv6 netmask of a prefix length (0-128) as a bigint. */
export function ipv6Mask(prefix: number): bigint {
  return IPV6_MASKS[prefix] ?? 0n;
}

/**
 * Parses dotted-quad IPv4 text in `text[start, end)` to an unsigned 32-bit number, or -1.
 * Leading zeros are refused: `010` is 8 to inet_aton() and 10 to a human.
 */
export function parseIpv4(text: string, start = 0, end = text.length): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  return dots === 3 && digits > 0 ? value * 256 + octet : -1;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/**
 * Parses IPv6 text in `text[start, end)` (RFC 4291 §2.2: hex groups, one `::`, optional trailing
 * dotted quad) to its raw 128-bit value, without mapping normalization; undefined if invalid.
 */
export function parseIpv6(text: string, start = 0, end = text.length): bigint | undefined {
  if (end - start < 2) return undefined;
  let count = 0;
  let gap = -1; // index in hextets where `::` stands
  let i = start;
  if (text.charCodeAt(i) === 58) {
    if (text.charCodeAt(i + 1) !== 58) return undefined;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    const groupStart = i;
    let group = 0;
    while (i < end && i - groupStart < 5) {
      const d = hexDigit(text.charCodeAt(i));
      if (d < 0) break;
      group = group * 16 + d;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 46) {
      // RFC 4291 §2.2(3): the low 32 bits may be written as a dotted quad.
      const v4 = count > 6 ? -1 : parseIpv4(text, groupStart, end);
      if (v4 < 0) return undefined;
      hextets[count++] = v4 >>> 16;
      hextets[count++] = v4 & 0xffff;
      break;
    }
    const len = i - groupStart;
    if (len === 0 || len > 4 || count === 8) return undefined;
    hextets[count++] = group;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = count;
      i++;
    } else if (i === end) {
      return undefined; // a single trailing colon
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return undefined;
  let hi = 0; // two 64-bit halves would lose precision as numbers: build four 32-bit words
  let value = 0n;
  for (let k = 0, src = 0; k < 8; k++) {
    const h = gap >= 0 && k >= gap && k < gap + 8 - count ? 0 : (hextets[src++] ?? 0);
    if ((k & 1) === 0) hi = h;
    else value = (value << 32n) | BigInt(hi * 0x10000 + h);
  }
  return value;
}

/** True when a raw 128-bit value lies in ::ffff:0:0/96 (RFC 4291 §2.5.5.2). */
function isMapped(value: bigint): boolean {
  return value >> 32n === MAPPED_PREFIX;
}

/**
 * Parses an IPv4 or IPv6 address (an RFC 4007 §11 zone such as `%eth0` is accepted and dropped),
 * mapping `::ffff:a.b.c.d` to IPv4; returns undefined when the text is not an address.
 * @example parseIp('::ffff:192.0.2.1') // { family: 4, value: 3221225985 }
 */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseIpv4(text);
  if (v4 >= 0) return { family: 4, value: v4 };
  let end = text.indexOf('%');
  if (end === 0 || end === text.length - 1) return undefined;
  if (end < 0) end = text.length;
  const v6 = parseIpv6(text, 0, end);
  return v6 === undefined ? undefined : fromIpv6Value(v6);
}

/** The address for a raw 128-bit IPv6 value: IPv4 when it is IPv4-mapped, else IPv6. */
export function fromIpv6Value(value: bigint): ParsedIp {
  return isMapped(value) ? { family: 4, value: Number(value & LOW32) } : { family: 6, value };
}

/** Formats an IPv4 value as a dotted quad. */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Formats a 128-bit value as RFC 5952 text (lower case, longest zero run as `::`). */
export function formatIpv6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    if (groups[k] !== 0) { k++; continue; }
    let j = k;
    while (j < 8 && groups[j] === 0) j++;
    if (j - k > bestLen) { bestStart = k; bestLen = j - k; }
    k = j;
  }
  const hex = groups.map((g) => g.toString(16)); // RFC 5952 §4.3: no leading zeros, lower case
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Formats a parsed address canonically: dotted quad, or RFC 5952 IPv6 text. */
export function formatIp(ip: ParsedIp): string {
  return ip.family === 4 ? formatIpv4(ip.value) : formatIpv6(ip.value);
}

/** The canonical text of an address (mapped IPv6 shown as IPv4), or undefined if it is not one. */
export function normalizeIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip === undefined ? undefined : formatIp(ip);
}

/** True when `ip` lies inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.family === 4) return ip.family === 4 && ((ip.value & ipv4Mask(cidr.prefix)) >>> 0) === cidr.network;
  return ip.family === 6 && (ip.value & ipv6Mask(cidr.prefix)) === cidr.network;
}

function cidrError(text: string, why: string): Error {
  return new Error(`invalid CIDR "${text}": ${why}`);
}

/**
 * Parses `address[/prefix]` (a bare address is a /32 or /128) and clears host bits, so
 * `10.1.2.3/8` reads as `10.0.0.0/8`; an IPv4-mapped block of /96 or longer becomes an IPv4
 * block. Throws an Error naming the input and the problem.
 * @example formatCidr(parseCidr('2001:DB8::1/32')) // '2001:db8::/32'
 */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrEnd = slash < 0 ? trimmed.length : slash;
  let prefix: number | undefined;
  if (slash >= 0) {
    const digits = trimmed.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(digits)) throw cidrError(text, `prefix "${digits}" is not a decimal number`);
    prefix = Number(digits);
  }
  const v4 = parseIpv4(trimmed, 0, addrEnd);
  if (v4 >= 0) {
    if (prefix === undefined) prefix = 32;
    if (prefix > 32) throw cidrError(text, `prefix /${prefix} is longer than 32 bits for IPv4`);
    return { family: 4, network: (v4 & ipv4Mask(prefix)) >>> 0, prefix };
  }
  const v6 = parseIpv6(trimmed, 0, addrEnd);
  if (v6 === undefined) throw cidrError(text, 'not an IPv4 or IPv6 address (zones and host names are not allowed)');
  if (prefix === undefined) prefix = 128;
  if (prefix > 128) throw cidrError(text, `prefix /${prefix} is longer than 128 bits for IPv6`);
  const network = v6 & ipv6Mask(prefix);
  if (prefix >= 96 && isMapped(network)) return { family: 4, network: Number(network & LOW32), prefix: prefix - 96 };
  return { family: 6, network, prefix };
}

/** Formats a CIDR block canonically, e.g. `10.0.0.0/8` or `2001:db8::/32`. */
export function formatCidr(cidr: Cidr): string {
  const address = cidr.family === 4 ? formatIpv4(cidr.network) : formatIpv6(cidr.network);
  return `${address}/${cidr.prefix}`;
}
