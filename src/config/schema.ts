import { z } from 'zod';
import { parseCidr } from '../core/ip.js';

/** Route classes, most important first: admission and limits are decided per class. */
export const ROUTE_CLASSES = ['critical', 'high', 'normal', 'low'] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

/** An IPv4/IPv6 address or CIDR block, checked by the same parser the blocklist uses. */
export const cidrSchema = z.string().superRefine((s, ctx) => {
  try {
    parseCidr(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `${(e as Error).message} (expected e.g. 10.0.0.0/8 or 2001:db8::/32)` });
  }
});

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().positive();

/** `listen.limits.emptyConnectionsPerClient` when absent on a TLS listener: each empty connection there is a handshake. */
export const EMPTY_CONNECTIONS_TLS_DEFAULT = Object.freeze({ ratePerS: 10, burst: 100 });

const rateSchema = z.object({
  /** Sustained requests per second per client address for this class. */
  ratePerS: z.number().positive(),
  /** Requests allowed back-to-back above the sustained rate (GCRA burst tolerance). */
  burst: z.number().int().min(0),
}).strict();

const limitsSchema = z.object({
  /** Largest request head (request line + headers) accepted, bytes; beyond it 431. */
  maxHeaderBytes: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
  /**
   * Most header field lines in one request (Apache LimitRequestFields 100, HAProxy tune.http.maxhdr
   * 101); beyond it 431. Without it Node keeps the first 2,000 and drops the rest silently: the
   * request would be forwarded other than it was sent.
   */
  maxHeaderCount: z.number().int().min(10).max(10_000).default(100),
  /** Whole request head must arrive within this time (slowloris), like nginx client_header_timeout. */
  headersTimeoutMs: positiveMs.default(10_000),
  /** Longest pause between two reads of a request body, like nginx client_body_timeout. */
  bodyIdleTimeoutMs: positiveMs.default(15_000),
  /** Minimum average body rate once bodyGraceMs has passed: cuts slow POST that trickles bytes. */
  minBodyRateBytesPerS: z.number().int().min(0).default(1024),
  /** Time allowed before the minimum body rate is enforced. */
  bodyGraceMs: positiveMs.default(5_000),
  /**
   * Byte ranges one request may ask of the origin (nginx max_ranges). A Range with more, with more
   * than two overlapping ranges, or that does not parse (RFC 9110 §14.2) is not forwarded: the
   * origin sends the whole representation once (upstream/range.ts). 0 = Range is never forwarded.
   */
  maxRanges: z.number().int().min(0).max(1000).default(16),
  /** Largest request body forwarded, bytes (0 = unlimited); beyond it 413. */
  maxBodyBytes: z.number().int().min(0).default(100 * 1024 * 1024),
  /** A client that accepts no response bytes for this long is cut (nginx send_timeout). */
  sendTimeoutMs: positiveMs.default(60_000),
  /**
   * Idle keep-alive connections are closed after this time: nginx's 75 s, longer than a load
   * balancer's idle timeout in front (60 s for an AWS ALB) so that it closes first — the other way
   * round it sends requests into connections the shield is closing, and answers them 502. Idle
   * connections make room for new ones when the listener is full (listener/gate.ts).
   */
  keepAliveTimeoutMs: positiveMs.default(75_000),
  /** A connection is closed after serving this many requests (0 = unlimited). */
  maxRequestsPerConnection: z.number().int().min(0).default(1000),
  /**
   * Pipelined requests that may wait behind the one a connection is being served (each connection
   * is served one request at a time, as nginx and HAProxy do: listener/pipelining.ts). Past it the
   * connection closes after the last one admitted; the client resends the rest (RFC 9112 §9.3.2).
   */
  maxPipelined: z.number().int().min(0).max(1000).default(16),
  /** Concurrent connections allowed from one client address (0 = unlimited). */
  maxConnectionsPerClient: z.number().int().min(0).default(256),
  /**
   * Connections one client may open that carry no request — closed after a TLS handshake and
   * nothing, connected and closed, a head never finished — as a sustained rate and a burst (GCRA).
   * Each connection takes one when admitted and gives it back with its first request. Past it the
   * client's new connections are reset at the gate, before a byte is read or a handshake made,
   * until the rate allows one again. The concurrency cap bounds what a client holds, not how fast
   * it opens and drops: one source handshaking in a loop took half a core and tripled a customer's
   * request time (bench:tls; a handshake costs the shield ~4× an accept and a reset). Only
   * connections that carried no request count, and an address that carried requests in the last
   * minute, or is seen shared (a carrier NAT), is not limited by it: there bots' empty connections
   * and customers' new ones would draw on one allowance (bench ddos --tls --layout cgnat-shared,
   * connect-flood: 98.7% and 99.7% with it, 100% without). What it limits is a source that only
   * opens and drops.
   * Default (absent): `EMPTY_CONNECTIONS_TLS_DEFAULT` on a TLS listener, where each such connection
   * is a handshake; none on plain HTTP, where it is an accept and a close — and where bots behind
   * customers' own carrier-NAT addresses opening empty connections put those customers over it
   * (bench ddos --layout cgnat-shared, connect-flood: 97.5% with it, 100% without). `ratePerS: 0`: no limit.
   */
  emptyConnectionsPerClient: z.object({
    ratePerS: z.number().min(0),
    burst: z.number().int().min(0),
  }).strict().optional(),
  /** Total concurrent connections on the listener (0 = unlimited). */
  maxConnections: z.number().int().min(0).default(20_000),
  /**
   * HTTP/2 (listen.tls.http2): streams one connection may have open at once, announced in SETTINGS
   * (RFC 9113 §6.5.2); a stream over it is refused by the codec. nginx's
   * http2_max_concurrent_streams is 128, HAProxy's tune.h2.max-concurrent-streams 100.
   */
  http2MaxConcurrentStreams: z.number().int().min(1).max(1000).default(128),
  /**
   * HTTP/2: streams a client may cancel (RST_STREAM) on one connection, as a sustained rate and a
   * burst (GCRA). Past it the connection gets GOAWAY ENHANCE_YOUR_CALM and is closed: a stream
   * opened and cancelled at once costs the client nothing and the shield a request each — the
   * "rapid reset" flood (CVE-2023-44487) sent 398 million requests a second at Google this way. A
   * browser cancels a few streams when its user leaves a page, never hundreds a second.
   */
  http2ClientResets: z.object({
    ratePerS: z.number().positive(),
    burst: z.number().int().min(0),
  }).strict().default({ ratePerS: 20, burst: 200 }),
}).strict();

