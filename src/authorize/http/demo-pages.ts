import type { IncomingMessage } from 'node:http';
import { sign, type KeyObject } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { isAuthorizeError } from '../errors.js';
import { appSignedPayload } from '../domain/dynamic-linking.js';
import type { AuthorizeService } from '../service/authorize-service.js';
import type { PushSimMode } from '../push/simulator.js';
import type { OutboxMessage } from '../sms/outbox-provider.js';
import type { ExtraRoutes } from './server.js';

/** What the demo pages need: demo devices (keys held server-side, demo only), the outbox and the push switch. */
export interface DemoDeps {
  service: AuthorizeService;
  clock: Clock;
  devices: ReadonlyMap<string, { deviceId: string; key: KeyObject; phone: string }>;
  outbox?: { list(limit: number, to?: string): OutboxMessage[] };
  push?: { mode(): PushSimMode; setMode(m: PushSimMode): void };
  /** Path prefix the service is mounted under (listen.basePath), for links and redirects. */
  basePath?: string;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title: string, body: string, refreshS?: number): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${refreshS ? `<meta http-equiv="refresh" content="${refreshS}">` : ''}<title>${esc(title)}</title>
<style>body{font:16px system-ui,sans-serif;max-width:34rem;margin:1rem auto;padding:0 1rem;color:#1b1f24}
.card{border:1px solid #ccd;border-radius:.6rem;padding:1rem;margin:.8rem 0}.amount{font-size:1.6rem;font-weight:700}
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem;border-radius:.4rem;border:1px solid #889}
.ok{background:#1f883d;color:#fff}.no{background:#cf222e;color:#fff}.muted{color:#667}code{font-size:1.1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #dde;padding:.3rem;text-align:left;vertical-align:top}</style>
</head><body>${body}</body></html>`;

const form = (fields: Record<string, string>): URLSearchParams => new URLSearchParams(Object.fromEntries(Object.entries(fields)));

/**
 * Small no-JavaScript demo pages: a phone app (pending approvals with amount and payee, approve or
 * deny signed by a demo device key held by the server — demo only), the SMS outbox, and an
 * operator switch that takes the simulated app channel down or up so failover can be watched.
 */
export function createDemoPages(d: DemoDeps): ExtraRoutes {
  const b = d.basePath ?? '';
  return async (req: IncomingMessage, url: URL, body: string) => {
    const p = url.pathname;
    const method = req.method ?? 'GET';
    if (p === '/' || p === '/demo' || p === '/demo/') {
      const payers = [...d.devices.keys()].map((ref) => `<li><a href="${b}/demo/phone?payer=${encodeURIComponent(ref)}">phone of ${esc(ref)}</a></li>`).join('');
      return { html: page('Rempart Authorize demo', `<h1>Rempart Authorize</h1><ul>${payers}<li><a href="${b}/demo/sms">SMS outbox</a></li><li><a href="${b}/demo/operator">operator: app channel switch</a></li></ul>`) };
    }
    if (p === '/demo/phone' && method === 'GET') {
      const ref = url.searchParams.get('payer') ?? '';
      const dev = d.devices.get(ref);
      if (!dev) return { html: page('Unknown payer', `<p>No demo phone for ${esc(ref)}.</p>`), status: 404 };
      // The page is the app: it fetches its challenges through the same path as a real app.
      const list = d.service.appFetch(dev.deviceId);
      const note = url.searchParams.get('note');
      const cards = list.map((c) => `<div class="card"><div class="muted">Approve this payment?</div>
<div class="amount">${esc(c.amountText)}</div><div>to <b>${esc(c.payee.name)}</b> <span class="muted">(${esc(c.payee.id)})</span></div>
<form method="post" action="${b}/demo/phone/decide"><input type="hidden" name="payer" value="${esc(ref)}"><input type="hidden" name="authId" value="${esc(c.authId)}">
<p><button class="ok" name="decision" value="APPROVE">Approve</button><button class="no" name="decision" value="DENY">Deny</button></p></form></div>`).join('');
      return { html: page(`Phone of ${ref}`, `<h1>Colibri Bank app — ${esc(ref)}</h1>${note ? `<p><b>${esc(note)}</b></p>` : ''}${cards || '<p class="muted">No payment waiting for approval.</p>'}
<p class="muted">This page refreshes every 2 s. Device ${esc(dev.deviceId)}; its key is held by the demo server (demo only).</p>`, 2) };
    }
    if (p === '/demo/phone/decide' && method === 'POST') {
      const f = new URLSearchParams(body);
      const ref = f.get('payer') ?? '';
      const dev = d.devices.get(ref);
      const authId = f.get('authId') ?? '';
      const decision = f.get('decision') === 'DENY' ? 'DENY' : 'APPROVE';
      if (!dev) return { html: page('Unknown payer', 'No such demo phone.'), status: 404 };
      const challenge = d.service.appFetch(dev.deviceId).find((c) => c.authId === authId);
      let note: string;
      if (!challenge) {
        note = 'That payment is no longer waiting for approval.';
      } else {
        const timestamp = d.clock.now();
        const signature = sign(null, appSignedPayload(authId, challenge.linkHash, decision, timestamp), dev.key).toString('base64url');
        try {
          const v = d.service.appResult(authId, { decision, deviceId: dev.deviceId, timestamp, signature });
          note = `${decision === 'APPROVE' ? 'Approved' : 'Denied'}: ${challenge.amountText} to ${challenge.payee.name} (${v.state}).`;
        } catch (e) {
          note = isAuthorizeError(e) ? e.message : 'Something went wrong.';
        }
      }
      return { redirect: `${b}/demo/phone?${form({ payer: ref, note }).toString()}` };
    }
    if (p === '/demo/sms' && method === 'GET') {
      if (!d.outbox) return { html: page('SMS outbox', '<p>No outbox provider configured.</p>'), status: 404 };
      const to = url.searchParams.get('to') ?? undefined;
      const rows = d.outbox.list(50, to).map((m) => `<tr><td>${esc(new Date(m.at).toISOString().slice(11, 19))}</td><td>${esc(m.to)}</td><td>${esc(m.text)}</td></tr>`).join('');
      return { html: page('SMS outbox', `<h1>SMS outbox</h1><p class="muted">What the phones received (demo SMS network). Refreshes every 2 s.</p>
<table><tr><th>time</th><th>to</th><th>text</th></tr>${rows || '<tr><td colspan="3" class="muted">empty</td></tr>'}</table>`, 2) };
    }
    if (p === '/demo/operator' && method === 'GET') {
      const ch = d.service.channels();
      const mode = d.push?.mode() ?? 'n/a';
      const buttons = (['up', 'down', 'blackhole'] as const).map((m) => `<button name="mode" value="${m}"${m === mode ? ' disabled' : ''}>${m}</button>`).join('');
      return { html: page('Operator', `<h1>Channels</h1><p>New authentications go to: <b>${ch.channel.toUpperCase()}</b></p>
<p>App-channel breaker: <b>${esc(ch.breaker.phase)}</b> (${ch.breaker.failures}/${ch.breaker.attempts} failed in the window, probe streak ${ch.breaker.probeStreak})</p>
<p>Operator override: ${ch.override ? esc(`${ch.override.mode} until ${new Date(ch.override.until).toISOString()} (${ch.override.reason})`) : 'none'}</p>
<h2>Simulated push provider: ${esc(mode)}</h2><form method="post" action="${b}/demo/operator/app-channel">${buttons}</form>
<p class="muted">down = the push provider refuses; blackhole = accepted, never delivered. Refreshes every 2 s.</p>
<h2>SMS providers</h2><ul>${ch.smsProviders.map((s) => `<li>${esc(s.name)}${s.blockedUntil > d.clock.now() ? ' — blocked' : ''}</li>`).join('')}</ul>`, 2) };
    }
    if (p === '/demo/operator/app-channel' && method === 'POST') {
      if (!d.push) return { status: 404, body: { error: { code: 'RMP_ERR_AUTH_NOT_FOUND', message: 'no push simulator' } } };
      const json = (req.headers['content-type'] ?? '').includes('json');
      let mode: string | null;
      try {
        mode = json ? String((JSON.parse(body) as { mode?: unknown }).mode) : new URLSearchParams(body).get('mode');
      } catch {
        mode = null;
      }
      if (mode !== 'up' && mode !== 'down' && mode !== 'blackhole') {
        return { status: 400, body: { error: { code: 'RMP_ERR_AUTH_BAD_REQUEST', message: 'mode must be up, down or blackhole' } } };
      }
      d.push.setMode(mode);
      return json ? { status: 200, body: { mode } } : { redirect: `${b}/demo/operator` };
    }
    return undefined;
  };
}
