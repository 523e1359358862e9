import type { ErrorCode } from '../core/errors.js';
import type { CachedResponse } from './cache/store.js';

/**
 * What a stage decided about a request. Only the edge (respond.ts) turns a verdict into HTTP; the
 * same value feeds metrics, logs and the console.
 */
export type Verdict =
  | { readonly kind: 'allow' }
  | { readonly kind: 'deny'; readonly code: ErrorCode; readonly reason: string; readonly retryAfterS?: number; readonly close?: boolean }
  | { readonly kind: 'shed'; readonly reason: string; readonly retryAfterS: number }
  | { readonly kind: 'cached'; readonly entry: CachedResponse };

/** Builds a deny verdict. */
export const deny = (code: ErrorCode, reason: string, extra: { retryAfterS?: number; close?: boolean } = {}): Verdict =>
  ({ kind: 'deny', code, reason, ...extra });
