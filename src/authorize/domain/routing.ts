import type { LinkedTransaction } from './dynamic-linking.js';

/** Per-payer counters of art. 16 since the last strong authentication. */
export interface ExemptionCounters { count: number; sumMinor: number }

/** Art. 16 limits as configured. */
export interface ExemptionParams {
  enabled: boolean;
  maxAmountMinor: number;
  maxCumulativeMinor: number;
  maxConsecutive: number;
  currencies: readonly string[];
}

/**
 * RTS (EU) 2018/389 art. 16: no SCA when the payment is ≤ EUR 30 and, since the last SCA,
 * neither the cumulative amount exceeds EUR 100 nor the count exceeds 5 (both counted with this one).
 */
export function isLowValueExempt(tx: LinkedTransaction, c: ExemptionCounters, p: ExemptionParams): boolean {
  if (!p.enabled || !p.currencies.includes(tx.currency)) return false;
  if (tx.amountMinor > p.maxAmountMinor) return false;
  return c.count + 1 <= p.maxConsecutive && c.sumMinor + tx.amountMinor <= p.maxCumulativeMinor;
}

/** Where a new authentication goes, with the reason (decisions are values). */
export type Route =
  | { kind: 'exempt'; reason: string }
  | { kind: 'app'; deviceIds: string[] }
  | { kind: 'sms'; reason: string }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'locked' };

/** What routing needs to know about the payer. */
export interface PayerFacts { blocked: boolean; deviceIds: string[]; hasPhone: boolean; hasKnowledge: boolean; exemption: ExemptionCounters }

/**
 * Routes a new authentication. The requester has no say: only the channel state picks SMS
 * (the issue: the requester can never choose SMS), and SMS carries a stricter amount cap.
 */
export function routeNew(tx: LinkedTransaction, payer: PayerFacts, channel: 'app' | 'sms',
  p: { exemption: ExemptionParams; fallbackMaxAmountMinor: number }): Route {
  if (payer.blocked) return { kind: 'locked' };
  if (isLowValueExempt(tx, payer.exemption, p.exemption)) return { kind: 'exempt', reason: 'art. 16 low value' };
  if (channel === 'app' && payer.deviceIds.length > 0) return { kind: 'app', deviceIds: payer.deviceIds };
  return smsRoute(tx, payer, channel === 'app' ? 'no enrolled device' : 'app channel unavailable', p.fallbackMaxAmountMinor);
}

/** Whether an authentication may move to SMS: both factors enrolled and the amount under the fallback cap. */
export function smsRoute(tx: LinkedTransaction, payer: Pick<PayerFacts, 'hasPhone' | 'hasKnowledge'>, reason: string, capMinor: number): Route {
  // An SMS code is possession only: the fallback pairs it with the knowledge factor (RTS art. 6-7).
  if (!payer.hasPhone || !payer.hasKnowledge) return { kind: 'unavailable', reason: 'no SMS + knowledge factors enrolled' };
  if (tx.amountMinor > capMinor) return { kind: 'unavailable', reason: `amount above the fallback cap of ${capMinor}` };
  return { kind: 'sms', reason };
}
