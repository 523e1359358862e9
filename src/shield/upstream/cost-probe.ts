/**
 * Cost probe: requests whose cost the upstream has never shown, or has shown to be high, go to
 * it a few at a time.
 *
 * Why: the request-cost model (detect/request-cost.ts) weighs a request by what answers of its
 * query's shape, or of its parts, took — so the first requests of a costly shape are weighed as one
 * until a few of them have been answered. Sent at the onset of a flood of costly searches, before
 * anything is suspected, the free slots take them all: on an origin of 16 workers and pages of
 * 320 ms, a flood's first 8–9 searches (5 s of a worker each) went at once, the origin was full
 * for seconds and customers' pages waited past their patience behind them (drill `costly-search`,
 * slow origin, forty-eighth session: 95.3% and 92.2% on two seeds of four, the rest 100%). Once
 * weighed, a costly search counts a few typical requests in its identity's pace — eight pages'
 * worth is still a customer's pace under a learned pace line — and when the requests held back
 * were let go together the moment their part read costly, nine 5-second searches took the free
 * slots at once (forty-ninth session, seed 4: 92.9%). A bound on requests in flight of one kind of
 * work is what an aggregate limit on a prefix or a fingerprint is, applied to a query nobody has
 * measured yet or that is known to cost much: slow-start for a shape, as TCP probes a path's
 * capacity before it fills it (RFC 5681 §3.1), and a bulkhead for the costliest requests a site
 * exposes to anyone.
 *
 * What is held is a request with a query part that is untried (no answer, none fast, not enough
 * to weigh it) or costly (request-cost.ts `probeParts`), when the admission queue is about to start
 * it, and only while that part, or its kind, already has its share of the upstream's limit at the
 * upstream: `partShare` of the limit per part (at least one), `kindShare` per kind (route, method,
 * path template), so a flood spreading its searches over several size classes is bounded too;
 * the kind's untried requests share one more part (request-cost.ts `UNTRIED_PART`).
 * Counted from its start to the upstream's answer, not from its arrival nor to the client's
 * leaving: a flood's requests waiting in the admission queue at a flooding tier must not hold a
 * part against a customer's request that the admission order puts first (drill `pipeline-solver`:
 * a customer's search held 5 s behind bots' searches that were themselves queued), and a bot that
 * gives up does not stop the upstream working on its search. A cheap new part is freed by its first
 * answer (one fast answer proves it cheap). A held request waits behind the key that holds it, at
 * most the queue timeout counted from its arrival (its wait here is part of its wait for a slot);
 * let go, it is admitted again (the admission order decides again, with what it costs by then). No
 * more are held than `maxHeld`: the rest are refused as a full queue would refuse them.
 *
 * Each line is in tier order (the admission tier: standing and pace), then arrival: in arrival
 * order a customer's costly search — or a search of a size class nobody has asked yet — sent
 * during a flood of them waited behind every bot's held before it, the admission order deciding
 * only once it was let go. A full probe pushes out its worst-tier newest held request for a better
 * one, as the admission queue sheds its worst group first.
 *
 * Pure: the caller passes the limit in force and `now`, and runs `expire` on a ticker.
 */

/** One request the probe may hold. */
export interface ProbeTicket {
  /** Its kind (route, method, path template: upstream/latency-kind.ts) and its bounded parts (untried or costly), as last read. */
  kind: string;
  parts: readonly string[];
  /** When it arrived, queue clock ms: a held request's deadline counts from it. */
  readonly arrivedAt: number;
  /** Its admission tier (0 = best, upstream/admission.ts) when it asks to start: held lines are in tier order. */
  tier: number;
  /** It holds a reputation from before the attack (admission group 0): its parts have a share of their own (its kind's is everyone's). */
  known?: boolean;
  /** Its bounded parts now (answers of other requests may have freed them while it waited). */
  partsNow(): readonly string[];
  /** Let go: it asks the admission queue for a slot again (and comes back through `enter`). */
  go(): void;
  /** Refused: its wait ran out (`queue-timeout`), or a better tier took its place in a full probe (`pushed-out`). */
  refuse(why: 'queue-timeout' | 'pushed-out'): void;
  /** Managed by the probe. */
  probe?: { state: 'held' | 'going' | 'released' | 'done' | 'refused' | 'cancelled'; counted: readonly string[] };
}

