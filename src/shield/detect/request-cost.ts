/**
 * Request cost: how many of its kind's typical requests one request costs the upstream, learned
 * from the upstream's own answers, so the pace of an identity (detect/identity-pace.ts) counts
 * what it takes from the origin and not only how often it asks.
 *
 * Why: the costliest request a site exposes to anyone — a search of many terms, a report over a
 * long range, a page of a thousand rows — costs the origin a dozen typical ones at a person's
 * pace. Counted in requests, a bot sending one a second is as light as a customer and is served
 * beside them (drill `costly-search`: 45 such searches took most of a 2-worker origin's time for
 * 17 s). Serving the identities that took least of the origin's time first is least-attained-
 * service scheduling measured in service time, as fair queueing measures flows in bytes, not in
 * packets (Demers, Keshav, Shenker 1989; RFC 8290 §4 counts DRR credits in bytes).
 *
 * A request's cost is read from its **shape** — the query's keys and the size class of each value
 * (detect/query-shape.ts), what cost often follows while content does not — as the fastest answer
 * of that shape (this window, `windowMs`, and the last that had any) against the median RTT of its
 * kind (route, method and path template, upstream/latency-kind.ts) at light load. The shape's
 * fastest answer, not its mean: queueing at the origin only ever adds to an answer's time, and a
 * cheap request queued behind costly ones reads as slow as they are (head-of-line blocking at a
 * 2-worker origin: a customer's 80 ms search took 700 ms behind two 8-term ones), so a mean — or an
 * answer's own time charged to its identity — would weigh the customers the flood delayed. The
 * kind's median, not its fastest: against the fastest, a kind whose answers vary (a cache hit, a
 * 304) would make every typical answer of it read as costly, and a customer weighed as a flood is
 * the error that must not happen; not its mean either: "light load" is at most half the limit in
 * flight, and on a 2-worker origin under a limit of 4 that is both workers busy — customers'
 * searches sent then queued behind costly ones and pulled a mean up until the costly shape weighed
 * less than it cost (measured: 6 where it cost 8). The other way, a costly shape is under-weighed
 * by the spread of its service time, which is where the shield stood without it. The kind's median
 * is taught only by shapes that weigh 1, so a long flood of costly requests answered at light load
 * (a probe's) does not raise it. Learned from answers, a shape weighs a request before it is
 * sent: a crowd of bots that each send one costly search is weighed from their first request on,
 * once a few of them were answered.
 *
 * A shape never answered is weighed by its **parts** — each key with its value's size class — as
 * the heaviest part that has been: a part weighs what the fastest answer of any request carrying
 * it took, so it weighs more than one only when every request that carried it was costly. Without
 * it, a flood whose requests each add a few ignored parameters (`&sort=…&page=…`, words a shield
 * cannot fold into one random key, values of any length) has a shape never seen before on nearly
 * every request, each unweighed until answered three times (drill `costly-search` with `vary`),
 * while its costly part (`q` of many terms) is the same on all of them. A shape's own answers,
 * once it has them, outweigh its parts' (what is known of the whole is more specific than what is
 * known of its parts): a customer's new combination of a costly part is weighed as costly only
 * until three of its own answers say otherwise.
 *
 * What a request's kind and shape are is detect/cost-key.ts's: a query's shape, a path parameter
 * where the path takes lists (`/search/colis+suivi`), a buffered body's shape (detect/body-shape.ts).
 * A request with none of them is not weighed: there is no shape to tell its cost by.
 *
 * **A kind first seen in an attack** is not trusted to say what is typical of it. A route no
 * customer uses — the mobile app's search API, `/api/search`, reaching the same costly action as
 * the site's `/search` — has its median taught by the flood's own first answers, so its costliest
 * requests read as typical: neither weighed nor probed (drill `costly-search` with `alias=2`). A
 * kind born while the shield is alerted (`alert`: from the first suspicion), or in the `onsetMs`
 * before (the flood's first answers come back while detection reads its first seconds), is
 * *doubtful*: its typical request is the lower of its own median and the **site's** — the running
 * median of light answers that weigh 1, of kinds older than `onsetMs`, outside alerts — until it has
 * seen `trustMs` of quiet since the last alert (waves come back within it). So is a kind never
 * answered at light load, while alerted: the flood's own route rarely is in an attack, and would
 * otherwise have no typical cost at all. A customer's kind known before the attack keeps
 * its own median (a report page that always takes 400 ms is typical of itself); a kind new in the
 * attack that costs what the site's typical request costs reads as before; one that costs eight
 * times it weighs eight. The price, stated: customers who are the first to use a costly route
 * during an attack are weighed as its cost says, against the site's typical request.
 *
 * A kind never answered at light load outside an alert, or on a shield started under attack (no
 * site's typical request yet), weighs nothing: every request counts 1. Bounded: at most `maxShapes` shapes, as many parts and as many kinds, the least
 * recently answered given up first (a flood minting shapes churns the shapes, not the parts it
 * always carries). Pure: the caller passes `now`.
 */

