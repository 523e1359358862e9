import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createHash } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';

const STEPS = ['accepted', 'in transit', 'at sorting centre', 'out for delivery', 'delivered'] as const;

/** A parcel's live status page: opens a WebSocket to /live/parcel/{id} and shows each update. */
export const liveParcelPage = (id: string): string => {
  const safe = id.replace(/[^A-Za-z0-9-]/g, '');
  return `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Suivi en direct ${safe}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body><header><a href="/">Colibri Post &amp; Bank (demo)</a></header>
<main><h1>Colis ${safe} — en direct</h1>
<p id="state">connexion…</p><ol id="log"></ol>
<p><small>Mises à jour poussées par WebSocket à travers le bouclier; <span id="by"></span></small></p>
<script>
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/live/parcel/${safe}');
ws.onmessage = (e) => { const m = JSON.parse(e.data);
  document.getElementById('state').textContent = m.status;
  document.getElementById('by').textContent = 'servi par ' + m.server;
  const li = document.createElement('li'); li.textContent = new Date(m.at).toLocaleTimeString() + ' — ' + m.status;
  document.getElementById('log').prepend(li); };
ws.onclose = (e) => { document.getElementById('state').textContent = 'connexion fermée (' + e.code + (e.reason ? ', ' + e.reason : '') + ')'; };
</script></main></body></html>
`;
};

/** A parcel's status as the live feeds send it, one step further on each call until delivered. */
function statusStepper(id: string, name: string): (re?: number) => string {
  let step = (createHash('sha256').update(id).digest()[0] ?? 0) % 2;
  return (re) => {
    const line = JSON.stringify({ id, status: STEPS[step], step, server: name, at: Date.now(), ...(re !== undefined ? { re } : {}) });
    if (re === undefined && step < STEPS.length - 1) step++;
    return line;
  };
}

/**
 * Live parcel status as Server-Sent Events (WHATWG HTML §9.2), what `EventSource('/live/events/{id}')`
 * reads: the caller has looked the subscription up (a worker for a lookup's time); the stream then
 * holds a connection, not a worker, as an event-driven server holds it — an event with the status
 * every `intervalMs` until the client leaves. `X-Accel-Buffering: no` asks a buffering proxy
 * (nginx) to pass each event on at once.
 */
export function streamLiveStatus(res: ServerResponse, id: string, name: string, intervalMs = 2_000): void {
  const next = statusStepper(id, name);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  const push = (): void => { res.write(`data: ${next()}\n\n`); };
  push();
  const timer = setInterval(push, intervalMs);
  res.on('close', () => clearInterval(timer));
}

/**
 * What a live client's handshake or message costs: a lookup, through the same workers as the
 * origin's pages (`req` is the upgrade request, for per-client accounting). Resolves false when
 * the origin is too busy to look (its queue is full).
 */
export type LiveLookup = (req: IncomingMessage) => Promise<boolean>;

/**
 * Live parcel status over WebSocket (RFC 6455), for the demo's WebSocket page: a client connected
 * to /live/parcel/{id} gets the parcel's status every `intervalMs`, moving one step each time, with
 * the name of the origin server that sends it (the demo runs two behind the shield).
 *
 * With `lookup`, the application works as live applications do:
 * - **the handshake is authorised** before the 101 — one lookup (a session or subscription
 *   check), answered 503 when the origin is too busy to look: opening a tunnel costs the origin
 *   what a page does, so handshakes opened faster than it can look are a flood of their own;
 * - **every text message a client sends asks for the status now** ("refresh"): each costs a
 *   lookup, answered with the status, or `{"error":"busy"}` when the origin could not look. A
 *   message `{"type":"refresh","id":N}` gets its answer with `"re":N`, so a client can tell its
 *   answer from the pushes. A client that sends many makes the origin work for each one — what a
 *   WebSocket message flood costs an application behind any proxy that only relays frames.
 */
export function attachLiveStatus(server: Server, name: string, intervalMs = 2_000, lookup?: LiveLookup): () => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const open = (req: IncomingMessage, socket: Duplex, head: Buffer, id: string): void => {
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const status = statusStepper(id, name);
      const push = (): void => { ws.send(status()); };
      push();
      const timer = setInterval(push, intervalMs);
      if (lookup) {
        ws.on('message', (data, isBinary) => {
          if (isBinary) return;
          const re = refreshId(data);
          void lookup(req).then((ok) => {
            if (ws.readyState !== ws.OPEN) return;
            ws.send(ok ? status(re) : JSON.stringify({ error: 'busy', ...(re !== undefined ? { re } : {}) }));
          });
        });
      }
      ws.on('close', () => clearInterval(timer));
      ws.on('error', () => clearInterval(timer));
    });
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const m = /^\/live\/parcel\/([A-Za-z0-9-]{1,40})$/.exec(req.url ?? '');
    if (!m) { socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'); return; }
    const id = m[1] as string;
    if (!lookup) { open(req, socket, head, id); return; }
    // Node's server stops watching an upgraded socket's errors: a client resetting it while its
    // handshake waits for a worker must not end the process.
    const onError = (): void => { socket.destroy(); };
    socket.on('error', onError);
    void lookup(req).then((ok) => {
      socket.off('error', onError);
      if (socket.destroyed) return;
      if (!ok) { socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'); return; }
      open(req, socket, head, id);
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const c of wss.clients) c.terminate();
    wss.close();
  };
}

/** The id of a refresh message (`{"type":"refresh","id":N}`), or undefined. */
function refreshId(data: unknown): number | undefined {
  try {
    const m = JSON.parse(String(data)) as { id?: unknown };
    return typeof m.id === 'number' && Number.isSafeInteger(m.id) ? m.id : undefined;
  } catch {
    return undefined;
  }
}
