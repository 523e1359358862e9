/**
 * PROXY protocol v1 (text) and v2 (binary) headers, as specified by HAProxy's
 * doc/proxy-protocol.txt: what a TCP load balancer sends first to say who the client is.
 */
import { formatIp, formatIpv4, formatIpv6, fromIpv6Value, parseIp, parseIpv4, parseIpv6, type ParsedIp } from '../../core/ip.js';

/** One end of the proxied connection; the address is canonical text (mapped IPv6 as IPv4). */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * Result of reading the first bytes of a connection. `source` is absent when the sender could
 * not name the client (v1 UNKNOWN, v2 UNSPEC or UNIX) or for LOCAL: use the socket's peer then.
 */
export type ProxyParseResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | {
    readonly kind: 'ok';
    readonly version: 1 | 2;
    readonly consumed: number;
    readonly command: 'proxy' | 'local';
    readonly source?: ProxyEndpoint;
    readonly destination?: ProxyEndpoint;
  };

/** Options of parseProxyHeader. */
export interface ProxyParseOptions {
  /** Largest v2 address+TLV block accepted, bytes (spec allows 65535). */
  readonly maxV2Length?: number;
}

/** A v2 Type-Length-Value extension (proxy-protocol.txt §2.2.7). */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

// §2.1: "PROXY" SP protocol ... CRLF, at most 107 bytes with the CRLF.
const V1_PREFIX = 'PROXY ';
const V1_MAX = 107;
// §2.2: the 12-byte signature, then ver/cmd, fam, 2-byte length.
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
// Addresses take 12 to 216 bytes; TLVs from cloud balancers (AWS, Azure, GCP) add tens to hundreds.
const DEFAULT_MAX_V2_LENGTH = 4096;

const INCOMPLETE: ProxyParseResult = Object.freeze({ kind: 'incomplete' });
const invalid = (reason: string): ProxyParseResult => ({ kind: 'invalid', reason });
const NOT_PROXY = 'not a PROXY protocol header';

const PORT_RE = /^(?:0|[1-9][0-9]{0,4})$/;
const PORT_PREFIX_RE = /^(?:0|[1-9][0-9]{0,4})?$/;
const V4_PREFIX_RE = /^[0-9.]{0,15}$/;
const V6_PREFIX_RE = /^[0-9A-Fa-f:.]{0,45}$/;

function parsePort(text: string): number {
  return PORT_RE.test(text) && Number(text) <= 65535 ? Number(text) : -1;
}

/** Canonical text of a v1 address of the announced family, or undefined. */
function v1Address(family: 'TCP4' | 'TCP6', text: string): string | undefined {
  if (family === 'TCP4') {
    const v = parseIpv4(text);
    return v < 0 ? undefined : formatIpv4(v);
  }
  const v = parseIpv6(text);
  return v === undefined ? undefined : formatIp(fromIpv6Value(v));
}

function parseV1Line(line: string, consumed: number): ProxyParseResult {
  const fields = line.split(' ');
  const family = fields[1];
  // §2.1: for UNKNOWN the receiver must ignore anything before the CRLF.
  if (family === 'UNKNOWN') return { kind: 'ok', version: 1, consumed, command: 'proxy' };
  if (family !== 'TCP4' && family !== 'TCP6') return invalid(`v1 protocol "${family}" is not TCP4, TCP6 or UNKNOWN`);
  if (fields.length !== 6) return invalid(`v1 ${family} line needs 6 single-space separated fields, got ${fields.length}`);
  const src = v1Address(family, fields[2] ?? '');
  const dst = v1Address(family, fields[3] ?? '');
  if (src === undefined || dst === undefined) return invalid(`v1 address is not a canonical ${family} address`);
  const sport = parsePort(fields[4] ?? '');
  const dport = parsePort(fields[5] ?? '');
  if (sport < 0 || dport < 0) return invalid('v1 port is not a decimal in 0-65535 without leading zeros');
  return {
    kind: 'ok', version: 1, consumed, command: 'proxy',
    source: { address: src, port: sport }, destination: { address: dst, port: dport },
  };
}

/** Why a v1 line received in part can never become valid, or undefined if it still can. */
function v1PrefixProblem(text: string): string | undefined {
  const fields = text.split(' ');
  const family = fields[1] ?? '';
  if (fields.length === 2) {
    return ['TCP4', 'TCP6', 'UNKNOWN'].some((f) => f.startsWith(family)) ? undefined : `v1 protocol "${family}" is not TCP4, TCP6 or UNKNOWN`;
  }
  if (family === 'UNKNOWN') return undefined;
  if (family !== 'TCP4' && family !== 'TCP6') return `v1 protocol "${family}" is not TCP4, TCP6 or UNKNOWN`;
  if (fields.length > 6) return `v1 ${family} line has more than 6 fields`;
  for (let k = 2; k < fields.length; k++) {
    const field = fields[k] ?? '';
    const complete = k < fields.length - 1; // a space already follows it
    if (k <= 3) {
      if (complete ? v1Address(family, field) === undefined : !(family === 'TCP4' ? V4_PREFIX_RE : V6_PREFIX_RE).test(field)) {
        return `v1 address is not a canonical ${family} address`;
      }
    } else if (complete ? parsePort(field) < 0 : !PORT_PREFIX_RE.test(field) || Number(field) > 65535) {
      return 'v1 port is not a decimal in 0-65535 without leading zeros';
    }
  }
  return undefined;
}