/** One certificate the TLS listener serves: PEM files, relative paths from the configuration file's directory. */
const tlsCertificateSchema = z.object({
  /** The certificate, then any intermediates (a chain file, leaf first, as nginx's ssl_certificate). */
  cert: z.string().min(1),
  /** Its private key, unencrypted PEM (readable by the shield's user only). */
  key: z.string().min(1),
}).strict();

/**
 * TLS on the shield's own listener (HTTP/1.1 over TLS, and HTTP/2 when `http2` is on). The connection gate —
 * blocklist, connection caps, PROXY protocol — runs on the TCP connection before the handshake, so
 * a refused source costs no handshake (listener/tls.ts).
 */
const listenTlsSchema = z.object({
  /**
   * Certificates, chosen per connection by the name the client asks for (SNI) against each
   * certificate's names (wildcards included); the first one when none matches or no name is sent,
   * as nginx's default server. Re-read on reload (SIGHUP): a renewed certificate needs no restart.
   */
  certificates: z.array(tlsCertificateSchema).min(1, 'at least one certificate'),
  /** Oldest protocol accepted (RFC 8996 retired TLS 1.0 and 1.1). */
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  /** OpenSSL cipher list for TLS 1.2; default Node's (TLS 1.3 suites are not configured here). */
  ciphers: z.string().min(1).optional(),
  /**
   * A connection must complete its handshake within this time, or is closed: a client that opens
   * and says nothing, or trickles its hello, holds a descriptor (slowloris before HTTP). Node's own
   * default is 120 s.
   */
  handshakeTimeoutMs: positiveMs.default(10_000),
  /**
   * Offer HTTP/2 in ALPN (`h2` before `http/1.1`, RFC 7301; RFC 9113 over TLS only), as nginx's
   * `http2 on`. The same pipeline serves each stream as a request; the stream and reset limits are
   * listen.limits.http2MaxConcurrentStreams and http2ClientResets. WebSocket stays on HTTP/1.1
   * (no extended CONNECT, RFC 8441, is announced: browsers open an HTTP/1.1 connection for it).
   */
  http2: z.boolean().default(false),
}).strict();

const listenSchema = z.object({
  address: z.string().default('127.0.0.1'),
  port: port.default(8080),
  /** Terminate TLS on this listener (absent: plain HTTP, as behind a TLS terminator). */
  tls: listenTlsSchema.optional(),
  /**
   * Expect a PROXY protocol v1/v2 header (HAProxy proxy-protocol.txt) on connections from
   * trustedProxies; never from any other peer.
   */
  proxyProtocol: z.boolean().default(false),
  limits: limitsSchema.default(() => limitsSchema.parse({})),
  /** On SIGTERM/SIGINT, requests in flight get this long to finish before connections are cut. */
  shutdownGraceMs: z.number().int().min(0).default(10_000),
}).strict();

const adminSchema = z.object({
  address: z.string().default('127.0.0.1'),
  port: port.default(8081),
  /** Bearer token for /api/*; /metrics and /healthz stay open. */
  token: z.string().min(16, 'admin token must be at least 16 characters').optional(),
}).strict();

/**
 * A server's url: scheme, host and port only. Requests keep their own path (nothing is prefixed or
 * rewritten), so a path, query or credentials here would be dropped without a word — an operator
 * who wrote `http://app:8080/api` expects what nginx's `proxy_pass http://app:8080/api/` does.
 */
const upstreamUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), 'upstream url must be http:// or https://')
  .refine((u) => { const x = new URL(u); return (x.pathname === '/' || x.pathname === '') && x.search === '' && x.hash === ''; },
    'upstream url: scheme://host[:port] only — requests keep their own path, nothing is prefixed (give the route the path the origin serves)')
  .refine((u) => { const x = new URL(u); return x.username === '' && x.password === ''; },
    'upstream url: no credentials (they would not be sent); an origin that needs them gets them from the client\'s Authorization');

const serverSchema = z.object({
  url: upstreamUrl,
  /** Share of traffic relative to the other servers (1..256), like nginx's `weight`. */
  weight: z.number().int().min(1).max(256).default(1),
  /** Takes traffic only when no primary server is available (nginx `backup`). */
  backup: z.boolean().default(false),
  /** Name in events, metrics and the admin API; default host:port of the url. */
  name: z.string().regex(/^[A-Za-z0-9._:[\]-]+$/, 'name: letters, digits, dot, dash, colon, brackets').optional(),
}).strict();

