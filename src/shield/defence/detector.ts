import type { Clock } from '../../core/clock.js';
import type { Service } from '../../core/lifecycle.js';
import { ROUTE_CLASSES, type Config, type RouteClass } from '../../config/schema.js';
import { attackStep, clearForce, DEFAULT_ATTACK_PARAMS, earlySuspectLine, forceAttack, initialAttackState, suspectEarly, suspectOnStanding, type AttackParams, type AttackPhase, type AttackState, type AttackTransition } from '../detect/attack-state.js';
import { LEARNING, stepLearningPause, type LearningPauseState } from './learning-pause.js';
import { createShareBaseline, EWMA_EMPTY, type EwmaState, type ShareBaselineData } from '../detect/baseline.js';
import { CHALLENGEABLE, clearMitigation, initialEscalation, planStep, type EscalationState, type Mitigation } from '../detect/escalation.js';
import { findSignatures, type Signature } from '../detect/signatures.js';
import { createTrafficSketch, DIMENSIONS, type Dimension, type TrafficSnapshot } from '../detect/source-tracker.js';
import { createSpaceSaving } from '../detect/space-saving.js';
import { DEFAULT_DIFFICULTY } from '../challenge/pow.js';
import { personalToken, type RequestContext, type RequestTraits } from '../context.js';
import type { Outcome } from '../pipeline/phases.js';
import type { ShieldBus } from '../events.js';
import { createSharedAddresses } from '../detect/shared-addresses.js';
import { createPaceProfile, effectiveLightRequests, type PaceProfileData } from '../detect/pace-profile.js';

const PHASE_RANK: Record<AttackPhase, number> = { normal: 0, suspect: 1, recovering: 2, under_attack: 3 };

/** What the challenge filter asks of one request's scope. */
export interface ChallengePolicy {
  readonly level: 0 | 1 | 2;
  readonly difficulty: number;
  readonly attackStartedAt: number | undefined;
  /** Level 2 comes only from a signature the request matches (not from an operator's forced proof-of-work). */
  readonly bySignature?: boolean;
}

/** Live upstream pressure, read once per second (upstream/admission.ts `readPressure`). */
export interface PressureProbe {
  /**
   * One upstream since the previous read: `saturation`, the share of the time it was at its
   * concurrency limit (0–1); `queueWaitMs`, the oldest waiter's wait if the queue stood the whole
   * time, else 0.
   */
  read(upstream: string): { saturation: number; queueWaitMs: number };
}

/** Baselines learned in normal times, as plain data (defence/learned-store.ts keeps them). */
export interface LearnedBaselines {
  readonly version: 1;
  readonly classes: Record<string, { rate: EwmaState; errors: EwmaState; cookieless: EwmaState }>;
  readonly shares: ShareBaselineData;
  /** Requests per identity per pace bucket, customers in normal times (absent in rows saved before it). */
  readonly pace?: PaceProfileData;
}

const ewmaOk = (e: unknown): e is EwmaState => {
  const x = e as EwmaState | null | undefined;
  return x !== null && x !== undefined && typeof x === 'object' && [x.mean, x.variance, x.samples].every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0);
};

/** What detection does with the blocklist (a port: the detector never sees the table). */
export interface BlockPort {
  block(cidr: string, ttlS: number, reason: string): void;
  unblock(cidr: string): void;
}

