import type { AuthState } from '../domain/state-machine.js';
import type { LockoutState } from '../domain/lockout.js';
import type { ExemptionCounters } from '../domain/routing.js';
import type { AuditInput } from '../audit/audit-chain.js';

/** A device-bound public key registered at enrolment (Ed25519 or ECDSA P-256, SPKI PEM). */
export interface DeviceRecord { deviceId: string; publicKeyPem: string }

/** An enrolled payer: secrets only as hashes (RTS art. 22). */
export interface PayerRecord {
  payerRef: string;
  phone: string;
  knowledgeHash: string;
  devices: DeviceRecord[];
  lockout: LockoutState;
  exemption: ExemptionCounters;
}

/** How the authentication is being carried out. */
export type AuthMethod = 'none' | 'app' | 'sms';

/** One authentication as persisted; `version` guards every update (optimistic concurrency). */
export interface AuthRecord {
  id: string;
  txId: string;
  payerRef: string;
  /** The requester (3-DS server) that created it: only it may read or act on it ('' = created before requesters existed). */
  requester: string;
  amountMinor: number;
  currency: string;
  payeeId: string;
  payeeName: string;
  linkHash: string;
  state: AuthState;
  method: AuthMethod;
  version: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  /** App step deadline (0 when not in the app step). */
  appDeadline: number;
  /** Time by which the app must have fetched its challenge (0 when fetched or not applicable). */
  fetchDeadline: number;
  fetchedAt: number;
  pushFailed: boolean;
  /** HMAC of the current code, bound to id and linkHash; '' when none. */
  codeHash: string;
  codeExpiresAt: number;
  resends: number;
  /** When the SMS of a fallback_offered authentication is (re)tried. */
  smsRetryAt: number;
  /** The earliest of the deadlines above: the store's due index. */
  nextAt: number;
  reason: string;
}

/** What the app needs of a pending approval (a narrow read: the app fetch runs after every push). */
export type PendingChallenge = Pick<AuthRecord, 'id' | 'amountMinor' | 'currency' | 'payeeId' | 'payeeName' | 'linkHash' | 'expiresAt' | 'appDeadline' | 'fetchedAt'>;

/** One SMS handed to a provider, for rate limits and delivery receipts. */
export interface SmsRecord {
  id: string;
  authId: string;
  payerRef: string;
  phone: string;
  provider: string;
  providerMessageId: string;
  status: 'accepted' | 'delivered' | 'undelivered' | 'unknown';
  at: number;
  kind: 'code' | 'alert';
}

/** A stored answer to a POST with an Idempotency-Key. */
export interface IdempotentAnswer { bodyHash: string; status: number; body: string; pending: boolean; at: number }

/** The persistence port the authorize service needs; SQLite implements it. */
export interface AuthStore {
  /**
   * Runs `fn` atomically: its writes, audit rows included, all apply or none does. Group commit:
   * the transactions of one event-loop turn share one SQLite commit, made at the end of the turn;
   * nothing may be answered before `durable()` resolves.
   */
  tx<T>(fn: () => T): T;
  /** Resolves once every write made so far is committed (at once when none is pending); rejects if that commit failed. */
  durable(): Promise<void>;
  /** Runs `fn` after the writes made so far are committed (side effects: pushes, SMS, events); never if the commit fails. */
  afterCommit(fn: () => void): void;
  audit(entry: AuditInput): void;

  upsertPayer(p: PayerRecord): void;
  getPayer(payerRef: string): PayerRecord | undefined;
  setLockout(payerRef: string, s: LockoutState): void;
  setExemption(payerRef: string, c: ExemptionCounters): void;
  payerForDevice(deviceId: string): string | undefined;

  insertAuth(a: AuthRecord): void;
  getAuth(id: string): AuthRecord | undefined;
  /** The requester's authentication in progress for this transaction id (transaction ids are the requester's own). */
  activeForTx(requester: string, txId: string): AuthRecord | undefined;
  /** Conditional update: applies only if the stored version is `version`; returns the new record or undefined. */
  updateAuth(id: string, version: number, patch: Partial<AuthRecord>, now: number): AuthRecord | undefined;
  dueAuths(now: number, limit: number): AuthRecord[];
  /** The payer's pending app approvals, newest first, at most 10 (what an app screen shows). */
  pendingApp(payerRef: string): PendingChallenge[];
  /** Marks a pending app challenge fetched (first fetch only); false when it was already fetched or is no longer pending. */
  markFetched(id: string, now: number, nextAt: number): boolean;
  appPendingUnfetched(): AuthRecord[];
  countNonTerminal(): number;
  countByState(): Record<string, number>;

  insertSms(s: SmsRecord): void;
  smsByProviderId(provider: string, providerMessageId: string): SmsRecord | undefined;
  setSmsStatus(id: string, status: SmsRecord['status']): void;
  /** Id and number of the code SMS sent for an authentication (the latest id first). */
  codeSmsOf(authId: string): { latestId: string | undefined; count: number };
  /** Drops idempotency records older than `before`. */
  pruneIdempotent(before: number): number;
  smsSince(field: 'payer_ref' | 'phone', value: string, since: number, kind?: 'code'): number;
  addResend(payerRef: string, at: number): void;
  resendsSince(payerRef: string, since: number): number;

  getIdempotent(key: string): IdempotentAnswer | undefined;
  putIdempotent(key: string, a: IdempotentAnswer, now: number): boolean;
  dropIdempotent(key: string): void;

  /** Lets the WAL start over: a checkpoint of what is left to copy, made between two commits (see checkpointer.ts). */
  checkpoint(): void;

  getSetting(key: string): string | undefined;
  setSetting(key: string, value: string): void;

  close(): void;
}
