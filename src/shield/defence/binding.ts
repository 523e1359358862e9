import { fnv1a64Hex } from '../detect/fnv.js';

/**
 * Agents longer than this are hashed over their first `AGENT_HASH_CHARS` code units and their
 * length. Browsers' agents are a few hundred characters (an in-app browser's, among the longest,
 * ~400), so every key a token already carries stays what it was. Hashed whole, an agent padded to
 * the listener's head limit (16 KiB), new on each request, took 46% of the shield's time on a
 * flood of them — three hashes a request at ~10 ns a character (bench:heads, docs/benchmarks.md).
 * Nothing is lost by the bound: a bot that copies a clearance can send its agent too.
 */
export const AGENT_HASH_CHARS = 1024;

// The last agent hashed and its key: the clearance filter, the challenge it answers with and the
// reputation cookie on the way back read the key of the same header string.
let lastAgent = '';
let lastKey = fnv1a64Hex('').slice(0, 8);

/**
 * What clearances and reputations are bound to besides the address prefix: a hash of the
 * User-Agent. A browser sends the same one on every request (navigation or fetch, unlike the
 * header-order fingerprint), so a clearance copied to a bot with another agent string is refused.
 */
export function clientBindingKey(userAgent: string | undefined): string {
  const ua = userAgent ?? '';
  if (ua === lastAgent) return lastKey;
  const hashed = ua.length <= AGENT_HASH_CHARS ? ua : `${ua.slice(0, AGENT_HASH_CHARS)}\n${ua.length}`;
  lastAgent = ua;
  lastKey = fnv1a64Hex(hashed).slice(0, 8);
  return lastKey;
}

/**
 * A request's source: its address and agent (`agentKey`, from clientBindingKey). What a request
 * with no personal token is paced by (filters/request/clearance.ts), and whose page loads back its
 * form submissions (defence/page-visits.ts).
 */
export function sourceKeyOf(client: string, agentKey: string): string {
  return `src ${client} ${agentKey}`;
}