/** The detector: statistics per second, attack state per route class, signatures and mitigations. */
export interface Detector extends Service<Config> {
  /** Counts an arriving request (after its traits are known); cheap. */
  arrive(ctx: RequestContext, traits: RequestTraits): void;
  /** Several customers with tokens of their own were seen behind `address` (a carrier NAT): detect/shared-addresses.ts. */
  isSharedAddress(address: string): boolean;
  /** A token used from `address` was revoked for flooding. */
  tokenRevoked(address: string): void;
  /** A no-JavaScript cookie issued to `address` may carry an identity of its own: shared, and no token revoked there lately. */
  personalCookiesAt(address: string): boolean;
  /** A client with no token of its own went over `address`'s rate limit. */
  addressOverRate(address: string): void;
  /** `address`'s own identity is a flood's (detect/shared-addresses.ts, `flooded`): its page loads are asked for proof-of-work. */
  floodedAddress(address: string): boolean;
  /** For how long, ms, clients without a token have been challenged (undefined: they are not, all is normal). */
  challengingForMs(): number | undefined;
  /** Since when (wall clock, ms) clients without a token have been challenged: the attack's identity until all is normal again. */
  challengingSince(): number | undefined;
  /** Changes whenever what `policyFor` answers may have: a class's phase changed, a mitigation was added or lifted. */
  policyVersion(): number;
  /** Learns from a finished exchange (logging phase). */
  finish(ctx: RequestContext, outcome: Outcome): void;
  /** The challenge level for a request of this class with these traits. */
  policyFor(routeClass: RouteClass | 'none', traits: RequestTraits, client: string): ChallengePolicy;
  /** An aggregate rate limit that applies to these traits, if a mitigation set one. */
  aggregateLimit(traits: RequestTraits): { key: string; ratePerS: number } | undefined;
  /**
   * `upstream`'s admission queue has not emptied for `standingMs`, its oldest waiter waiting
   * `queueWaitMs`: the classes it serves become suspect now if that is enough (attack-state.ts
   * `suspectOnStanding`), rather than at the next tick. Called by the runtime every 100 ms while it holds.
   */
  standing(upstream: string, standingMs: number, queueWaitMs: number): void;
  /** Runs one second of detection now (the service's ticker calls it; tests call it with a manual clock). */
  tick(): void;
  /** Forces "under attack" on every class until `untilMs`; `proofOfWork` also asks unknown and cookie-only clients for proof-of-work. */
  force(untilMs: number, who: string, proofOfWork?: boolean): void;
  clearForce(who: string): void;
  clearMitigation(id: string, who: string): boolean;
  /**
   * An operator sends one software-shaped scope (fingerprint, user agent, path, query shape) to
   * proof-of-work until the TTL: a bot pays or stops, customers sharing the value can pass. Returns its id.
   */
  challengeScope(dimension: Dimension, value: string, ttlS: number, who: string, reason: string): string;
  readonly dryRun: boolean;
  state(): unknown;
  /**
   * What was learned in normal times (rate baselines per class, shares per dimension), to keep
   * across a restart; undefined while any class is not normal (an attack is never saved as normal).
   */
  learned(): LearnedBaselines | undefined;
  /** Takes saved baselines as learned (at start, before traffic); false when the data is unusable. */
  restore(data: unknown): boolean;
  /**
   * Forgets every learned baseline (rates per class, shares per dimension): detection judges by
   * its floors and learns afresh, as on a first start. The operator's answer to a flood ramped
   * slowly enough to be learned as normal (baseline poisoning).
   */
  forget(who: string): void;
  /** The traffic sketch's top entries per dimension as of the last tick (the console's top offenders). */
  offenders(): TrafficSnapshot | undefined;
  /**
   * A customer's pace bucket is over: `requests` sent by one reputation holder in one bucket
   * (identity-pace.ts). Learned only while every class is normal (detect/pace-profile.ts).
   */
  learnPace(requests: number): void;
  /**
   * The rate line identity pace uses now (`detection.pace.lightRequests`, raised to what the site's
   * customers were learned to send, up to `detection.pace.learn.maxLightRequests`). Updated each tick.
   */
  paceLightRequests(): number;
}

const traitValue = (t: RequestTraits, client: string, d: Dimension): string | undefined => {
  switch (d) {
    case 'client': return client;
    case 'prefix': return t.prefix;
    case 'prefix48': return t.prefix48;
    case 'fingerprint': return t.fingerprint;
    case 'path': return t.pathTemplate;
    case 'userAgent': return t.userAgent;
    case 'queryShape': return t.queryShape;
    default: return undefined;
  }
};

/** Surely over this share of the window from one client, a window teaches no mix nor rate (`isPopulation`). */
export const ONE_CLIENT_MAX_SHARE = 0.5;