/** Passive health: outlier ejection (Envoy outlier_detection). */
const passiveHealthSchema = z.object({
  enabled: z.boolean().default(true),
  /** Connect failures, resets, timeouts or 5xx in a row that eject a server. */
  consecutiveFailures: z.number().int().min(1).default(5),
  /** A failure older than this no longer counts toward the run. */
  windowMs: positiveMs.default(10_000),
  /** First ejection's length; the n-th lasts n times as long. */
  baseEjectionMs: positiveMs.default(10_000),
  maxEjectionMs: positiveMs.default(300_000),
  /** At most this share of the servers ejected at once (one server alone is never ejected passively). */
  maxEjectedPercent: z.number().int().min(0).max(100).default(50),
}).strict();

/** Active health: HTTP probes with HAProxy's rise/fall. */
const activeHealthSchema = z.object({
  path: z.string().startsWith('/', 'path must start with /').default('/'),
  intervalMs: positiveMs.default(2_000),
  timeoutMs: positiveMs.default(1_000),
  /** Statuses that count as healthy: one code, or a range such as "200-399". */
  expectStatus: z.union([z.number().int().min(100).max(599), z.string().regex(/^[1-5]\d\d-[1-5]\d\d$/, 'expectStatus: a status or a range like 200-399')]).default('200-399'),
  /** Successes in a row that bring a down server back. */
  rise: z.number().int().min(1).default(2),
  /** Failures in a row that take an up server down. */
  fall: z.number().int().min(1).default(3),
}).strict();

const healthSchema = z.object({
  passive: passiveHealthSchema.default(() => passiveHealthSchema.parse({})),
  active: activeHealthSchema.optional(),
  /** A server that comes back ramps from 10% to 100% of its weight over this time (HAProxy slowstart); 0 = at once. */
  slowStartMs: z.number().int().min(0).default(10_000),
}).strict();

/** Retries of requests that failed before any response byte, on another server. */
const retrySchema = z.object({
  enabled: z.boolean().default(true),
  /** Retries at most this share of the requests over the window (a retry budget), so retries cannot amplify an overload. */
  budgetPercent: z.number().min(0).max(100).default(20),
  budgetWindowMs: positiveMs.default(10_000),
  /** Retries always allowed per window on top of the share (a quiet upstream may still retry its rare failure). */
  minRetries: z.number().int().min(0).default(3),
}).strict();

const upstreamSchema = z.object({
  /** One server: shorthand for `servers: [{ url }]`. */
  url: upstreamUrl.optional(),
  servers: z.array(serverSchema).min(1, 'at least one server').max(1000).optional(),
  /** least-outstanding: power of two choices on requests in flight (default); round-robin: smooth weighted; hash: consistent hashing on `hashKey`. */
  balance: z.enum(['least-outstanding', 'round-robin', 'hash']).default('least-outstanding'),
  /** What `balance: hash` hashes: the client address or the request path. */
  hashKey: z.enum(['client', 'path']).default('client'),
  health: healthSchema.default(() => healthSchema.parse({})),
  retries: retrySchema.default(() => retrySchema.parse({})),
  /** Requests in flight to each server at once, like HAProxy's server maxconn (admission's ceiling is this times the servers). */
  connections: z.number().int().positive().default(64),
  /**
   * https servers: the name their certificates are checked against and sent as SNI (nginx
   * `proxy_ssl_name`); default the host of each server's url, never the client's Host.
   */
  servername: z.string().min(1).max(253).regex(/^[A-Za-z0-9.-]+$/, 'servername: a DNS name').optional(),
  /** Requests waiting for a slot beyond that; more important classes are served first and push out less important ones. Beyond it: 503. */
  maxQueue: z.number().int().min(0).default(1024),
  /** Longest wait for a slot before 503 + Retry-After (HAProxy `timeout queue`). */
  queueTimeoutMs: positiveMs.default(10_000),
  /** Whole exchange budget: headers must arrive and the body must keep flowing within it. */
  timeoutMs: positiveMs.default(10_000),
  connectTimeoutMs: positiveMs.default(2_000),
}).strict().superRefine((u, ctx) => {
  // Both are accepted only as the parsed form of the shorthand (one server, same url): parsing stays idempotent.
  const shorthandOutput = u.url !== undefined && u.servers?.length === 1 && u.servers[0]?.url === u.url;
  if ((u.url === undefined) === (u.servers === undefined) && !shorthandOutput) {
    ctx.addIssue({ code: 'custom', path: ['servers'], message: 'give either `url` (one server) or `servers`, not both or neither' });
  }
  const names = new Set<string>();
  u.servers?.forEach((s, i) => {
    const name = s.name ?? new URL(s.url).host;
    if (names.has(name)) ctx.addIssue({ code: 'custom', path: ['servers', i, s.name ? 'name' : 'url'], message: `server "${name}" repeats (give one a distinct name)` });
    names.add(name);
  });
  if (u.servers && u.servers.every((s) => s.backup)) ctx.addIssue({ code: 'custom', path: ['servers'], message: 'at least one server must not be a backup' });
}).transform((u) => {
  const list = u.servers ?? [{ url: u.url as string, weight: 1, backup: false }];
  const servers = list.map((s) => ({ url: s.url, weight: s.weight, backup: s.backup, name: s.name ?? new URL(s.url).host }));
  // `url` stays for one server (the shorthand), absent for several.
  return { ...u, url: servers.length === 1 ? (servers[0] as { url: string }).url : undefined, servers };
});

