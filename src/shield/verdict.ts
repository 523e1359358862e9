import type { ErrorCode } from '../core/errors.js';
import type { CachedResponse } from './cache/store.js';

/** A complete answer prepared by a policy (a challenge page or its machine-readable form). */
export interface PreparedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: string | Buffer;
}

/**
 * What a filter decided about a request. Only the edge (edge/respond.ts) turns a verdict into
 * HTTP; the same value feeds metrics, logs, the console and dry-run mode.
 */
export type Verdict =
  /** Skip the remaining request filters and go upstream. */
  | { readonly kind: 'allow' }
  | { readonly kind: 'deny'; readonly code: ErrorCode; readonly reason: string; readonly retryAfterS?: number; readonly close?: boolean }
  | { readonly kind: 'shed'; readonly reason: string; readonly retryAfterS: number }
  | { readonly kind: 'cached'; readonly entry: CachedResponse; readonly state: 'HIT' | 'STALE' }
  /** Prove you are a browser (or do the work) before going on; `response` is what the client gets. */
  | {
    readonly kind: 'challenge'; readonly reason: string; readonly level: number; readonly response: PreparedResponse;
    /** Answers a limit the client went over (it counts toward a block like a refusal would). */
    readonly overLimit?: boolean;
  }
  /** An answer the shield makes itself from memory, whatever the origin's state (the status page). */
  | { readonly kind: 'local'; readonly reason: string; readonly response: PreparedResponse };

/** Builds a deny verdict. */
export const deny = (code: ErrorCode, reason: string, extra: { retryAfterS?: number; close?: boolean } = {}): Verdict =>
  ({ kind: 'deny', code, reason, ...extra });
