/**
 * Tells the operator when the baselines stop learning because one client sends most of the
 * traffic (`isPopulation` in detector.ts): a window that one client surely dominated teaches no
 * rate and no mix. For minutes on end that is not a monitor's night: it is most often a proxy or
 * load balancer in front of the shield that is not declared in `trustedProxies`, so that every
 * customer arrives from its address — and then detection works by its upstreams' saturation
 * alone, and no per-client limit or signature can hold. Nothing else shows it: the shield runs,
 * serves and never learns.
 *
 * Pure: plain state carried from tick to tick, the caller passes `now` and emits the notice.
 */

/** One client over half the traffic of every normal window for this long is announced (5 min). */
export const LEARNING_PAUSE_NOTICE_MS = 300_000;

export interface LearningPauseState {
  /** Start of the current run of normal windows that taught nothing; undefined while learning. */
  readonly since: number | undefined;
  /** The run was announced (its end will be too). */
  readonly announced: boolean;
}

export const LEARNING: LearningPauseState = Object.freeze({ since: undefined, announced: false });

/** What the operator is told: the pause began, or ended after it was told it began. */
export interface LearningPauseNotice {
  readonly paused: boolean;
  /** The client that sent most of the last window, and its share of it (a lower bound). */
  readonly client: string;
  readonly share: number;
  /** How long the windows had taught nothing. */
  readonly forMs: number;
}

/**
 * One tick: `population` is the window's verdict (detector.ts `isPopulation`), `top` the client
 * that sent most of it. Windows that are not normal neither start nor end a pause: baselines do not
 * learn under attack anyway, and an attack by one client is not a proxy left undeclared.
 * @example
 * const r = stepLearningPause(state, { normal, population, top: { client, share } }, now);
 * state = r.state; if (r.notice) bus.emit('detection:learning', r.notice);
 */
export function stepLearningPause(
  state: LearningPauseState,
  window: { readonly normal: boolean; readonly population: boolean; readonly top: { readonly client: string; readonly share: number } | undefined },
  now: number,
  noticeMs: number = LEARNING_PAUSE_NOTICE_MS,
): { state: LearningPauseState; notice?: LearningPauseNotice } {
  if (!window.normal) return { state };
  const top = window.top ?? { client: '', share: 0 };
  if (window.population) {
    if (!state.announced) return { state: LEARNING };
    return { state: LEARNING, notice: { paused: false, client: top.client, share: top.share, forMs: now - (state.since ?? now) } };
  }
  const since = state.since ?? now;
  if (!state.announced && now - since >= noticeMs) {
    return { state: { since, announced: true }, notice: { paused: true, client: top.client, share: top.share, forMs: now - since } };
  }
  return { state: state.since === undefined ? { since, announced: false } : state };
}
