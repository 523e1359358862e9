/** A status page component's state, best first. */
export const COMPONENT_STATES = ['operational', 'degraded', 'outage'] as const;
export type ComponentState = (typeof COMPONENT_STATES)[number];

/** Severity rank (0 operational … 2 outage), for "worst of the day". */
export const stateRank = (s: ComponentState): number => COMPONENT_STATES.indexOf(s);

/** What a component's state is judged on over the recent window. */
export interface ComponentSignals {
  /** Exchanges on the component's paths over the window (attackers refused by the shield excluded). */
  readonly requests: number;
  /** Of those, the ones that failed: upstream error, timeout, or shed for lack of capacity. */
  readonly failures: number;
  /** For a payment channel component: what the authorization service reports. */
  readonly channel?: 'up' | 'down' | 'unreachable' | undefined;
  /** Whether any server of the component's upstream can take traffic (from health checks); undefined when not tied to one. */
  readonly upstreamUp?: boolean | undefined;
}

/** Thresholds (from the status configuration). */
export interface JudgeParams {
  /** Failure share that marks a component degraded; ten times it (capped at 0.5) is an outage. */
  readonly degradedRatio: number;
  /** Fewer exchanges than this over the window say nothing: the previous state stands. */
  readonly minRequests: number;
}

/** A judgement: the state and the words a customer reads about it. */
export interface Judgement {
  readonly state: ComponentState;
  readonly cause: string;
  /** The share of requests failing, in percent, when that is the cause (the page says it in its language). */
  readonly failingPercent?: number;
}

/**
 * Judges one component from its signals. Pure. Without enough traffic to tell, the previous state
 * stands: a component in outage that customers stopped trying is not "recovered" by silence.
 */
export function judgeComponent(signals: ComponentSignals, previous: Judgement, p: JudgeParams): Judgement {
  if (signals.channel === 'down') return { state: 'outage', cause: 'channel unavailable' };
  if (signals.channel === 'unreachable') return { state: 'outage', cause: 'payment approval service not answering' };
  if (signals.upstreamUp === false) return { state: 'outage', cause: 'no server answering health checks' };
  if (signals.channel === 'up' && signals.requests < p.minRequests) return { state: 'operational', cause: '' };
  if (signals.requests < p.minRequests) return previous;
  const ratio = signals.failures / signals.requests;
  const failingPercent = Math.round(ratio * 100);
  const pct = `${failingPercent}% of requests failing`;
  if (ratio >= Math.min(0.5, p.degradedRatio * 10)) return { state: 'outage', cause: pct, failingPercent };
  if (ratio >= p.degradedRatio) return { state: 'degraded', cause: pct, failingPercent };
  return { state: 'operational', cause: '' };
}
