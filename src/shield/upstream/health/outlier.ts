/**
 * Passive health: outlier ejection as Envoy does it (consecutive failures eject a server for a
 * time that grows with each ejection, and never more than a share of the servers at once). Pure:
 * results and time come in as values; the server set turns transitions into events.
 */

/** Tuning of outlier ejection. */
export interface OutlierParams {
  /** Failures in a row (connect failures, resets, timeouts, 5xx) that eject a server. */
  consecutiveFailures: number;
  /** A failure older than this no longer counts toward the run (so rare failures never add up). */
  windowMs: number;
  /** First ejection lasts this long; the n-th lasts n times as long (Envoy base_ejection_time). */
  baseEjectionMs: number;
  /** Upper bound of one ejection (Envoy max_ejection_time). */
  maxEjectionMs: number;
  /** At most this share of the servers is ejected at once (Envoy max_ejection_percent). */
  maxEjectedPercent: number;
}

interface ServerOutlier {
  consecutive: number;
  lastFailureAt: number;
  /** Ejections so far; decays by one per `baseEjectionMs` spent healthy. */
  ejections: number;
  /** Ejected until this time; 0 when not ejected. */
  ejectedUntil: number;
  /** When the multiplier last decayed or the server last returned. */
  since: number;
}

/** What one result did to a server. */
export type OutlierChange = { readonly kind: 'ejected'; readonly forMs: number } | undefined;

/** Outlier state of an upstream's servers. */
export interface OutlierDetector {
  onSuccess(i: number, now: number): void;
  /** Counts a failure; returns the ejection it caused, if any. */
  onFailure(i: number, now: number): OutlierChange;
  /** Ends ejections that are over; returns the indices that came back. */
  expire(now: number): number[];
  isEjected(i: number): boolean;
  /** Ends an ejection early (active probes vouch for the server, as Envoy's successful_active_health_check_uneject_host). */
  reinstate(i: number, now: number): boolean;
  /** How many times `i` has been ejected (decayed), and until when, for the state API. */
  describe(i: number): { ejections: number; ejectedUntil: number; consecutiveFailures: number };
  readonly ejectedCount: number;
}

/**
 * Creates the detector for `count` servers. With one server the cap allows no ejection (there is
 * nowhere else to send traffic; active probes may still mark it down).
 */
export function createOutlierDetector(params: OutlierParams, count: number): OutlierDetector {
  const servers: ServerOutlier[] = Array.from({ length: count }, () => ({ consecutive: 0, lastFailureAt: 0, ejections: 0, ejectedUntil: 0, since: 0 }));
  const cap = Math.floor((count * params.maxEjectedPercent) / 100);
  let ejected = 0;
  const at = (i: number): ServerOutlier => servers[i] as ServerOutlier;
  return {
    onSuccess(i) {
      at(i).consecutive = 0;
    },
    onFailure(i, now) {
      const s = at(i);
      if (s.ejectedUntil !== 0) return undefined; // late results of requests sent before the ejection
      if (s.consecutive > 0 && now - s.lastFailureAt > params.windowMs) s.consecutive = 0;
      s.consecutive++;
      s.lastFailureAt = now;
      if (s.consecutive < params.consecutiveFailures || ejected >= cap) return undefined;
      s.ejections++;
      const forMs = Math.min(params.maxEjectionMs, params.baseEjectionMs * s.ejections);
      s.ejectedUntil = now + forMs;
      s.consecutive = 0;
      ejected++;
      return { kind: 'ejected', forMs };
    },
    expire(now) {
      const back: number[] = [];
      for (let i = 0; i < count; i++) {
        const s = at(i);
        if (s.ejectedUntil !== 0) {
          if (now < s.ejectedUntil) continue;
          s.ejectedUntil = 0;
          s.since = now;
          ejected--;
          back.push(i);
        } else if (s.ejections > 0 && now - s.since >= params.baseEjectionMs) {
          // Envoy: each interval a host spends healthy lowers its ejection multiplier.
          s.ejections--;
          s.since = now;
        }
      }
      return back;
    },
    isEjected: (i) => at(i).ejectedUntil !== 0,
    reinstate(i, now) {
      const s = at(i);
      if (s.ejectedUntil === 0) return false;
      s.ejectedUntil = 0;
      s.since = now;
      ejected--;
      return true;
    },
    describe: (i) => ({ ejections: at(i).ejections, ejectedUntil: at(i).ejectedUntil, consecutiveFailures: at(i).consecutive }),
    get ejectedCount() { return ejected; },
  };
}
