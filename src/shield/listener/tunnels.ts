import type { Socket } from 'node:net';
import { CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_TRY_AGAIN_LATER, closeFrame, createFrameTracker, messagesAhead, type FrameTracker } from './ws-frames.js';
import type { GcraParams } from '../limits/gcra.js';
import { throttleStep } from '../limits/throttle.js';
import type { MessageGate, MessagePlace, MessageSender } from '../upstream/message-admission.js';

/** What a tunnel is for, so operators and reloads can pick tunnels to close. */
export interface TunnelInfo {
  readonly client: string;
  /** The key its place was reserved under (`reserve`): the client's, shield/client-key.ts. Default `client`. */
  readonly clientKey?: string;
  /** Whose tunnel it is among its key's (`reserve`'s `holder`): an identity, one of the many a shared address carries. */
  readonly holder?: string;
  readonly upstream: string;
  readonly server: string;
  readonly serverUrl: string;
  /** Who sends its messages, for their place in the upstream's queue (`messageGate`); absent: the worst. */
  readonly sender?: MessageSender;
}

/** Caps and timeout of upgraded connections. */
export interface TunnelLimits {
  idleTimeoutMs: number;
  /** 0 = unlimited. */
  maxPerClient: number;
  /** 0 = unlimited. */
  maxTotal: number;
  /** Frames a client may send into one tunnel (ratePerS 0 = unlimited); beyond, reading pauses. */
  clientFrames?: GcraParams;
  /** Bytes a client may send into one tunnel (ratePerS 0 = unlimited); beyond, reading pauses. */
  clientBytes?: GcraParams;
}

/** The upgraded (WebSocket) connections of one listener. */
export interface Tunnels {
  readonly open: number;
  /** Tunnels closed so far to make room for a client holding fewer (fair share at `maxTotal`). */
  readonly evicted: number;
  /** Times a client's side of a tunnel was paused for sending over `clientFrames` or `clientBytes`. */
  readonly throttled: number;
  /** Messages that waited for a slot of their upstream (none was free) (`messageGate`). */
  readonly messagesWaited: number;
  limits: TunnelLimits;
  /**
   * Reserves a place for `client`; false when a cap is reached. `weight` (default 1) is how many
   * clients the key stands for: a shared address (a carrier NAT) may hold `weight` times
   * `maxPerClient`, and its share is its places divided by its weight. At `maxTotal`, the client
   * with the largest share gives up its newest tunnel (closed with 1013, Try Again Later) when its
   * share after that would still be at least the newcomer's: weighted max-min fairness. Each true
   * must be followed by `attach` or `unreserve`.
   *
   * `holder`: whose tunnel it is among the key's (an identity: a token, or the address and agent).
   * At the key's own cap, a holder with fewer places takes the place of the newest tunnel of the
   * key's heaviest holder when that one would still hold at least as many (the same max-min rule,
   * within the key): a carrier-NAT address's places are its customers' as much as the bots'
   * behind it.
   */
  reserve(client: string, weight?: number, holder?: string): boolean;
  unreserve(client: string, holder?: string): void;
  /**
   * Relays bytes both ways between the client's socket and the upstream's from now on; `clientHead`
   * and `upstreamHead` are bytes each side sent beyond the handshake. `onEnd` hears when it closes.
   */
  attach(info: TunnelInfo, client: Socket, upstream: Socket, clientHead: Buffer, upstreamHead: Buffer, onEnd: (reason: string, durationMs: number) => void): void;
  /** Closes the tunnels `match` selects with a close frame each way (between frames); returns how many. */
  closeWhere(match: (t: TunnelInfo) => boolean, code: number, reason: string): number;
  /** Closes every tunnel cleanly and waits (bounded by `graceMs`) for them to end. */
  closeAll(reason: string, graceMs: number): Promise<void>;
}

interface Tunnel {
  info: TunnelInfo;
  close(code: number, reason: string): void;
  /** Still counted in its client's places (false once given up to make room). */
  counted: boolean;
}

/** What a relay asks before passing bytes on: whether it is throttled now, and how long to pause. */
interface Throttle {
  active(): boolean;
  step(bytes: number, frames: number): number;
}

/**
 * What a relay asks at the start of each message while `active`: whether it may go now. If not,
 * the gate keeps `resume` and calls it (never from within `pass`) when it may go.
 */
