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
 * its head is written; a request that asks for one (EventSource sends `Accept: text/event-stream`,
 * §9.2.2) is sent on a connection pool of its own, so the streams held never take the connections
 * requests need; and the streams are bounded per client and in total (`eventStreams`), each
 * holding two descriptors as a tunnel does.
 *
 * Pure, but for the budget's counts.
 */

/** The media type of a Content-Type or Accept element, lower case, without parameters (RFC 9110 §8.3.1). */
function mediaType(value: string): string {
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

const EVENT_STREAM = 'text/event-stream';

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
  if (value.toLowerCase().indexOf(EVENT_STREAM) < 0) return false;
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

/** The event streams held: places per client key and in total. */
export interface StreamBudget {
  limits: StreamLimits;
  /** Streams held now. */
  readonly open: number;
  /** Requests for a stream refused at a cap so far. */
  readonly refused: number;
  /**
   * Takes a place for `client` (its client key: an address, or an identity behind a shared one),
   * or says which cap is reached. `weight`: how many clients the key stands for (a carrier NAT's
   * address may hold that many times `maxPerClient`). Each place taken is given back with `release`.
   */
  reserve(client: string, weight?: number): StreamRefusal | undefined;
  release(client: string): void;
}

/** `limits` is read on every call: a reload that changes it applies to the next request. */
export function createStreamBudget(limits: StreamLimits): StreamBudget {
  const perClient = new Map<string, number>();
  let open = 0;
  let refused = 0;
  const budget: StreamBudget = {
    limits,
    get open() { return open; },
    get refused() { return refused; },
    reserve(client, weight = 1) {
      const { maxPerClient, maxTotal } = budget.limits;
      const held = perClient.get(client) ?? 0;
      if (maxPerClient > 0 && held >= maxPerClient * Math.max(1, weight)) { refused++; return 'per-client'; }
      if (maxTotal > 0 && open >= maxTotal) { refused++; return 'total'; }
      perClient.set(client, held + 1);
      open++;
      return undefined;
    },
    release(client) {
      const held = perClient.get(client);
      if (held === undefined) return;
      if (held <= 1) perClient.delete(client); else perClient.set(client, held - 1);
      open--;
    },
  };
  return budget;
}
