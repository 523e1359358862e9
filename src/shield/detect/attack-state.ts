/**
 * Attack state machine per scope (route class or upstream): normal → suspect → under_attack →
 * recovering → normal, with hysteresis (enter above a high threshold, leave only below a low one,
 * with hold times). Thresholds are relative to baselines learned in normal times, so the defaults
 * need no req/s figure. One `step` per closed second; every transition carries its reason.
 */
import { ewmaStep, EWMA_EMPTY, alphaOf, type EwmaState } from './baseline.js';

/** Where a scope stands. */
export type AttackPhase = 'normal' | 'suspect' | 'under_attack' | 'recovering';

/** One closed second of a scope, from live-stats. */
export interface AttackObservation {
  readonly arrivalsPerS: number;
  /** In-flight / concurrency limit of the scope's upstream, 0-1. */
  readonly saturation?: number;
  /** Longest admission-queue wait of the second. */
  readonly queueWaitMs?: number;
  /** Upstream errors plus shed and denied requests, over arrivals. */
  readonly errorRatio?: number;
  /** Share of arrivals carrying no reputation or clearance cookie. */
  readonly cookielessShare?: number;
  /** How long the observation covers; default 1000 ms. */
  readonly durationMs?: number;
  /**
   * False when one client surely sent most of the traffic the second belongs to (`isPopulation` in
   * the detector): such a second teaches no baseline, as it teaches no mix. Default true.
   */
  readonly population?: boolean;
}

/** The signals a transition can be blamed on. */
export type AttackSignal = 'arrival-rate' | 'saturation' | 'error-ratio' | 'cookieless-share' | 'operator';

/** Why a transition happened: what was seen against what was normal and where the line was. */
export interface TransitionReason {
  readonly signal: AttackSignal;
  readonly observed: number;
  readonly baseline: number;
  readonly threshold: number;
  /**
   * Set when suspicion came before the tick: how many ms into its second the arrivals crossed the
   * line (`suspectEarly`), or how long the queue had stood (`suspectOnStanding`).
   */
  readonly withinMs?: number;
  /**
   * An operator's force (`signal: 'operator'`): when it ends (epoch ms). Its `observed` is then the
   * force's length in seconds, not a measurement, and its baseline and threshold 0.
   */
  readonly until?: number;
}

/** A phase change, emitted as an event by the caller. */
export interface AttackTransition {
  readonly from: AttackPhase;
  readonly to: AttackPhase;
  readonly at: number;
  readonly reason: TransitionReason;
}

/** A scope's state: plain data, carried from step to step. */
export interface AttackState {
  readonly phase: AttackPhase;
  readonly since: number;
  readonly rate: EwmaState;
  readonly errors: EwmaState;
  readonly cookieless: EwmaState;
  /** Start of the current run of elevated seconds that began with a hot one. */
  readonly hotSince: number | undefined;
  /** Start of the current run of calm seconds. */
  readonly calmSince: number | undefined;
  readonly forcedUntil: number | undefined;
}

/** Every threshold, relative to the learned baseline; all overridable. */
export interface AttackParams {
  /** Baseline half-life in seconds (default 600) and seconds before it is trusted (default 30). */
  readonly halfLifeS: number;
  readonly warmupS: number;
  /** Standard scores that make a signal hot (enter) and elevated (stay). Defaults 4 and 2. */
  readonly kHigh: number;
  readonly kLow: number;
  /** The rate must also be this multiple of the mean to be hot / elevated (1.5 / 1.2). */
  readonly rateLiftHigh: number;
  readonly rateLiftLow: number;
  /** Absolute rise of the error ratio or cookieless share over baseline to be hot (0.1, 0.2). */
  readonly errorRise: number;
  readonly cookielessRise: number;
  /** In-flight/limit or queue wait that count as saturation (0.95, 50 ms). */
  readonly saturation: number;
  readonly queueWaitMs: number;
  /**
   * A queue that has not emptied for this long, its oldest waiter past `queueWaitMs`, raises
   * suspicion at once (500 ms; `suspectOnStanding`) instead of at the tick that reads a whole
   * standing second. Not shorter: a site's own page loads stand a small upstream's queue for a
   * few hundred milliseconds.
   */
  readonly standingMs: number;
  /** Hot seconds before suspect (1) and before under_attack (3). */
  readonly suspectAfterS: number;
  readonly attackAfterS: number;
  /** Calm seconds before suspect clears (5), under_attack recovers (5), recovering ends (30). */
  readonly suspectClearS: number;
  readonly calmAfterS: number;
  readonly coolDownS: number;
  /**
   * Longest hold, per phase, on a baseline not yet warm (300 s; 0 = none): an attack that began
   * before the rate baseline warmed stays under_attack or recovering while arrivals stand at twice
   * what the baseline saw (see `coldHoldReading`), for at most this long in each phase.
   */
  readonly coldHoldS: number;
}

