import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { json, readJson, sha } from './http-json.js';
import { z } from 'zod';
import type { Registry } from 'prom-client';
import { cidrSchema } from '../config/schema.js';
import type { AdminConsole } from './console-routes.js';

/** What the admin API can see and do; implemented by the shield. */
export interface ShieldControl {
  token(): string | undefined;
  state(): unknown;
  listBlocks(): unknown[];
  addBlock(cidr: string, ttlS: number | undefined, reason: string): { cidr: string; disconnected: number };
  removeBlock(cidr: string): boolean;
  /** Forces "under attack" on every route class for `ttlS` seconds (operator action). */
  forceAttack(ttlS: number, who: string, reason: string, proofOfWork: boolean): void;
  clearForce(who: string): void;
  /** Lifts one active mitigation (it stays off for 10 minutes); false when none has that id. */
  clearMitigation(id: string, who: string): boolean;
  /**
   * Forgets what detection learned in normal times, in memory and on disk (a flood ramped slowly
   * enough was learned as normal); false when detection is off.
   */
  forgetBaselines(who: string): boolean;
  /** Drains, disables or re-enables one upstream server; undefined when no such server. */
  setServerState(upstream: string, server: string, state: 'enabled' | 'draining' | 'disabled', who: string): unknown;
}

const serverStateBody = z.object({ state: z.enum(['enabled', 'draining', 'disabled']) }).strict();

const forceBody = z.object({
  ttlS: z.number().int().positive().max(86_400).default(600),
  who: z.string().min(1).max(100).default('admin'),
  reason: z.string().min(1).max(500),
  /** Ask every client not established or cleared for proof-of-work, not only the no-JavaScript check. */
  proofOfWork: z.boolean().default(false),
}).strict();

const blockBody = z.object({
  cidr: cidrSchema,
  ttlS: z.number().int().positive().optional(),
  reason: z.string().max(200).default('admin'),
}).strict();

/** Constant-time bearer check (hashing first makes the lengths equal). */
function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(sha(m[1] ?? ''), sha(token));
}

/**
 * The admin listener: /healthz and /metrics open (for probes and Prometheus), everything under
 * /api/ behind a bearer token. Bind it to loopback or a management network only.
 */
