import type { Clock } from '../core/clock.js';
import type { ShieldBus } from '../shield/events.js';
import type { EventStore } from './event-store.js';
import type { TransitionReason } from '../shield/detect/attack-state.js';

/**
 * Records what operators need to read back after the fact — attack phase changes, mitigations,
 * blocks, operator actions, configuration reloads — from the shield's bus into the event log.
 * Never per-request events: the log stays small and readable during a flood.
 */
export function attachEventLog(bus: ShieldBus, store: EventStore, clock: Clock): () => void {
  const add = (type: string, who: string, summary: string, detail: unknown): void => store.append({ at: clock.now(), type, who, summary, detail });
  const offs = [
    bus.on('attack:transition', (e) => add('attack', e.reason.signal === 'operator' ? 'operator' : 'detector',
      `${e.scope}: ${e.from} → ${e.to} (${transitionWhy(e.reason)})`, e)),
    bus.on('mitigation:added', (e) => add('mitigation', 'detector', `${e.dryRun ? '[dry run] ' : ''}added ${describe(e.mitigation)}`, e)),
    bus.on('mitigation:lifted', (e) => add('mitigation', 'detector', `${e.dryRun ? '[dry run] ' : ''}lifted ${describe(e.mitigation)}`, e)),
    bus.on('reputation:wake', ({ wakeUp: w }) => add('mitigation', 'detector',
      `${w.dryRun ? '[dry run] ' : ''}reputations woke with the attack (${w.reason.kind}: ${w.reason.firstSightings} first sightings in ${round(w.reason.spanMs / 1000)} s, ${round(w.reason.observedPerS)}/s vs usual ${round(w.reason.baselinePerS)}/s): they wait with the token-less requests`, w)),
    bus.on('detection:learning', (e) => add('detection', 'detector', e.paused
      ? `baselines not learning for ${Math.round(e.forMs / 1000)} s: one client (${e.client}) sent ${Math.round(e.share * 100)}% of the traffic — a proxy missing from trustedProxies?`
      : `baselines learning again after ${Math.round(e.forMs / 1000)} s`, e)),
    bus.on('block:added', (e) => add('block', 'shield', `blocked ${e.cidr}${e.ttlS ? ` for ${e.ttlS} s` : ''}: ${e.reason}`, e)),
    bus.on('block:removed', (e) => add('block', 'shield', `unblocked ${e.cidr}`, e)),
    bus.on('operator:action', (e) => add('operator', e.who, `${e.action}${e.detail ? `: ${e.detail}` : ''}`, e)),
    bus.on('admission:mode', (e) => add('admission', 'shield', e.strict
      ? `${e.upstream}: known customers strictly first (${e.why}: newcomers' load ${round(e.mintedLoad)}, flooding share ${round(e.floodingShare)}, tunnel backlog ${round(e.backlogS)} s${e.newestFirst ? ', newest first' : ''})`
      : `${e.upstream}: newcomers share with known customers`, e)),
    bus.on('config:reloaded', (e) => add('config', 'config', `configuration reloaded from ${e.file}`, e)),
    bus.on('config:rejected', (e) => add('config', 'config', `configuration in ${e.file} rejected: ${e.message}`, e)),
  ];
  return () => offs.forEach((off) => off());
}

const round = (n: number): number => Math.round(n * 100) / 100;

/** Why a phase changed, in words: a signal against its baseline, or an operator's force and its end. */
export function transitionWhy(r: TransitionReason): string {
  if (r.signal === 'operator') return `forced by an operator for ${r.observed} s${r.until !== undefined ? `, until ${new Date(r.until).toISOString()}` : ''}`;
  return `${r.signal}: observed ${round(r.observed)} vs baseline ${round(r.baseline)}`;
}

function describe(m: { kind: string; id: string; reason: string; ttlS: number }): string {
  return `${m.kind} ${m.id} (${m.reason}, ${m.ttlS} s)`;
}