/** Defaults: a 4σ jump for a second raises suspicion, three seconds of it is an attack. */
export const DEFAULT_ATTACK_PARAMS: AttackParams = Object.freeze({
  halfLifeS: 600, warmupS: 30, kHigh: 4, kLow: 2, rateLiftHigh: 1.5, rateLiftLow: 1.2, errorRise: 0.1,
  cookielessRise: 0.2, saturation: 0.95, queueWaitMs: 50, standingMs: 500, suspectAfterS: 1, attackAfterS: 3,
  suspectClearS: 5, calmAfterS: 5, coolDownS: 30, coldHoldS: 300,
});

/** Seconds learned before a cold baseline may hold an attack (a mean of one partial second says little). */
const COLD_MIN_SAMPLES = 2;

/** A scope at rest, with nothing learned yet. */
export function initialAttackState(now: number): AttackState {
  return { phase: 'normal', since: now, rate: EWMA_EMPTY, errors: EWMA_EMPTY, cookieless: EWMA_EMPTY, hotSince: undefined, calmSince: now, forcedUntil: undefined };
}

/** One signal read against its lines: `hot` crosses the enter line, `elevated` the stay line. */
export interface SignalReading extends TransitionReason {
  readonly hot: boolean;
  readonly elevated: boolean;
  readonly low: number;
}

/** Evaluates every signal of one observation against the baselines; exported for the console. */
export function readSignals(state: AttackState, obs: AttackObservation, params: AttackParams = DEFAULT_ATTACK_PARAMS): SignalReading[] {
  const out: SignalReading[] = [];
  const warm = state.rate.samples >= params.warmupS;
  if (warm) {
    const { mean, high, low } = rateLines(state.rate, params);
    out.push(reading('arrival-rate', obs.arrivalsPerS, mean, high, low));
    if (obs.errorRatio !== undefined) out.push(ratioReading('error-ratio', obs.errorRatio, state.errors, params.errorRise, params));
    if (obs.cookielessShare !== undefined) out.push(ratioReading('cookieless-share', obs.cookielessShare, state.cookieless, params.cookielessRise, params));
  }
  // Saturation needs no baseline: the limit is the upstream's own measured capacity.
  const sat = obs.saturation ?? 0;
  const wait = obs.queueWaitMs ?? 0;
  const satByWait = wait / params.queueWaitMs >= sat / params.saturation;
  out.push(satByWait
    ? reading('saturation', wait, 0, params.queueWaitMs, params.queueWaitMs / 2)
    : reading('saturation', sat, 0, params.saturation, params.saturation * 0.8));
  return out;
}

/**
 * The rate reading that holds an attack begun before the baseline warmed: elevated at twice the
 * mean of the seconds learned (and 4 Poisson σ above it), never hot — it keeps a state, it never
 * starts or escalates one.
 *
 * Why: with a cold baseline the rate is not read at all (a few seconds cannot say what normal is),
 * so a flood the no-JavaScript check stops entirely leaves no signal once the queue drains. Measured
 * (distributed-low-rate, 60 s cell, shield started 3 s before the flood): under_attack at +1 s,
 * recovering at +6 s, normal at +36 s while the flood went on; the check stopped, the flood reached
 * the origin until its queue stood again 0.5 s later, and the cycle repeated every ~36 s. The few
 * seconds learned before the onset are a rough baseline, good enough to say that 600 req/s is not
 * the 20 it saw. Bounded by `coldHoldS` per phase: traffic that legitimately grew since (a flash
 * crowd that lasts) cannot hold the state for ever, and once normal again the baseline learns.
 */
function coldHoldReading(state: AttackState, obs: AttackObservation, params: AttackParams, now: number): SignalReading | undefined {
  if (state.phase !== 'under_attack' && state.phase !== 'recovering') return undefined;
  const samples = state.rate.samples;
  if (samples >= params.warmupS || samples < COLD_MIN_SAMPLES || now - state.since >= params.coldHoldS * 1000) return undefined;
  const { mean, variance } = state.rate;
  const low = Math.max(mean * 2, mean + 4 * Math.max(Math.sqrt(variance), Math.sqrt(mean), 1));
  const observed = obs.arrivalsPerS;
  return { signal: 'arrival-rate', observed, baseline: mean, threshold: low, low, hot: false, elevated: observed >= low && observed > 0 };
}