/**
 * Whether a window's traffic is a population's, whose mix of fingerprints, agents, paths and query
 * shapes, and whose rates, are worth learning: not when one client surely sent over half of it (a
 * monitor's probes, a load balancer's health checks at night, a benchmark's checks before its users
 * come). Learned, such a window makes the first crowd of ordinary browsers a signature: a new
 * shield in front of slow pages (16 workers × 320 ms) saw 28 s of the bench's own checks, one
 * client, before its customers — its share baseline was warm (30 windows), and a flash crowd's
 * browser read "fingerprint at 31.9% of traffic (normally 2.0%)" and went to proof-of-work
 * (forty-seventh session, docs/benchmarks.md); its rate baseline, learned the same way, read the
 * customers' arrival as an attack (forty-eighth).
 * Shares by the sketch's lower bound (count − error): only a client that surely dominates. An
 * operator whose every request comes from one address (a proxy not declared in `trustedProxies`)
 * learns no mix and no rate, and gets no signature on software: the shield sees one client there
 * anyway, and detects by its upstreams' saturation alone, which needs no baseline.
 */
export function isPopulation(snap: TrafficSnapshot): boolean {
  const top = topClient(snap);
  return top === undefined || top.share <= ONE_CLIENT_MAX_SHARE;
}

/** The client that sent most of the window, and the share of it it surely sent (count − error). */
function topClient(snap: TrafficSnapshot): { client: string; share: number } | undefined {
  const top = snap.dimensions.client[0];
  return top === undefined || snap.total === 0 ? undefined : { client: top.value, share: (top.count - top.error) / snap.total };
}

/**
 * Creates the detector service. Everything is relative to what it learned in normal times (rates,
 * shares of fingerprints, prefixes, paths): operators override thresholds, they need not set any.
 * Each second: one attack-state step per route class, signatures of what jumped while not normal,
 * and one escalation step that adds or lifts mitigations — each change an event with its reason.
 */