function parseV1(buf: Uint8Array): ProxyParseResult {
  const scan = Math.min(buf.length, V1_MAX);
  let cr = -1;
  for (let i = V1_PREFIX.length; i < scan; i++) {
    const c = buf[i];
    if (c === 0x0d) { cr = i; break; }
    // §2.1: a lone LF must not be accepted as the end of the line.
    if (c === 0x0a) return invalid('v1 line ends with LF without CR');
  }
  if (cr < 0) {
    if (buf.length >= V1_MAX) return invalid('v1 line has no CRLF within 107 bytes');
    const problem = v1PrefixProblem(Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('latin1'));
    return problem === undefined ? INCOMPLETE : invalid(problem);
  }
  if (cr + 2 > V1_MAX) return invalid('v1 line has no CRLF within 107 bytes');
  const line = Buffer.from(buf.buffer, buf.byteOffset, cr).toString('latin1');
  if (cr + 1 === buf.length) {
    // Only an LF may follow, which would end the line here: it must already be complete.
    const complete = parseV1Line(line, cr + 2);
    return complete.kind === 'ok' ? INCOMPLETE : complete;
  }
  if (buf[cr + 1] !== 0x0a) return invalid('v1 line has a CR not followed by LF');
  return parseV1Line(line, cr + 2);
}

function readIpv6(buf: Uint8Array, at: number): string {
  let value = 0n;
  for (let i = 0; i < 16; i += 4) {
    const word = (((buf[at + i] ?? 0) << 24) | ((buf[at + i + 1] ?? 0) << 16) | ((buf[at + i + 2] ?? 0) << 8) | (buf[at + i + 3] ?? 0)) >>> 0;
    value = (value << 32n) | BigInt(word);
  }
  return formatIp(fromIpv6Value(value));
}

const readPort = (buf: Uint8Array, at: number): number => ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);

function parseV2(buf: Uint8Array, maxLength: number): ProxyParseResult {
  const sigBytes = Math.min(buf.length, V2_SIGNATURE.length);
  for (let i = 0; i < sigBytes; i++) if (buf[i] !== V2_SIGNATURE[i]) return invalid(NOT_PROXY);
  if (buf.length < 13) return INCOMPLETE;
  const verCmd = buf[12] ?? 0;
  // §2.2: version must be 2; commands other than LOCAL (0) and PROXY (1) must be dropped.
  if (verCmd >> 4 !== 2) return invalid(`v2 version ${verCmd >> 4} is not 2`);
  const command = verCmd & 0x0f;
  if (command > 1) return invalid(`v2 command ${command} is neither LOCAL nor PROXY`);
  if (buf.length < 14) return INCOMPLETE;
  const fam = buf[13] ?? 0;
  const af = fam >> 4;
  const transport = fam & 0x0f;
  // §2.2: unspecified family or protocol values must be rejected as invalid.
  if (af > 3 || transport > 2) return invalid(`v2 family/protocol byte 0x${fam.toString(16).padStart(2, '0')} is not defined`);
  if (buf.length < V2_FIXED) return INCOMPLETE;
  const length = readPort(buf, 14);
  if (length > maxLength) return invalid(`v2 header length ${length} exceeds the ${maxLength}-byte limit`);
  const addressBytes = transport === 0 ? 0 : [0, 12, 36, 216][af] ?? 0;
  if (command === 1 && length < addressBytes) return invalid(`v2 length ${length} is shorter than the ${addressBytes}-byte address block`);
  if (buf.length < V2_FIXED + length) return INCOMPLETE;
  const consumed = V2_FIXED + length;
  // §2.2: LOCAL ignores the address block; TLVs after the addresses are skipped via `length`.
  if (command === 0) return { kind: 'ok', version: 2, consumed, command: 'local' };
  if (transport !== 0 && af === 1) {
    const read = (at: number): string => formatIpv4((((buf[at] ?? 0) << 24) | ((buf[at + 1] ?? 0) << 16) | ((buf[at + 2] ?? 0) << 8) | (buf[at + 3] ?? 0)) >>> 0);
    return {
      kind: 'ok', version: 2, consumed, command: 'proxy',
      source: { address: read(16), port: readPort(buf, 24) }, destination: { address: read(20), port: readPort(buf, 26) },
    };
  }
  if (transport !== 0 && af === 2) {
    return {
      kind: 'ok', version: 2, consumed, command: 'proxy',
      source: { address: readIpv6(buf, 16), port: readPort(buf, 48) }, destination: { address: readIpv6(buf, 32), port: readPort(buf, 50) },
    };
  }
  return { kind: 'ok', version: 2, consumed, command: 'proxy' }; // UNSPEC or UNIX: no IP client
}