/** The arrival-rate lines: `high` makes a second hot, `low` keeps it elevated. */
function rateLines(rate: EwmaState, params: AttackParams): { mean: number; high: number; low: number } {
  const { mean, variance } = rate;
  // Poisson floor: a count with mean λ per second varies by √λ even when nothing is wrong.
  const sd = Math.max(Math.sqrt(variance), Math.sqrt(mean), 1);
  return {
    mean,
    high: Math.max(mean + params.kHigh * sd, mean * params.rateLiftHigh),
    low: Math.max(mean + params.kLow * sd, mean * params.rateLiftLow),
  };
}

function reading(signal: AttackSignal, observed: number, baseline: number, threshold: number, low: number): SignalReading {
  return { signal, observed, baseline, threshold, low, hot: observed >= threshold && observed > 0, elevated: observed >= low && observed > 0 };
}

/**
 * A share's lines are not capped at 1: over a baseline near 1 (an API whose clients keep no cookies,
 * a site whose errors are its normal) a share cannot rise by `rise`, so the signal says nothing and
 * rate and saturation decide. Capped, a share of 1 over a baseline of 1 was "hot" every second.
 */
function ratioReading(signal: AttackSignal, observed: number, base: EwmaState, rise: number, p: AttackParams): SignalReading {
  const sd = Math.max(Math.sqrt(base.variance), 0.01);
  return reading(signal, observed, base.mean,
    Math.max(base.mean + p.kHigh * sd, base.mean + rise),
    Math.max(base.mean + p.kLow * sd, base.mean + rise / 2));
}

/** The reading furthest past its line (relative to the line), for a reason. */
function worst(readings: readonly SignalReading[], line: (r: SignalReading) => number): SignalReading {
  let best = readings[0] as SignalReading;
  let bestRatio = -Infinity;
  for (const r of readings) {
    const ratio = r.observed / Math.max(line(r), 1e-9);
    if (ratio > bestRatio) { best = r; bestRatio = ratio; }
  }
  return best;
}

/** The outcome of one step. */
export interface AttackStep {
  readonly state: AttackState;
  readonly transition?: AttackTransition;
}

/**
 * Advances a scope by one observation (one closed second) at `now`.
 * @example
 * const r = attackStep(state, { arrivalsPerS, saturation, errorRatio, cookielessShare }, now);
 * state = r.state; if (r.transition) events.publish('attack', r.transition);
 */
export function attackStep(state: AttackState, obs: AttackObservation, now: number, overrides: Partial<AttackParams> = {}): AttackStep {
  const p: AttackParams = { ...DEFAULT_ATTACK_PARAMS, ...overrides };
  const readings = readSignals(state, obs, p);
  const held = coldHoldReading(state, obs, p, now);
  if (held !== undefined) readings.push(held);
  const hot = readings.filter((r) => r.hot);
  const elevated = readings.some((r) => r.elevated);
  const start = now - (obs.durationMs ?? 1000);
  const hotSince = hot.length > 0 ? (state.hotSince ?? start) : elevated ? state.hotSince : undefined;
  const calmSince = elevated ? undefined : (state.calmSince ?? start);
  const hotFor = hotSince === undefined ? 0 : now - hotSince;
  const calmFor = calmSince === undefined ? 0 : now - calmSince;
  const saturated = hot.find((r) => r.signal === 'saturation');

  // Learn only in normal times and never from a hot second: an attack must not become normal. Nor
  // from one client's traffic: a new shield in front of slow pages saw the bench's own checks (one
  // client, ~1 req/s for 28 s) before its customers, its rate baseline was warm on them, and the
  // customers' arrival (6-10 req/s) read as an attack that lasted the whole warm-up (forty-eighth
  // session, docs/benchmarks.md): customers got only the no-JavaScript cookie, never a reputation.
  const alpha = alphaOf({ halfLife: p.halfLifeS });
  const learn = state.phase === 'normal' && hot.length === 0 && obs.population !== false;
  let next: AttackState = {
    ...state,
    hotSince,
    calmSince,
    rate: learn ? ewmaStep(state.rate, obs.arrivalsPerS, alpha) : state.rate,
    errors: learn && obs.errorRatio !== undefined ? ewmaStep(state.errors, obs.errorRatio, alpha) : state.errors,
    cookieless: learn && obs.cookielessShare !== undefined ? ewmaStep(state.cookieless, obs.cookielessShare, alpha) : state.cookieless,
  };
  const move = (to: AttackPhase, reason: SignalReading): AttackStep => {
    const { signal, observed, baseline, threshold } = reason;
    next = { ...next, phase: to, since: now };
    return { state: next, transition: { from: state.phase, to, at: now, reason: { signal, observed, baseline, threshold } } };
  };
  const calmReason = (): SignalReading => {
    const r = worst(readings, (x) => x.low);
    return { ...r, threshold: r.low };
  };
  const forced = state.forcedUntil !== undefined && now < state.forcedUntil;
  if (state.forcedUntil !== undefined && !forced) next = { ...next, forcedUntil: undefined };

  switch (state.phase) {
    case 'normal':
      if (hot.length > 0 && hotFor >= p.suspectAfterS * 1000) return move('suspect', worst(hot, (x) => x.threshold));
      break;
    case 'suspect':
      if (saturated !== undefined) return move('under_attack', saturated);
      if (hot.length > 0 && hotFor >= p.attackAfterS * 1000) return move('under_attack', worst(hot, (x) => x.threshold));
      if (calmFor >= p.suspectClearS * 1000) return move('normal', calmReason());
      break;
    case 'under_attack':
      if (!forced && calmFor >= p.calmAfterS * 1000) return move('recovering', calmReason());
      break;
    case 'recovering':
      if (hot.length > 0) return move('under_attack', worst(hot, (x) => x.threshold));
      if (calmFor >= p.coolDownS * 1000 && now - state.since >= p.coolDownS * 1000) return move('normal', calmReason());
      break;
  }
  return { state: next };
}