export function createDetector(d: { clock: Clock; bus: ShieldBus; config: () => Config; pressure: PressureProbe; blocks: BlockPort }): Detector {
  const { clock, bus } = d;
  const sketch = createTrafficSketch({ clock });
  const shares = createShareBaseline();
  const strikes = createSpaceSaving(1024);
  const shared = createSharedAddresses();
  const paceCfg = (): Config['detection']['pace'] => d.config().detection.pace;
  const paceProfile = createPaceProfile(() => {
    const l = paceCfg().learn;
    return { quantile: l.quantile, minSamples: l.minSamples, halfLifeMs: l.halfLifeS * 1000 };
  });
  // The line identity pace reads on every request: computed once a tick, not per request.
  let paceLine: number | undefined;
  const paceLightNow = (): number => {
    const p = paceCfg();
    return effectiveLightRequests(p.lightRequests, p.learn.enabled ? paceLine : undefined, p.learn.maxLightRequests);
  };
  const states = new Map<RouteClass, AttackState>(ROUTE_CLASSES.map((c) => [c, initialAttackState(clock.now())]));
  // `line`: the arrivals that decide suspicion before the second closes (attack-state.ts `earlySuspectLine`).
  const counts = new Map<RouteClass, { arrivals: number; errors: number; unknown: number; line: number }>(ROUTE_CLASSES.map((c) => [c, { arrivals: 0, errors: 0, unknown: 0, line: Infinity }]));
  let windowStart = clock.now();
  // Per upstream, the longest wait of a queue that stood past `standingMs` since the last tick: the
  // tick reads it as saturation, though the challenges it started may have emptied the queue since.
  const stoodWait = new Map<string, number>();
  let plan: EscalationState = initialEscalation(clock.now());
  let active: readonly Mitigation[] = [];
  // Operator challenges live beside the escalation plan (it would lift them as soon as the attack ends).
  let manual: Array<{ mitigation: Mitigation; expiresAt: number }> = [];
  let signatures: Signature[] = [];
  let lastSnapshot: TrafficSnapshot | undefined;
  let learning: LearningPauseState = LEARNING;
  let attackStartedAt: number | undefined;
  let challengingSince: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let totalArrivals = 0;
  let powUntil = -Infinity;
  const transitions: unknown[] = [];

  const params = (): Partial<AttackParams> => d.config().detection.attack as Partial<AttackParams>;
  const worstPhase = (): AttackPhase => {
    let worst: AttackPhase = 'normal';
    for (const s of states.values()) if (PHASE_RANK[s.phase] > PHASE_RANK[worst]) worst = s.phase;
    return worst;
  };

  let policyVersion = 0;
  const record = (cls: RouteClass, transition: AttackTransition): void => {
    policyVersion++;
    const event = { scope: cls, ...transition };
    transitions.push(event);
    if (transitions.length > 100) transitions.shift();
    bus.emit('attack:transition', event);
  };

  const apply = (m: Mitigation, on: boolean): void => {
    policyVersion++;
    bus.emit(on ? 'mitigation:added' : 'mitigation:lifted', { mitigation: m, dryRun: self.dryRun });
    if (m.kind !== 'block' || self.dryRun) return;
    if (on) d.blocks.block(m.cidr, m.ttlS, m.reason); else d.blocks.unblock(m.cidr);
  };

  const self: Detector = {
    name: 'detector',
    get dryRun() { return d.config().detection.dryRun; },
    start() {
      timer = setInterval(() => self.tick(), 1000);
      timer.unref();
    },
    stop() { clearInterval(timer); },
    isSharedAddress: (address) => shared.isShared(address, clock.now()),
    tokenRevoked: (address) => shared.revoked(address, clock.now()),
    personalCookiesAt: (address) => shared.personalIdentities(address, clock.now()),
    addressOverRate: (address) => shared.overRate(address, clock.now()),
    floodedAddress: (address) => shared.flooded(address, clock.now()),
    challengingForMs: () => (challengingSince === undefined ? undefined : Math.max(0, clock.now() - challengingSince)),
    challengingSince: () => challengingSince,
    policyVersion: () => policyVersion,
    arrive(ctx, t) {
      totalArrivals++;
      const c = counts.get(ctx.routeClass as RouteClass);
      if (c) {
        c.arrivals++;
        if (t.standing === 'unknown') c.unknown++;
        // A flood's first second: challenges start as soon as its count is certain to be hot, not at
        // the tick up to a second later (newcomers' first pages queued then, unchallenged).
        if (c.arrivals >= c.line) {
          const now = clock.now();
          const step = suspectEarly(states.get(ctx.routeClass as RouteClass) as AttackState, c.arrivals, c.line, windowStart, now);
          c.line = Infinity;
          states.set(ctx.routeClass as RouteClass, step.state);
          if (step.transition) { record(ctx.routeClass as RouteClass, step.transition); challengingSince ??= now; }
        }
      }
      // A personal token (reputation, proof-of-work) behind this address: several make it shared.
      const k = personalToken(ctx);
      if (k !== undefined) shared.see(ctx.clientKey, k, clock.now());
      sketch.observe({
        client: ctx.clientKey, prefix: t.prefix, prefix48: t.prefix48, fingerprint: t.fingerprint, pathTemplate: t.pathTemplate,
        userAgent: t.userAgent, queryShape: t.queryShape, cookie: t.standing === 'unknown' ? 'none' : 'valid', routeClass: ctx.routeClass,
      });
    },
    finish(ctx, o) {
      const c = counts.get(ctx.routeClass as RouteClass);
      if (c && !o.aborted && (o.status >= 500 || o.status === 429)) c.errors++;
      const v = ctx.verdict;
      if ((v?.kind === 'deny' && v.code === 'RMP_ERR_RATE_LIMITED') || (v?.kind === 'challenge' && v.overLimit === true)) strikes.add(ctx.clientKey);
    },
    standing(upstream, standingMs, queueWaitMs) {
      const now = clock.now();
      const overrides = params();
      if (standingMs >= (overrides.standingMs ?? DEFAULT_ATTACK_PARAMS.standingMs) && queueWaitMs >= (overrides.queueWaitMs ?? DEFAULT_ATTACK_PARAMS.queueWaitMs)) {
        stoodWait.set(upstream, Math.max(stoodWait.get(upstream) ?? 0, queueWaitMs));
      }
      for (const r of d.config().routes) {
        if (r.upstream !== upstream) continue;
        const cls = r.class as RouteClass;
        const st = states.get(cls);
        if (st === undefined || st.phase !== 'normal') continue;
        const step = suspectOnStanding(st, standingMs, queueWaitMs, now, overrides);
        states.set(cls, step.state);
        if (step.transition) { record(cls, step.transition); challengingSince ??= now; }
      }
    },
    tick() {
      const now = clock.now();
      const config = d.config();
      paceLine = paceProfile.line(now);
      const overrides = params();
      // Each class is judged by the upstreams its routes use: a flood on one class's upstream does not
      // put a class served elsewhere under attack.
      const pressureOf = new Map<string, { saturation: number; wait: number }>();
      for (const name of Object.keys(config.upstreams)) {
        const p = d.pressure.read(name);
        // A queue that stood past `standingMs` in this second is saturation even if it emptied
        // since: without this, a flood that the first challenges kept out of the queue left the
        // next tick calm, and suspicion lapsed back to normal 5 s later while the flood went on.
        pressureOf.set(name, { saturation: p.saturation, wait: Math.max(p.queueWaitMs, stoodWait.get(name) ?? 0) });
      }
      stoodWait.clear();
      let saturation = 0;
      let queueWaitMs = 0;
      for (const p of pressureOf.values()) { saturation = Math.max(saturation, p.saturation); queueWaitMs = Math.max(queueWaitMs, p.wait); }
      const snap = sketch.snapshot(20);
      lastSnapshot = snap;
      const population = isPopulation(snap);
      for (const cls of ROUTE_CLASSES) {
        const c = counts.get(cls) as { arrivals: number; errors: number; unknown: number; line: number };
        let sat = 0;
        let wait = 0;
        for (const r of config.routes) {
          if (r.class !== cls) continue;
          const p = pressureOf.get(r.upstream);
          if (p) { sat = Math.max(sat, p.saturation); wait = Math.max(wait, p.wait); }
        }
        const step = attackStep(states.get(cls) as AttackState, {
          arrivalsPerS: c.arrivals,
          saturation: sat, queueWaitMs: wait,
          errorRatio: c.arrivals > 0 ? Math.min(1, c.errors / c.arrivals) : 0,
          cookielessShare: c.arrivals > 0 ? c.unknown / c.arrivals : 0,
          population,
        }, now, overrides);
        states.set(cls, step.state);
        c.arrivals = 0; c.errors = 0; c.unknown = 0;
        c.line = earlySuspectLine(step.state, now, overrides);
        if (step.transition) record(cls, step.transition);
      }
      windowStart = now;
      const phase = worstPhase();
      // policyFor challenges clients without a token from the first suspicion on.
      if (phase === 'normal') challengingSince = undefined; else challengingSince ??= now;
      if (phase === 'under_attack') {
        attackStartedAt ??= Math.min(...[...states.values()].filter((s) => s.phase === 'under_attack').map((s) => s.since));
      } else if (phase === 'normal') attackStartedAt = undefined;
      const paused = stepLearningPause(learning, { normal: phase === 'normal', population, top: topClient(snap) }, now);
      learning = paused.state;
      if (paused.notice) bus.emit('detection:learning', paused.notice);
      if (phase === 'normal') {
        if (population) for (const dim of DIMENSIONS) shares.learn(dim, snap.dimensions[dim].map((e) => ({ value: e.value, share: e.share })));
        signatures = [];
      } else {
        signatures = findSignatures(snap, shares);
      }
      const step = planStep(plan, {
        // A shared address (carrier NAT) is never blocked: its customers would go with its bots.
        phase, signatures, offenders: strikes.top(64).filter((o) => !shared.isShared(o.key, now)), pressure: saturation >= 0.95 || queueWaitMs > 50,
        baselineRatePerS: (states.get('normal')?.rate.mean ?? 0) + (states.get('critical')?.rate.mean ?? 0) + (states.get('high')?.rate.mean ?? 0) + (states.get('low')?.rate.mean ?? 0),
      }, now);
      plan = step.state;
      active = step.active;
      if (manual.length > 0) {
        for (const x of manual) if (x.expiresAt <= now) apply(x.mitigation, false);
        manual = manual.filter((x) => x.expiresAt > now);
        active = [...active, ...manual.map((x) => x.mitigation)];
      }
      for (const m of step.added) apply(m, true);
      for (const m of step.lifted) apply(m, false);
      strikes.decay(0.5);
    },
    policyFor(routeClass, t, client) {
      const phase = routeClass === 'none' ? worstPhase() : (states.get(routeClass)?.phase ?? 'normal');
      // The no-JavaScript check costs a browser one redirect, so it starts at the first suspicion:
      // newcomers of a flash crowd become cookie keepers (served before anonymous traffic) within a
      // second, instead of waiting in the anonymous tier until the attack is confirmed.
      let level: 0 | 1 | 2 = phase === 'normal' ? 0 : 1;
      let rung = 0;
      if (powUntil > clock.now()) level = 2;
      for (const m of active) {
        if (m.kind !== 'challenge') continue;
        // Clients with no token at all are already challenged from level 1 on (no-JS check, or
        // proof-of-work for API clients): this scope only makes their work harder. Raising everyone
        // to proof-of-work here would charge a flash crowd of real customers for it.
        if (m.scope === 'unknown-clients') { rung = Math.max(rung, m.difficulty); continue; }
        // Address scopes are never challenged as a whole: one carrier-NAT address or /24 carries
        // many customers. Software-shaped scopes (fingerprint, agent, path, query shape) are.
        if (!CHALLENGEABLE.has(m.scope.dimension)) continue;
        if (traitValue(t, client, m.scope.dimension) === m.scope.value) { level = 2; rung = Math.max(rung, m.difficulty); }
      }
      const bySignature = level === 2 && !(powUntil > clock.now());
      return { level, difficulty: Math.min(DEFAULT_DIFFICULTY.maxBits, DEFAULT_DIFFICULTY.minBits + rung), attackStartedAt, ...(bySignature ? { bySignature } : {}) };
    },
    aggregateLimit(t) {
      for (const m of active) {
        if (m.kind !== 'rate-limit-aggregate') continue;
        if ((m.dimension === 'fingerprint' ? t.fingerprint : t.prefix) === m.value) return { key: m.id, ratePerS: m.ratePerS };
      }
      return undefined;
    },
    force(untilMs, who, proofOfWork = false) {
      const now = clock.now();
      powUntil = proofOfWork ? untilMs : -Infinity;
      challengingSince ??= now;
      for (const cls of ROUTE_CLASSES) {
        const step = forceAttack(states.get(cls) as AttackState, untilMs, now);
        states.set(cls, step.state);
        if (step.transition) bus.emit('attack:transition', { scope: cls, ...step.transition });
      }
      bus.emit('operator:action', { who, action: 'force-under-attack', detail: `until +${Math.round((untilMs - now) / 1000)} s` });
    },
    clearForce(who) {
      powUntil = -Infinity;
      for (const cls of ROUTE_CLASSES) states.set(cls, clearForce(states.get(cls) as AttackState));
      bus.emit('operator:action', { who, action: 'clear-force', detail: '' });
    },
    challengeScope(dimension, value, ttlS, who, reason) {
      if (!CHALLENGEABLE.has(dimension)) throw new Error(`only ${[...CHALLENGEABLE].join(', ')} can be challenged as a whole (addresses are blocked instead)`);
      const id = `operator:challenge:${dimension}:${value}`;
      const m: Mitigation = { kind: 'challenge', id, scope: { dimension, value }, difficulty: 2, reason: `operator ${who}: ${reason}`, ttlS };
      manual = [...manual.filter((x) => x.mitigation.id !== id), { mitigation: m, expiresAt: clock.now() + ttlS * 1000 }];
      active = [...active.filter((a) => a.id !== id), m];
      apply(m, true);
      bus.emit('operator:action', { who, action: 'challenge-scope', detail: `${dimension} ${value} for ${ttlS} s: ${reason}` });
      return id;
    },
    clearMitigation(id, who) {
      const own = manual.find((x) => x.mitigation.id === id);
      if (own) {
        manual = manual.filter((x) => x !== own);
        active = active.filter((a) => a.id !== id);
        apply(own.mitigation, false);
        bus.emit('operator:action', { who, action: 'clear-mitigation', detail: id });
        return true;
      }
      const m = active.find((a) => a.id === id);
      if (!m) return false;
      plan = clearMitigation(plan, id, clock.now() + 10 * 60_000);
      active = active.filter((a) => a.id !== id);
      apply(m, false);
      bus.emit('operator:action', { who, action: 'clear-mitigation', detail: id });
      return true;
    },
    learned() {
      if (worstPhase() !== 'normal') return undefined;
      const classes: LearnedBaselines['classes'] = {};
      for (const [cls, st] of states) classes[cls] = { rate: st.rate, errors: st.errors, cookieless: st.cookieless };
      return { version: 1, classes, shares: shares.save(), pace: paceProfile.save(clock.now()) };
    },
    restore(data) {
      const x = data as Partial<LearnedBaselines> | null;
      if (x === null || typeof x !== 'object' || x.version !== 1 || typeof x.classes !== 'object' || x.classes === null || typeof x.shares !== 'object' || x.shares === null) return false;
      for (const v of Object.values(x.classes)) if (!ewmaOk(v?.rate) || !ewmaOk(v?.errors) || !ewmaOk(v?.cookieless)) return false;
      for (const v of Object.values(x.shares)) if (typeof v?.samples !== 'number' || !Array.isArray(v.shares)) return false;
      if (x.pace !== undefined && !paceProfile.load(x.pace, clock.now())) return false;
      paceLine = paceProfile.line(clock.now());
      for (const cls of ROUTE_CLASSES) {
        const saved = x.classes[cls];
        const st = states.get(cls);
        if (saved !== undefined && st !== undefined) states.set(cls, { ...st, rate: saved.rate, errors: saved.errors, cookieless: saved.cookieless });
        const c = counts.get(cls);
        if (c) c.line = earlySuspectLine(states.get(cls) as AttackState, windowStart, params());
      }
      shares.load(x.shares);
      return true;
    },
    forget(who) {
      for (const [cls, st] of states) states.set(cls, { ...st, rate: EWMA_EMPTY, errors: EWMA_EMPTY, cookieless: EWMA_EMPTY });
      for (const c of counts.values()) c.line = Infinity;
      shares.load({});
      paceProfile.clear();
      paceLine = undefined;
      bus.emit('operator:action', { who, action: 'forget-baselines', detail: 'learned rates, shares and customers\' pace forgotten: learning afresh' });
    },
    offenders: () => lastSnapshot,
    learnPace(requests) {
      if (paceCfg().learn.enabled && worstPhase() === 'normal') paceProfile.add(requests, clock.now());
    },
    paceLightRequests: paceLightNow,
    state() {
      const now = clock.now();
      return {
        dryRun: self.dryRun,
        phase: worstPhase(),
        attackStartedAgoS: attackStartedAt === undefined ? null : Math.round((now - attackStartedAt) / 1000),
        classes: Object.fromEntries([...states].map(([c, s]) => [c, { phase: s.phase, sinceS: Math.round((now - s.since) / 1000), baselineRatePerS: Math.round(s.rate.mean * 10) / 10, baselineSamples: s.rate.samples, forced: s.forcedUntil !== undefined && s.forcedUntil > now }])),
        // Seconds each dimension's shares were learned from (30 make them warm): what an operator
        // forgets with DELETE /api/detection/baselines.
        learnedShares: Object.fromEntries(DIMENSIONS.map((dim) => [dim, shares.samples(dim)])),
        // Seconds since normal windows last taught anything because one client sent most of them
        // (learning-pause.ts): for minutes, most often a proxy missing from trustedProxies.
        learningPausedS: learning.since === undefined ? null : Math.round((now - learning.since) / 1000),
        // The pace line in use, what the site's customers were learned to send, and from how many
        // of their buckets (detect/pace-profile.ts; the line is learned past `learn.minSamples`).
        pace: { lightRequests: paceLightNow(), learnedLine: paceLine ?? null, learnedBuckets: Math.round(paceProfile.samples(now)) },
        escalationLevel: plan.level,
        signatures: signatures.slice(0, 10),
        mitigations: [
          ...plan.active.map((a) => ({ ...a.mitigation, level: a.level, expiresInS: Math.max(0, Math.round((a.expiresAt - now) / 1000)) })),
          ...manual.map((x) => ({ ...x.mitigation, level: 0, operator: true, expiresInS: Math.max(0, Math.round((x.expiresAt - now) / 1000)) })),
        ],
        recentTransitions: transitions.slice(-20),
        arrivalsSinceStart: totalArrivals,
      };
    },
  };
  return self;
}
