import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionFacts } from './connection-facts.js';
import type { TunnelInfo, Tunnels } from './tunnels.js';

/**
 * An upgrade request's handshake as the pipeline sees it: the client socket stays here, in the
 * listener layer; the pipeline answers through a ServerResponse or accepts with the upstream's 101.
 */
export interface UpgradeHandshake {
  /** True once the client's socket closed. */
  readonly closed: boolean;
  /** Runs once if the client leaves before the handshake ends. */
  onClose(fn: () => void): void;
  /** Relays the upstream's 101 head verbatim (RFC 6455 §4.2.2) and joins the two sockets as a tunnel. */
  accept(rawHeaders: readonly string[], upstream: Socket, upstreamHead: Buffer, info: TunnelInfo, onEnd: (reason: string, durationMs: number) => void): void;
}

/** The pipeline's side of an upgrade: a verdict goes to `res` (then the connection closes), or `handshake.accept`. */
export type UpgradeExchange = (req: IncomingMessage, res: ServerResponse, conn: ConnectionFacts, handshake: UpgradeHandshake) => void;

/**
 * Adapts Node's 'upgrade' event (a request plus a socket detached from the HTTP parser) to the
 * pipeline: a ServerResponse on the raw socket lets every refusal be written by the same edge code
 * as any answer (Connection: close), and `accept` hands the socket to the tunnels.
 */
export function createUpgradeAdapter(tunnels: Tunnels, exchange: UpgradeExchange): (req: IncomingMessage, socket: Socket, head: Buffer, conn: ConnectionFacts) => void {
  return (req, socket, head, conn) => {
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    try {
      res.assignSocket(socket);
    } catch {
      // Another answer still owns the socket (listener/pipelining.ts runs upgrades in turn, so
      // this should not happen): close the connection rather than throw out of the event — an
      // uncaught ERR_HTTP_SOCKET_ASSIGNED here ended the process.
      socket.destroy();
      return;
    }
    let detached = false;
    const detach = (): void => { if (!detached) { detached = true; res.detachSocket(socket); } };
    res.once('finish', () => { detach(); socket.end(); });
    const waiting: Array<() => void> = [];
    const handshake: UpgradeHandshake = {
      get closed() { return socket.destroyed; },
      onClose(fn) { waiting.push(fn); socket.once('close', fn); },
      accept(rawHeaders, upstream, upstreamHead, info, onEnd) {
        if (socket.destroyed) { upstream.destroy(); onEnd('client left during the handshake', 0); return; }
        detach();
        for (const fn of waiting) socket.off('close', fn);
        let text = 'HTTP/1.1 101 Switching Protocols\r\n';
        for (let i = 0; i < rawHeaders.length; i += 2) text += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
        socket.write(`${text}\r\n`);
        res.statusCode = 101;
        tunnels.attach(info, socket, upstream, head, upstreamHead, onEnd);
      },
    };
    exchange(req, res, conn, handshake);
  };
}
