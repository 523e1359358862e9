import type { Clock } from '../../../core/clock.js';
import { deny } from '../../verdict.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';

/** What the stage needs from the blocklist. */
export interface BlocklistLookupPort {
  lookup(ip: string, now: number): unknown;
}

/**
 * Blocklist check for clients known only from a trusted proxy's X-Forwarded-For: the connection
 * gate already refused blocked TCP peers before parsing, so only forwarded clients are looked up here.
 */
export function createClientBlockFilter(blocklist: BlocklistLookupPort, clock: Clock): RequestFilter {
  return named('client-block', (ctx) => {
    if (!ctx.peerTrusted || ctx.client === ctx.peer) return undefined;
    if (blocklist.lookup(ctx.client, clock.now()) === undefined) return undefined;
    return deny('RMP_ERR_BLOCKED', 'client address is blocklisted');
  });
}
