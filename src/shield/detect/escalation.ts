/**
 * Mitigation planner: from the attack phase, the signatures and the repeat offenders, the set of
 * mitigations to enforce, least disruptive first. A level climbs one step every `escalateEveryS`
 * while the attack still presses on the upstream, and falls one step every `liftEveryS` once it is
 * over; each mitigation has a TTL refreshed while it is justified and a minimum hold, so nothing
 * flaps. Decisions are values; the shield's stages enforce them and the console shows them.
 *
 * Levels: 1 prioritise known clients (harmless to anyone); 2 challenge what the signatures point
 * at (no-JS check first); 3 rate-limit the signature prefixes and fingerprints, and challenge
 * unknown clients when cookieless traffic jumped or no signature explains the attack; 4 and up
 * raise the challenge difficulty. Blocks are never a level: only sources whose *guaranteed* strike
 * count (Space-Saving count − error) reached `blockAfter` are blocked, with a TTL that doubles for
 * each repeat — a flash crowd collects no strikes, so it cannot be blocked.
 */
import type { AttackPhase } from './attack-state.js';
import { NEW_VALUES, type Signature } from './signatures.js';
import type { Dimension } from './source-tracker.js';
import type { HeavyHitter } from './space-saving.js';

/**
 * Dimensions a signature challenge may cover: the client software's (its fingerprint, agent,
 * path, query shape). Addresses never are: one carrier-NAT address or /24 carries many customers,
 * and a signature on it names them too — with no learned share (a shield started or restarted
 * during the attack) an address holding four customers outweighs each of a thousand bots. An
 * address that floods is limited per client and, refused often enough, blocked (strikes).
 */
export const CHALLENGEABLE: ReadonlySet<Dimension> = new Set<Dimension>(['fingerprint', 'userAgent', 'path', 'queryShape']);

/** Who a challenge applies to. */
export type ChallengeScope = { readonly dimension: Dimension; readonly value: string } | 'unknown-clients';

/** One mitigation decision. `difficulty` is a rung: 0 no-JS cookie check, 1+ proof-of-work. */
export type Mitigation =
  | { readonly kind: 'prioritise-known'; readonly id: string; readonly reason: string; readonly ttlS: number }
  | { readonly kind: 'challenge'; readonly id: string; readonly scope: ChallengeScope; readonly difficulty: number; readonly reason: string; readonly ttlS: number }
  | { readonly kind: 'rate-limit-aggregate'; readonly id: string; readonly dimension: 'prefix' | 'fingerprint'; readonly value: string; readonly ratePerS: number; readonly reason: string; readonly ttlS: number }
  | { readonly kind: 'block'; readonly id: string; readonly cidr: string; readonly ttlS: number; readonly reason: string };

/** A mitigation in force: when it started and when it lapses unless refreshed. */
export interface ActiveMitigation {
  readonly mitigation: Mitigation;
  readonly level: number;
  readonly since: number;
  readonly expiresAt: number;
}

/** The planner's state: plain data. */
export interface EscalationState {
  readonly level: number;
  readonly changedAt: number;
  readonly active: readonly ActiveMitigation[];
  /** How many times each source was blocked (bounded, oldest forgotten first). */
  readonly blockCounts: ReadonlyMap<string, number>;
  /** Mitigation ids an operator cleared, with the time until which they stay cleared. */
  readonly cleared: ReadonlyMap<string, number>;
}

/** What the planner looks at each second. */
export interface EscalationInput {
  readonly phase: AttackPhase;
  readonly signatures: readonly Signature[];
  /** Strike counts (rate-limit refusals, failed challenges) from a Space-Saving summary. */
  readonly offenders?: readonly HeavyHitter[];
  /** Whether the upstream still suffers (saturated, shedding): escalate only then. Default true. */
  readonly pressure?: boolean;
  /** The scope's learned normal rate, to size aggregate rate limits. */
  readonly baselineRatePerS?: number;
}

/** Timings and sizes of the planner. */
export interface EscalationParams {
  readonly escalateEveryS: number;
  readonly liftEveryS: number;
  readonly minHoldS: number;
  readonly ttlS: number;
  readonly maxLevel: number;
  readonly baseDifficulty: number;
  readonly maxDifficulty: number;
  readonly maxSignatures: number;
  readonly blockAfter: number;
  readonly blockTtlS: number;
  readonly maxBlockTtlS: number;
  /** An aggregate may send this multiple of its normal rate. */
  readonly rateHeadroom: number;
  readonly minRatePerS: number;
  readonly maxBlockHistory: number;
}

