import { isRempartError } from '../../../core/errors.js';
import { named, type UpstreamRequestFilter } from '../../pipeline/phases.js';
import { onExchangeEnd, type RequestContext } from '../../context.js';
import { hasRequestBody } from '../../http-message.js';
import type { BodyBuffers, BufferingLimits } from '../../body/request-buffer.js';
import { deny, type Verdict } from '../../verdict.js';
import { sendContinue } from '../../edge/respond.js';

/**
 * Enforces the body size limit on the declared length, then — unless the route streams — reads
 * the whole body (memory, then a spooled file) under the body guard's idle and minimum-rate rules
 * before the request asks for an upstream slot. Asynchronous only for requests with a body.
 */
export function createBufferBodyFilter(buffers: BodyBuffers, limits: BufferingLimits): UpstreamRequestFilter {
  const refuse = (err: unknown): Verdict => {
    const code = isRempartError(err) ? err.code : 'RMP_ERR_BAD_REQUEST';
    // The client stopped mid-body or broke a rule: what is left on the connection is unreadable.
    return deny(code, isRempartError(err) ? err.message : 'request body aborted', { close: true });
  };
  return named('buffer-body', (ctx: RequestContext) => {
    const { req } = ctx;
    if (!hasRequestBody(req)) return undefined;
    const cl = req.headers['content-length'];
    if (limits.maxBodyBytes > 0 && cl !== undefined && Number(cl) > limits.maxBodyBytes) {
      return deny('RMP_ERR_BODY_TOO_LARGE', `declared body over ${limits.maxBodyBytes} bytes`, { close: true });
    }
    if (ctx.route?.requestBuffering === false) return undefined;
    sendContinue(req, ctx.res);
    return buffers.read(req, limits).then((body) => {
      ctx.body = body;
      onExchangeEnd(ctx, body.dispose);
      return undefined;
    }, refuse);
  });
}
