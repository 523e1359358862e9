import { constants, createServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../core/clock.js';
import type { ShieldBus } from '../events.js';
import { gcraStep, type GcraParams } from '../limits/gcra.js';
import type { ConnectionFacts } from './connection-facts.js';
import { adaptHttp2Request } from './http2-request.js';

/** What an HTTP/2 connection is held to; replaced whole on reload (new sessions and timers read it). */
export interface Http2Settings {
  maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2): limits.maxHeaderBytes. */
  maxHeaderBytes: number;
  /** Header fields per request the validate filter allows (431 past it): the codec lets up to twice as many through to be answered. */
  maxHeaderCount: number;
  /** A connection with no open stream is closed (GOAWAY) after this: limits.keepAliveTimeoutMs. */
  idleTimeoutMs: number;
  /** … and before its first request, after this: limits.headersTimeoutMs (a handshake and nothing). */
  firstRequestTimeoutMs: number;
  /** Streams one connection may open in all (limits.maxRequestsPerConnection, 0 = unlimited): then GOAWAY. */
  maxRequestsPerConnection: number;
  /** Streams the client may cancel on one connection (limits.http2ClientResets): past it GOAWAY ENHANCE_YOUR_CALM. */
  clientResets: GcraParams;
  /** An answer written but not taken by the client for this long is cancelled: limits.sendTimeoutMs. */
  sendTimeoutMs: number;
}

/** The shield's HTTP/2 connections (those whose TLS handshake chose `h2`). */
export interface Http2Sessions {
  /** Serves `secure` (ALPN h2) as HTTP/2; `facts` describe its connection. */
  accept(secure: TLSSocket, facts: ConnectionFacts): void;
  /** New settings (reload): timers and limits read them at once; SETTINGS go to new connections. */
  reload(next: Http2Settings): void;
  /** Open HTTP/2 connections. */
  readonly open: number;
  /** GOAWAY to every connection: streams in progress finish, no new one starts (shutdown). */
  closeAll(): void;
  /** Destroys every connection left (after the shutdown grace) and the stalled-answer sweep. */
  stop(): void;
}

/** The connection's accounting, per request: the gate keeps a connection with open streams from being evicted. */
export interface StreamAccounting {
  busy(socket: TLSSocket): void;
  done(socket: TLSSocket): void;
}

type Entry = (req: IncomingMessage, res: ServerResponse, conn: ConnectionFacts) => void;

interface SessionState {
  readonly secure: TLSSocket;
  readonly facts: ConnectionFacts;
  readonly streams: Set<ServerHttp2Stream>;
  requests: number;
  resetTat: number | undefined;
  idle: NodeJS.Timeout | undefined;
  ended: boolean;
}

// How long a closed session's socket may wait for its peer to close it too.
const CLOSE_LINGER_MS = 2000;
// How often stalled answers are looked for; an answer may outlive sendTimeoutMs by this much.
const SWEEP_MS = 1000;

/**
 * HTTP/2 over the shield's TLS listener (RFC 9113), with Node's HTTP/2 codec (nghttp2) and its
 * compatibility API: each stream is one request of the same pipeline as HTTP/1.1 (the request
 * adapted by http2-request.ts), on the same connection facts with `protocol: 'h2'`. The gate has
 * judged the TCP connection before the handshake; what HTTP/2 adds is bounded here:
 * - concurrency: SETTINGS_MAX_CONCURRENT_STREAMS, and every stream counts busy at the gate;
 * - cancellation: streams the client resets, per connection (GCRA): the rapid-reset flood;
 * - protocol errors: the codec answers a forbidden frame with GOAWAY itself; too many invalid
 *   frames or refused streams (Node's bounds, tightened here) end the connection, counted as refused;
 * - idleness: no stream open for keepAliveTimeoutMs (headersTimeoutMs before the first) → GOAWAY;
 * - an answer the client does not take (its flow-control window held at zero) → stream cancelled
 *   after sendTimeoutMs, the session's memory freed; a proxied answer meets the forwarder's own
 *   slow-reader bounds (response-sink.ts) first.
 */