interface FrameGate {
  active(): boolean;
  pass(resume: () => void): boolean;
  /**
   * Messages the client already sent behind the one waiting at the gate, read and held (counted by
   * ws-frames.ts `messagesAhead`): told as the backlog changes, 0 once it goes.
   */
  backlog(n: number): void;
}

/**
 * Bytes read while a message waits at the gate before reading pauses. What the client keeps
 * sending meanwhile is its backlog, which its identity's pace counts as open (Little's law, as for
 * pipelined requests): paused at once, a tunnel holding one message at a time hid it — Node hands
 * a paused socket's data over one read at a time, a frame each from a client writing one a
 * second, so the bots' tunnels in websocket-browse-flood showed nothing behind their message and
 * stayed at a person's pace however much more they offered than they were served (thirty-third
 * session, docs/benchmarks.md). A paused socket's stream buffers this much anyway (Node's default
 * highWaterMark), so a tunnel holds no more memory than before; past it, TCP pushes back.
 */
const GATED_READ_BYTES = 16 * 1024;

/**
 * Whether a frame whose first byte is `b0` starts a message (opcode text or binary, RFC 6455
 * §5.2): the work an application does is per message. Continuation frames belong to the message
 * already let through (holding them until the upstream answered would wait for an answer that
 * needs them), and control frames (ping, pong, close; §5.5) are answered by the WebSocket layer.
 */
const startsMessage = (b0: number): boolean => {
  const opcode = b0 & 0x0f;
  return opcode === 0x1 || opcode === 0x2;
};

/**
 * One direction of a tunnel: bytes flow as they come (with backpressure); once closing, bytes flow
 * to the end of the frame in progress, then our close frame goes and this direction stops.
 *
 * `throttle`, given each frame (or part of one) passed on — its bytes, and 1 when it completed a
 * frame — says how long to stop reading (0: go on). Throttled, a chunk is passed on frame by frame:
 * the rest of a chunk past the frame that ran over waits with reading paused (at most one chunk is
 * held), so a client that packs a thousand small messages into one read is paced too.
 */
