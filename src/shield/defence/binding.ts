import { fnv1a64Hex } from '../detect/fnv.js';

/**
 * What clearances and reputations are bound to besides the address prefix: a hash of the
 * User-Agent. A browser sends the same one on every request (navigation or fetch, unlike the
 * header-order fingerprint), so a clearance copied to a bot with another agent string is refused.
 */
export function clientBindingKey(userAgent: string | undefined): string {
  return fnv1a64Hex(userAgent ?? '').slice(0, 8);
}

/** A page visit's source (defence/page-visits.ts): the address and the agent's binding key. */
export function pageSourceOf(client: string, userAgent: string | undefined): string {
  return `${client} ${clientBindingKey(userAgent)}`;
}