const cacheSchema = z.object({
  /** Seconds a stored response is served without asking the upstream (the upstream's max-age may shorten it). */
  ttlS: z.number().int().positive(),
  /** Seconds after that during which a stored copy answers instead of a 502/503/504 (RFC 5861 stale-if-error). */
  staleS: z.number().int().min(0).default(600),
  /** Query parameters that are part of the cache key; all others are ignored (cache-busting defence). */
  query: z.array(z.string()).default([]),
  /**
   * Store for `ttlS` whatever the upstream's Cache-Control says of sharing and lifetime (private,
   * no-cache, no-store, max-age): nginx's `proxy_ignore_headers Cache-Control`, a CDN's edge TTL.
   * For origins that mark every answer private (a framework's default) on routes the operator
   * knows answer everyone alike; Set-Cookie and a Vary by Cookie still keep an answer out.
   */
  override: z.boolean().default(false),
}).strict();

const routeSchema = z.object({
  /** Stable identity for cache keys, metrics and logs; derived from `match` when absent. */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'name: letters, digits, dot, dash, underscore').optional(),
  match: z.object({
    method: z.string().regex(/^[A-Z]+$/, 'method must be an upper-case HTTP method').optional(),
    /** Path prefix; the longest matching route wins over a shorter one only by listing order. */
    path: z.string().startsWith('/', 'path must start with /').default('/'),
    host: z.string().optional(),
  }).strict(),
  upstream: z.string(),
  class: z.enum(ROUTE_CLASSES).default('normal'),
  cache: cacheSchema.optional(),
  /**
   * Read the whole request body before asking for an upstream slot (nginx proxy_request_buffering):
   * a slow client then holds only its own socket. `false` streams the body (large uploads).
   */
  requestBuffering: z.boolean().default(true),
  /**
   * A request header whose presence makes a non-idempotent request safe to retry on another server
   * (e.g. "Idempotency-Key", draft-ietf-httpapi-idempotency-key-header); GET, HEAD and OPTIONS
   * are retried without one.
   */
  idempotencyKey: z.string().regex(/^[A-Za-z0-9-]+$/, 'idempotencyKey: a header name').optional(),
  /** Accept WebSocket upgrades (RFC 6455) on this route; other routes refuse them. */
  websocket: z.boolean().default(false),
  /**
   * The origin holds this route's answers by design — long polling (the head comes when there is
   * news; an event stream is known by its head and needs no such route): each request takes an
   * `eventStreams` place; its upstream slot paces when it is sent and
   * is given back once it is, and its wait is neither timed by `timeoutMs` nor read by the adaptive
   * limit (shield/upstream/event-stream.ts).
   */
  stream: z.boolean().default(false),
  /** Detection and mitigation decide and record for this route but enforce nothing. */
  dryRun: z.boolean().default(false),
}).strict();

const blockSchema = z.object({
  cidr: cidrSchema,
  /** Seconds before the entry expires; absent = permanent. */
  ttlS: z.number().int().positive().optional(),
  reason: z.string().default('config'),
}).strict();

/**
 * The blocklist mirrored in the kernel with nftables (shield/blocklist/kernel-mirror.ts): a blocked
 * source's packets to the listening port are dropped before an accept. Read at start only.
 */
const kernelBlocklistSchema = z.object({
  enabled: z.boolean().default(false),
  /** An `inet` table of the shield's own, made anew at start and deleted at stop: one per shield on a host. */
  table: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, 'a letter, then letters, digits or _, at most 32 characters').default('rempart'),
  /** The nft binary. */
  command: z.string().min(1).default('nft'),
}).strict();

const defaultRates: Record<RouteClass, z.infer<typeof rateSchema>> = {
  critical: { ratePerS: 20, burst: 40 },
  high: { ratePerS: 20, burst: 40 },
  normal: { ratePerS: 50, burst: 100 },
  low: { ratePerS: 10, burst: 20 },
};

const rateLimitsSchema = z.object({
  enabled: z.boolean().default(true),
  /** GCRA per client address and route class. */
  perClient: z.object({
    critical: rateSchema.default(defaultRates.critical),
    high: rateSchema.default(defaultRates.high),
    normal: rateSchema.default(defaultRates.normal),
    low: rateSchema.default(defaultRates.low),
  }).strict().default(() => ({ ...defaultRates })),
  /** Upper bound on tracked clients; the idlest are forgotten first. */
  maxTrackedClients: z.number().int().positive().default(200_000),
  /**
   * What a client over its address's limit gets, with detection on: `challenge` — proof-of-work
   * (the interstitial for a page load, the API 429 challenge otherwise), whose clearance is the
   * client's own and outside the address's limit (customers behind a carrier NAT with a bot);
   * `refuse` — a bare 429. Without detection, always 429.
   */
  overLimit: z.enum(['challenge', 'refuse']).default('challenge'),
}).strict();