export function createHttp2Sessions(initial: {
  settings: Http2Settings; clock: Clock; bus: ShieldBus; accounting: StreamAccounting;
  entry: Entry; draining(): boolean;
}): Http2Sessions {
  const o = { ...initial };
  const sessions = new Map<ServerHttp2Session, SessionState>();
  // When a stream's answer was seen written but not yet taken (the sweep's clock).
  const endedAt = new WeakMap<ServerHttp2Stream, number>();
  // Streams the shield reset itself (an answer not taken): not the client's cancellations.
  const cancelledByUs = new WeakSet<ServerHttp2Stream>();

  const announced = (s: Http2Settings): { maxConcurrentStreams: number; maxHeaderListSize: number; enablePush: boolean } => ({
    maxConcurrentStreams: s.maxConcurrentStreams,
    maxHeaderListSize: s.maxHeaderBytes,
    // No server push (RFC 9113 §8.4 lets a server never push; browsers dropped it).
    enablePush: false,
  });
  const server = createServer({
    settings: announced(o.settings),
    // Room over the validate filter's count, so that a request somewhat over it is answered 431
    // (as over HTTP/1.1); one with twice as many fields is reset by the codec (ENHANCE_YOUR_CALM).
    maxHeaderListPairs: o.settings.maxHeaderCount * 2 + 8,
    // Node's own bounds on a misbehaving peer, tightened: invalid frames and streams refused for
    // being over the concurrency limit end the connection.
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  });

  const refuse = (st: SessionState, reason: 'h2-resets' | 'h2-protocol'): void => {
    if (st.ended) return;
    st.ended = true;
    o.bus.emit('connection:refused', { address: st.facts.peer, reason });
  };

  const armIdle = (session: ServerHttp2Session, st: SessionState): void => {
    clearTimeout(st.idle);
    const ms = st.requests === 0 ? o.settings.firstRequestTimeoutMs : o.settings.idleTimeoutMs;
    st.idle = setTimeout(() => { if (st.streams.size === 0) session.close(); }, ms);
    st.idle.unref();
  };

  server.on('session', (session: ServerHttp2Session) => {
    // 'session' is emitted synchronously from accept's 'connection': the state is already there.
    const st = sessions.get(session);
    if (st === undefined) { session.destroy(); return; }
    // The codec's own verdicts (ERR_HTTP2_*: invalid frames, too many refused streams, a peer's
    // GOAWAY with an error); a client that vanished (ECONNRESET, EPIPE) is no protocol error.
    session.on('error', (err: Error & { code?: string }) => { if (err.code?.startsWith('ERR_HTTP2') === true) refuse(st, 'h2-protocol'); });
    session.on('frameError', () => { /* the stream or session error that follows is what counts */ });
    session.once('close', () => {
      clearTimeout(st.idle);
      sessions.delete(session);
      // Node ends the socket after the session's last frame (a GOAWAY); one the peer keeps open is cut.
      if (!st.secure.destroyed) setTimeout(() => st.secure.destroy(), CLOSE_LINGER_MS).unref();
    });
    session.on('stream', (stream: ServerHttp2Stream) => {
      st.streams.add(stream);
      st.requests++;
      clearTimeout(st.idle);
      stream.on('error', () => { /* a reset stream; its request's 'close' ends the exchange */ });
      stream.once('close', () => {
        st.streams.delete(stream);
        if (session.destroyed || session.closed) return;
        // Closed by the client's RST_STREAM (RFC 9113 §6.4) before the answer was whole: a code
        // other than NO_ERROR that the shield did not send itself. (A reset that arrives after the
        // answer finds the stream closed and cost nothing.)
        if (stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR && !cancelledByUs.has(stream)) {
          const r = gcraStep(st.resetTat, o.clock.now(), o.settings.clientResets);
          if (!r.allowed) {
            refuse(st, 'h2-resets');
            // GOAWAY with the code (RFC 9113 §5.4.1), then the connection closes (Node's destroy
            // with a code of its own sends NO_ERROR).
            session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
            session.destroy();
            return;
          }
          st.resetTat = r.tat;
        }
        if (st.streams.size === 0) armIdle(session, st);
      });
      const max = o.settings.maxRequestsPerConnection;
      // The last stream it may open: GOAWAY now, streams in progress finish (nginx keepalive_requests).
      if ((max > 0 && st.requests >= max) || o.draining()) session.close();
    });
  });

  server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const st = sessions.get(req.stream.session as ServerHttp2Session);
    if (st === undefined) { req.stream.close(constants.NGHTTP2_REFUSED_STREAM); return; }
    adaptHttp2Request(req);
    o.accounting.busy(st.secure);
    res.once('close', () => o.accounting.done(st.secure));
    o.entry(req as unknown as IncomingMessage, res as unknown as ServerResponse, st.facts);
  });

  // Answers written and not taken: cancelled past sendTimeoutMs (their memory is the session's).
  const sweep = setInterval(() => {
    const now = o.clock.now();
    for (const st of sessions.values()) {
      for (const stream of st.streams) {
        if (!stream.writableEnded || stream.writableFinished || stream.destroyed) continue;
        const since = endedAt.get(stream);
        if (since === undefined) { endedAt.set(stream, now); continue; }
        if (now - since < o.settings.sendTimeoutMs) continue;
        o.bus.emit('connection:refused', { address: st.facts.peer, reason: 'h2-send-timeout' });
        cancelledByUs.add(stream);
        stream.close(constants.NGHTTP2_CANCEL);
      }
    }
  }, SWEEP_MS);
  sweep.unref();

  const self: Http2Sessions = {
    reload(next) {
      o.settings = next;
      server.updateSettings(announced(next));
    },
    get open() { return sessions.size; },
    accept(secure, facts) {
      // Node's server TLSSocket, made outside a tls.Server, stays `secureConnecting` (its server
      // clears it): the HTTP/2 session would wait for a 'secureConnect' a server never emits.
      (secure as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      const st: SessionState = { secure, facts, streams: new Set(), requests: 0, resetTat: undefined, idle: undefined, ended: false };
      // The codec creates the session on 'connection' and emits 'session' synchronously: keyed by
      // its socket until then.
      pendingSocket = { secure, st };
      server.emit('connection', secure);
      pendingSocket = undefined;
      secure.on('error', () => { /* resets by clients are routine; the session's close accounts for them */ });
    },
    closeAll() { for (const session of sessions.keys()) session.close(); },
    stop() {
      clearInterval(sweep);
      for (const [session, st] of sessions) { clearTimeout(st.idle); session.destroy(); }
      sessions.clear();
    },
  };
  let pendingSocket: { secure: TLSSocket; st: SessionState } | undefined;
  server.prependListener('session', (session: ServerHttp2Session) => {
    if (pendingSocket === undefined) return;
    sessions.set(session, pendingSocket.st);
    armIdle(session, pendingSocket.st);
  });
  return self;
}
