import { request, type IncomingMessage } from 'node:http';
import { request as requestTls } from 'node:https';
import type { Socket } from 'node:net';
import type { UpstreamRequest } from '../pipeline/phases.js';
import type { ServerHealth } from './health/monitor.js';
import type { TlsName } from './tls-name.js';

/** How the upstream answered an upgrade request. */
export type UpgradeOutcome =
  | { readonly kind: 'upgraded'; readonly response: IncomingMessage; readonly socket: Socket; readonly head: Buffer }
  /** Any other answer (a 403 from the origin's own checks): relayed to the client as is. */
  | { readonly kind: 'response'; readonly response: IncomingMessage }
  | { readonly kind: 'error'; readonly error: Error & { code?: string } };

/**
 * Sends a WebSocket upgrade request (RFC 6455 §4.1) to one server on a connection of its own (a
 * tunnel holds its connection for its whole life, so it never comes from the keep-alive pool).
 * `headers` are the forwarded request's, hop-by-hop removed; Connection and Upgrade are put back
 * because this hop is the upgrade. The answer arrives once: upgraded, another response, or an error.
 */
export function requestUpgrade(server: ServerHealth, up: UpstreamRequest, upgrade: string, timeoutMs: number, done: (o: UpgradeOutcome) => void, name?: TlsName): () => void {
  const url = new URL(server.origin);
  const send = url.protocol === 'https:' ? requestTls : request;
  const headers = [...up.headers, 'connection', 'Upgrade', 'upgrade', upgrade];
  let settled = false;
  const settle = (o: UpgradeOutcome): void => { if (!settled) { settled = true; done(o); } };
  const req = send({
    host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || (url.protocol === 'https:' ? 443 : 80),
    method: up.method, path: up.path, headers, agent: false, setHost: false,
    // Named by the upstream, not by the Host header Node would take it from (upstream/tls-name.ts);
    // '' sends no SNI and checks the certificate against the address connected to.
    ...(name !== undefined ? { servername: name.sni ?? '' } : {}),
  });
  req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('upstream upgrade timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
  req.on('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.setTimeout(0);
    settle({ kind: 'upgraded', response, socket, head });
  });
  req.on('response', (response: IncomingMessage) => settle({ kind: 'response', response }));
  req.on('error', (error) => settle({ kind: 'error', error }));
  req.end();
  return () => req.destroy();
}
