import type { IncomingMessage, Server } from 'node:http';
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

/**
 * What a message from a live client costs: a status lookup, through the same workers as the
 * origin's pages (`req` is the upgrade request, for per-client accounting). Resolves false when
 * the origin is too busy to look (its queue is full).
 */
export type LiveLookup = (req: IncomingMessage) => Promise<boolean>;

/**
 * Live parcel status over WebSocket (RFC 6455), for the demo's WebSocket page: a client connected
 * to /live/parcel/{id} gets the parcel's status every `intervalMs`, moving one step each time, with
 * the name of the origin server that sends it (the demo runs two behind the shield). Every text
 * message a client sends asks for the status now ("refresh"), as a live application's client
 * messages do: each costs a lookup (`lookup`), answered with the status, or `{"error":"busy"}`
 * when the origin could not look. A client that sends many makes the origin work for each one —
 * what a WebSocket message flood costs an application behind any proxy that only relays frames.
 */
export function attachLiveStatus(server: Server, name: string, intervalMs = 2_000, lookup?: LiveLookup): () => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const m = /^\/live\/parcel\/([A-Za-z0-9-]{1,40})$/.exec(req.url ?? '');
    if (!m) { socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'); return; }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const id = m[1] as string;
      let step = (createHash('sha256').update(id).digest()[0] ?? 0) % 2;
      const push = (): void => {
        ws.send(JSON.stringify({ id, status: STEPS[step], step, server: name, at: Date.now() }));
        if (step < STEPS.length - 1) step++;
      };
      push();
      const timer = setInterval(push, intervalMs);
      if (lookup) {
        ws.on('message', (_data, isBinary) => {
          if (isBinary) return;
          void lookup(req).then((ok) => {
            if (ws.readyState !== ws.OPEN) return;
            if (ok) ws.send(JSON.stringify({ id, status: STEPS[step], step, server: name, at: Date.now() }));
            else ws.send(JSON.stringify({ error: 'busy' }));
          });
        });
      }
      ws.on('close', () => clearInterval(timer));
      ws.on('error', () => clearInterval(timer));
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const c of wss.clients) c.terminate();
    wss.close();
  };
}