/** Defaults: one level per 5 s of pressure, one down per 10 s of calm, blocks from 60 s to 15 min. */
export const DEFAULT_ESCALATION_PARAMS: EscalationParams = Object.freeze({
  escalateEveryS: 5, liftEveryS: 10, minHoldS: 10, ttlS: 30, maxLevel: 5, baseDifficulty: 0, maxDifficulty: 4,
  maxSignatures: 8, blockAfter: 3, blockTtlS: 60, maxBlockTtlS: 900, rateHeadroom: 2, minRatePerS: 1, maxBlockHistory: 10_000,
});

/** No mitigation, level 0. */
export function initialEscalation(now: number): EscalationState {
  return { level: 0, changedAt: now, active: [], blockCounts: new Map(), cleared: new Map() };
}

/** One planning step's result: the new state, what is in force, and what changed. */
export interface EscalationStep {
  readonly state: EscalationState;
  readonly active: readonly Mitigation[];
  /** New mitigations, and ones re-sized in place (difficulty, rate). */
  readonly added: readonly Mitigation[];
  readonly lifted: readonly Mitigation[];
}

interface Wanted { readonly mitigation: Mitigation; readonly level: number }

function nextLevel(state: EscalationState, input: EscalationInput, now: number, p: EscalationParams): number {
  const { level, changedAt } = state;
  const since = now - changedAt;
  switch (input.phase) {
    case 'under_attack':
      if (level < 2) return 2;
      return (input.pressure ?? true) && since >= p.escalateEveryS * 1000 ? Math.min(p.maxLevel, level + 1) : level;
    case 'suspect':
      return Math.max(level, 1);
    case 'recovering':
      return level > 1 && since >= p.liftEveryS * 1000 ? level - 1 : level;
    case 'normal':
      return level > 0 && since >= p.liftEveryS * 1000 ? level - 1 : level;
  }
}

function describe(s: Signature): string {
  return `${s.dimension} ${s.value} at ${(s.share * 100).toFixed(1)}% of traffic (normally ${(s.baselineShare * 100).toFixed(1)}%)`;
}

function wanted(level: number, input: EscalationInput, state: EscalationState, p: EscalationParams): Wanted[] {
  const out: Wanted[] = [];
  if (level >= 1) out.push({ level: 1, mitigation: { kind: 'prioritise-known', id: 'prioritise-known', reason: `attack ${input.phase}`, ttlS: p.ttlS } });
  const difficulty = Math.min(p.maxDifficulty, p.baseDifficulty + Math.max(0, level - 3));
  const sigs = input.signatures.slice(0, p.maxSignatures);
  let unknownReason: string | undefined;
  for (const s of sigs) {
    if (s.value === NEW_VALUES || s.dimension === 'cookie') {
      // Cookieless and never-seen traffic: challenge those without a reputation, one level later.
      if (level >= 3) unknownReason ??= describe(s);
      continue;
    }
    if (level >= 2 && CHALLENGEABLE.has(s.dimension)) {
      out.push({ level: 2, mitigation: { kind: 'challenge', id: `challenge:${s.dimension}:${s.value}`, scope: { dimension: s.dimension, value: s.value }, difficulty, reason: describe(s), ttlS: p.ttlS } });
    }
    if (level >= 3 && (s.dimension === 'prefix' || s.dimension === 'prefix48' || s.dimension === 'fingerprint')) {
      const normal = s.baselineShare * (input.baselineRatePerS ?? 0) * p.rateHeadroom;
      const dimension = s.dimension === 'fingerprint' ? 'fingerprint' : 'prefix';
      out.push({ level: 3, mitigation: { kind: 'rate-limit-aggregate', id: `rate:${dimension}:${s.value}`, dimension, value: s.value, ratePerS: Math.max(p.minRatePerS, Math.round(normal * 100) / 100), reason: describe(s), ttlS: p.ttlS } });
    }
  }
  if (level >= 3 && unknownReason === undefined && sigs.every((s) => s.value === NEW_VALUES || s.dimension === 'cookie')) {
    unknownReason = 'under attack with no signature that sets the flood apart';
  }
  if (unknownReason !== undefined) {
    out.push({ level: 3, mitigation: { kind: 'challenge', id: 'challenge:unknown-clients', scope: 'unknown-clients', difficulty, reason: unknownReason, ttlS: p.ttlS } });
  }
  if (input.phase === 'under_attack' || input.phase === 'recovering') {
    for (const o of input.offenders ?? []) {
      const strikes = o.count - o.error; // guaranteed strikes only: never block on sketch error
      if (strikes < p.blockAfter) continue;
      const cidr = o.key.includes('/') ? o.key : `${o.key}/${o.key.includes(':') ? 128 : 32}`;
      const id = `block:${cidr}`;
      if (state.active.some((a) => a.mitigation.id === id)) continue; // a block runs its TTL, once
      const times = state.blockCounts.get(cidr) ?? 0;
      const ttlS = Math.min(p.maxBlockTtlS, p.blockTtlS * 2 ** times);
      out.push({ level: 0, mitigation: { kind: 'block', id, cidr, ttlS, reason: `${strikes} strikes (refused or failed challenges) during the attack` } });
    }
  }
  return out;
}

