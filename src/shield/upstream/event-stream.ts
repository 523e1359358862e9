/**
 * Event streams (Server-Sent Events, WHATWG HTML §9.2): a response the origin keeps open and
 * writes events into for as long as the page is open — live tracking, notifications, a payment's
 * status. Its head is work (the origin checks who asks, subscribes them); what follows is a held
 * connection, as a WebSocket tunnel is after its handshake.
 *
 * Why the shield must know one: an admission slot bounds the work in flight at the upstream
 * (upstream/admission.ts, the adaptive limit), and was held until a response ended. An event
 * stream never ends, so each one held its slot for the page's life: 20 open pages took every slot
 * of a new shield's limit (64 with detection off) and every other request waited behind them to
 * its queue timeout — a site's own customers, or 20 connections of an attacker at a person's pace,
 * took its upstream down. So a response whose type is `text/event-stream` gives its slot back once
 * its head is written; the connection it holds is one more of its server's pool, which admission,
 * not a connection cap, bounds (upstream/pools.ts), so held streams never take the connections
 * requests need; a request that asks for one (EventSource sends `Accept: text/event-stream`,
 * §9.2.2) takes its place before it is sent, any other when its head says what it is, and from
 * its head on a stream is timed between the upstream's bytes by `eventStreams.idleTimeoutMs`
 * (the forwarder's sweep, not the HTTP client's timer); and the streams are bounded per client and shared max-min fairly in total
 * (`eventStreams`), each holding two descriptors as a tunnel does. A long poll (its head comes
 * when there is news) cannot be told from a slow answer: its route says so (`stream: true`), and
 * its slot goes back once it is sent (upstream/forward.ts).
 *
 * Pure, but for the budget's counts.
 */
import { mediaType } from '../http-message.js';

const EVENT_STREAM = 'text/event-stream';
// Asked of every proxied request's Accept: one scan, no lower-cased copy.
const MENTIONS_EVENT_STREAM = /text\/event-stream/i;

/** Whether a response's Content-Type is an event stream. */
export function isEventStream(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && mediaType(contentType) === EVENT_STREAM;
}

/**
 * Whether a request asks for an event stream: a GET whose Accept lists `text/event-stream`
 * (EventSource's whole Accept). A request that accepts anything (`*∕*`) is not one: that is every
 * page's and every fetch's.
 */
export function asksForEventStream(method: string | undefined, accept: string | string[] | undefined): boolean {
  if (method !== 'GET' || accept === undefined) return false;
  const value = typeof accept === 'string' ? accept : accept.join(',');
  if (!MENTIONS_EVENT_STREAM.test(value)) return false;
  for (const element of value.split(',')) if (mediaType(element) === EVENT_STREAM) return true;
  return false;
}

/** Caps of event streams held through the shield (0 = unlimited). */
export interface StreamLimits {
  readonly maxPerClient: number;
  readonly maxTotal: number;
}

/** Why a stream was not given a place. */
export type StreamRefusal = 'per-client' | 'total';

/** A place taken for one stream: given back with `release`, or taken back to make room (its `close` is called). */
export interface StreamPlace {
  readonly client: string;
}

/** The event streams held: places per client key and in total. */
export interface StreamBudget {
  limits: StreamLimits;
  /** Streams held now. */
  readonly open: number;
  /** Requests for a stream refused at a cap so far. */
  readonly refused: number;
  /** Streams closed so far to give their place to a client holding fewer (fair share at `maxTotal`). */
  readonly evicted: number;
  /**
   * Takes a place for `client` (its client key), or says which cap is reached. `weight`: how many
   * clients the key stands for (a carrier NAT's address may hold that many times `maxPerClient`,
   * and its share is its places divided by it). At `maxTotal`, the client with the largest share
   * gives up its newest stream (`close` is called on it) when its share after that would still be
   * at least the newcomer's: weighted max-min fairness, as for WebSocket tunnels
   * (listener/tunnels.ts). Without it the total is a pool anyone can drain: sources each under the
   * per-client cap hold every place, and a customer's live page is refused until they leave.
   */
  reserve(client: string, weight: number, close: () => void): StreamPlace | StreamRefusal;
  /** Gives a place back (a place already taken back to make room is not counted twice). */
  release(place: StreamPlace): void;
}

interface Place extends StreamPlace {
  readonly close: () => void;
  counted: boolean;
}

interface Holder {
  weight: number;
  /** Its places, oldest first. */
  readonly places: Place[];
}

/** `limits` is read on every call: a reload that changes it applies to the next request. */
export function createStreamBudget(limits: StreamLimits): StreamBudget {
  const holders = new Map<string, Holder>();
  let open = 0;
  let refused = 0;
  let evicted = 0;
  // An upper bound of the largest share (raised as places are taken, made exact by each scan):
  // every request at the cap asks, and with shares already even it is answered without a scan.
  let maxShare = 0;
  const drop = (p: Place): void => {
    p.counted = false;
    const h = holders.get(p.client);
    if (h === undefined) return;
    const i = h.places.lastIndexOf(p);
    if (i >= 0) h.places.splice(i, 1);
    if (h.places.length === 0) holders.delete(p.client);
    open--;
  };
  /**
   * Room for a newcomer holding `held` at weight `w`: the heaviest holder's newest stream gives way
   * when (most − 1) / its weight ≥ (held + 1) / w — each swap makes the shares more equal, and
   * clients at equal shares never displace each other (at weight 1: the victim holds two more).
   * A scan of the holders, at most `maxTotal` of them, and only at the cap.
   */
  const makeRoom = (held: number, w: number): boolean => {
    const theirs = (held + 1) / w;
    if (maxShare <= theirs) return false;
    let heaviest: Holder | undefined;
    let share = 0;
    for (const h of holders.values()) {
      const s = h.places.length / h.weight;
      if (s > share) { share = s; heaviest = h; }
    }
    maxShare = share;
    const victim = heaviest?.places[heaviest.places.length - 1];
    if (heaviest === undefined || victim === undefined || (heaviest.places.length - 1) / heaviest.weight < theirs) return false;
    // Counted out now, so the newcomer's place is real while the victim's close completes.
    drop(victim);
    evicted++;
    victim.close();
    return true;
  };
  const budget: StreamBudget = {
    limits,
    get open() { return open; },
    get refused() { return refused; },
    get evicted() { return evicted; },
    reserve(client, weight, close) {
      const w = Math.max(1, weight);
      const { maxPerClient, maxTotal } = budget.limits;
      const held = holders.get(client)?.places.length ?? 0;
      if (maxPerClient > 0 && held >= maxPerClient * w) { refused++; return 'per-client'; }
      if (maxTotal > 0 && open >= maxTotal && !makeRoom(held, w)) { refused++; return 'total'; }
      let h = holders.get(client);
      if (h === undefined) holders.set(client, h = { weight: w, places: [] });
      else h.weight = w;
      const place: Place = { client, close, counted: true };
      h.places.push(place);
      open++;
      maxShare = Math.max(maxShare, h.places.length / h.weight);
      return place;
    },
    release(place) {
      const p = place as Place;
      if (p.counted) drop(p);
    },
  };
  return budget;
}
