import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';

const TOKEN = 'test-admin-token-0123456789';
const admin = (url: string, method: 'POST' | 'DELETE', body?: unknown) => request(url, {
  method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}),
});

const statusConfig = {
  status: {
    operator: 'Colibri Post & Bank',
    components: [
      { id: 'website', name: 'Website', paths: ['/'] },
      { id: 'banking', name: 'Online banking', paths: ['/pay/'] },
    ],
  },
  // Short calm periods so a lifted attack ends within seconds.
  detection: { attack: { calmAfterS: 1, coolDownS: 1 } },
};

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 200 && Date.now() < end; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

type StatusJson = { overall: string; components: Array<{ id: string; state: string; history: unknown[] }>; incidents: Array<{ id: number; title: string; status: string; automatic: boolean; updates: Array<{ status: string; message: string }> }> };
const statusJson = async (url: string): Promise<StatusJson> => {
  const res = await request(`${url}/status.json`);
  assert.equal(res.statusCode, 200);
  return await res.body.json() as StatusJson;
};

test('status page: HTML without script, JSON and Atom, served by the shield without touching the origin; never challenged under attack', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, statusConfig);
  const html = await request(`${shield.url}/status`);
  assert.equal(html.statusCode, 200);
  assert.match(String(html.headers['content-type']), /text\/html/);
  const page = await html.body.text();
  assert.match(page, /Colibri Post &amp; Bank — service status/);
  assert.match(page, /All services are operating normally/);
  assert.doesNotMatch(page, /<script/i);
  const json = await statusJson(shield.url);
  assert.deepEqual(json.components.map((c) => [c.id, c.state, c.history.length]), [['website', 'operational', 90], ['banking', 'operational', 90]]);
  const atom = await request(`${shield.url}/status.atom`);
  assert.equal(atom.statusCode, 200);
  assert.match(String(atom.headers['content-type']), /application\/atom\+xml/);
  assert.match(await atom.body.text(), /<feed xmlns="http:\/\/www.w3.org\/2005\/Atom">/);
  const post = await request(`${shield.url}/status`, { method: 'POST', body: 'x' });
  assert.equal(post.statusCode, 405);
  await post.body.dump();
  // Forced to proof-of-work for everyone: pages are challenged, the status page is not.
  const f = await admin(`${shield.adminUrl}/api/attack`, 'POST', { reason: 'test', ttlS: 60, proofOfWork: true });
  assert.equal(f.statusCode, 200);
  await f.body.dump();
  const challenged = await request(`${shield.url}/some/page`, { headers: { accept: 'text/html' } });
  await challenged.body.dump();
  assert.notEqual(challenged.statusCode, 200, 'an ordinary page is challenged');
  const s = await request(`${shield.url}/status`, { headers: { accept: 'text/html' } });
  assert.equal(s.statusCode, 200);
  await s.body.dump();
  assert.equal(upstream.seen.filter((r) => r.url.startsWith('/status')).length, 0, 'the origin never saw a status request');
});

test('status page: an incident opens while an attack runs and is marked resolved after it', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, statusConfig);
  const f = await admin(`${shield.adminUrl}/api/attack`, 'POST', { reason: 'drill', ttlS: 60 });
  await f.body.dump();
  const open = await until('an open attack incident', async () => (await statusJson(shield.url)).incidents.find((i) => i.automatic && i.status === 'open'));
  assert.match(open.title, /Unusually heavy traffic/);
  const page = await (await request(`${shield.url}/status`)).body.text();
  assert.match(page, /Current incidents/);
  assert.match(page, /Ongoing/);
  const c = await admin(`${shield.adminUrl}/api/attack`, 'DELETE');
  await c.body.dump();
  const resolved = await until('the incident resolved', async () => (await statusJson(shield.url)).incidents.find((i) => i.id === open.id && i.status === 'resolved'));
  assert.equal(resolved.updates[0]?.status, 'resolved');
  assert.match(resolved.updates[0]?.message ?? '', /back to normal/);
  const after = await (await request(`${shield.url}/status`)).body.text();
  assert.doesNotMatch(after, /Current incidents/);
  assert.match(after, /Resolved/);
});

