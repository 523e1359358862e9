import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { AUTH_ERRORS, AuthorizeError, isAuthorizeError, type AuthErrorCode } from '../errors.js';
import type { AuthorizeService, FetchProof } from '../service/authorize-service.js';
import type { AuthStore } from '../store/port.js';
import { appResultSchema, createSchema, emptySchema, enrolSchema, modeSchema, receiptSchema, smsCodeSchema } from './schemas.js';
import { readBodyText } from '../../core/read-body.js';

const MAX_BODY = 16 * 1024;
/** A pending idempotency record older than this is a request that died with the process: retry it. */
const ABANDONED_MS = 30_000;

/** A response as handlers produce it; the edge serialises it. */
export interface Reply { status: number; body: unknown; headers?: Record<string, string> }

/** Extra routes (the demo pages) mounted beside the API. */
export type ExtraRoutes = (req: IncomingMessage, url: URL, body: string) => Promise<Reply | { html: string; status?: number } | { redirect: string } | undefined>;

const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

function bearer(req: IncomingMessage): string {
  const h = req.headers.authorization ?? '';
  // RFC 9110 §11.1: the scheme name is case-insensitive (RFC 6750 §2.1 Bearer).
  return /^bearer /i.test(h) ? h.slice(7).trim() : '';
}

/** Constant-time token comparison (hashes first, so lengths never leak). */
export function tokenMatches(given: string, expected: string): boolean {
  return given !== '' && timingSafeEqual(sha(given), sha(expected));
}

const header = (req: IncomingMessage, name: string): string => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : '';
};

/** The app's proof for GET /v1/app/challenges: the push's Push-Ref and Push-Token, or Device-Timestamp and Device-Signature. */
function fetchProof(req: IncomingMessage): FetchProof {
  const ref = header(req, 'push-ref');
  const token = header(req, 'push-token');
  if (ref && token) return { kind: 'push', ref, token };
  const ts = Number(header(req, 'device-timestamp'));
  const signature = header(req, 'device-signature');
  if (Number.isSafeInteger(ts) && ts > 0 && signature) return { kind: 'signature', timestamp: ts, signature };
  throw new AuthorizeError('RMP_ERR_AUTH_UNAUTHORIZED', 'a valid push token or device signature is required');
}

function errorReply(code: AuthErrorCode, message?: string, details?: Record<string, unknown>): Reply {
  return { status: AUTH_ERRORS[code].status, body: { error: { code, message: message ?? AUTH_ERRORS[code].message, ...(details ? { details } : {}) } } };
}

function parse<T extends z.ZodTypeAny>(schema: T, body: string): z.infer<T> {
  let raw: unknown;
  try {
    raw = body === '' ? {} : JSON.parse(body);
  } catch {
    throw new AuthorizeError('RMP_ERR_AUTH_BAD_REQUEST', 'body is not valid JSON');
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
    throw new AuthorizeError('RMP_ERR_AUTH_BAD_REQUEST', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues });
  }
  return r.data;
}

function readBody(req: IncomingMessage): Promise<string> {
  return readBodyText(req, MAX_BODY, () => new AuthorizeError('RMP_ERR_AUTH_BODY_TOO_LARGE'));
}

/**
 * The JSON API on node:http: zod-validated bodies (400 with every problem), stable error codes,
 * Idempotency-Key on every POST (the stored answer is replayed; the same key with another body
 * is 422). Who may call what: bearer tokens for enrolment (admin), the requester API — create,
 * get, cancel, resend, SMS code — (requesters) and channel overrides (operators); the app's calls
 * carry its device signature or its push's fetch token. Anything else is 401 RMP_ERR_AUTH_UNAUTHORIZED.
 */
