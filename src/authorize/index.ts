import { once } from 'node:events';
import { createHmac, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { systemClock, type Clock } from '../core/clock.js';
import { createEventBus } from '../core/events.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { createLifecycle } from '../core/lifecycle.js';
import { parseAuthorizeConfig, type AuthorizeConfig } from './config.js';
import type { AuthorizeBus, AuthorizeEvents } from './events.js';
import { openSqliteStore, type SqliteStore } from './store/sqlite-store.js';
import { startCheckpointer, type Checkpointer } from './store/checkpointer.js';
import { createSmsRouter, type SmsRouter } from './sms/router.js';
import type { SmsProvider } from './sms/port.js';
import { createOutboxProvider } from './sms/outbox-provider.js';
import { createHttpProvider } from './sms/http-provider.js';
import { createSmppProvider } from './sms/smpp-provider.js';
import { createPushSimulator } from './push/simulator.js';
import type { PushProvider } from './push/port.js';
import { createAuthorizeService, type AuthorizeService } from './service/authorize-service.js';
import { createAuthorizeHttp, tokenMatches } from './http/server.js';
import { createDemoPages } from './http/demo-pages.js';

export { parseAuthorizeConfig, parseAuthorizeConfigText, loadAuthorizeConfigFile, type AuthorizeConfig } from './config.js';
export type { AuthorizeEvents } from './events.js';

/** What startAuthorize returns: where it listens, its parts (for the demo and tests), and close. */
export interface AuthorizeHandle {
  /** Base URL, listen.basePath included: `${url}/v1/authentications`, `${url}/demo/phone?payer=…`. */
  url: string;
  port: number;
  service: AuthorizeService;
  bus: AuthorizeBus;
  store: SqliteStore;
  sms: SmsRouter;
  /** The push simulator (its `setMode('down')` takes the app channel down), when the simulator is in use. */
  pushSimulator: ReturnType<typeof createPushSimulator> | undefined;
  outbox: ReturnType<typeof createOutboxProvider> | undefined;
  /** Runs the deadline processing now (tests with an injected clock call it after advancing). */
  tick(): void;
  close(): Promise<void>;
}

/** Options of startAuthorize; everything but `config` has a production default. */
export interface StartAuthorizeOptions {
  config: AuthorizeConfig;
  clock?: Clock;
  logger?: Logger;
  /** Replace the SMS providers built from the config (tests). */
  smsProviders?: SmsProvider[];
  /** Replace the push provider (tests); the default is the simulator. */
  push?: PushProvider;
  /** Run the deadline ticker on a timer (default true); tests may drive `tick()` themselves. */
  autoTick?: boolean;
}

/**
 * A ready configuration for `rempart demo`: loopback, its own data directory, the outbox as SMS
 * provider, demo pages on, one demo payer (knowledge factor 2468), tokens generated unless given
 * (one requester, `demo-3ds`, for calls to the authentication API: read it back from `requesters`).
 *
 * @example const a = await startAuthorize({ config: demoAuthorizeConfig({ dir: './data/demo', port: 8090 }) });
 */
export function demoAuthorizeConfig(opts: { dir: string; port?: number; basePath?: string; adminToken?: string; operators?: Record<string, string>;
  requesters?: Record<string, string>;
  payers?: Array<{ payerRef: string; phone: string; knowledgeFactor: string }> }): AuthorizeConfig {
  const token = (): string => randomBytes(18).toString('base64url');
  return parseAuthorizeConfig({
    listen: { address: '127.0.0.1', port: opts.port ?? 8090, basePath: opts.basePath ?? '' },
    store: { file: join(opts.dir, 'authorize.db') },
    adminToken: opts.adminToken ?? token(),
    operators: opts.operators ?? { 'operator-a': token(), 'operator-b': token() },
    requesters: opts.requesters ?? { 'demo-3ds': token() },
    // Short enough to watch failover and fail-back in a demo.
    breaker: { minAttempts: 5, dwellMs: 15_000, probeIntervalMs: 1_000, probeSuccesses: 3 },
    timers: { appFetchTimeoutMs: 5_000 },
    sms: { providers: [{ type: 'outbox', name: 'outbox' }] },
    demo: { enabled: true, payers: opts.payers ?? [{ payerRef: 'alice', phone: '+33611223344', knowledgeFactor: '2468' }] },
    log: { level: 'info' },
  });
}

/** Loads the code HMAC key: from config, else a key file beside the database (created 0600), never in the database. */
function loadCodeKey(config: AuthorizeConfig): Buffer {
  if (config.secrets.codeKey) return Buffer.from(config.secrets.codeKey, 'utf8');
  if (config.store.file === ':memory:' && !config.secrets.codeKeyFile) return randomBytes(32);
  const file = config.secrets.codeKeyFile ?? `${config.store.file}.key`;
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

/** A demo device key derived from the code key and payer (stable across restarts, never stored). Demo only. */
function demoDeviceKey(codeKey: Buffer, payerRef: string): KeyObject {
  const seed = createHmac('sha256', codeKey).update(`demo-device:${payerRef}`).digest();
  // RFC 8410 PKCS#8 wrapping of a raw Ed25519 seed.
  return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
}

function buildProviders(config: AuthorizeConfig, clock: Clock, logger: Logger): SmsProvider[] {
  const outboxFile = config.store.file === ':memory:' ? ':memory:' : join(dirname(config.store.file), 'sms-outbox.db');
  return config.sms.providers.map((p) => {
    if (p.type === 'smpp') return createSmppProvider(p, logger);
    if (p.type === 'http') return createHttpProvider(p);
    return createOutboxProvider({ name: p.name, file: outboxFile, now: () => clock.now() });
  });
}

/**
 * Starts the authorize service: opens the store, starts the SMS providers, recovers what was in
 * flight (every non-terminal authentication resumes from its stored deadlines or ends), then the
 * HTTP API and — with `demo.enabled` — the demo pages; each part is a service of one lifecycle.
 *
 * @example const a = await startAuthorize({ config: parseAuthorizeConfig({ adminToken, listen: { port: 0 } }) });
 */
export async function startAuthorize(opts: StartAuthorizeOptions): Promise<AuthorizeHandle> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger();
  const bus = createEventBus<AuthorizeEvents>();
  const store = openSqliteStore(config.store.file, { synchronous: config.store.synchronous,
    onError: (err) => logger.error({ err }, 'authorize: store commit failed (the requests of that turn were answered 500)') });
  const codeKey = loadCodeKey(config);
  const providers = opts.smsProviders ?? buildProviders(config, clock, logger);
  const outbox = providers.find((p): p is ReturnType<typeof createOutboxProvider> => 'list' in p && 'setFailing' in p);
  const sms = createSmsRouter(providers, { clock, blockMs: config.sms.blockMs,
    onBlocked: (provider, reason) => bus.emit('sms:provider-blocked', { provider, reason, at: clock.now() }) });

  let selfUrl = '';
  // The simulated phones' connections: a few kept alive (a burst of pushes must not open a socket each).
  let phones: Pool | undefined;
  const pushSimulator = opts.push ? undefined : createPushSimulator({
    latencyMs: config.push.latencyMs, deviceFetchDelayMs: config.push.deviceFetchDelayMs,
    // The simulated app fetches its challenge over HTTP, the same path a real app (and the probe) takes.
    deviceFetch: async (m) => {
      phones ??= new Pool(selfUrl.slice(0, selfUrl.length - config.listen.basePath.length), { connections: 8, headersTimeout: 5_000, bodyTimeout: 5_000 });
      const res = await phones.request({ method: 'GET', path: `${config.listen.basePath}/v1/app/challenges?deviceId=${encodeURIComponent(m.deviceId)}`,
        headers: { 'push-ref': m.ref, 'push-token': m.token } });
      await res.body.dump();
    },
  });
  const push = opts.push ?? (pushSimulator as PushProvider);
  const service = createAuthorizeService({ config, store, clock, bus, sms, push, codeKey, logger });
  sms.onReceipt((r) => service.receipt(r));

  if (Object.keys(config.requesters).length === 0) logger.warn('authorize: no requesters configured: every call to the authentication API is refused (401)');
  bus.on('channel:mode', (e) => logger.warn({ from: e.from, to: e.to, source: e.source, reason: e.reason }, 'authorize: channel mode changed'));
  bus.on('sms:provider-blocked', (e) => logger.warn({ provider: e.provider, reason: e.reason }, 'authorize: SMS provider blocked'));
  bus.on('payer:alert', (e) => logger.info({ payerRef: e.payerRef, kind: e.kind }, 'authorize: payer alerted'));

  const devices = new Map<string, { deviceId: string; key: KeyObject; phone: string }>();
  if (config.demo.enabled) {
    for (const p of config.demo.payers) {
      const key = demoDeviceKey(codeKey, p.payerRef);
      const publicKey = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
      const deviceId = `${p.payerRef}-phone`;
      if (!store.getPayer(p.payerRef)) await service.enrolPayer({ payerRef: p.payerRef, phone: p.phone, knowledgeFactor: p.knowledgeFactor, devices: [{ deviceId, publicKey }] });
      devices.set(p.payerRef, { deviceId, key, phone: p.phone });
    }
  }

  const server = createAuthorizeHttp({
    service, store, clock, logger, adminToken: config.adminToken, operators: config.operators, requesters: config.requesters,
    receipt: (r, token) => {
      const withToken = config.sms.providers.find((p) => p.type === 'http' && p.receiptToken !== undefined && tokenMatches(token, p.receiptToken));
      if (!withToken) return 'unauthorized';
      const p = providers.find((x) => x.name === r.provider);
      if (withToken.name !== r.provider || !p || !('ingest' in p)) return 'unknown';
      (p as ReturnType<typeof createHttpProvider>).ingest({ providerMessageId: r.providerMessageId, status: r.status });
      return 'ok';
    },
    basePath: config.listen.basePath,
    ...(config.demo.enabled ? { extra: createDemoPages({ service, clock, devices, basePath: config.listen.basePath,
      ...(outbox ? { outbox } : {}), ...(pushSimulator ? { push: pushSimulator } : {}) }) } : {}),
  });

  // Start in this order, stop in reverse: the store outlives everything that writes to it.
  let port = 0;
  let ticker: NodeJS.Timeout | undefined;
  const life = createLifecycle((name, err) => logger.error({ err, service: name }, 'authorize: stop failed'));
  life.register({ name: 'store', stop: () => store.close() });
  let checkpointer: Checkpointer | undefined;
  life.register({
    name: 'checkpointer',
    start: () => {
      if (config.store.file === ':memory:') return;
      // 8192 frames ≈ 32 MB of WAL before the writer lets it start over (a few seconds at full load).
      checkpointer = startCheckpointer(config.store.file, { intervalMs: 250, resetFrames: 8192 },
        (message) => logger.warn({ message }, 'authorize: WAL checkpoint failed'), () => store.checkpoint());
    },
    stop: () => checkpointer?.stop(),
  });
  life.register({ name: 'push', stop: async () => { await push.close(); await phones?.destroy(); } });
  life.register({ name: 'sms', start: () => sms.start(), stop: () => sms.close() });
  life.register({
    name: 'deadlines',
    start: () => {
      const recovered = service.recover();
      logger.info(recovered, 'authorize: recovered authentications in flight');
      service.tick(); // whatever expired while the service was down ends now, the rest resumes
      if (opts.autoTick !== false) { ticker = setInterval(() => service.tick(), config.timers.tickMs); ticker.unref(); }
    },
    stop: () => { if (ticker) clearInterval(ticker); service.close(); },
  });
  life.register({
    name: 'http',
    start: async () => {
      server.listen(config.listen.port, config.listen.address);
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
      selfUrl = `http://${config.listen.address.includes(':') ? `[${config.listen.address}]` : config.listen.address}:${port}${config.listen.basePath}`;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  await life.start();

  return {
    url: selfUrl, port, service, bus, store, sms, pushSimulator, outbox,
    tick: () => service.tick(),
    close: () => life.stop(),
  };
}