test('status page in French (status.language: fr): the page and the incident the shield opens by itself speak French', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { ...statusConfig, status: { ...statusConfig.status, language: 'fr' } });
  const calm = await (await request(`${shield.url}/status`)).body.text();
  assert.match(calm, /<html lang="fr">[\s\S]*Tous les services fonctionnent normalement/);
  const f = await admin(`${shield.adminUrl}/api/attack`, 'POST', { reason: 'drill', ttlS: 60 });
  await f.body.dump();
  const open = await until('an open attack incident', async () => (await statusJson(shield.url)).incidents.find((i) => i.automatic && i.status === 'open'));
  assert.equal(open.title, 'Trafic inhabituellement élevé : mesures de protection actives');
  const page = await (await request(`${shield.url}/status`)).body.text();
  assert.match(page, /Incidents en cours[\s\S]*<strong>En cours<\/strong>[\s\S]*certains visiteurs peuvent devoir patienter/);
  await (await admin(`${shield.adminUrl}/api/attack`, 'DELETE')).body.dump();
});

test('status page: answers while the origin is stopped, and shows the component failing', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { ...statusConfig, rateLimits: { enabled: false } });
  upstream.server.closeAllConnections();
  await new Promise<void>((r) => upstream.server.close(() => r()));
  // Customers keep trying the website: every attempt fails at the origin.
  for (let i = 0; i < 30; i++) {
    const r = await request(`${shield.url}/home`);
    await r.body.dump();
    assert.equal(r.statusCode, 502);
  }
  const incident = await until('a website incident', async () => (await statusJson(shield.url)).incidents.find((i) => i.title === 'Website unavailable'));
  assert.equal(incident.status, 'open');
  const json = await statusJson(shield.url);
  assert.equal(json.components.find((c) => c.id === 'website')?.state, 'outage');
  assert.equal(json.overall, 'outage');
  const html = await request(`${shield.url}/status`);
  assert.equal(html.statusCode, 200);
  assert.match(await html.body.text(), /Website unavailable/);
});

test('status page: operators post incidents and updates through the admin API; they show on the page and in the feed', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, statusConfig);
  const created = await admin(`${shield.adminUrl}/api/status/incidents`, 'POST', { title: 'Parcel lockers offline in Lyon', message: 'Lockers cannot be opened; staff hand parcels over at the counter.', component: 'website' });
  assert.equal(created.statusCode, 201);
  const { id } = await created.body.json() as { id: number };
  const up = await admin(`${shield.adminUrl}/api/status/incidents/${id}/updates`, 'POST', { message: 'Lockers are back.', status: 'resolved' });
  assert.equal(up.statusCode, 200);
  await up.body.dump();
  const again = await admin(`${shield.adminUrl}/api/status/incidents/${id}/updates`, 'POST', { message: 'late', status: 'update' });
  assert.equal(again.statusCode, 404, 'a resolved incident takes no more updates');
  await again.body.dump();
  const page = await (await request(`${shield.url}/status`)).body.text();
  assert.match(page, /Parcel lockers offline in Lyon/);
  assert.match(page, /Lockers are back\./);
  const feed = await (await request(`${shield.url}/status.atom`)).body.text();
  assert.match(feed, /\[Resolved\] Parcel lockers offline in Lyon/);
  const bad = await admin(`${shield.adminUrl}/api/status/incidents`, 'POST', { title: '' });
  assert.equal(bad.statusCode, 400);
  await bad.body.dump();
});

test('status page: a component tied to an upstream is unavailable as soon as health checks find no server, without any customer trying', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    upstreams: { origin: { url: upstream.url, timeoutMs: 2_000, health: { active: { path: '/', intervalMs: 200, timeoutMs: 200, rise: 1, fall: 1 } } } },
    status: { components: [{ id: 'website', name: 'Website', upstream: 'origin', downMessage: 'Website unavailable — parcel tracking by SMS still works' }] },
  });
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal((await statusJson(shield.url)).components[0]?.state, 'operational');
  upstream.server.closeAllConnections();
  await new Promise<void>((r) => upstream.server.close(() => r()));
  const incident = await until('an incident from the health checks', async () => (await statusJson(shield.url)).incidents.find((i) => i.status === 'open'));
  assert.equal(incident.title, 'Website unavailable — parcel tracking by SMS still works');
  assert.equal((await statusJson(shield.url)).components[0]?.state, 'outage');
});