function relay(from: Socket, to: Socket, masked: boolean, throttle?: Throttle, gate?: FrameGate, onFrames?: (completed: number) => void): { start(head: Buffer): void; close(code: number, reason: string): void } {
  const frames: FrameTracker = createFrameTracker();
  let closing: Buffer | undefined;
  let done = false;
  // Paused for the peer's window (`drain`) or for the throttle: reading resumes when neither holds.
  let awaitingDrain = false;
  let throttledUntil: NodeJS.Timeout | undefined;
  // Read but not yet passed on: the rest of a chunk, while throttled or waiting at the gate.
  let held: Buffer | undefined;
  // `held` starts with a message waiting at the gate: reading goes on (to GATED_READ_BYTES) and counts its backlog.
  let gated = false;
  const resumeIfFree = (): void => {
    if (!done && !awaitingDrain && throttledUntil === undefined && (held === undefined || (gated && held.length < GATED_READ_BYTES)) && !from.destroyed) from.resume();
  };
  const finish = (): void => {
    if (done || !closing) return;
    done = true; // what the peer still sends (its own close frame) is read and dropped
    held = undefined;
    to.write(closing);
    to.end();
  };
  const write = (bytes: Buffer): void => {
    if (!to.write(bytes)) { awaitingDrain = true; from.pause(); }
  };
  const noPause = (): number => 0;
  /** Passes `chunk` on frame by frame until the throttle says stop; the rest is held. */
  const paced = (chunk: Buffer, limit: (bytes: number, frames: number) => number): void => {
    to.cork();
    try {
      let off = 0;
      while (off < chunk.length) {
        if (gate !== undefined && frames.atBoundary && startsMessage(chunk[off] as number) && !gate.pass(() => {
          const rest = held;
          held = undefined;
          gated = false;
          gate.backlog(0);
          if (rest !== undefined && !done && !closing && !from.destroyed && !to.destroyed) paced(rest, limit);
          resumeIfFree();
        })) {
          // This message waits for its turn upstream; what follows it is held, and read on to a bound.
          held = chunk.subarray(off);
          gated = true;
          holdGated();
          return;
        }
        const before = frames.completed;
        const n = frames.consume(chunk.subarray(off), true);
        write(chunk.subarray(off, off + n));
        off += n;
        const pauseMs = limit(n, frames.completed - before);
        if (pauseMs <= 0) continue;
        if (off < chunk.length) held = chunk.subarray(off);
        from.pause();
        throttledUntil = setTimeout(() => {
          throttledUntil = undefined;
          const rest = held;
          held = undefined;
          // A tunnel that ended meanwhile (either socket gone) passes nothing more on.
          if (rest !== undefined && !done && !closing && !from.destroyed && !to.destroyed) paced(rest, limit);
          resumeIfFree();
        }, Math.ceil(pauseMs));
        throttledUntil.unref();
        return;
      }
    } finally {
      to.uncork();
    }
  };
  /** A message waits at the gate with `held` behind it: tells its backlog; pauses reading past the bound. */
  const holdGated = (): void => {
    gate?.backlog(messagesAhead(held as Buffer, 0));
    if ((held as Buffer).length >= GATED_READ_BYTES) from.pause();
  };
  const push = (chunk: Buffer): void => {
    if (done) return;
    if (!closing) {
      // Order is kept: anything read while some is held queues behind it.
      if (held !== undefined) {
        held = Buffer.concat([held, chunk]);
        if (gated) holdGated();
        return;
      }
      const throttled = throttle !== undefined && throttle.active();
      if (!throttled && (gate === undefined || !gate.active())) {
        const before = frames.completed;
        frames.consume(chunk, false);
        write(chunk);
        if (onFrames !== undefined && frames.completed > before) onFrames(frames.completed - before);
      } else {
        paced(chunk, throttled ? throttle.step : noPause);
      }
      return;
    }
    const n = frames.consume(chunk, true);
    if (n > 0) to.write(chunk.subarray(0, n));
    if (frames.atBoundary) finish();
  };
  return {
    start(head) {
      if (head.length > 0) push(head);
      from.on('data', push);
      to.on('drain', () => { awaitingDrain = false; resumeIfFree(); });
    },
    close(code, reason) {
      if (closing) return;
      closing = closeFrame(code, reason, masked);
      if (gated) { gated = false; gate?.backlog(0); }
      if (throttledUntil !== undefined) { clearTimeout(throttledUntil); throttledUntil = undefined; }
      // A throttled or gated relay stops at a frame boundary, so what it held is dropped with our close frame.
      if (frames.atBoundary) finish();
      else from.resume(); // let the rest of the frame in progress through
    },
  };
}

