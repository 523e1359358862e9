import type { Clock } from '../../../core/clock.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { deny } from '../../verdict.js';
import { CHALLENGE_PATHS, type ChallengeSettings } from '../../challenge/settings.js';
import { handleVerify, isVerifyPath } from '../../challenge/verify.js';
import { addressPrefix } from '../../reputation/prefix.js';
import { clientBindingKey } from '../../defence/binding.js';
import { clientUsedTls } from '../../client-tls.js';

/**
 * Answers the shield's reserved paths (`/.rempart/…`) before routing: the challenge verify path
 * mints a clearance (303 back to the original URL for a browser, JSON for an API client); any
 * other reserved path is 404. Never forwarded.
 */
export function createChallengeVerifyFilter(settings: ChallengeSettings, clock: Clock): RequestFilter {
  return named('challenge-verify', (ctx: RequestContext) => {
    if (!ctx.path.startsWith(CHALLENGE_PATHS.prefix)) return undefined;
    if (!isVerifyPath(ctx.path)) return deny('RMP_ERR_NO_ROUTE', 'reserved path');
    const h = ctx.req.headers;
    const out = handleVerify({
      method: ctx.req.method ?? 'GET', target: ctx.target, accept: h.accept, secFetchMode: h['sec-fetch-mode'] as string | undefined,
      prefix: addressPrefix(ctx.client), fingerprint: clientBindingKey(h['user-agent']), secure: clientUsedTls(ctx.conn, ctx.req.headers), now: clock.now(),
    }, settings);
    return { kind: 'challenge', reason: out.ok ? 'verified' : `verify refused: ${out.reason ?? 'unknown'}`, level: 0, response: out };
  });
}