export interface RequestCostParams {
  /** Shapes (and kinds) remembered at most. */
  readonly maxShapes: number;
  /** Answers of a shape, and light-load answers of its kind, before it weighs anything. */
  readonly minSamples: number;
  /** Most requests one request may count as. */
  readonly maxWeight: number;
  /** A shape's fastest answer is of this window and the last that had an answer, ms. */
  readonly windowMs: number;
  /** Relative step of a kind's running median RTT at light load (frugal streaming median). */
  readonly kindStep: number;
  /** A kind first answered this long before an alert began is doubtful in it, ms. */
  readonly onsetMs: number;
  /** Quiet after an alert before a doubtful kind's own median is trusted again, ms. */
  readonly trustMs: number;
}

export const DEFAULT_REQUEST_COST: RequestCostParams = Object.freeze({ maxShapes: 4096, minSamples: 3, maxWeight: 16, windowMs: 10_000, kindStep: 0.02, onsetMs: 5_000, trustMs: 300_000 });

/** One upstream answer. */
export interface CostSample {
  readonly kind: string;
  /** The request's shape (detect/cost-key.ts): its query's with value sizes, a path parameter's size (`@:6*4`) first. */
  readonly shape: string;
  readonly rttMs: number;
  /** Sent with at most half the upstream's limit in flight. */
  readonly light: boolean;
}

export interface RequestCost {
  /** Requests one request of this kind and shape counts as (1 … maxWeight), before it is sent. */
  weight(kind: string, shape: string): number;
  /**
   * The parts of a request's shape that the cost probe (upstream/cost-probe.ts) lets through a
   * few at a time: those whose cost nothing has shown yet (no answer of the shape, and of the part
   * no answer under twice its kind's median, nor enough answers to weigh it), and those known to
   * be costly. Empty for a request known to be cheap — its shape, or every part of it — and when
   * its kind is not known (a shield that knows nothing holds nothing back). A costly shape whose
   * parts are each cheap is one part: the shape. A request with an untried part also carries
   * `UNTRIED_PART`, which all the kind's untried requests share.
   */
  probeParts(kind: string, shape: string): readonly string[];
  /** Learns from an answer. */
  observe(sample: CostSample, now: number): void;
  /**
   * Whether the shield is alerted now (suspicion or worse anywhere: defence/detector.ts
   * `challengingSince`); called on every change, or more often. Kinds born in an alert or just
   * before it are doubtful until `trustMs` of quiet after it.
   */
  alert(on: boolean, now: number): void;
  /** The site's typical keyed request (ms, its light answers' running median outside alerts), or undefined until known. */
  readonly siteTypicalMs: number | undefined;
  /** Kinds remembered now that are doubtful (born in or just before an alert, not yet trusted). */
  readonly doubtfulKinds: number;
  /** Shapes remembered now. */
  readonly shapes: number;
  /** Parts (a key and its value's size class) remembered now. */
  readonly parts: number;
  /** The shapes and parts that weigh more than one, heaviest first, at most `n`: what an operator is shown. */
  heaviest(n: number): CostlyShape[];
}

export interface CostlyShape {
  readonly kind: string;
  /** A whole query shape, or one part of shapes (`scope: 'part'`). */
  readonly shape: string;
  readonly scope: 'shape' | 'part';
  readonly weight: number;
  readonly fastestMs: number;
  /** Weighed against the site's typical request, its kind being new in an attack. */
  readonly againstSite?: true;
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * The part every request with an untried part also carries, so that a kind's untried requests,
 * whatever their parts, share one part's room at the upstream. Why: at a flood's onset its first
 * costly searches each carry a part never answered — two of them, or two size classes of them, go
 * together within the kind's share, and on a 2-worker origin (limit 4, kind share 2) that is the
 * whole origin for 650 ms: a customer's login sent then waited behind both (drill `costly-search`,
 * critical p99 2.1–2.9× the baseline, forty-ninth session). Nothing is known of an untried part,
 * so the kind probes its unknowns one share at a time, as slow-start probes a path (RFC 5681 §3.1);
 * a cheap one is freed by its first answer. No query part has this form (parts are `key:size`).
 */
export const UNTRIED_PART = '(untried)';

