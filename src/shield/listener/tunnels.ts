import type { Socket } from 'node:net';
import { CLOSE_GOING_AWAY, CLOSE_NORMAL, closeFrame, createFrameTracker, type FrameTracker } from './ws-frames.js';

/** What a tunnel is for, so operators and reloads can pick tunnels to close. */
export interface TunnelInfo {
  readonly client: string;
  /** The key its place was reserved under (`reserve`): the client's, shield/client-key.ts. Default `client`. */
  readonly clientKey?: string;
  readonly upstream: string;
  readonly server: string;
  readonly serverUrl: string;
}

/** Caps and timeout of upgraded connections. */
export interface TunnelLimits {
  idleTimeoutMs: number;
  /** 0 = unlimited. */
  maxPerClient: number;
  /** 0 = unlimited. */
  maxTotal: number;
}

/** The upgraded (WebSocket) connections of one listener. */
export interface Tunnels {
  readonly open: number;
  limits: TunnelLimits;
  /** Reserves a place for `client`; false when a cap is reached. Each true must be followed by `attach` or `unreserve`. */
  reserve(client: string): boolean;
  unreserve(client: string): void;
  /**
   * Relays bytes both ways between the client's socket and the upstream's from now on; `clientHead`
   * and `upstreamHead` are bytes each side sent beyond the handshake. `onEnd` hears when it closes.
   */
  attach(info: TunnelInfo, client: Socket, upstream: Socket, clientHead: Buffer, upstreamHead: Buffer, onEnd: (reason: string, durationMs: number) => void): void;
  /** Closes the tunnels `match` selects with a close frame each way (between frames); returns how many. */
  closeWhere(match: (t: TunnelInfo) => boolean, code: number, reason: string): number;
  /** Closes every tunnel cleanly and waits (bounded by `graceMs`) for them to end. */
  closeAll(reason: string, graceMs: number): Promise<void>;
}

interface Tunnel {
  info: TunnelInfo;
  close(code: number, reason: string): void;
}

/**
 * One direction of a tunnel: bytes flow as they come (with backpressure); once closing, bytes flow
 * to the end of the frame in progress, then our close frame goes and this direction stops.
 */
function relay(from: Socket, to: Socket, masked: boolean): { start(head: Buffer): void; close(code: number, reason: string): void } {
  const frames: FrameTracker = createFrameTracker();
  let closing: Buffer | undefined;
  let done = false;
  const finish = (): void => {
    if (done || !closing) return;
    done = true; // what the peer still sends (its own close frame) is read and dropped
    to.write(closing);
    to.end();
  };
  const push = (chunk: Buffer): void => {
    if (done) return;
    if (!closing) {
      frames.consume(chunk, false);
      if (!to.write(chunk)) from.pause();
      return;
    }
    const n = frames.consume(chunk, true);
    if (n > 0) to.write(chunk.subarray(0, n));
    if (frames.atBoundary) finish();
  };
  return {
    start(head) {
      if (head.length > 0) push(head);
      from.on('data', push);
      to.on('drain', () => { if (!done) from.resume(); });
    },
    close(code, reason) {
      if (closing) return;
      closing = closeFrame(code, reason, masked);
      if (frames.atBoundary) finish();
      else from.resume(); // let the rest of the frame in progress through
    },
  };
}

/** Creates the registry; it owns no timer (idle timeouts are the sockets' own). */
export function createTunnels(initial: TunnelLimits): Tunnels {
  const live = new Set<Tunnel>();
  const perClient = new Map<string, number>();
  let reserved = 0;
  let limits = initial;
  const dec = (client: string): void => {
    const n = (perClient.get(client) ?? 1) - 1;
    if (n <= 0) perClient.delete(client); else perClient.set(client, n);
    reserved--;
  };
  const self: Tunnels = {
    get open() { return live.size; },
    get limits() { return limits; },
    set limits(l) { limits = l; },
    reserve(client) {
      const n = perClient.get(client) ?? 0;
      if (limits.maxTotal > 0 && reserved >= limits.maxTotal) return false;
      if (limits.maxPerClient > 0 && n >= limits.maxPerClient) return false;
      perClient.set(client, n + 1);
      reserved++;
      return true;
    },
    unreserve: dec,
    attach(info, client, upstream, clientHead, upstreamHead, onEnd) {
      const t0 = performance.now();
      const up = relay(client, upstream, true);
      const down = relay(upstream, client, false);
      let why = 'closed';
      let ended = false;
      const tunnel: Tunnel = {
        info,
        close(code, reason) {
          why = reason;
          up.close(code, reason);
          down.close(code, reason);
          // A peer that never answers (or a frame that never ends) must not hold the socket.
          setTimeout(() => { client.destroy(); upstream.destroy(); }, 2_000).unref();
        },
      };
      live.add(tunnel);
      const end = (): void => {
        if (ended) return;
        ended = true;
        live.delete(tunnel);
        dec(info.clientKey ?? info.client);
        client.destroy();
        upstream.destroy();
        onEnd(why, performance.now() - t0);
      };
      for (const s of [client, upstream]) {
        s.setNoDelay(true);
        s.on('error', () => { why = why === 'closed' ? 'error' : why; end(); });
        s.on('close', end);
      }
      // A half-close is passed on: a side that finished sending lets the other finish too.
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
      // Node's socket timeout counts reads and writes on the client socket: bytes either way keep it alive.
      client.setTimeout(limits.idleTimeoutMs, () => tunnel.close(CLOSE_NORMAL, 'idle timeout'));
      up.start(clientHead);
      down.start(upstreamHead);
    },
    closeWhere(match, code, reason) {
      let n = 0;
      for (const t of live) if (match(t.info)) { t.close(code, reason); n++; }
      return n;
    },
    async closeAll(reason, graceMs) {
      for (const t of live) t.close(CLOSE_GOING_AWAY, reason);
      const deadline = performance.now() + Math.min(graceMs, 2_500);
      while (live.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
  };
  return self;
}
