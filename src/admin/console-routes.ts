import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { json, readJson, sha } from './http-json.js';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { EventStore } from '../console/event-store.js';
import type { LiveFeed } from '../console/live.js';
import type { SessionStore } from '../console/sessions.js';
import { crossSiteRefusal, csrfTokenMatches } from '../console/csrf.js';
import { verifyPassword } from '../console/password.js';
import type { StatusService } from '../status/service.js';
import { UPDATE_STATUSES } from '../status/store.js';
import type { StaticFile } from './console-static.js';

export const SESSION_COOKIE = 'rempart_console';

/** What the console's HTTP routes act on; implemented by the shield's wiring. */
export interface ConsoleDeps {
  clock: Clock;
  token(): string | undefined;
  operators(): ReadonlyArray<{ name: string; passwordHash: string }>;
  sessionTtlS(): number;
  sessions: SessionStore;
  live: LiveFeed;
  events: EventStore;
  status: StatusService | undefined;
  channels(): unknown;
  offenders(): unknown;
  dryRun(): boolean;
  setDryRun(on: boolean, who: string, reason: string): void;
  /** Sends a fingerprint, user agent, path or query shape to proof-of-work (undefined: detection is off). */
  challengeScope: ((dimension: 'fingerprint' | 'userAgent' | 'path' | 'queryShape', value: string, ttlS: number, who: string, reason: string) => string) | undefined;
  /** Records an operator action (who, what, why) in the event log. */
  audit(who: string, action: string, detail: string): void;
  files: () => Map<string, StaticFile>;
}

/** Who made an authenticated admin request. */
export type AdminAuth =
  | { readonly kind: 'ok'; readonly who: string; readonly via: 'token' | 'session' }
  | { readonly kind: 'refused'; readonly status: 401 | 403; readonly reason: string };

/** The console as the admin listener sees it. */
export interface AdminConsole {
  /** Answers pages and login/logout (no credentials needed); false for anything else. */
  public(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** Checks the session cookie and, for state-changing requests, the cross-site rules and token. */
  session(req: IncomingMessage): AdminAuth | undefined;
  /** Console API routes; false when the path is not one of them. */
  api(req: IncomingMessage, res: ServerResponse, url: URL, who: string): Promise<boolean>;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function cookie(req: IncomingMessage, name: string): string | undefined {
  const raw = req.headers.cookie;
  if (!raw) return undefined;
  for (const part of raw.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const problems = (e: z.ZodError): unknown => e.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));

const loginBody = z.object({ name: z.string().max(64).default('admin'), password: z.string().min(1).max(1024) }).strict();
const challengeBody = z.object({
  // An empty value is a real one: requests with no User-Agent at all.
  dimension: z.enum(['fingerprint', 'userAgent', 'path', 'queryShape']), value: z.string().max(512),
  ttlS: z.number().int().positive().max(86_400).default(3600), reason: z.string().min(1).max(500),
}).strict();
const dryRunBody = z.object({ enabled: z.boolean(), reason: z.string().min(1).max(500) }).strict();
const incidentBody = z.object({
  title: z.string().min(1).max(200), message: z.string().min(1).max(2000), impact: z.enum(['minor', 'major']).default('minor'),
  component: z.string().max(40).optional(), status: z.enum(UPDATE_STATUSES).default('investigating'),
}).strict();
const updateBody = z.object({ message: z.string().min(1).max(2000), status: z.enum(UPDATE_STATUSES).default('update'), impact: z.enum(['minor', 'major']).optional() }).strict();

/** Security headers of every console page: nothing from elsewhere, never framed. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const NOT_BUILT = '<!doctype html><meta charset="utf-8"><title>Rempart console</title><p>The console was not built: run <code>npm run build</code> (or <code>npm start</code>, which builds it when missing).</p>';

/** The console API routes (method and path), listed for docs and for the table-driven auth test. */
export const CONSOLE_API_ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['GET', '/api/session'], ['GET', '/api/events'], ['GET', '/api/stream'], ['GET', '/api/offenders'], ['GET', '/api/channels'],
  ['POST', '/api/dry-run'], ['POST', '/api/challenges'], ['GET', '/api/status/incidents'], ['POST', '/api/status/incidents'], ['POST', '/api/status/incidents/1/updates'],
];

/** Creates the console routes. */
export function createConsoleRoutes(d: ConsoleDeps): AdminConsole {
  // Failed logins per peer address per minute: a password guesser is slowed, an operator is not.
  const failures = new Map<string, { count: number; since: number }>();
  let verifying = 0;

  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const refusal = crossSiteRefusal({ method: 'POST', host: header(req, 'host'), origin: header(req, 'origin'), secFetchSite: header(req, 'sec-fetch-site') });
    if (refusal) return json(res, 403, { error: refusal });
    const peer = req.socket.remoteAddress ?? '';
    const now = d.clock.now();
    const f = failures.get(peer);
    if (f && now - f.since < 60_000 && f.count >= 10) return json(res, 429, { error: 'too many failed logins: wait a minute' }, { 'retry-after': '60' });
    let raw: unknown;
    try { raw = await readJson(req); } catch (e) { return json(res, 400, { error: `invalid JSON: ${(e as Error).message}` }); }
    const parsed = loginBody.safeParse(raw);
    if (!parsed.success) return json(res, 400, { error: 'invalid login', problems: problems(parsed.error) });
    const { name, password } = parsed.data;
    let who: string | undefined;
    const token = d.token();
    if (name === 'admin' && token && timingSafeEqual(sha(password), sha(token))) who = 'admin';
    else {
      const op = d.operators().find((o) => o.name === name);
      // scrypt is memory-hard: at most two verifications at once, whatever arrives.
      if (verifying >= 2) return json(res, 503, { error: 'login busy, retry' }, { 'retry-after': '1' });
      verifying++;
      try {
        // An unknown name costs the same as a wrong password (no user enumeration by timing).
        const ok = await verifyPassword(password, op?.passwordHash ?? DUMMY_HASH);
        if (ok && op) who = op.name;
      } finally { verifying--; }
    }
    if (!who) {
      const cur = f && now - f.since < 60_000 ? f : { count: 0, since: now };
      failures.set(peer, { count: cur.count + 1, since: cur.since });
      if (failures.size > 10_000) failures.clear();
      d.audit(name, 'login-failed', `from ${peer}`);
      return json(res, 401, { error: 'wrong name or password' });
    }
    failures.delete(peer);
    const s = d.sessions.create(who);
    d.audit(who, 'login', `from ${peer}`);
    json(res, 200, { who, csrf: s.csrf, expiresAt: s.expiresAt }, {
      'set-cookie': `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${d.sessionTtlS()}`,
    });
  };

