import { WORST_TIER, type AdmissionQueue, type Waiter } from './admission.js';

/**
 * What a client's WebSocket message costs the upstream, accounted where requests are: in its
 * admission queue.
 *
 * A tunnel is invisible to per-request defences once open: every message a client sends inside it
 * is work for the application (a chat line stored, a subscription looked up, a status refreshed),
 * and a few hundred tunnels each at a person's pace — one message a second — are ten times a small
 * origin's capacity while no request is ever seen (the drill's websocket-flood). nginx and HAProxy
 * relay frames and only cap connections; a per-tunnel rate (listener/tunnels.ts, 100 frames/s by
 * default) bounds one tunnel, not many.
 *
 * So each message a client starts in a tunnel (a text or binary frame; continuation and control
 * frames follow freely) takes a slot of the upstream like a request — at once when one is free and
 * nobody waits — as a request of its sender would: in the tunnel's route class, at the tier of
 * the token its handshake carried, with every message counted in that token's pace like a request
 * (a tunnel that floods makes its sender a flooder, its requests included). A tunnel opened without
 * a token has no pace to read: its messages wait in the lowest class at the worst tier, behind every
 * request of every client, and under attack within the headroom flooding paces get (admission.ts,
 * rule 5). At the worst tier for everyone (the first version), customers' own live refreshes timed
 * out behind the flood's requests: 0 of 21 answered in websocket-flood, 3 of 27 in
 * challenge-solver, while every page of theirs succeeded (docs/benchmarks.md). It holds the slot
 * until the upstream sends something back on that tunnel, and at least `answerAfterMs` (most
 * applications answer a message; this is when the work it caused ended), or until `holdMs` passes
 * with nothing sent back. While the upstream is contended a
 * tunnel has one message at a time there. Reading from the client pauses while a message waits:
 * TCP pushes back on the sender, nothing is dropped or reordered.
 *
 * Taking a slot even when the upstream is idle is what bounds the onset: the first version let
 * messages through unmetered until the upstream was contended, and 600 tunnels' messages arrived
 * together each time the queue emptied — the origin refused 111–157 requests in such seconds
 * (websocket-flood: 99.2% legit success, mitigated after 9 s).
 */
/** One message's place in the queue (its sender's, read when the message starts). */
export interface MessagePlace {
  /** 0 = critical … 3 = low: the tunnel's route class. */
  readonly rank: number;
  /** The sender's tier when the message asked: its standing and its pace, this message counted. */
  readonly tier: number;
  /**
   * The sender's tier now: its pace may have climbed while the message waited (its tunnels' backlog,
   * its requests). The queue reads it when the message reaches the head, as it re-reads a request's.
   */
  tierNow?(): number;
  /** The message was answered, or gave up its slot: it no longer counts as open in the pace. */
  done(): void;
}

/**
 * Who sends a tunnel's messages, as the handshake found it (its token and standing). Absent for
 * a tunnel opened without a token: with no identity whose pace can be read, its messages wait at
 * the worst tier, behind every request.
 */
export interface MessageSender {
  /** Called once as each message asks for a slot. */
  start(): MessagePlace;
  /**
   * Messages its client already sent behind the one waiting for a slot (read, held): open for the
   * sender's pace while they wait, as pipelined requests are — the load a tunnel offers beyond the
   * one message at a time it is served. Told as it changes; 0 once they go or the tunnel ends.
   */
  backlog(n: number): void;
}

/** Where a message of a tunnel without a sender waits: the low class, the worst tier. */
export const ANONYMOUS_MESSAGE: MessagePlace = Object.freeze({ rank: 3, tier: WORST_TIER, done() {} });

export interface MessageGate {
  /** Whether the upstream is contended: requests wait, or it is at its limit (a tunnel then has one message there). */
  contended(): boolean;
  /**
   * Asks for a slot at `place`; `granted` runs once one is given (possibly before this returns)
   * with the function that gives it back. Returns a cancel function for a tunnel that ends while waiting.
   */
  take(granted: (release: () => void) => void, place?: MessagePlace): () => void;
  /** Longest a message holds its slot when the upstream sends nothing back, ms. */
  holdMs(): number;
  /**
   * How long a message holds its slot at least, ms: a frame the upstream sends sooner gives the
   * slot back only once this has passed. Applications push on their own too (the demo's live page
   * every 2 s), and with every push taken for an answer at once, messages still queued at a loaded
   * upstream gave their slots back and more came in behind them (listener/tunnels.ts).
   */
  answerAfterMs(): number;
}

/** How soon a frame pushed out of a full queue asks again, ms. */
const RETRY_MS = 100;
/** Bounds of a frame's hold when the upstream does not answer, ms. */
const HOLD_MIN_MS = 5;
const HOLD_MAX_MS = 1_000;

/**
 * The gate of one upstream's admission queue. `latencyMs` is how long the upstream's requests take
 * now (the adaptive limit's smoothed latency; undefined without one), so a message with no answer
 * holds a slot about as long as a request would. Not the idle latency: a message that waits in the
 * upstream's own queue works later. Measured in the websocket-flood drill, no better than twice the
 * idle latency (the origin's queue still fills in a few seconds of 20: those bursts come from
 * elsewhere, docs/benchmarks.md); kept as the better estimate of a message's cost under load.
 */
export function createMessageGate(queue: AdmissionQueue, now: () => number, latencyMs: () => number | undefined): MessageGate {
  const holdMs = (): number => {
    const m = latencyMs();
    return m === undefined || !Number.isFinite(m) ? 100 : Math.min(HOLD_MAX_MS, Math.max(HOLD_MIN_MS, 2 * m));
  };
  return {
    contended: () => queue.queued > 0 || queue.inFlight >= queue.params.maxInFlight,
    holdMs,
    // Half the longest hold: the upstream's current latency, as long as a request takes now.
    answerAfterMs: () => holdMs() / 2,
    take(granted, place = ANONYMOUS_MESSAGE) {
      let cancelled = false;
      let retry: NodeJS.Timeout | undefined;
      let current: Waiter | undefined;
      const tierNow = place.tierNow?.bind(place);
      const ask = (): void => {
        retry = undefined;
        if (cancelled) return;
        const w: Waiter = {
          rank: place.rank,
          // Asking again (pushed out), at the tier its sender has come to since, never a better one.
          tier: tierNow === undefined ? place.tier : Math.max(place.tier, tierNow()),
          ...(tierNow !== undefined ? { tierNow } : {}),
          message: true,
          enqueuedAt: now(),
          state: 'new',
          start() {
            current = undefined;
            let released = false;
            // A tunnel that ended while its turn came gives the slot straight back.
            if (cancelled) { queue.release(now(), true); return; }
            granted(() => { if (!released) { released = true; queue.release(now(), true); } });
          },
          // Pushed out by requests, or waited past the queue timeout: the frame is not dropped, it asks again.
          reject() {
            current = undefined;
            if (!cancelled) { retry = setTimeout(ask, RETRY_MS); retry.unref(); }
          },
        };
        current = w;
        queue.admit(w, now());
      };
      ask();
      return () => {
        cancelled = true;
        if (retry !== undefined) clearTimeout(retry);
        if (current !== undefined) queue.cancel(current);
      };
    },
  };
}