const weightSchema = z.number().positive().max(1000);
const offsetSchema = z.number().int().min(0).max(60_000);
/**
 * Deadline offsets per class when requests wait for an upstream (HAProxy `set-priority-offset`):
 * a request is served as if it arrived this many ms later. Bounded priority: a payment overtakes
 * tracking pages that came up to 500 ms before it, never starves them (see upstream/admission.ts).
 */
const classOffsetsSchema = z.object({
  critical: offsetSchema.default(0),
  high: offsetSchema.default(250),
  normal: offsetSchema.default(500),
  low: offsetSchema.default(1000),
}).strict();
/** Shares of a full wait queue per class: the class most over its share loses its newest waiter first. */
const classWeightsSchema = z.object({
  critical: weightSchema.default(8),
  high: weightSchema.default(4),
  normal: weightSchema.default(2),
  low: weightSchema.default(1),
}).strict();

/** The response cache shared by all routes that cache. */
const cacheStoreSchema = z.object({
  maxBytes: z.number().int().min(0).default(64 * 1024 * 1024),
  /** Larger responses stream through uncached. */
  maxObjectBytes: z.number().int().min(0).default(1024 * 1024),
}).strict();

/** Request and response buffering, so slow clients hold our memory, never the upstream's connections. */
const bufferingSchema = z.object({
  /** Bytes of one request body kept in memory; the rest of a larger body is spooled to a temporary file. */
  requestMemoryBytes: z.number().int().min(0).default(64 * 1024),
  /** Memory for request bodies over all requests; once spent, new bodies spool from their first byte. */
  requestMemoryBudgetBytes: z.number().int().min(0).default(64 * 1024 * 1024),
  /**
   * Disk for spooled request bodies over all requests (0: bodies are never spooled). Beyond it a
   * body that does not fit in memory is refused with 503: a flood of large uploads cannot fill the
   * disk that customers' small bodies spill to once the memory budget is spent.
   */
  requestSpoolBudgetBytes: z.number().int().min(0).default(1024 * 1024 * 1024),
  /** Where spooled bodies go (a private directory is created inside); default: the OS temp dir. */
  spoolDir: z.string().optional(),
  /**
   * Bytes of one response held in memory ahead of a slow client (nginx proxy_buffers); the rest
   * goes to a temporary file up to `responseSpoolBytes`: the upstream is read at its own pace and
   * its connection released, whatever the client's reading speed.
   */
  responseBytes: z.number().int().min(0).default(1024 * 1024),
  /** Memory for read-ahead over all responses; beyond it responses spool (or pause). */
  responseBudgetBytes: z.number().int().min(0).default(256 * 1024 * 1024),
  /** Bytes of one response spooled to disk ahead of the client (nginx proxy_max_temp_file_size); 0 = never spool. */
  responseSpoolBytes: z.number().int().min(0).default(1024 * 1024 * 1024),
  /** Disk for spooled responses over all clients; beyond it the upstream is paused until the client catches up. */
  responseSpoolBudgetBytes: z.number().int().min(0).default(8 * 1024 * 1024 * 1024),
  /** A client that accepts nothing for this long while its paused response holds an upstream slot others wait for is cut. */
  stallEvictMs: positiveMs.default(2_000),
}).strict();

const secretSchema = z.string().min(32, 'secret must be at least 32 characters (it signs cookies and challenges)');