/**
 * The arrival count that, reached before the second opened at `windowStart` closes, decides
 * suspicion (Infinity when it cannot: the scope is not normal, its baseline is not warm, or more hot
 * seconds are still needed). Arrivals only grow within a second, so a count at this line is certain
 * evidence that the second will be hot: `suspectEarly` takes the step the next `attackStep` would
 * take, as soon as it is known instead of up to a second later. Rate only: saturation, errors and
 * cookieless share are ratios or waits, which can still fall before the second ends.
 */
export function earlySuspectLine(state: AttackState, windowStart: number, overrides: Partial<AttackParams> = {}): number {
  const p: AttackParams = { ...DEFAULT_ATTACK_PARAMS, ...overrides };
  if (state.phase !== 'normal' || state.rate.samples < p.warmupS) return Infinity;
  // The open second ends at windowStart + 1000: hot by then, is the run long enough?
  if ((state.hotSince ?? windowStart) + p.suspectAfterS * 1000 > windowStart + 1000) return Infinity;
  return Math.max(1, Math.ceil(rateLines(state.rate, p).high));
}

/** Moves a normal scope to suspect on `arrivals` at or over its `line` (from `earlySuspectLine`), before its second closes. */
export function suspectEarly(state: AttackState, arrivals: number, line: number, windowStart: number, now: number): AttackStep {
  if (state.phase !== 'normal' || arrivals < line) return { state };
  const next: AttackState = { ...state, phase: 'suspect', since: now, hotSince: state.hotSince ?? windowStart, calmSince: undefined };
  return {
    state: next,
    transition: { from: 'normal', to: 'suspect', at: now, reason: { signal: 'arrival-rate', observed: arrivals, baseline: state.rate.mean, threshold: line, withinMs: now - windowStart } },
  };
}

/**
 * Moves a normal scope to suspect when its upstream's admission queue has stood (not emptied) for
 * `standingMs` with its oldest waiter past `queueWaitMs`: the evidence the tick's saturation reading
 * waits a whole aligned second for (RFC 8289 §3: a queue that does not drain is a standing queue).
 * Suspicion costs a browser one redirect (the no-JavaScript check); under_attack still waits for
 * the tick's readings.
 */
export function suspectOnStanding(state: AttackState, standingMs: number, queueWaitMs: number, now: number, overrides: Partial<AttackParams> = {}): AttackStep {
  const p: AttackParams = { ...DEFAULT_ATTACK_PARAMS, ...overrides };
  if (state.phase !== 'normal' || standingMs < p.standingMs || queueWaitMs < p.queueWaitMs) return { state };
  const next: AttackState = { ...state, phase: 'suspect', since: now, hotSince: state.hotSince ?? now - standingMs, calmSince: undefined };
  return {
    state: next,
    transition: { from: 'normal', to: 'suspect', at: now, reason: { signal: 'saturation', observed: queueWaitMs, baseline: 0, threshold: p.queueWaitMs, withinMs: standingMs } },
  };
}

/** Operator override: under_attack until `until` whatever the signals say. */
export function forceAttack(state: AttackState, until: number, now: number): AttackStep {
  const next: AttackState = { ...state, phase: 'under_attack', since: state.phase === 'under_attack' ? state.since : now, forcedUntil: until };
  if (state.phase === 'under_attack') return { state: next };
  return { state: next, transition: { from: state.phase, to: 'under_attack', at: now, reason: { signal: 'operator', observed: Math.max(0, Math.round((until - now) / 1000)), baseline: 0, threshold: 0, until } } };
}

/** Ends an operator override; the signals decide again from the next step. */
export function clearForce(state: AttackState): AttackState {
  return { ...state, forcedUntil: undefined };
}
