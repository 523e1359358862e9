import type { Clock } from '../../core/clock.js';
import { AuthorizeError } from '../errors.js';
import type { AuthorizeBus } from '../events.js';
import type { AuthRecord, AuthStore, PayerRecord } from '../store/port.js';
import { nextDeadline } from '../store/sqlite-store.js';
import { isTerminal, transition, transStatusOf, type AuthEventType } from '../domain/state-machine.js';
import type { LinkedTransaction } from '../domain/dynamic-linking.js';

/** An authentication as the API shows it. */
export interface AuthView {
  authId: string; txId: string; payerRef: string; state: string; method: string;
  transStatus: string; transStatusReason?: string; amountMinor: number; currency: string;
  payee: { id: string; name: string }; createdAt: string; expiresAt: string; resendsLeft: number; reason: string;
}

/** The transaction elements of a stored authentication (what the link hash covers). */
export const txOf = (a: AuthRecord): LinkedTransaction => ({ amountMinor: a.amountMinor, currency: a.currency, payee: { id: a.payeeId, name: a.payeeName } });

/**
 * Guarded changes to stored authentications: a transition by the table, or a plain patch, each a
 * conditional update on `version` committed with its audit record; the loser of a race gets 409.
 */
export function createAuthRecords(deps: { store: AuthStore; clock: Clock; bus: AuthorizeBus; maxResends: number; onTerminal: (id: string) => void }) {
  const { store, clock, bus } = deps;
  return {
    view(a: AuthRecord): AuthView {
      const ts = transStatusOf(a.state);
      return {
        authId: a.id, txId: a.txId, payerRef: a.payerRef, state: a.state, method: a.method,
        transStatus: ts.transStatus, ...(ts.reason ? { transStatusReason: ts.reason } : {}),
        amountMinor: a.amountMinor, currency: a.currency, payee: { id: a.payeeId, name: a.payeeName },
        createdAt: new Date(a.createdAt).toISOString(), expiresAt: new Date(a.expiresAt).toISOString(),
        resendsLeft: Math.max(0, deps.maxResends - a.resends), reason: a.reason,
      };
    },

    mustGet(id: string): AuthRecord {
      const a = store.getAuth(id);
      if (!a) throw new AuthorizeError('RMP_ERR_AUTH_NOT_FOUND', `no authentication ${id}`);
      return a;
    },

    mustPayer(ref: string): PayerRecord {
      const p = store.getPayer(ref);
      if (!p) throw new AuthorizeError('RMP_ERR_AUTH_PAYER_UNKNOWN');
      return p;
    },

    /** Applies an event by the table, with a version-guarded update and its audit record in one transaction. */
    move(a: AuthRecord, event: AuthEventType, patch: Partial<AuthRecord>, reason: string, also?: () => void): AuthRecord {
      const tr = transition(a.state, event);
      if (!tr.ok) throw new AuthorizeError(tr.reason === 'terminal' ? 'RMP_ERR_AUTH_TERMINAL' : 'RMP_ERR_AUTH_WRONG_STATE', undefined, { state: a.state });
      const now = clock.now();
      const full: Partial<AuthRecord> = { ...patch, state: tr.to, reason };
      if (isTerminal(tr.to)) Object.assign(full, { codeHash: '', appDeadline: 0, fetchDeadline: 0, smsRetryAt: 0 });
      full.nextAt = nextDeadline({ ...a, ...full });
      const updated = store.tx(() => {
        const u = store.updateAuth(a.id, a.version, full, now);
        if (!u) return undefined;
        store.audit({ at: now, kind: 'auth.state', authId: a.id, payerRef: a.payerRef, data: { from: a.state, to: tr.to, event, reason } });
        also?.();
        return u;
      });
      if (!updated) throw new AuthorizeError('RMP_ERR_AUTH_CONFLICT');
      if (isTerminal(tr.to)) deps.onTerminal(a.id);
      // Published once committed (group commit): subscribers never see a change a crash could undo.
      store.afterCommit(() => bus.emit('auth:state', { authId: a.id, payerRef: a.payerRef, from: a.state, to: tr.to, method: updated.method, reason, at: now }));
      return updated;
    },

    /** A version-guarded change that is not a state transition (deadlines, fetch marks, code re-issue). */
    patch(a: AuthRecord, patch: Partial<AuthRecord>, audit?: { kind: string; data: Record<string, unknown> }): AuthRecord | undefined {
      const now = clock.now();
      const full = { ...patch, nextAt: nextDeadline({ ...a, ...patch }) };
      return store.tx(() => {
        const u = store.updateAuth(a.id, a.version, full, now);
        if (u && audit) store.audit({ at: now, kind: audit.kind, authId: a.id, payerRef: a.payerRef, data: audit.data });
        return u;
      });
    },
  };
}

export type AuthRecords = ReturnType<typeof createAuthRecords>;
