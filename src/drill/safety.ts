import { isIP } from 'node:net';

/** What the drill may do against a target, decided once before any traffic. */
export interface TargetCheck {
  url: URL;
  host: string;
  /** True when sources can bind distinct 127.x.y.z addresses (IPv4 loopback target). */
  distinctSources: boolean;
}

/** Thrown when a target is refused; the message says how to allow it. */
export class TargetRefusedError extends Error {
  readonly code = 'RMP_ERR_DRILL_TARGET_REFUSED';
}

const stripBrackets = (h: string): string => (h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h);

/** True for 127.0.0.0/8 and ::1 (literal addresses only: names are not resolved). */
export function isLoopback(host: string): boolean {
  const h = stripBrackets(host);
  if (isIP(h) === 4) return h.split('.')[0] === '127';
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Accepts a target only on loopback, or when `allowTargets` names its host exactly
 * (PRODUCT.md safety: a drill for your own services, not an attack tool).
 */
export function checkTarget(target: string, allowTargets: readonly string[] = []): TargetCheck {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new TargetRefusedError(`invalid target URL: ${target}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetRefusedError(`only http:// and https:// targets are supported, got ${url.protocol}`);
  const host = stripBrackets(url.hostname);
  const loopback = isLoopback(host) || host === 'localhost';
  if (!loopback && !allowTargets.map(stripBrackets).includes(host)) {
    throw new TargetRefusedError(
      `refusing target ${host}: not in 127.0.0.0/8 or ::1. Name it with --allow-target ${host} if it is your own service.`,
    );
  }
  if (host === 'localhost') url.hostname = '127.0.0.1';
  const finalHost = stripBrackets(url.hostname);
  return { url, host: finalHost, distinctSources: isIP(finalHost) === 4 && finalHost.startsWith('127.') };
}