/** A shape's least RTT of this window and of the last window that had any. */
interface Least { readonly kind: string; readonly shape: string; cur: number; prev: number; from: number; n: number }
/** A running median RTT at light load; its first answers kept until it has `SEED` of them. */
interface Median { value: number; n: number; first: number[] | undefined }
/** A kind's: when it was first answered at light load, and whether it is doubtful. */
interface KindMedian extends Median { readonly born: number; doubt: boolean }
/** Answers of a kind whose exact median seeds the running one: a first answer that was a cache hit must not. */
const SEED = 15;

export function createRequestCost(overrides: Partial<RequestCostParams> = {}): RequestCost {
  const p: RequestCostParams = { ...DEFAULT_REQUEST_COST, ...overrides };
  if (!(p.maxShapes >= 1 && p.minSamples >= 1 && p.maxWeight >= 1 && p.windowMs > 0 && p.kindStep > 0 && p.kindStep < 1)) {
    throw new RangeError('maxShapes, minSamples and maxWeight must be at least 1, windowMs positive, kindStep in (0, 1)');
  }
  if (!(p.onsetMs >= 0 && p.trustMs >= 0)) throw new RangeError('onsetMs and trustMs must not be negative');
  const kinds = new Map<string, KindMedian>();
  const site: Median = { value: 0, n: 0, first: [] };
  let alertSince: number | undefined;
  let quietSince = -Infinity;
  let anyDoubt = false;
  const shapes = new Map<string, Least>();
  const parts = new Map<string, Least>();

  // Least recently answered first out: a touched entry moves to the end of the map's order.
  const touch = <T>(map: Map<string, T>, key: string, fresh: () => T): T => {
    let m = map.get(key);
    if (m !== undefined) map.delete(key);
    else {
      if (map.size >= p.maxShapes) map.delete(map.keys().next().value as string);
      m = fresh();
    }
    map.set(key, m);
    return m;
  };
  /** A kind's own median, once it has enough light answers. */
  const ownMedian = (k: KindMedian | undefined): number | undefined => (k !== undefined && k.n >= p.minSamples ? k.value : undefined);
  /**
   * A kind's typical answer, ms, or undefined when nothing tells it: its own median; for a kind
   * doubtful, or unknown in an alert (nothing of it answered at light load before), the lower of
   * its own and the site's — which may be all there is: in an attack the flood's own route is
   * rarely answered at light load at all.
   */
  const typicalOf = (k: KindMedian | undefined): number | undefined => {
    const own = ownMedian(k);
    const doubtful = k?.doubt === true || (alertSince !== undefined && own === undefined);
    if (!doubtful || site.n < p.minSamples) return own;
    return own === undefined ? site.value : Math.min(own, site.value);
  };
  /** What one entry's fastest answer weighs against its kind's typical answer; undefined until both know enough. */
  const multiple = (typical: number | undefined, m: Least | undefined): number | undefined => {
    if (typical === undefined || m === undefined || m.n < p.minSamples) return undefined;
    const x = Math.min(m.cur, m.prev) / typical;
    return x >= 2 ? Math.min(p.maxWeight, Math.round(x)) : 1;
  };
  const weigh = (kind: string, shape: string): number => {
    const t = typicalOf(kinds.get(kind));
    if (t === undefined) return 1;
    const whole = multiple(t, shapes.get(`${kind}?${shape}`));
    if (whole !== undefined) return whole;
    let heaviest = 1;
    for (const part of partsOf(shape)) heaviest = Math.max(heaviest, multiple(t, parts.get(`${kind}?${part}`)) ?? 1);
    return heaviest;
  };
  // Tried: enough answers to weigh it, or one fast enough that it cannot be costly (queueing only
  // ever adds time, so a fast answer bounds its cost from above).
  const tried = (typical: number, m: Least | undefined): boolean =>
    m !== undefined && (m.n >= p.minSamples || Math.min(m.cur, m.prev) < 2 * typical);
  const probeParts = (kind: string, shape: string): readonly string[] => {
    const t = typicalOf(kinds.get(kind));
    if (t === undefined) return NONE;
    const whole = shapes.get(`${kind}?${shape}`);
    const wholeTried = tried(t, whole);
    if (wholeTried && (multiple(t, whole) ?? 1) === 1) return NONE;
    let out: string[] | undefined;
    let untried = false;
    for (const part of partsOf(shape)) {
      const m = parts.get(`${kind}?${part}`);
      // Untried, or tried and costly: both are bounded in flight. A tried cheap part is not.
      if (!tried(t, m)) { untried = true; (out ??= []).push(part); }
      else if ((multiple(t, m) ?? 1) > 1) (out ??= []).push(part);
    }
    // Parts each cheap (or tried) but the whole costly: the shape itself is bounded.
    if (out === undefined && wholeTried) return [shape];
    // Untried parts of a kind are also bounded together: one share for all the kind's unknowns.
    if (untried) (out as string[]).push(UNTRIED_PART);
    return out ?? NONE;
  };
  const learn = (map: Map<string, Least>, kind: string, shape: string, rttMs: number, now: number): void => {
    const m = touch(map, `${kind}?${shape}`, (): Least => ({ kind, shape, cur: Infinity, prev: Infinity, from: now, n: 0 }));
    if (now - m.from >= p.windowMs) {
      if (Number.isFinite(m.cur)) m.prev = m.cur;
      m.cur = Infinity;
      m.from = now;
    }
    m.cur = Math.min(m.cur, rttMs);
    m.n++;
  };

  const teach = (m: Median, rttMs: number): void => {
    m.n++;
    if (m.first !== undefined) {
      // The exact median of the first answers, then a running one from there.
      m.first.push(rttMs);
      m.value = m.first.slice().sort((a, b) => a - b)[m.first.length >> 1] as number;
      if (m.first.length >= SEED) m.first = undefined;
    } else {
      // Frugal streaming median (Ma, Muthukrishnan, Sandler 2013) in relative steps: it moves
      // toward each answer by a step, so half of them faster or slower cannot drag it.
      m.value = rttMs > m.value ? m.value * (1 + p.kindStep) : m.value / (1 + p.kindStep);
    }
  };

  return {
    get shapes() { return shapes.size; },
    get siteTypicalMs() { return site.n >= p.minSamples ? site.value : undefined; },
    get doubtfulKinds() {
      let n = 0;
      if (anyDoubt) for (const k of kinds.values()) if (k.doubt) n++;
      return n;
    },
    alert(on, now) {
      if (on && alertSince === undefined) {
        alertSince = now;
        // The flood's first answers may come back before the first suspicion: kinds born in the onset's seconds are doubtful too.
        for (const k of kinds.values()) if (!k.doubt && now - k.born <= p.onsetMs) { k.doubt = true; anyDoubt = true; }
      } else if (!on && alertSince !== undefined) {
        alertSince = undefined;
        quietSince = now;
      } else if (!on && anyDoubt && now - quietSince >= p.trustMs) {
        for (const k of kinds.values()) k.doubt = false;
        anyDoubt = false;
      }
    },
    get parts() { return parts.size; },
    weight: weigh,
    probeParts,
    heaviest(n) {
      const out: CostlyShape[] = [];
      for (const [scope, map] of [['shape', shapes], ['part', parts]] as const) {
        for (const [key, m] of map) {
          // A shape of one part is shown once, as the shape.
          if (scope === 'part' && shapes.has(key)) continue;
          const k = kinds.get(m.kind);
          const typical = typicalOf(k);
          const weight = multiple(typical, m) ?? 1;
          if (weight > 1) out.push({ kind: m.kind, shape: m.shape, scope, weight, fastestMs: Math.round(Math.min(m.cur, m.prev)), ...(typical !== ownMedian(k) ? { againstSite: true as const } : {}) });
        }
      }
      return out.sort((a, b) => b.weight - a.weight).slice(0, Math.max(0, n));
    },
    observe(s, now) {
      if (!(s.rttMs > 0 && Number.isFinite(s.rttMs))) return;
      if (s.light && weigh(s.kind, s.shape) === 1) {
        const k = touch(kinds, s.kind, (): KindMedian => {
          const doubt = alertSince !== undefined;
          if (doubt) anyDoubt = true;
          return { value: s.rttMs, n: 0, first: [], born: now, doubt };
        });
        teach(k, s.rttMs);
        // The site's typical request is what trusted kinds answer outside alerts, once older than an
        // onset: a flood's own kind (answered before the first suspicion too) and the queueing of an
        // attack do not make it.
        if (alertSince === undefined && !k.doubt && now - k.born > p.onsetMs) teach(site, s.rttMs);
      }
      learn(shapes, s.kind, s.shape, s.rttMs, now);
      for (const part of partsOf(s.shape)) learn(parts, s.kind, part, s.rttMs, now);
    },
  };
}

/** The parts of a query shape (`a:3&b:1` → `a:3`, `b:1`); the mark of keys beyond the limit is no part. */
function partsOf(shape: string): string[] {
  if (shape.indexOf('&') < 0) return shape === '' ? [] : [shape];
  return shape.split('&').filter((x) => x !== '…');
}
