import type { EventBus } from '../core/events.js';
import type { RequestContext } from './context.js';
import type { AttackTransition } from './detect/attack-state.js';
import type { Mitigation } from './detect/escalation.js';

/** Why a connection was refused before any HTTP parsing. */
export type RefusalReason = 'blocklist' | 'client-cap' | 'global-cap' | 'proxy-protocol';

/** Events the shield publishes; metrics, logs and the console subscribe. */
export type ShieldEvents = {
  'request:end': { ctx: RequestContext; status: number; durationMs: number; aborted: boolean };
  'connection:open': { address: string };
  'connection:close': { address: string };
  'connection:refused': { address: string; reason: RefusalReason };
  'client:error': { address: string; code: string; status: number; requestId: string };
  'config:reloaded': { file: string };
  'config:rejected': { file: string; message: string };
  'block:added': { cidr: string; reason: string; ttlS: number | undefined };
  'block:removed': { cidr: string };
  /** A route class changed attack phase; the reason says which signal, observed against its baseline. */
  'attack:transition': AttackTransition & { scope: string };
  'mitigation:added': { mitigation: Mitigation; dryRun: boolean };
  'mitigation:lifted': { mitigation: Mitigation; dryRun: boolean };
  /** Something an operator did through the admin API (who, what). */
  'operator:action': { who: string; action: string; detail: string };
};

export type ShieldBus = EventBus<ShieldEvents>;