export async function startAdminServer(opts: {
  address: string; port: number; control: ShieldControl; registry: Registry;
  /** The operator console: its pages, session logins, and who/when/why of every action. */
  console?: { routes: AdminConsole; audit(who: string, action: string, detail: string): void } | undefined;
}):
  Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { control, registry } = opts;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const path = url.pathname;
    try {
      if (path === '/healthz') return json(res, 200, { status: 'ok' });
      if (path === '/metrics') {
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType });
        return void res.end(text);
      }
      const con = opts.console;
      if (con && await con.routes.public(req, res, url)) return;
      if (!path.startsWith('/api/')) return json(res, 404, { error: 'not found' });
      // A bearer token (scripts) or a console session (browsers, cross-site checks included).
      let who = 'admin';
      if (!authorized(req, control.token())) {
        const session = con?.routes.session(req);
        if (session?.kind === 'refused') return json(res, session.status, { error: session.reason });
        if (session === undefined) {
          if (!control.token() && !con) return json(res, 403, { error: 'admin API disabled: set admin.token in the configuration' });
          return json(res, 401, { error: 'bearer token or console session required' }, { 'www-authenticate': 'Bearer realm="rempart-admin"' });
        }
        who = session.who;
      }
      const audit = (action: string, detail: string): void => con?.audit(who, action, detail);
      if (con && await con.routes.api(req, res, url, who)) return;
      if (path === '/api/state' && req.method === 'GET') return json(res, 200, control.state());
      if (path === '/api/blocks' && req.method === 'GET') return json(res, 200, { blocks: control.listBlocks() });
      if (path === '/api/blocks' && req.method === 'POST') {
        let raw: unknown;
        try { raw = await readJson(req); } catch (e) { return json(res, 400, { error: `invalid JSON: ${(e as Error).message}` }); }
        const parsed = blockBody.safeParse(raw);
        if (!parsed.success) {
          return json(res, 400, { error: 'invalid block', problems: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
        }
        const added = control.addBlock(parsed.data.cidr, parsed.data.ttlS, parsed.data.reason);
        audit('block', `${added.cidr}${parsed.data.ttlS ? ` for ${parsed.data.ttlS} s` : ''}: ${parsed.data.reason}`);
        return json(res, 201, added);
      }
      if (path === '/api/attack' && req.method === 'POST') {
        let raw: unknown;
        try { raw = await readJson(req); } catch (e) { return json(res, 400, { error: `invalid JSON: ${(e as Error).message}` }); }
        const parsed = forceBody.safeParse(raw);
        if (!parsed.success) return json(res, 400, { error: 'invalid request', problems: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
        // A console session names its operator; a token's caller may say who they are.
        control.forceAttack(parsed.data.ttlS, who === 'admin' ? parsed.data.who : who, parsed.data.reason, parsed.data.proofOfWork);
        return json(res, 200, { forced: true, ttlS: parsed.data.ttlS });
      }
      if (path === '/api/attack' && req.method === 'DELETE') {
        control.clearForce(who === 'admin' ? url.searchParams.get('who') ?? 'admin' : who);
        return void res.writeHead(204).end();
      }
      if (path.startsWith('/api/mitigations/') && req.method === 'DELETE') {
        const id = decodeURIComponent(path.slice('/api/mitigations/'.length));
        return control.clearMitigation(id, who === 'admin' ? url.searchParams.get('who') ?? 'admin' : who) ? void res.writeHead(204).end() : json(res, 404, { error: `no active mitigation ${id}` });
      }
      if (path === '/api/detection/baselines' && req.method === 'DELETE') {
        if (!control.forgetBaselines(who === 'admin' ? url.searchParams.get('who') ?? 'admin' : who)) return json(res, 409, { error: 'detection is disabled: there are no baselines' });
        audit('forget-baselines', url.searchParams.get('reason') ?? 'learned baselines forgotten');
        return void res.writeHead(204).end();
      }
      const serverPath = /^\/api\/upstreams\/([^/]+)\/servers\/([^/]+)$/.exec(path);
      if (serverPath && req.method === 'POST') {
        let raw: unknown;
        try { raw = await readJson(req); } catch (e) { return json(res, 400, { error: `invalid JSON: ${(e as Error).message}` }); }
        const parsed = serverStateBody.safeParse(raw);
        if (!parsed.success) return json(res, 400, { error: 'invalid request', problems: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
        const [upstream, server] = [decodeURIComponent(serverPath[1] as string), decodeURIComponent(serverPath[2] as string)];
        const done = control.setServerState(upstream, server, parsed.data.state, who === 'admin' ? url.searchParams.get('who') ?? 'admin' : who);
        if (done === undefined) return json(res, 404, { error: `no server ${server} in upstream ${upstream}` });
        audit('upstream-server', `${upstream}/${server} ${parsed.data.state}`);
        return json(res, 200, done);
      }
      if (path.startsWith('/api/blocks/') && req.method === 'DELETE') {
        // The CIDR may arrive percent-encoded (10.0.0.0%2F8) or as two path segments (10.0.0.0/8).
        const cidr = decodeURIComponent(path.slice('/api/blocks/'.length));
        if (!control.removeBlock(cidr)) return json(res, 404, { error: `no block for ${cidr}` });
        audit('unblock', `${cidr}${url.searchParams.get('reason') ? `: ${url.searchParams.get('reason')}` : ''}`);
        return void res.writeHead(204).end();
      }
      return json(res, 404, { error: 'not found' });
    } catch (err) {
      return json(res, 500, { error: (err as Error).message });
    }
  });
  server.listen(opts.port, opts.address);
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