  const serveStatic = (res: ServerResponse, rel: string, head: boolean): void => {
    const files = d.files();
    const file = files.get(rel) ?? (rel.includes('.') ? undefined : files.get('index.html'));
    if (!file) {
      if (files.size === 0) { res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', ...PAGE_HEADERS }).end(NOT_BUILT); return; }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': file.type, 'content-length': file.body.length,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache', ...PAGE_HEADERS,
    });
    res.end(head ? undefined : file.body);
  };

  return {
    async public(req, res, url) {
      const path = url.pathname;
      const method = req.method ?? 'GET';
      if (path === '/' && (method === 'GET' || method === 'HEAD')) { res.writeHead(302, { location: '/console/' }).end(); return true; }
      if (path === '/console/login') {
        if (method !== 'POST') { json(res, 405, { error: 'POST only' }, { allow: 'POST' }); return true; }
        await login(req, res);
        return true;
      }
      if (path === '/console/logout') {
        if (method !== 'POST') { json(res, 405, { error: 'POST only' }, { allow: 'POST' }); return true; }
        const auth = this.session(req);
        if (!auth || auth.kind !== 'ok') { json(res, auth?.status ?? 401, { error: auth?.kind === 'refused' ? auth.reason : 'not logged in' }); return true; }
        const id = cookie(req, SESSION_COOKIE);
        if (id) d.sessions.delete(id);
        d.audit(auth.who, 'logout', '');
        json(res, 200, { loggedOut: true }, { 'set-cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` });
        return true;
      }
      if (path === '/console' || path.startsWith('/console/')) {
        if (method !== 'GET' && method !== 'HEAD') { json(res, 405, { error: 'GET only' }, { allow: 'GET, HEAD' }); return true; }
        if (path === '/console') { res.writeHead(301, { location: '/console/' }).end(); return true; }
        const rel = path.slice('/console/'.length) || 'index.html';
        if (rel.includes('..')) { res.writeHead(400).end(); return true; }
        serveStatic(res, rel, method === 'HEAD');
        return true;
      }
      return false;
    },

    session(req) {
      const s = d.sessions.get(cookie(req, SESSION_COOKIE));
      if (!s) return undefined;
      const method = req.method ?? 'GET';
      const refusal = crossSiteRefusal({ method, host: header(req, 'host'), origin: header(req, 'origin'), secFetchSite: header(req, 'sec-fetch-site') });
      if (refusal) return { kind: 'refused', status: 403, reason: refusal };
      if (method !== 'GET' && method !== 'HEAD' && !csrfTokenMatches(header(req, 'x-csrf-token'), s.csrf)) {
        return { kind: 'refused', status: 403, reason: 'missing or wrong X-CSRF-Token for this session' };
      }
      return { kind: 'ok', who: s.who, via: 'session' };
    },

    async api(req, res, url, who) {
      const path = url.pathname;
      const method = req.method ?? 'GET';
      const q = url.searchParams;
      if (path === '/api/session' && method === 'GET') {
        const s = d.sessions.get(cookie(req, SESSION_COOKIE));
        json(res, 200, { who, csrf: s?.csrf ?? null, via: s ? 'session' : 'token', dryRun: d.dryRun() });
        return true;
      }
      if (path === '/api/events' && method === 'GET') {
        const num = (k: string): number | undefined => { const v = q.get(k); if (v === null || v === '') return undefined; const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v); return Number.isFinite(t) ? t : undefined; };
        const types = q.getAll('type').flatMap((t) => t.split(',')).filter(Boolean);
        json(res, 200, { events: d.events.query({ from: num('from'), to: num('to'), types, text: q.get('q') ?? undefined, limit: num('limit'), before: num('before') }) });
        return true;
      }
      if (path === '/api/stream' && method === 'GET') { d.live.subscribe(res); return true; }
      if (path === '/api/offenders' && method === 'GET') { json(res, 200, { offenders: d.offenders() ?? null }); return true; }
      if (path === '/api/channels' && method === 'GET') { json(res, 200, { channels: d.channels() ?? null }); return true; }
      if (path === '/api/dry-run' && method === 'POST') {
        let raw: unknown;
        try { raw = await readJson(req); } catch (e) { json(res, 400, { error: `invalid JSON: ${(e as Error).message}` }); return true; }
        const parsed = dryRunBody.safeParse(raw);
        if (!parsed.success) { json(res, 400, { error: 'invalid request', problems: problems(parsed.error) }); return true; }
        d.setDryRun(parsed.data.enabled, who, parsed.data.reason);
        json(res, 200, { dryRun: d.dryRun() });
        return true;
      }
      if (path === '/api/challenges' && method === 'POST') {
        let raw: unknown;
        try { raw = await readJson(req); } catch (e) { json(res, 400, { error: `invalid JSON: ${(e as Error).message}` }); return true; }
        const parsed = challengeBody.safeParse(raw);
        if (!parsed.success) { json(res, 400, { error: 'invalid request', problems: problems(parsed.error) }); return true; }
        if (!d.challengeScope) { json(res, 409, { error: 'detection is disabled: nothing can be challenged' }); return true; }
        const { dimension, value, ttlS, reason } = parsed.data;
        json(res, 201, { id: d.challengeScope(dimension, value, ttlS, who, reason), ttlS });
        return true;
      }
      if (path === '/api/status/incidents' || path.startsWith('/api/status/incidents/')) {
        const status = d.status;
        if (!status) { json(res, 404, { error: 'status page disabled' }); return true; }
        if (path === '/api/status/incidents' && method === 'GET') { json(res, 200, { incidents: status.incidents() }); return true; }
        let raw: unknown;
        if (method === 'POST') {
          try { raw = await readJson(req); } catch (e) { json(res, 400, { error: `invalid JSON: ${(e as Error).message}` }); return true; }
        }
        if (path === '/api/status/incidents' && method === 'POST') {
          const parsed = incidentBody.safeParse(raw);
          if (!parsed.success) { json(res, 400, { error: 'invalid incident', problems: problems(parsed.error) }); return true; }
          json(res, 201, status.open({ ...parsed.data, who }));
          return true;
        }
        const m = /^\/api\/status\/incidents\/(\d+)\/updates$/.exec(path);
        if (m && method === 'POST') {
          const parsed = updateBody.safeParse(raw);
          if (!parsed.success) { json(res, 400, { error: 'invalid update', problems: problems(parsed.error) }); return true; }
          const out = status.post(Number(m[1]), { ...parsed.data, who });
          if (out) json(res, 200, out); else json(res, 404, { error: `no open incident ${m[1]}` });
          return true;
        }
      }
      return false;
    },
  };
}

/** A valid hash of a random password, verified against for unknown names (same cost as a real check). */
const DUMMY_HASH = `scrypt$131072$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`;