/**
 * Plans one second: the mitigations in force after it and the changes since the previous step.
 * @example
 * const r = planStep(plan, { phase, signatures, offenders: strikes.top(64), baselineRatePerS }, now);
 * plan = r.state; for (const m of r.added) publish('mitigation-added', m);
 */
export function planStep(state: EscalationState, input: EscalationInput, now: number, overrides: Partial<EscalationParams> = {}): EscalationStep {
  const p: EscalationParams = { ...DEFAULT_ESCALATION_PARAMS, ...overrides };
  const level = nextLevel(state, input, now, p);
  const want = wanted(level, input, state, p).filter((w) => !((state.cleared.get(w.mitigation.id) ?? -Infinity) > now));
  const byId = new Map(want.map((w) => [w.mitigation.id, w]));
  const added: Mitigation[] = [];
  const lifted: Mitigation[] = [];
  const active: ActiveMitigation[] = [];
  let blockCounts = state.blockCounts;
  for (const a of state.active) {
    const w = byId.get(a.mitigation.id);
    if (w !== undefined && a.mitigation.kind !== 'block') {
      byId.delete(a.mitigation.id);
      active.push({ mitigation: w.mitigation, level: w.level, since: a.since, expiresAt: now + w.mitigation.ttlS * 1000 });
      if (JSON.stringify(w.mitigation) !== JSON.stringify(a.mitigation)) added.push(w.mitigation); // re-sized in place
      continue;
    }
    byId.delete(a.mitigation.id);
    const expired = now >= a.expiresAt;
    const held = now - a.since < p.minHoldS * 1000;
    // Above the level: lifted as soon as its minimum hold is over. At or below: it runs its TTL out.
    if (expired || (a.mitigation.kind !== 'block' && a.level > level && !held)) lifted.push(a.mitigation);
    else active.push(a);
  }
  for (const w of byId.values()) {
    added.push(w.mitigation);
    active.push({ mitigation: w.mitigation, level: w.level, since: now, expiresAt: now + w.mitigation.ttlS * 1000 });
    if (w.mitigation.kind === 'block') {
      const counts = new Map(blockCounts);
      counts.delete(w.mitigation.cidr); // re-insert: Map order is the forgetting order
      counts.set(w.mitigation.cidr, (blockCounts.get(w.mitigation.cidr) ?? 0) + 1);
      for (const key of counts.keys()) { if (counts.size <= p.maxBlockHistory) break; counts.delete(key); }
      blockCounts = counts;
    }
  }
  let cleared = state.cleared;
  if ([...cleared.values()].some((until) => until <= now)) cleared = new Map([...cleared].filter(([, until]) => until > now));
  const next: EscalationState = { level, changedAt: level !== state.level ? now : state.changedAt, active, blockCounts, cleared };
  return { state: next, active: active.map((a) => a.mitigation), added, lifted };
}

/** Removes one mitigation at an operator's request (admin API) and keeps it off until `until`. */
export function clearMitigation(state: EscalationState, id: string, until: number): EscalationState {
  return { ...state, active: state.active.filter((a) => a.mitigation.id !== id), cleared: new Map([...state.cleared, [id, until]]) };
}