export interface CostProbeParams {
  /** Share of the upstream's limit that one bounded part (untried or costly) may have at the upstream (at least one request). */
  readonly partShare: number;
  /** Share of the limit that one kind's bounded requests may have at the upstream (at least a part's). */
  readonly kindShare: number;
  /** Requests held at most; beyond, refused. */
  readonly maxHeld: number;
  /** A held request is refused this long after its arrival, ms. */
  readonly timeoutMs: number;
}

export interface CostProbe {
  /**
   * A ticket about to start (its bounded parts set): `go` — it starts now and is counted until
   * `leave` —, `held` until its parts have room, or `refused` (the probe holds `maxHeld`).
   */
  enter(t: ProbeTicket, limit: number, now: number): 'go' | 'held' | 'refused';
  /** A ticket that went is done (the upstream answered, or it never reached it): frees its share and lets held ones go. */
  leave(t: ProbeTicket, limit: number, now: number): void;
  /** A held ticket's client left. */
  cancel(t: ProbeTicket): void;
  /** Refuses held tickets past their deadline and lets go those the limit now allows; returns how many were refused. */
  expire(now: number, limit: number): number;
  /**
   * How long tickets have been held without the probe emptying, ms, and how long its oldest held
   * ticket has waited (0 when none): held requests are waiting for a slot too, and a flood the
   * probe holds must raise suspicion as a standing admission queue does.
   */
  standingMs(now: number): number;
  oldestHeldMs(now: number): number;
  /** Tickets held now. */
  readonly held: number;
  /** Requests with bounded parts at the upstream now (counted by `enter`, not yet done). */
  readonly inFlight: number;
}

/** `a` goes after `b` in a held line: a worse tier, or the same tier and a later arrival. */
const after = (a: ProbeTicket, b: ProbeTicket): boolean => a.tier > b.tier || (a.tier === b.tier && a.arrivedAt > b.arrivedAt);

/**
 * The mark of the known customers' keys: requests of customers who hold a reputation from before
 * the attack count apart from everyone else's. One costly part held by a flood's search for 5 s
 * (16 workers × 320 ms ±50%: an 8-term search) made a returning customer's search of the same part
 * wait past its patience however the line was ordered (drill `costly-search`, customers searching in
 * sentences, fiftieth session); a flood from reputations farmed before it shares the known lane and
 * is bounded there as it was before. Parts only: the kind's share is everyone's — bots whose first
 * request was answered before the first suspicion hold recent reputations, and with a kind share
 * in each lane two costly searches filled a 2-worker origin again (critical p99 1.7× / 2.2× →
 * 2.1× / 2.6×, seeds 2 and 3).
 */
const KNOWN_LANE = '\u0001';

/** A kind's own key, and each of its parts' (`kind?part`). */
const partKey = (kind: string, part: string): string => `${kind}?${part}`;

