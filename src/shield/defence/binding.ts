import { fnv1a64Hex } from '../detect/fnv.js';

/**
 * What clearances and reputations are bound to besides the address prefix: a hash of the
 * User-Agent. A browser sends the same one on every request (navigation or fetch, unlike the
 * header-order fingerprint), so a clearance copied to a bot with another agent string is refused.
 */
export function clientBindingKey(userAgent: string | undefined): string {
  return fnv1a64Hex(userAgent ?? '').slice(0, 8);
}

/**
 * A request's source: its address and agent (`agentKey`, from clientBindingKey). What a request
 * with no personal token is paced by (filters/request/clearance.ts), and whose page loads back its
 * form submissions (defence/page-visits.ts).
 */
export function sourceKeyOf(client: string, agentKey: string): string {
  return `src ${client} ${agentKey}`;
}
