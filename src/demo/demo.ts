import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoAuthorizeConfig, startAuthorize } from '../authorize/index.js';
import { startOrigin } from './origin/server.js';
import { parseConfig, startShield } from '../shield/index.js';
import { createLogger } from '../core/logger.js';

/** Ports of the demo; defaults are the documented ones. */
export interface DemoOptions {
  port: number;
  adminPort: number;
  originPort: number;
  /** The second origin server (the demo balances over two); 0 = any free port. */
  origin2Port?: number;
  /** The payment authorization service (behind the shield under /authorize/); 0 = any free port. */
  authorizePort: number;
  /** Where the authorization service keeps its SQLite store and SMS outbox (kept across restarts). */
  dataDir: string;
}

/** Default data directory of the demo. */
export const DEMO_DATA_DIR = join(tmpdir(), 'rempart-demo');

/** The demo operator's status page: a fictional postal operator and bank, its customer-facing services. */
export const DEMO_STATUS = {
  operator: 'Colibri Post & Bank',
  components: [
    { id: 'tracking', name: 'Parcel tracking', paths: ['/track'], upstream: 'origin' },
    { id: 'website', name: 'Website', paths: ['/'], upstream: 'origin' },
    { id: 'banking', name: 'Online banking', paths: ['/bank/', '/api/pay/', '/authorize/'], upstream: 'origin' },
    { id: 'app-approval', name: 'Payment approval in the app', channel: 'app', downMessage: 'Payment approval in the app unavailable — payments are being validated by SMS code' },
    { id: 'sms-approval', name: 'Payment approval by SMS', channel: 'sms', downMessage: 'Payment approval by SMS unavailable — please retry in a few minutes' },
  ],
} as const;

/** The demo's embedded configuration: critical payment routes, cached tracking, everything else normal. */
export function demoConfig(originUrl: string | readonly string[], o: DemoOptions, token: string, authorizeUrl?: string): unknown {
  const originUrls = typeof originUrl === 'string' ? [originUrl] : originUrl;
  return {
    listen: { address: '127.0.0.1', port: o.port },
    admin: { address: '127.0.0.1', port: o.adminPort, token },
    upstreams: {
      // Two origin servers: least outstanding requests, probed every second; stop one and watch it leave.
      origin: {
        servers: originUrls.map((url) => ({ url })), connections: 64, timeoutMs: 10_000,
        health: { active: { path: '/healthz', intervalMs: 1_000, timeoutMs: 500, rise: 2, fall: 2 }, slowStartMs: 10_000 },
      },
      ...(authorizeUrl ? { authorize: { url: authorizeUrl, connections: 32, timeoutMs: 10_000 } } : {}),
    },
    routes: [
      // Payment authorization: the API is critical (a payment waits on it); its demo pages are not.
      ...(authorizeUrl ? [
        { name: 'authorize-api', match: { path: '/authorize/v1/' }, upstream: 'authorize', class: 'critical' },
        { name: 'authorize-demo', match: { path: '/authorize/' }, upstream: 'authorize', class: 'high' },
      ] : []),
      { match: { path: '/api/pay/' }, upstream: 'origin', class: 'critical' },
      { match: { method: 'POST', path: '/bank/login' }, upstream: 'origin', class: 'critical' },
      { match: { path: '/bank/' }, upstream: 'origin', class: 'high' },
      { match: { path: '/track/' }, upstream: 'origin', class: 'normal', cache: { ttlS: 30, query: ['id'] } },
      // Live parcel status: a page and its WebSocket (RFC 6455) through the shield.
      { match: { path: '/live/' }, upstream: 'origin', class: 'normal', websocket: true },
      { match: { path: '/search' }, upstream: 'origin', class: 'low' },
      { match: { path: '/' }, upstream: 'origin', class: 'normal' },
    ],
    log: { level: 'info', access: false },
    // The demo bank's session cookie: customers who logged in rank first and are never challenged.
    detection: { sessionCookies: ['sid'] },
    status: DEMO_STATUS,
    // The console reads the payment channel in use; the event log and status history survive restarts.
    console: authorizeUrl ? { authorizeUrl: `${authorizeUrl}/authorize` } : {},
    storage: { database: join(o.dataDir, 'shield.db') },
  };
}

/** Starts origin and shield, prints the URLs and the admin token, stops everything on Ctrl-C. */
export async function runDemo(o: DemoOptions): Promise<void> {
  const origin = await startOrigin({ port: o.originPort, maxInFlight: 64, maxQueue: 256, serviceMs: 10, name: 'origin-a' });
  const origin2 = await startOrigin({ port: o.origin2Port ?? 0, maxInFlight: 64, maxQueue: 256, serviceMs: 10, name: 'origin-b' });
  const token = process.env.REMPART_ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
  // The 3-DS server's token for the authentication API (the demo prints it; REMPART_AUTHORIZE_REQUESTER_TOKEN fixes it).
  const requesterToken = process.env.REMPART_AUTHORIZE_REQUESTER_TOKEN ?? randomBytes(18).toString('base64url');
  const authorize = await startAuthorize({
    config: demoAuthorizeConfig({ dir: o.dataDir, port: o.authorizePort, basePath: '/authorize', requesters: { 'demo-3ds': requesterToken } }),
    logger: createLogger('warn'),
  });
  const config = parseConfig(demoConfig([origin.url, origin2.url], o, token, authorize.url.replace(/\/authorize$/, '')));
  const shield = await startShield({ config, logger: createLogger(config.log.level) });
  process.stdout.write([
    '',
    'Rempart demo is running:',
    `  site through the shield   ${shield.url}/            (tracking: ${shield.url}/track/6A12345678901)`,
    `  payment approval (phone)  ${shield.url}/authorize/demo/phone?payer=alice`,
    `  SMS outbox                ${shield.url}/authorize/demo/sms`,
    `  app channel switch        ${shield.url}/authorize/demo/operator   (take the app channel down, watch SMS take over)`,
    `  authorize API             ${shield.url}/authorize/v1/   (direct: ${authorize.url}/v1/; Authorization: Bearer ${requesterToken})`,
    `  live parcel (WebSocket)   ${shield.url}/live/parcel/6A12345678901`,
    `  demo origins (unprotected) ${origin.url}/ and ${origin2.url}/   (two servers behind the shield)`,
    `  status page               ${shield.url}/status   (also /status.json, /status.atom)`,
    `  operator console          ${shield.adminUrl}/console/   (operator "admin", password: the admin token below)`,
    `  admin API                 ${shield.adminUrl}/api/state   (Authorization: Bearer ${token})`,
    `  metrics                   ${shield.adminUrl}/metrics`,
    '',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'));
  const stop = async (): Promise<void> => {
    await shield.close();
    await authorize.close();
    await origin.close();
    await origin2.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