export function createCostProbe(params: CostProbeParams): CostProbe {
  const { partShare, kindShare, maxHeld, timeoutMs } = params;
  if (!(partShare > 0 && kindShare > 0 && maxHeld >= 0 && timeoutMs > 0)) throw new RangeError('partShare and kindShare must be positive, maxHeld at least 0, timeoutMs positive');
  const counts = new Map<string, number>();
  // Held tickets in tier order, then arrival, filed under the key that holds them.
  const lines = new Map<string, ProbeTicket[]>();
  let held = 0;
  let inFlight = 0;
  let heldSince: number | undefined; // since when some ticket has been held

  const capOf = (key: string, kind: string, limit: number): number => {
    const part = Math.max(1, Math.floor(limit * partShare));
    return key === kind ? Math.max(part, Math.floor(limit * kindShare)) : part;
  };
  const keysOf = (t: ProbeTicket): string[] => {
    const lane = t.known === true ? KNOWN_LANE : '';
    return [t.kind, ...t.parts.map((p) => lane + partKey(t.kind, p))];
  };
  /** The first of the ticket's keys at its cap, if any. */
  const full = (keys: readonly string[], kind: string, limit: number): string | undefined =>
    keys.find((k) => (counts.get(k) ?? 0) >= capOf(k, kind, limit));
  const count = (keys: readonly string[], d: number): void => {
    for (const k of keys) {
      const n = (counts.get(k) ?? 0) + d;
      if (n > 0) counts.set(k, n); else counts.delete(k);
    }
  };
  /** Files a held ticket in `key`'s line: after every ticket of a better or equal tier that arrived before it. */
  const file = (key: string, t: ProbeTicket): void => {
    let q = lines.get(key);
    if (q === undefined) lines.set(key, q = []);
    let i = q.length;
    while (i > 0 && after(q[i - 1] as ProbeTicket, t)) i--;
    if (i === q.length) q.push(t); else q.splice(i, 0, t);
  };
  /** The held ticket a full probe gives up first: the worst tier, the newest of it. */
  const worstHeld = (): ProbeTicket | undefined => {
    let worst: ProbeTicket | undefined;
    for (const q of lines.values()) {
      for (let i = q.length - 1; i >= 0; i--) {
        const t = q[i] as ProbeTicket;
        if (t.probe?.state !== 'held') continue;
        if (worst === undefined || after(t, worst)) worst = t;
        break; // a line's last held ticket is its worst
      }
    }
    return worst;
  };
  /**
   * Lets go the held tickets of `key`'s queue that have room now, in order: one whose parts were
   * tried meanwhile, or whose keys are all under their caps — counting, for this pass only, those
   * already let go, which have yet to start and be counted by `enter`; one held by another key
   * moves to that key's queue. Stops at the first one this key still holds.
   */
  const drain = (key: string, limit: number): void => {
    const q = lines.get(key);
    if (q === undefined) return;
    const going: ProbeTicket[] = [];
    let i = 0;
    for (; i < q.length; i++) {
      const t = q[i] as ProbeTicket;
      if (t.probe?.state !== 'held') continue;
      t.parts = t.partsNow();
      const keys = t.parts.length === 0 ? [] : keysOf(t);
      const by = full(keys, t.kind, limit);
      if (by === key) break;
      if (by !== undefined) { file(by, t); continue; }
      t.probe = { state: 'released', counted: keys };
      count(keys, 1);
      going.push(t);
    }
    if (i >= q.length) lines.delete(key);
    else if (i > 0) q.splice(0, i);
    held -= going.length;
    for (const t of going) count(t.probe?.counted ?? [], -1);
    for (const t of going) t.go();
  };

  return {
    get held() { return held; },
    get inFlight() { return inFlight; },
    standingMs: (now) => (held > 0 && heldSince !== undefined ? Math.max(0, now - heldSince) : 0),
    oldestHeldMs(now) {
      let oldest = now;
      if (held === 0) return 0;
      for (const q of lines.values()) {
        for (const t of q) if (t.probe?.state === 'held' && t.arrivedAt < oldest) oldest = t.arrivedAt;
      }
      return now - oldest;
    },
    enter(t, limit, now) {
      const keys = keysOf(t);
      const by = full(keys, t.kind, limit);
      if (by === undefined) {
        t.probe = { state: 'going', counted: keys };
        count(keys, 1);
        inFlight++;
        return 'go';
      }
      if (held >= maxHeld) {
        const worst = worstHeld();
        if (worst === undefined || !after(worst, t)) { t.probe = { state: 'refused', counted: [] }; return 'refused'; }
        (worst.probe as NonNullable<ProbeTicket['probe']>).state = 'refused';
        held--;
        worst.refuse('pushed-out');
      }
      t.probe = { state: 'held', counted: [] };
      if (held === 0) heldSince = now;
      held++;
      file(by, t);
      return 'held';
    },
    leave(t, limit) {
      const s = t.probe;
      if (s?.state !== 'going') return;
      s.state = 'done';
      count(s.counted, -1);
      inFlight--;
      for (const k of s.counted) drain(k, limit);
    },
    cancel(t) {
      if (t.probe?.state !== 'held') return;
      t.probe.state = 'cancelled';
      held--; // left in its queue, skipped when reached
    },
    expire(now, limit) {
      let refused = 0;
      for (const [key, q] of [...lines]) {
        for (const t of q) {
          if (t.probe?.state !== 'held' || now - t.arrivedAt < timeoutMs) continue;
          t.probe.state = 'refused';
          held--;
          refused++;
          t.refuse('queue-timeout');
        }
        // A limit that grew, or parts tried by requests that never came through here, free some.
        drain(key, limit);
        // Cancelled and pushed-out tickets leave their lines here, not only at their heads: clients
        // that give up while a line stands still must not lengthen it past what is held.
        const rest = lines.get(key);
        if (rest !== undefined) {
          const live = rest.filter((t) => t.probe?.state === 'held');
          if (live.length === 0) lines.delete(key);
          else if (live.length < rest.length) lines.set(key, live);
        }
      }
      return refused;
    },
  };
}