/** Attack detection, client reputation and the challenge ladder. Every threshold is relative to learned baselines. */
const detectionSchema = z.object({
  enabled: z.boolean().default(true),
  /** Decide and record everything (events, metrics, console), enforce nothing: challenges pass, blocks are not applied. */
  dryRun: z.boolean().default(false),
  /**
   * HMAC key for reputation cookies, clearances and challenges. Default: random per process —
   * several workers or machines must share one (and cookies do not survive a restart without it).
   */
  secret: secretSchema.optional(),
  /** The previous key, still accepted during a rotation. */
  previousSecret: secretSchema.optional(),
  /** Path prefixes never challenged (the status page must stay reachable under attack). */
  exemptPaths: z.array(z.string().startsWith('/')).default(['/status']),
  /**
   * Cookies that carry the application's session. A value the shield saw the origin set (on a 2xx
   * or 3xx answer: a login) is an authenticated customer's: its requests are never challenged and
   * rank with established customers, paced and rate-limited as one identity
   * (reputation/sessions.ts). A value it never saw only spares critical routes the challenge.
   */
  sessionCookies: z.array(z.string().min(1)).default([]),
  /** Sessions remembered (digests only): at most `maxEntries`, each for at most `maxAgeS` after it was last seen. */
  sessions: z.object({
    maxEntries: z.number().int().min(1).max(10_000_000).default(200_000),
    maxAgeS: z.number().int().min(1).max(30 * 86_400).default(43_200),
    /**
     * A client whose session was revoked for flooding past `perToken` gets no trusted session for
     * this long: the sessions it logs in to meanwhile are not learned (0: each login trusted anew).
     */
    revokedHolderS: z.number().int().min(0).max(86_400).default(600),
  }).strict().prefault({}),
  /** Each reputation or clearance is itself rate-limited; past it the token is revoked (its holder misbehaves). */
  perToken: rateSchema.default({ ratePerS: 5, burst: 50 }),
  /**
   * Behind a shared address (a carrier NAT: several customers with tokens of their own seen behind
   * it), no-JavaScript cookies with an identity of their own, at most this many per address: each
   * newcomer is paced alone instead of with every newcomer sending the same User-Agent. Past the
   * budget, cookies carry the address's and agent's identity again (challenge/responses.ts).
   */
  sharedAddressCookies: rateSchema.default({ ratePerS: 2, burst: 30 }),
  /**
   * Identity pace: within a standing, tokens that sent fewer requests over the last
   * `windowS` go first when requests must wait (least attained service, doubling levels from
   * `lightRequests`). No threshold to tune: it only orders, and only matters under saturation.
   */
  pace: z.object({
    windowS: z.number().positive().max(300).default(5),
    /** The line before anything is learned, and the floor of what is learned. */
    lightRequests: z.number().int().positive().default(4),
    /**
     * The rate line learned from the site's own customers in normal times: the `quantile` of the
     * requests a reputation holder sent per window (a dashboard whose script fetches ten things at
     * once is one page), used once `minSamples` windows were seen, never above `maxLightRequests`.
     * The open-request line stays `lightRequests` (detect/pace-profile.ts).
     */
    learn: z.object({
      enabled: z.boolean().default(true),
      quantile: z.number().min(0.5).max(1).default(0.99),
      minSamples: z.number().int().positive().default(200),
      maxLightRequests: z.number().int().positive().max(256).default(16),
      halfLifeS: z.number().positive().default(3600),
    }).strict().prefault({}),
  }).strict().prefault({}),
  /**
   * Per class, how long a request of a client known before the attack may wait behind older
   * requests of clients who got their token during it before it goes first (0: always first).
   * Applies while those newcomers behave like a crowd of people (upstream/admission.ts). The
   * normal class's 3 s sits between a crowd's shared wait (~2.5–3 s, HAProxy's FIFO in the drill)
   * and a person's patience: at 2 s the known customers' pages came back sooner and pushed the
   * newcomers' tail past 5 s (flash-crowd drill, docs/benchmarks.md twenty-ninth session).
   */
  knownFirstMs: z.object({
    critical: offsetSchema.default(0),
    high: offsetSchema.default(750),
    normal: offsetSchema.default(3000),
    low: offsetSchema.default(3500),
  }).strict().default({ critical: 0, high: 750, normal: 3000, low: 3500 }),
  /**
   * How long a request of a client that got its token during the attack may wait before it counts
   * as a client that never gives up (admission rule 7, upstream/admission.ts): past it, in numbers,
   * known clients go strictly first and the newcomers' requests newest first. People give up on a
   * page after a few seconds; load tools wait as long as they are kept (k6: 60 s). Raise it for a
   * site whose customers' clients wait longer (an app with a 30 s timeout); at or above an
   * upstream's `queueTimeoutMs` the rule never holds there.
   */
  patienceMs: z.number().int().min(1000).max(600_000).default(6000),
  /**
   * How long a page a source loaded backs its form submissions: a non-safe request to a critical
   * route whose same-site Referer names a page its address and agent did not load within this time
   * counts at a flood's pace in admission (defence/page-visits.ts). 0 turns the check off.
   */
  formPageTtlS: z.number().int().min(0).max(86_400).default(1800),
  /** A reputation counts as "known before the attack" when issued this long before its start. */
  reputationMinAgeS: z.number().int().positive().default(600),
  /**
   * A reputation established by its issue time but first presented to this shield as many woke
   * with the attack (or in a surge just before it) passes but waits with the token-less requests
   * (reputation/roster.ts): what the shield saw before the attack counts, not only when a token
   * was issued.
   */
  wokenReputations: z.boolean().default(true),
  /** Adapt each upstream's concurrency to the latency it shows (gradient), `connections` being the ceiling. */
  adaptiveConcurrency: z.boolean().default(true),
  /**
   * Count a request in its identity's pace as the typical requests of its kind it costs the
   * upstream, learned from the upstream's answers by query shape (detect/request-cost.ts).
   */
  costWeighting: z.boolean().default(true),
  /**
   * Share of an upstream's concurrency limit that requests carrying one query part whose cost
   * nothing has shown yet, or that is known to be costly, may hold at the upstream (four times
   * that, at most all of it, for one route and path); the rest wait their turn out of the queue
   * (upstream/cost-probe.ts). 0 turns the probe off. Needs `costWeighting`.
   */
  costProbeShare: z.number().min(0).max(1).default(0.125),
  /** Overrides of the attack state machine's relative thresholds (see docs/detection.md). */
  attack: z.object({
    kHigh: z.number().positive(), kLow: z.number().positive(), rateLiftHigh: z.number().positive(), rateLiftLow: z.number().positive(),
    warmupS: z.number().int().min(0), saturation: z.number().positive().max(1), queueWaitMs: z.number().positive(), standingMs: z.number().positive(),
    suspectAfterS: z.number().int().min(0), attackAfterS: z.number().int().min(0), calmAfterS: z.number().int().min(0), coolDownS: z.number().int().min(0),
    coldHoldS: z.number().int().min(0),
  }).partial().strict().default({}),
}).strict();

/** A throttle on what a client sends into a tunnel (listener/tunnels.ts); 0 = unlimited. */
function tunnelRateSchema(ratePerS: number, burst: number) {
  return z.object({ ratePerS: z.number().min(0).default(ratePerS), burst: z.number().int().min(0).default(burst) })
    .strict().default({ ratePerS, burst });
}

