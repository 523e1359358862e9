import type { RequestContext } from '../context.js';
import { CLASS_RANK, type AdmissionQueue, type AdmissionRejection, type Waiter } from './admission.js';
import { queueTier } from './queue-tier.js';

/** How a handshake's wait for an upstream slot ended, when it did not start. */
export type HandshakeRefusal = 'RMP_ERR_QUEUE_TIMEOUT' | 'RMP_ERR_UPSTREAM_BUSY';

/**
 * A WebSocket upgrade request (RFC 6455 §4.1) waits for a slot of its upstream's admission queue
 * like any request, and holds it until the upstream answers the handshake (101 or anything else):
 * that answer is the end of the work the handshake costs. Applications do work there — the
 * session cookie looked up, the subscription authorised — and an upgrade that went straight to a
 * server on a connection of its own was the one request no queue counted: handshakes opened
 * faster than the upstream can authorise them (the drill's websocket-hold, 1,500 a second) reached
 * it all at once. The tunnel that follows is not a request: its messages are metered on their own
 * (message-admission.ts), and the slot is back once the 101 arrives.
 *
 * The handshake waits in its route's class at its client's tier (a known customer's live page
 * before a flood's), with the request's context as the subject the queue re-judges at the head —
 * and as tunnel work, with the messages (admission.ts rule 6): under attack, once tunnels' work
 * holds half the limit, a waiting request goes before a waiting handshake. A handshake opens a
 * channel for later; a page is what a person is waiting for now. Ranked as a request, 200 bots
 * that had browsed like customers (the same no-JavaScript standing as the customers who came after
 * them) queued 600 handshakes at the onset, three each, under any pace, and the origin authorised
 * them at ~25 a second for ten seconds while the customers' parcel lookups waited behind them in
 * arrival order until they gave up (websocket-browse-flood drill, access log, twenty-eighth
 * session).
 * Returns the function that takes a waiting handshake out of the queue (its client left): true
 * when it was still waiting (it will neither start nor be refused), false once it had left it.
 */
export function admitHandshake(
  queue: AdmissionQueue,
  ctx: RequestContext,
  now: () => number,
  started: (release: () => void) => void,
  refused: (code: HandshakeRefusal) => void,
): () => boolean {
  let released = false;
  // What the access log tells of the wait, however it ended (started, refused, abandoned).
  const noteWait = (): void => {
    ctx.queueMs = Math.max(0, now() - w.enqueuedAt);
    ctx.admittedTier = w.filed ?? w.tier;
  };
  const w: Waiter = {
    rank: CLASS_RANK[ctx.admissionClass ?? ctx.routeClass],
    tier: queueTier(ctx, queue, now()),
    subject: ctx,
    message: true,
    enqueuedAt: now(),
    state: 'new',
    start() {
      noteWait();
      started(() => { if (!released) { released = true; queue.release(now(), true); } });
    },
    reject(why: AdmissionRejection) {
      noteWait();
      refused(why === 'queue-timeout' ? 'RMP_ERR_QUEUE_TIMEOUT' : 'RMP_ERR_UPSTREAM_BUSY');
    },
  };
  queue.admit(w, w.enqueuedAt);
  return () => {
    if (w.state !== 'queued') return false;
    queue.cancel(w);
    noteWait();
    return true;
  };
}