export function createAuthorizeHttp(deps: { service: AuthorizeService; store: AuthStore; clock: Clock; logger: Logger;
  adminToken: string; operators: Readonly<Record<string, string>>;
  /** Requester (3-DS server) id → its bearer tokens. */
  requesters: Readonly<Record<string, readonly string[]>>; extra?: ExtraRoutes; basePath?: string;
  /**
   * Hands a gateway's receipt to the HTTP provider of that name if `token` is that provider's
   * receipt token: 'unauthorized' when no provider has that token, 'unknown' when the name is not the token's provider.
   */
  receipt: (r: { provider: string; providerMessageId: string; status: 'delivered' | 'undelivered' | 'unknown' }, token: string) => 'ok' | 'unknown' | 'unauthorized' }): Server {
  const { service, store, clock, logger } = deps;
  const operatorOf = (req: IncomingMessage): string | undefined => {
    const tok = bearer(req);
    return Object.entries(deps.operators).find(([, v]) => tokenMatches(tok, v))?.[0];
  };
  const requesterTokens = Object.entries(deps.requesters).flatMap(([id, list]) => list.map((token) => ({ id, token })));
  /** The calling requester; every configured token is compared (constant time each), whichever matches. */
  const requesterOf = (req: IncomingMessage): string => {
    const tok = bearer(req);
    let found: string | undefined;
    for (const r of requesterTokens) if (tokenMatches(tok, r.token) && found === undefined) found = r.id;
    if (found === undefined) throw new AuthorizeError('RMP_ERR_AUTH_UNAUTHORIZED', 'a requester token is required (Authorization: Bearer …)');
    return found;
  };

  async function api(req: IncomingMessage, url: URL, body: string): Promise<Reply> {
    const method = req.method ?? 'GET';
    const p = url.pathname;
    if (p === '/healthz') return { status: 200, body: { ok: true } };
    if (p === '/v1/payers') {
      if (method !== 'POST') throw new AuthorizeError('RMP_ERR_AUTH_METHOD');
      if (!tokenMatches(bearer(req), deps.adminToken)) throw new AuthorizeError('RMP_ERR_AUTH_UNAUTHORIZED');
      return { status: 201, body: await service.enrolPayer(parse(enrolSchema, body)) };
    }
    if (p === '/v1/authentications') {
      if (method !== 'POST') throw new AuthorizeError('RMP_ERR_AUTH_METHOD');
      const requester = requesterOf(req);
      return { status: 201, body: service.create(parse(createSchema, body), requester) };
    }
    const m = /^\/v1\/authentications\/([A-Za-z0-9_-]{1,64})(?:\/(app-result|sms-code|resend|cancel))?$/.exec(p);
    if (m) {
      const id = m[1] as string;
      const action = m[2];
      if (!action) {
        if (method !== 'GET') throw new AuthorizeError('RMP_ERR_AUTH_METHOD');
        return { status: 200, body: service.get(id, requesterOf(req)) };
      }
      if (method !== 'POST') throw new AuthorizeError('RMP_ERR_AUTH_METHOD');
      // The app's answer is authenticated by its device signature (checked against the stored transaction).
      if (action === 'app-result') return { status: 200, body: service.appResult(id, parse(appResultSchema, body)) };
      const requester = requesterOf(req);
      if (action === 'sms-code') return { status: 200, body: await service.smsCode(id, parse(smsCodeSchema, body), requester) };
      parse(emptySchema, body);
      if (action === 'resend') return { status: 200, body: service.resend(id, requester) };
      return { status: 200, body: service.cancel(id, requester) };
    }
    if (p === '/v1/app/challenges') {
      if (method !== 'GET') throw new AuthorizeError('RMP_ERR_AUTH_METHOD');
      const deviceId = url.searchParams.get('deviceId') ?? '';
      if (!deviceId) throw new AuthorizeError('RMP_ERR_AUTH_BAD_REQUEST', 'deviceId query parameter is required');
      return { status: 200, body: { challenges: service.appChallenges(deviceId, fetchProof(req)) } };
    }
    if (p === '/v1/sms/receipts') {
      if (method !== 'POST') throw new AuthorizeError('RMP_ERR_AUTH_METHOD');
      const r = parse(receiptSchema, body);
      // A forged "undelivered" would block a provider and re-send codes: only the gateway may report.
      const out = deps.receipt({ provider: r.provider, providerMessageId: r.messageId, status: r.status }, bearer(req));
      if (out === 'unauthorized') throw new AuthorizeError('RMP_ERR_AUTH_UNAUTHORIZED', "the gateway's receipt token is required");
      if (out === 'unknown') throw new AuthorizeError('RMP_ERR_AUTH_NOT_FOUND', `no HTTP SMS provider named ${r.provider}`);
      return { status: 202, body: { ok: true } };
    }
    if (p === '/v1/channels') {
      if (method !== 'GET') throw new AuthorizeError('RMP_ERR_AUTH_METHOD');
      return { status: 200, body: service.channels() };
    }
    if (p === '/v1/channels/mode') {
      if (method !== 'POST') throw new AuthorizeError('RMP_ERR_AUTH_METHOD');
      const operator = operatorOf(req);
      if (!operator) throw new AuthorizeError('RMP_ERR_AUTH_UNAUTHORIZED', 'an operator token is required');
      const r = parse(modeSchema, body);
      const out = service.health.propose(operator, { mode: r.mode, reason: r.reason, ttlMs: r.ttlS * 1000 });
      return out.applied
        ? { status: 200, body: { applied: true, proposalId: out.proposalId, override: out.override, channels: service.channels() } }
        : { status: 202, body: { applied: false, proposalId: out.proposalId, message: 'waiting for a second, distinct operator to approve the same mode' } };
    }
    throw new AuthorizeError('RMP_ERR_AUTH_NOT_FOUND');
  }

  /** Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): replay, 422 on a different body, 409 while in flight. */
  async function idempotent(req: IncomingMessage, url: URL, body: string): Promise<Reply> {
    const key = req.headers['idempotency-key'];
    if (req.method !== 'POST' || typeof key !== 'string' || key === '') return api(req, url, body);
    if (key.length > 255) return errorReply('RMP_ERR_AUTH_BAD_REQUEST', 'Idempotency-Key is longer than 255 characters');
    // Scoped by path and by the caller's credential: one requester's key never replays another's
    // answer, and a caller without the credential never gets a stored answer.
    const scoped = `${url.pathname}\n${sha(req.headers.authorization ?? '').toString('base64url')}\n${key}`;
    const bodyHash = sha(body).toString('base64url');
    const now = clock.now();
    const seen = store.getIdempotent(scoped);
    if (seen && !(seen.pending && now - seen.at > ABANDONED_MS)) {
      if (seen.bodyHash !== bodyHash) return errorReply('RMP_ERR_AUTH_IDEMPOTENCY_MISMATCH');
      if (seen.pending) return errorReply('RMP_ERR_AUTH_IDEMPOTENCY_IN_FLIGHT');
      return { status: seen.status, body: JSON.parse(seen.body) as unknown, headers: { 'idempotent-replayed': 'true' } };
    }
    const claimed = store.tx(() => {
      if (seen) store.dropIdempotent(scoped);
      return store.putIdempotent(scoped, { bodyHash, status: 0, body: '', pending: true, at: now }, now);
    });
    if (!claimed) return errorReply('RMP_ERR_AUTH_IDEMPOTENCY_IN_FLIGHT');
    let reply: Reply;
    try {
      reply = await api(req, url, body);
    } catch (e) {
      if (!isAuthorizeError(e) || e.status >= 500) { store.tx(() => store.dropIdempotent(scoped)); throw e; }
      reply = errorReply(e.code, e.message, e.details);
    }
    store.tx(() => store.putIdempotent(scoped, { bodyHash, status: reply.status, body: JSON.stringify(reply.body), pending: false, at: now }, now));
    return reply;
  }

  const send = (res: ServerResponse, r: Reply): void => {
    const text = JSON.stringify(r.body);
    res.writeHead(r.status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...r.headers });
    res.end(text);
  };

  const base = deps.basePath ?? '';
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://authorize.local');
    if (base) {
      // Mounted under a prefix (e.g. behind the shield at /authorize): strip it, refuse anything outside.
      if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) { send(res, errorReply('RMP_ERR_AUTH_NOT_FOUND')); return; }
      url.pathname = url.pathname.slice(base.length) || '/';
    }
    void (async () => {
      try {
        const body = req.method === 'GET' || req.method === 'HEAD' ? '' : await readBody(req);
        if (deps.extra && !url.pathname.startsWith('/v1/') && url.pathname !== '/healthz') {
          const out = await deps.extra(req, url, body);
          await store.durable(); // group commit: nothing is answered before its writes are committed
          if (out && 'html' in out) {
            res.writeHead(out.status ?? 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(out.html) });
            res.end(out.html);
            return;
          }
          if (out && 'redirect' in out) { res.writeHead(303, { location: out.redirect, 'content-length': 0 }); res.end(); return; }
          if (out) { send(res, out); return; }
        }
        const reply = await idempotent(req, url, body);
        await store.durable();
        send(res, reply);
      } catch (e) {
        if (isAuthorizeError(e)) {
          // A refusal may have written too (a failed attempt counts towards the lockout): commit first.
          try { await store.durable(); } catch (err) { logger.error({ err, path: url.pathname }, 'authorize: commit failed'); send(res, errorReply('RMP_ERR_AUTH_INTERNAL')); return; }
          send(res, errorReply(e.code, e.message, e.details));
          return;
        }
        logger.error({ err: e, path: url.pathname }, 'authorize: request failed');
        if (!res.headersSent) send(res, errorReply('RMP_ERR_AUTH_INTERNAL'));
        else res.destroy();
      }
    })();
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}