/** Upgraded WebSocket connections (routes with `websocket: true`). */
const websocketSchema = z.object({
  /** A tunnel with no byte either way for this long is closed (close frame 1001). */
  idleTimeoutMs: positiveMs.default(300_000),
  /** Upgraded connections per client address (0 = unlimited). */
  maxPerClient: z.number().int().min(0).default(16),
  /** Upgraded connections in total (0 = unlimited). */
  maxTotal: z.number().int().min(0).default(10_000),
  /** Frames a client sends into one tunnel: sustained per second (0 = unlimited) and burst; beyond, reading pauses. */
  clientFrames: tunnelRateSchema(100, 200),
  /** Bytes a client sends into one tunnel: sustained per second (0 = unlimited) and burst; beyond, reading pauses. */
  clientBytes: tunnelRateSchema(1 << 20, 4 << 20),
  /**
   * Each message a client starts in a tunnel takes a slot of its upstream like a request (at once
   * when one is free, else behind every request) and holds it until the upstream answers on the
   * tunnel; while the upstream is contended, one message per tunnel at a time
   * (upstream/message-admission.ts). Off: frames are relayed unmetered beyond
   * `clientFrames`/`clientBytes`, as nginx and HAProxy relay them.
   */
  admitMessages: z.boolean().default(true),
}).strict();

/**
 * Event streams (Server-Sent Events) held through the shield: a response of type
 * `text/event-stream` gives its upstream slot back once its head is written; a request that asks
 * for one (`Accept: text/event-stream`) takes its place before it is sent, any other when its head
 * says what it is (shield/upstream/event-stream.ts). Each holds a client and an upstream connection.
 */
const eventStreamsSchema = z.object({
  /** Streams per client address (0 = unlimited); a shared address (carrier NAT) holds that many per customer seen behind it. */
  maxPerClient: z.number().int().min(0).default(16),
  /** Streams in total (0 = unlimited); at most a quarter of the connections the listener holds, as for tunnels. */
  maxTotal: z.number().int().min(0).default(10_000),
  /**
   * A stream with no byte from the upstream for this long is cut (the upstream's `timeoutMs` is
   * too short between events); an origin's keep-alive comments count (WHATWG HTML §9.2.7 suggests
   * one every 15 s), as nginx's `proxy_read_timeout` (60 s) would.
   */
  idleTimeoutMs: positiveMs.default(120_000),
}).strict();

const logSchema = z.object({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** One JSON line per request, written asynchronously off the hot path. */
  access: z.boolean().default(true),
  /**
   * Access lines a second, at most, for requests answered without the upstream (refusals,
   * challenges, cached copies, the status page); past it they are counted in one line a second
   * (shield/log-budget.ts). Forwarded requests are always written. 0: every line.
   */
  accessUnforwardedPerS: z.number().int().min(0).default(200),
}).strict();

/** An operator account of the console; the password is stored only as a slow salted hash (`rempart console hash-password`). */
const operatorSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'operator name: 1-64 letters, digits, dot, dash, underscore, @'),
  /** scrypt$N$r$p$salt$hash (base64url), as printed by `rempart console hash-password`. */
  passwordHash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/, 'passwordHash must be scrypt$N$r$p$salt$hash (use `rempart console hash-password`)'),
}).strict();

/** The operator console served by the admin listener (docs/console.md). */
const consoleSchema = z.object({
  enabled: z.boolean().default(true),
  /** Accounts besides the admin token (which also logs in, as "admin"). */
  operators: z.array(operatorSchema).default([]),
  /** A console session lasts this long after login (no sliding renewal). */
  sessionTtlS: z.number().int().min(60).max(7 * 86_400).default(8 * 3600),
  /** Base URL of the payment authorization service (its /v1/channels is polled for the channel in use). */
  authorizeUrl: z.string().url().optional(),
}).strict();

/** One component of the public status page and what judges its state. */
const statusComponentSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]{1,40}$/, 'component id: lower-case letters, digits, dash'),
  name: z.string().min(1).max(80),
  /** Path prefixes whose exchanges judge this component (failures over the last 30 s). */
  paths: z.array(z.string().startsWith('/')).default([]),
  /** A payment approval channel reported by the authorization service (console.authorizeUrl). */
  channel: z.enum(['app', 'sms']).optional(),
  /** An upstream: the component is unavailable while none of its servers can take traffic (active probes, ejection), even with no customer trying. */
  upstream: z.string().optional(),
  /** What customers read while the component is unavailable (the incident title). */
  downMessage: z.string().max(300).optional(),
}).strict();

/** The public status page the shield serves itself, from memory, never challenged (docs/console.md). */
const statusSchema = z.object({
  enabled: z.boolean().default(true),
  /** Pages: PATH (HTML), PATH.json, PATH.atom. Keep it under detection.exemptPaths. */
  path: z.string().regex(/^\/[A-Za-z0-9._/-]*[A-Za-z0-9]$/, 'path: /something without a trailing slash').default('/status'),
  /** Who runs the service (the page title). */
  operator: z.string().min(1).max(80).default('Service status'),
  components: z.array(statusComponentSchema).default([]),
  /** Share of failed exchanges (over at least 20 in 30 s) that marks a component degraded; 10x it is an outage. */
  degradedFailureRatio: z.number().positive().max(1).default(0.05),
  /** Days of incidents and daily component history kept and shown. */
  historyDays: z.number().int().min(1).max(366).default(90),
  /** The page's language and its automatic incidents' (status/texts.ts): `en` or `fr`. */
  language: z.enum(['en', 'fr']).default('en'),
}).strict();

