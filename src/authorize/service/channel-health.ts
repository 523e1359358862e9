import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { AuthorizeError } from '../errors.js';
import type { AuthorizeBus } from '../events.js';
import type { AuthStore } from '../store/port.js';
import type { PushProvider } from '../push/port.js';
import {
  advanceBreaker, effectiveChannel, initialBreaker, recordOutcome, recordProbe, restoreBreaker, saveBreaker, windowCounts,
  type BreakerChange, type BreakerParams, type BreakerState, type ChannelMode,
} from '../domain/breaker.js';

/** The synthetic device probes are pushed to; its app fetch goes through the real app path. */
export const PROBE_DEVICE = '__probe__';

/** An operator override in force. */
export interface Override { mode: ChannelMode; until: number; reason: string; operators: string[] }

interface Proposal { id: string; mode: ChannelMode; reason: string; ttlMs: number; operator: string; expiresAt: number }

/**
 * App-channel health: the breaker over real attempts (push sends, app fetches), synthetic probes
 * while open, and operator overrides (two distinct operators, a reason, an expiry). Every mode
 * change is an event and an audit record.
 */
export function createChannelHealth(deps: { clock: Clock; store: AuthStore; bus: AuthorizeBus; push: PushProvider;
  /** The fetch token a push carries (see PushMessage). */
  pushToken: (deviceId: string, ref: string) => string;
  params: BreakerParams & { probeTimeoutMs: number }; override: { maxTtlMs: number; proposalTtlMs: number };
  onOpen: () => void }) {
  const { clock, store, bus, params } = deps;
  // The breaker's phase survives restarts (settings row 'breaker', written at each phase change).
  let breaker: BreakerState = (() => {
    const s = store.getSetting('breaker');
    if (!s) return initialBreaker(clock.now());
    let saved: unknown = null;
    try { saved = JSON.parse(s); } catch { /* unreadable: restoreBreaker treats it as open */ }
    return restoreBreaker(saved, clock.now());
  })();
  let override: Override | undefined = (() => {
    const s = store.getSetting('override');
    if (!s) return undefined;
    try {
      return JSON.parse(s) as Override;
    } catch {
      return undefined; // an unreadable override cannot be honoured: the breaker decides (the start record shows the mode)
    }
  })();
  let proposal: Proposal | undefined;
  let probe: { ref: string; sentAt: number; answered: boolean } | undefined;
  let lastProbeAt = 0;
  let channel = effectiveChannel(breaker, override, clock.now());

  const modeText = (): string => `${channel}${override && override.until > clock.now() && override.mode !== 'auto' ? ' (forced)' : ` (breaker ${breaker.phase})`}`;

  function noteChange(change: BreakerChange, source: 'breaker' | 'operator' | 'expiry', reason?: string): void {
    const now = clock.now();
    const before = channel;
    const beforeText = modeText();
    channel = effectiveChannel(breaker, override, now);
    if (!change && source === 'breaker') return;
    const to = modeText();
    const why = reason ?? change?.reason ?? '';
    store.tx(() => {
      if (change) store.setSetting('breaker', JSON.stringify(saveBreaker(breaker)));
      store.audit({ at: now, kind: 'channel.mode', data: { from: beforeText, to, source, reason: why, breaker: breaker.phase } });
    });
    bus.emit('channel:mode', { from: beforeText, to, reason: why, source, at: now });
    if (before === 'app' && channel === 'sms') deps.onOpen();
  }

  function applyBreaker(r: { state: BreakerState; change: BreakerChange }): void {
    breaker = r.state;
    if (r.change) noteChange(r.change, 'breaker');
  }

  return {
    channel: (): 'app' | 'sms' => channel,
    /** Records a real app-path attempt (push accepted and fetched = ok; push refused or never fetched = failure). */
    record(ok: boolean): void { applyBreaker(recordOutcome(breaker, ok, clock.now(), params)); },
    /**
     * A fetch by the probe device for the probe in flight (its push token already checked): the
     * probe went through the whole app path. False for any other reference, so a forged or replayed
     * probe fetch can never count as a success and fail back to a dead app channel.
     */
    probeFetched(ref: string): boolean {
      if (!probe || probe.answered || probe.ref !== ref) return false;
      probe.answered = true;
      applyBreaker(recordProbe(breaker, true, clock.now(), params));
      probe = undefined;
      return true;
    },
    /** Timers: override expiry, dwell, probe pacing and probe timeouts. Called by the service tick. */
    tick(): void {
      const now = clock.now();
      if (override && override.until <= now) {
        override = undefined;
        store.setSetting('override', '');
        noteChange(undefined, 'expiry', 'operator override expired');
      }
      if (proposal && proposal.expiresAt <= now) proposal = undefined;
      applyBreaker(advanceBreaker(breaker, now, params));
      if (probe && !probe.answered && now - probe.sentAt >= params.probeTimeoutMs) {
        probe = undefined;
        applyBreaker(recordProbe(breaker, false, now, params));
      }
      if (breaker.phase === 'probing' && !probe && now - lastProbeAt >= params.probeIntervalMs) {
        lastProbeAt = now;
        const ref = `probe-${randomBytes(12).toString('base64url')}`;
        const p = { ref, sentAt: now, answered: false };
        probe = p;
        deps.push.send({ deviceId: PROBE_DEVICE, ref, token: deps.pushToken(PROBE_DEVICE, ref) }).then((r) => {
          if (!r.ok && probe === p) { probe = undefined; applyBreaker(recordProbe(breaker, false, clock.now(), params)); }
        }, () => {});
      }
    },
    /**
     * An operator's request to force a mode: the first approval is pending (202), a second one from
     * another operator for the same mode applies it until `ttlMs` from now.
     */
    propose(operator: string, req: { mode: ChannelMode; reason: string; ttlMs: number }): { applied: boolean; proposalId: string; override?: Override } {
      const now = clock.now();
      if (req.ttlMs > deps.override.maxTtlMs) throw new AuthorizeError('RMP_ERR_AUTH_BAD_REQUEST', `ttlS must be at most ${deps.override.maxTtlMs / 1000}`);
      const same = proposal && proposal.mode === req.mode && proposal.expiresAt > now;
      if (same && proposal && proposal.operator === operator) throw new AuthorizeError('RMP_ERR_AUTH_SAME_OPERATOR');
      if (!same || !proposal) {
        proposal = { id: randomBytes(8).toString('hex'), mode: req.mode, reason: req.reason, ttlMs: req.ttlMs, operator, expiresAt: now + deps.override.proposalTtlMs };
        store.tx(() => store.audit({ at: now, kind: 'operator.proposed', data: { operator, mode: req.mode, reason: req.reason, ttlMs: req.ttlMs } }));
        return { applied: false, proposalId: proposal.id };
      }
      const first = proposal;
      proposal = undefined;
      override = { mode: req.mode, until: now + Math.min(first.ttlMs, req.ttlMs), reason: `${first.reason} / ${req.reason}`, operators: [first.operator, operator] };
      store.tx(() => {
        store.setSetting('override', JSON.stringify(override));
        store.audit({ at: now, kind: 'operator.approved', data: { operators: override?.operators, mode: req.mode, until: override?.until, reason: override?.reason } });
      });
      noteChange(undefined, 'operator', `forced ${req.mode} by ${first.operator} and ${operator}: ${override.reason}`);
      return { applied: true, proposalId: first.id, override };
    },
    status() {
      const now = clock.now();
      const counts = windowCounts(breaker, now, params);
      const live = override && override.until > now ? override : undefined;
      return {
        channel, breaker: { phase: breaker.phase, since: breaker.since, probeStreak: breaker.probeStreak, ...counts },
        override: live ?? null,
        pendingProposal: proposal && proposal.expiresAt > now ? { id: proposal.id, mode: proposal.mode, operator: proposal.operator, reason: proposal.reason } : null,
      };
    },
  };
}

export type ChannelHealth = ReturnType<typeof createChannelHealth>;
