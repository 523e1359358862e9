/**
 * The authentication state machine: a transition table and nothing else. The service persists
 * the result; timers and channel decisions arrive here as events.
 */

/** Every state of an authentication; the last seven are terminal. */
export const AUTH_STATES = [
  'created', 'app_pending', 'fallback_offered', 'sms_sent',
  'exempted', 'authenticated', 'failed', 'locked', 'expired', 'cancelled', 'unavailable',
] as const;
export type AuthState = (typeof AUTH_STATES)[number];

/** States an authentication never leaves. */
export const TERMINAL_STATES: ReadonlySet<AuthState> = new Set<AuthState>(
  ['exempted', 'authenticated', 'failed', 'locked', 'expired', 'cancelled', 'unavailable']);

/** True for a state that can no longer change. */
export const isTerminal = (s: AuthState): boolean => TERMINAL_STATES.has(s);

/** What can happen to an authentication. */
export type AuthEventType =
  | 'route_exempt' | 'route_app' | 'route_sms' | 'route_unavailable'
  | 'push_failed' | 'channel_down'
  | 'sms_accepted' | 'sms_refused' | 'resend'
  | 'app_approved' | 'app_denied' | 'code_ok'
  | 'payer_locked' | 'cancel' | 'expire';

/** Every event, for table-driven tests. */
export const AUTH_EVENTS: readonly AuthEventType[] = [
  'route_exempt', 'route_app', 'route_sms', 'route_unavailable', 'push_failed', 'channel_down',
  'sms_accepted', 'sms_refused', 'resend', 'app_approved', 'app_denied', 'code_ok', 'payer_locked', 'cancel', 'expire',
];

const ENDINGS = { payer_locked: 'locked', cancel: 'cancelled', expire: 'expired' } as const;

/**
 * The whole table: absent pairs are refused. A denial in the app is final (`app_denied` → failed,
 * never `fallback_offered`); only the channel policy (`push_failed`, `channel_down`) routes an app
 * authentication to SMS, never the requester.
 */
export const TRANSITIONS: Readonly<Record<AuthState, Partial<Record<AuthEventType, AuthState>>>> = {
  created: {
    route_exempt: 'exempted', route_app: 'app_pending', route_sms: 'fallback_offered',
    route_unavailable: 'unavailable', ...ENDINGS,
  },
  app_pending: {
    app_approved: 'authenticated', app_denied: 'failed',
    push_failed: 'fallback_offered', channel_down: 'fallback_offered', ...ENDINGS,
  },
  // The SMS is decided and its code issued (as a keyed hash) but not yet accepted by a provider;
  // if no provider takes it before the deadline the answer is "unavailable" (3-DS U), not N.
  fallback_offered: { sms_accepted: 'sms_sent', sms_refused: 'unavailable', payer_locked: 'locked', cancel: 'cancelled', expire: 'unavailable' },
  sms_sent: { code_ok: 'authenticated', resend: 'fallback_offered', ...ENDINGS },
  exempted: {}, authenticated: {}, failed: {}, locked: {}, expired: {}, cancelled: {}, unavailable: {},
};

/** The result of applying an event: the next state, or why it is refused. */
export type Transition = { ok: true; from: AuthState; to: AuthState } | { ok: false; from: AuthState; reason: 'terminal' | 'not_allowed' };

/** Applies `event` to `state` by the table; terminal states refuse everything. */
export function transition(state: AuthState, event: AuthEventType): Transition {
  if (isTerminal(state)) return { ok: false, from: state, reason: 'terminal' };
  const to = TRANSITIONS[state][event];
  return to ? { ok: true, from: state, to } : { ok: false, from: state, reason: 'not_allowed' };
}

/** EMV 3-D Secure 2.x transStatus: Y authenticated, N not, U could not be performed, R rejected, C pending challenge. */
export type TransStatus = 'Y' | 'N' | 'U' | 'R' | 'C';

/** 3-DS transStatus for a state (and transStatusReason where 3-DS defines one). */
export function transStatusOf(state: AuthState): { transStatus: TransStatus; reason?: string } {
  switch (state) {
    case 'authenticated': return { transStatus: 'Y' };
    // RTS art. 16 low-value exemption: frictionless, no challenge.
    case 'exempted': return { transStatus: 'Y', reason: 'low-value exemption' };
    case 'failed': return { transStatus: 'N', reason: '01' }; // EMV 3DS: card authentication failed
    case 'expired': return { transStatus: 'N', reason: '14' }; // EMV 3DS: transaction timed out at the ACS
    case 'cancelled': return { transStatus: 'N', reason: '13' }; // EMV 3DS: cardholder/requestor cancel
    case 'locked': return { transStatus: 'R', reason: '10' }; // EMV 3DS: exceeds max challenges → rejected
    case 'unavailable': return { transStatus: 'U', reason: '18' }; // EMV 3DS: no ACS challenge possible
    default: return { transStatus: 'C' };
  }
}