/** Where the event log and the status history are kept. */
const storageSchema = z.object({
  /** SQLite file (created if missing). Absent: in memory, lost on restart. */
  database: z.string().min(1).optional(),
}).strict();

/** The whole shield configuration; every default lives here. */
export const configSchema = z.object({
  listen: listenSchema.default(() => listenSchema.parse({})),
  admin: adminSchema.default(() => adminSchema.parse({})),
  /** Peers whose X-Forwarded-For / Forwarded / PROXY header is believed. */
  trustedProxies: z.array(cidrSchema).default([]),
  /**
   * IPv6 clients are counted per prefix of this length by every per-client limit (rate, connection
   * cap, strikes and blocks, pace): a subscriber holds at least a /64 (RFC 6177) and may use a new
   * address in it per connection (RFC 8981). 128 counts each address (shield/client-key.ts).
   */
  clientIpv6Prefix: z.number().int().min(32).max(128).default(64),
  upstreams: z.record(z.string(), upstreamSchema).refine((u) => Object.keys(u).length > 0, 'at least one upstream is required'),
  routes: z.array(routeSchema).min(1, 'at least one route is required'),
  blocklist: z.array(blockSchema).default([]),
  kernelBlocklist: kernelBlocklistSchema.default(() => kernelBlocklistSchema.parse({})),
  rateLimits: rateLimitsSchema.default(() => rateLimitsSchema.parse({})),
  classWeights: classWeightsSchema.default(() => classWeightsSchema.parse({})),
  classOffsetsMs: classOffsetsSchema.default(() => classOffsetsSchema.parse({})),
  cache: cacheStoreSchema.default(() => cacheStoreSchema.parse({})),
  buffering: bufferingSchema.default(() => bufferingSchema.parse({})),
  detection: detectionSchema.default(() => detectionSchema.parse({})),
  websocket: websocketSchema.default(() => websocketSchema.parse({})),
  eventStreams: eventStreamsSchema.default(() => eventStreamsSchema.parse({})),
  log: logSchema.default(() => logSchema.parse({})),
  console: consoleSchema.default(() => consoleSchema.parse({})),
  status: statusSchema.default(() => statusSchema.parse({})),
  storage: storageSchema.default(() => storageSchema.parse({})),
}).strict();

/**
 * Checks that need the whole document (references between sections). Runs on the raw object too,
 * so a file with both a type error and a dangling reference reports both.
 */
export function crossCheck(raw: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  if (typeof raw !== 'object' || raw === null) return out;
  const { upstreams, routes } = raw as { upstreams?: unknown; routes?: unknown };
  if (typeof upstreams !== 'object' || upstreams === null || !Array.isArray(routes)) return out;
  const names = Object.keys(upstreams);
  const ids = new Map<string, number>();
  routes.forEach((r: unknown, i) => {
    const route = r as { name?: unknown; match?: { method?: unknown; host?: unknown; path?: unknown } } | null;
    if (route && typeof route === 'object') {
      const id = typeof route.name === 'string' ? route.name
        : `${String(route.match?.method ?? '*')} ${String(route.match?.host ?? '*').toLowerCase()} ${String(route.match?.path ?? '/')}`;
      const first = ids.get(id);
      if (first !== undefined) {
        out.push({ path: ['routes', i, typeof route.name === 'string' ? 'name' : 'match'], message: `route identity "${id}" repeats routes[${first}] (give one a distinct name)` });
      } else ids.set(id, i);
    }
    // An upgrade request must never be answered from (or coalesced behind) a cached response.
    if ((r as { websocket?: unknown } | null)?.websocket === true && (r as { cache?: unknown }).cache !== undefined) {
      out.push({ path: ['routes', i, 'cache'], message: 'a route with websocket: true cannot cache (give the WebSocket path a route of its own)' });
    }
    // A held answer is news for one client at one moment: never one to store or to share behind a lookup.
    if ((r as { stream?: unknown } | null)?.stream === true && (r as { cache?: unknown }).cache !== undefined) {
      out.push({ path: ['routes', i, 'cache'], message: 'a route with stream: true cannot cache (long polls and event streams are answered per client)' });
    }
    const u = (r as { upstream?: unknown } | null)?.upstream;
    if (typeof u === 'string' && !names.includes(u)) {
      out.push({ path: ['routes', i, 'upstream'], message: `unknown upstream "${u}" (defined: ${names.join(', ')})` });
    }
  });
  const components = (raw as { status?: { components?: unknown } }).status?.components;
  if (Array.isArray(components)) {
    components.forEach((c: unknown, i) => {
      const u = (c as { upstream?: unknown } | null)?.upstream;
      if (typeof u === 'string' && !names.includes(u)) {
        out.push({ path: ['status', 'components', i, 'upstream'], message: `unknown upstream "${u}" (defined: ${names.join(', ')})` });
      }
    });
  }
  return out;
}

export type Config = z.infer<typeof configSchema>;
export type RouteConfig = Config['routes'][number];
export type UpstreamConfig = Config['upstreams'][string];
export type ServerConfig = UpstreamConfig['servers'][number];
export type ListenerLimits = Config['listen']['limits'];
export type RateParams = z.infer<typeof rateSchema>;
export type StatusConfig = Config['status'];
export type StatusComponentConfig = StatusConfig['components'][number];
