import type { EventBus } from '../core/events.js';
import type { AuthState } from './domain/state-machine.js';

/** Events the authorize service publishes; logs, the console and the status page subscribe. */
export type AuthorizeEvents = {
  'auth:state': { authId: string; payerRef: string; from: AuthState; to: AuthState; method: string; reason: string; at: number };
  'channel:mode': { from: string; to: string; reason: string; source: 'breaker' | 'operator' | 'expiry'; at: number };
  'sms:accepted': { authId: string; provider: string; at: number };
  'sms:retry': { authId: string; reason: 'throttled' | 'all_failed'; afterMs: number; at: number };
  'sms:receipt': { provider: string; status: string; authId: string | undefined; at: number };
  'sms:provider-blocked': { provider: string; reason: string; at: number };
  'payer:alert': { payerRef: string; kind: 'warn' | 'blocked' | 'permanent'; at: number };
};

export type AuthorizeBus = EventBus<AuthorizeEvents>;