/**
 * Parses a PROXY v1 or v2 header at the start of `buf`: 'incomplete' while more bytes could still
 * make it valid (wait, with a timeout), 'invalid' as soon as they cannot, else what it says and
 * how many bytes it took. Only call it for peers trusted to send one (§5).
 * @example
 * const r = parseProxyHeader(firstBytes);
 * if (r.kind === 'ok') socket.unshift(firstBytes.subarray(r.consumed));
 */
export function parseProxyHeader(buf: Uint8Array, options: ProxyParseOptions = {}): ProxyParseResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf, options.maxV2Length ?? DEFAULT_MAX_V2_LENGTH);
  const prefixBytes = Math.min(buf.length, V1_PREFIX.length);
  for (let i = 0; i < prefixBytes; i++) if (buf[i] !== V1_PREFIX.charCodeAt(i)) return invalid(NOT_PROXY);
  return buf.length < V1_PREFIX.length ? INCOMPLETE : parseV1(buf);
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port ${port} is not an integer in 0-65535`);
  return port;
}

function requireIp(address: string): ParsedIp {
  const ip = parseIp(address);
  if (ip === undefined) throw new TypeError(`"${address}" is not an IP address`);
  return ip;
}

/** Options of buildProxyV1: a TCP4/TCP6 connection, or UNKNOWN. */
export type ProxyV1Options =
  | { readonly family: 'TCP4' | 'TCP6'; readonly source: ProxyEndpoint; readonly destination: ProxyEndpoint }
  | { readonly family: 'UNKNOWN' };

/**
 * Builds a v1 line (§2.1) with canonical addresses; throws if an address or port is invalid.
 * @example buildProxyV1({ family: 'TCP4', source: { address: '192.0.2.1', port: 5555 }, destination: { address: '198.51.100.1', port: 443 } })
 */
export function buildProxyV1(options: ProxyV1Options): string {
  if (options.family === 'UNKNOWN') return 'PROXY UNKNOWN\r\n';
  const { family, source, destination } = options;
  const text = (address: string): string => {
    const canonical = family === 'TCP4' ? v1Address('TCP4', address) : (() => {
      const v = parseIpv6(address);
      return v === undefined ? undefined : formatIpv6(v);
    })();
    if (canonical === undefined) throw new TypeError(`"${address}" is not a ${family} address`);
    return canonical;
  };
  return `PROXY ${family} ${text(source.address)} ${text(destination.address)} ${checkPort(source.port)} ${checkPort(destination.port)}\r\n`;
}

/** Options of buildProxyV2; both endpoints are needed for an address block. */
export interface ProxyV2Options {
  readonly command: 'proxy' | 'local';
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  readonly transport?: 'tcp' | 'udp';
  readonly tlvs?: readonly ProxyTlv[];
}

/**
 * Builds a v2 header (§2.2). With both endpoints it carries an INET block if both are IPv4, else
 * an INET6 block (IPv4 written as ::ffff:a.b.c.d); without, family UNSPEC. TLVs follow (§2.2.7).
 */
export function buildProxyV2(options: ProxyV2Options): Buffer {
  const { source, destination } = options;
  const tlvs = options.tlvs ?? [];
  const ips = source !== undefined && destination !== undefined ? [requireIp(source.address), requireIp(destination.address)] as const : undefined;
  const v4 = ips !== undefined && ips[0].family === 4 && ips[1].family === 4;
  const addressBytes = ips === undefined ? 0 : v4 ? 12 : 36;
  const tlvBytes = tlvs.reduce((n, t) => n + 3 + t.value.length, 0);
  if (addressBytes + tlvBytes > 0xffff) throw new RangeError('v2 address and TLV block exceeds 65535 bytes');
  const out = Buffer.alloc(V2_FIXED + addressBytes + tlvBytes);
  V2_SIGNATURE.copy(out, 0);
  out[12] = options.command === 'proxy' ? 0x21 : 0x20;
  const transport = options.transport === 'udp' ? 0x2 : 0x1;
  out[13] = ips === undefined ? 0x00 : ((v4 ? 0x10 : 0x20) | transport);
  out.writeUInt16BE(addressBytes + tlvBytes, 14);
  let at = V2_FIXED;
  if (ips !== undefined && source !== undefined && destination !== undefined) {
    for (const ip of ips) {
      if (v4) { out.writeUInt32BE(ip.value as number, at); at += 4; continue; }
      const value = ip.family === 6 ? ip.value : (0xffffn << 32n) | BigInt(ip.value);
      for (let shift = 96n; shift >= 0n; shift -= 32n) { out.writeUInt32BE(Number((value >> shift) & 0xffffffffn), at); at += 4; }
    }
    out.writeUInt16BE(checkPort(source.port), at);
    out.writeUInt16BE(checkPort(destination.port), at + 2);
    at += 4;
  }
  for (const tlv of tlvs) {
    out[at] = tlv.type;
    out.writeUInt16BE(tlv.value.length, at + 1);
    out.set(tlv.value, at + 3);
    at += 3 + tlv.value.length;
  }
  return out;
}