/** Creates the registry; it owns no timer (idle timeouts are the sockets' own). */
export function createTunnels(initial: TunnelLimits, opts: {
  /**
   * The admission of an upstream's tunnel messages (upstream/message-admission.ts), looked up at
   * each frame (a reload brings new queues); undefined lets frames through unmetered.
   */
  messageGate?: (upstream: string) => MessageGate | undefined;
} = {}): Tunnels {
  const live = new Set<Tunnel>();
  // Places per client key (reserved and attached), and the attached tunnels of each, oldest first.
  const perClient = new Map<string, number>();
  // Weights other than 1, by client key, as last given to `reserve`.
  const weights = new Map<string, number>();
  const attached = new Map<string, Set<Tunnel>>();
  // Places per holder within a key (reserved and attached), for keys whose tunnels name one.
  const perHolder = new Map<string, Map<string, number>>();
  let reserved = 0;
  let evicted = 0;
  let throttled = 0;
  let messagesWaited = 0;
  // At least the largest share (places / weight) of any client with an attached tunnel (raised as
  // tunnels attach, made exact by each scan): makeRoom scans only when a swap may be possible.
  let maxShare = 0;
  let limits = initial;
  const keyOf = (info: TunnelInfo): string => info.clientKey ?? info.client;
  const weightOf = (key: string): number => weights.get(key) ?? 1;
  const dec = (client: string, holder?: string): void => {
    const n = (perClient.get(client) ?? 1) - 1;
    if (n <= 0) { perClient.delete(client); weights.delete(client); } else perClient.set(client, n);
    reserved--;
    if (holder === undefined) return;
    const mine = perHolder.get(client);
    const h = (mine?.get(holder) ?? 1) - 1;
    if (h > 0) mine?.set(holder, h);
    else { mine?.delete(holder); if (mine?.size === 0) perHolder.delete(client); }
  };
  /** Gives up `t`'s place now (its close completes later) and tells its client to try again later. */
  const evict = (t: Tunnel, set: Set<Tunnel>, reason: string): void => {
    t.counted = false;
    set.delete(t);
    dec(keyOf(t.info), t.info.holder);
    evicted++;
    t.close(CLOSE_TRY_AGAIN_LATER, reason);
  };
  /**
   * At a key's own cap, the newest tunnel of the key's heaviest holder gives way to `holder` when
   * that holder would still hold at least as many after the swap: (most − 1) ≥ (held + 1). Without
   * it a carrier-NAT address's places went to whoever opened first: 200 bots that had browsed like
   * customers held three tunnels each behind the customers' two addresses, and the customers' live
   * pages were refused (websocket-browse-flood drill, cgnat-shared layout, seed 1: 10 customers'
   * handshakes answered 503 RMP_ERR_UPGRADE_LIMIT).
   * Holders at equal counts never displace each other, so bots that each hold as many as the next
   * cannot churn one another's tunnels.
   */
  const makeRoomWithin = (key: string, holder: string): boolean => {
    const set = attached.get(key);
    const counts = perHolder.get(key);
    if (set === undefined || counts === undefined) return false;
    const held = counts.get(holder) ?? 0;
    let heaviest: string | undefined;
    let most = 0;
    for (const t of set) {
      const h = t.info.holder;
      if (h === undefined || h === holder) continue;
      const n = counts.get(h) ?? 0;
      if (n > most) { most = n; heaviest = h; }
    }
    if (heaviest === undefined || most - 1 < held + 1) return false;
    let newest: Tunnel | undefined;
    for (const t of set) if (t.info.holder === heaviest) newest = t;
    if (newest === undefined) return false;
    evict(newest, set, 'tunnels full: fair share within the address');
    return true;
  };
  /**
   * At the total cap, the newest tunnel of the client with the largest share gives way to a
   * newcomer holding `held` at weight `w` if the victim's share after the swap is still at least
   * the newcomer's: (most − 1) / its weight ≥ (held + 1) / w. So each swap makes the shares more
   * equal, and clients at equal shares never displace each other (at weight 1: the victim holds at
   * least two more). Without this the cap is a pool anyone can drain: sources each under the
   * per-client cap (800 × 15 in the drill's websocket-hold) hold every place, and a customer's live
   * page is refused until they leave. nginx's limit_conn and HAProxy's maxconn only refuse; the
   * fair share is max-min fairness over client keys.
   *
   * Weighted because a key may be many clients: behind a carrier NAT (detect/shared-addresses.ts)
   * twenty customers' live pages are twenty tunnels on one address, and counted as one client the
   * NAT would be the heaviest holder, its customers' tunnels closed one by one for bots arriving
   * from fresh addresses.
   */
  const makeRoom = (held: number, w: number): boolean => {
    const theirs = (held + 1) / w;
    // Every handshake at the cap asks: with shares already even, answer without a scan.
    if (maxShare <= theirs) return false;
    let heaviest: Set<Tunnel> | undefined;
    let most = 0;
    let share = 0;
    for (const [key, set] of attached) {
      const n = perClient.get(key) ?? 0;
      const s = n / weightOf(key);
      if (s > share && set.size > 0) { share = s; most = n; heaviest = set; }
    }
    maxShare = share;
    if (heaviest === undefined) return false;
    let newest: Tunnel | undefined;
    for (const t of heaviest) newest = t;
    if (newest === undefined || (most - 1) / weightOf(keyOf(newest.info)) < theirs) return false;
    // Counted out now, so the newcomer's place is real while the victim's close completes.
    evict(newest, heaviest, 'tunnels full: fair share');
    return true;
  };
  const self: Tunnels = {
    get open() { return live.size; },
    get evicted() { return evicted; },
    get throttled() { return throttled; },
    get messagesWaited() { return messagesWaited; },
    get limits() { return limits; },
    set limits(l) { limits = l; },
    reserve(client, weight = 1, holder) {
      let n = perClient.get(client) ?? 0;
      // A swap within the key leaves the total as it was: the total cap has nothing more to ask
      // (and asked after the swap, a refusal would have closed a tunnel for nothing).
      const swapped = limits.maxPerClient > 0 && n >= limits.maxPerClient * weight;
      if (swapped) {
        if (holder === undefined || !makeRoomWithin(client, holder)) return false;
        n = perClient.get(client) ?? 0;
      }
      if (!swapped && limits.maxTotal > 0 && reserved >= limits.maxTotal && !makeRoom(n, weight)) return false;
      if (weight !== 1) weights.set(client, weight); else weights.delete(client);
      perClient.set(client, n + 1);
      reserved++;
      if (holder !== undefined) {
        let mine = perHolder.get(client);
        if (mine === undefined) { mine = new Map(); perHolder.set(client, mine); }
        mine.set(holder, (mine.get(holder) ?? 0) + 1);
      }
      return true;
    },
    unreserve: dec,
    attach(info, client, upstream, clientHead, upstreamHead, onEnd) {
      const t0 = performance.now();
      // What the client sends is paced per tunnel (frames and bytes); what the upstream sends is not.
      let frameTat: number | undefined;
      let byteTat: number | undefined;
      const step = (bytes: number, n: number): number => {
        const { clientFrames: f, clientBytes: b } = limits;
        const now = performance.now();
        let pauseMs = 0;
        if (f !== undefined && f.ratePerS > 0 && n > 0) {
          const r = throttleStep(frameTat, now, n, f);
          frameTat = r.tat;
          pauseMs = r.pauseMs;
        }
        if (b !== undefined && b.ratePerS > 0) {
          const r = throttleStep(byteTat, now, bytes, b);
          byteTat = r.tat;
          pauseMs = Math.max(pauseMs, r.pauseMs);
        }
        if (pauseMs > 0) throttled++;
        return pauseMs;
      };
      const active = (): boolean => (limits.clientFrames?.ratePerS ?? 0) > 0 || (limits.clientBytes?.ratePerS ?? 0) > 0;
      // Each message a client starts takes a slot of the upstream (at once when one is free) and holds
      // it until the upstream sends something back on this tunnel, or the gate's hold time: the
      // upstream's work is counted where requests are. While the upstream is contended a tunnel has
      // one message there at a time; otherwise a chatty one may hold several.
      // `early`: a frame came back before `answerFrom`; the slot goes back then, not at the hold's end.
      type Slot = { release: () => void; timer: NodeJS.Timeout; answerFrom: number; place: MessagePlace | undefined; early: boolean };
      const slots: Slot[] = [];
      // The message at the gate: placed once as it starts, however often it is turned back.
      let placed: MessagePlace | undefined;
      let afterSlot: (() => void) | undefined;
      let cancelTake: (() => void) | undefined;
      // A slot came for the message waiting at the gate: it goes at the relay's next ask.
      let ready = false;
      // Messages read behind the one at the gate, as last told to the sender (told only as it changes).
      let behind = 0;
      // The message at the gate was counted as waiting (once, however many times it is turned back).
      let waited = false;
      const countWait = (): void => { if (!waited) { waited = true; messagesWaited++; } };
      const giveBack = (slot: Slot): void => {
        const i = slots.indexOf(slot);
        if (i === -1) return;
        slots.splice(i, 1);
        clearTimeout(slot.timer);
        slot.release();
        slot.place?.done();
        const next = afterSlot;
        afterSlot = undefined;
        next?.();
      };
      // The upstream answered on this tunnel: the oldest messages' work is done, one per frame. A
      // frame sooner than the upstream's current latency may be the application's own push rather
      // than the answer (the demo pushes every 2 s), so the slot is held until that latency has
      // passed — a message costs at least what a request costs now — and given back then. Held to
      // the end of `holdMs` instead (twice that latency), a message answered at once kept its slot
      // idle for the second half: websocket-browse-flood's origin ran at 26–48 lookups a second
      // of 50 while customers' pages waited seconds in the queue.
      const answered = (completed: number): void => {
        const now = performance.now();
        let n = completed;
        for (let i = 0; n > 0 && i < slots.length;) {
          const slot = slots[i]!;
          if (slot.early) { i++; continue; }
          n--;
          if (slot.answerFrom <= now) { giveBack(slot); continue; }
          slot.early = true;
          clearTimeout(slot.timer);
          slot.timer = setTimeout(() => giveBack(slot), slot.answerFrom - now);
          slot.timer.unref();
          i++;
        }
      };
      const hold = (release: () => void, g: MessageGate, place: MessagePlace | undefined): void => {
        const slot: Slot = { release, timer: setTimeout(() => giveBack(slot), g.holdMs()), answerFrom: performance.now() + g.answerAfterMs(), place, early: false };
        slot.timer.unref();
        slots.push(slot);
      };
      const frameGate: FrameGate | undefined = opts.messageGate === undefined ? undefined : {
        active: () => opts.messageGate?.(info.upstream) !== undefined,
        backlog(n) {
          if (n === behind) return;
          behind = n;
          info.sender?.backlog(n);
        },
        pass(resume) {
          if (ready) { ready = false; waited = false; return true; }
          const g = opts.messageGate?.(info.upstream);
          if (g === undefined) { waited = false; placed?.done(); placed = undefined; return true; }
          if (slots.length > 0 && g.contended()) { afterSlot = resume; countWait(); return false; }
          let inPass = true;
          let now = false;
          // Placed when it asks for a slot: its sender's pace then counts it, until it is answered
          // (the messages its client sent behind it count as open on their own: `backlog`).
          const place = placed ??= info.sender?.start();
          const cancel = g.take((release) => {
            cancelTake = undefined;
            placed = undefined;
            hold(release, g, place);
            if (inPass) now = true;
            else { ready = true; resume(); }
          }, place);
          inPass = false;
          if (now) { waited = false; return true; }
          cancelTake = cancel;
          countWait();
          return false;
        },
      };
      const up = relay(client, upstream, true, { active, step }, frameGate);
      const down = relay(upstream, client, false, undefined, undefined, frameGate === undefined ? undefined : answered);
      let why = 'closed';
      let ended = false;
      const tunnel: Tunnel = {
        info,
        counted: true,
        close(code, reason) {
          why = reason;
          up.close(code, reason);
          down.close(code, reason);
          // A peer that never answers (or a frame that never ends) must not hold the socket.
          setTimeout(() => { client.destroy(); upstream.destroy(); }, 2_000).unref();
        },
      };
      live.add(tunnel);
      const key = keyOf(info);
      let mine = attached.get(key);
      if (mine === undefined) { mine = new Set(); attached.set(key, mine); }
      mine.add(tunnel);
      maxShare = Math.max(maxShare, (perClient.get(key) ?? 0) / weightOf(key));
      const end = (): void => {
        if (ended) return;
        ended = true;
        live.delete(tunnel);
        const set = attached.get(key);
        if (set !== undefined) { set.delete(tunnel); if (set.size === 0) attached.delete(key); }
        if (tunnel.counted) dec(key, info.holder);
        // Its place in the upstream's queue, or the slot its last frame held, goes back.
        cancelTake?.();
        cancelTake = undefined;
        placed?.done();
        placed = undefined;
        if (behind > 0) { behind = 0; info.sender?.backlog(0); }
        afterSlot = undefined;
        for (const slot of [...slots]) giveBack(slot);
        client.destroy();
        upstream.destroy();
        onEnd(why, performance.now() - t0);
      };
      for (const s of [client, upstream]) {
        s.setNoDelay(true);
        s.on('error', () => { why = why === 'closed' ? 'error' : why; end(); });
        s.on('close', end);
      }
      // A half-close is passed on: a side that finished sending lets the other finish too.
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
      // Node's socket timeout counts reads and writes on the client socket: bytes either way keep it alive.
      client.setTimeout(limits.idleTimeoutMs, () => tunnel.close(CLOSE_NORMAL, 'idle timeout'));
      up.start(clientHead);
      down.start(upstreamHead);
    },
    closeWhere(match, code, reason) {
      let n = 0;
      for (const t of live) if (match(t.info)) { t.close(code, reason); n++; }
      return n;
    },
    async closeAll(reason, graceMs) {
      for (const t of live) t.close(CLOSE_GOING_AWAY, reason);
      const deadline = performance.now() + Math.min(graceMs, 2_500);
      while (live.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
  };
  return self;
}
