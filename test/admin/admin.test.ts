import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';

const AUTH = { authorization: 'Bearer test-admin-token-0123456789' };

test('admin APIs need the bearer token; /metrics and /healthz do not', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  for (const [method, path] of [['GET', '/api/state'], ['GET', '/api/blocks'], ['POST', '/api/blocks'], ['DELETE', '/api/blocks/10.0.0.0%2F8']] as const) {
    const none = await request(`${shield.adminUrl}${path}`, { method });
    assert.equal(none.statusCode, 401, `${method} ${path} without token`);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    await none.body.text();
    const wrong = await request(`${shield.adminUrl}${path}`, { method, headers: { authorization: 'Bearer wrong-token-wrong-token' } });
    assert.equal(wrong.statusCode, 401, `${method} ${path} with a wrong token`);
    await wrong.body.text();
  }
  const health = await request(`${shield.adminUrl}/healthz`);
  assert.equal(health.statusCode, 200);
  await health.body.text();
  await (await request(`${shield.url}/x`)).body.text();
  const metrics = await request(`${shield.adminUrl}/metrics`);
  assert.equal(metrics.statusCode, 200);
  const text = await metrics.body.text();
  assert.match(text, /rempart_requests_total\{class="normal",outcome="forwarded"\} 1/);
  assert.match(text, /rempart_upstream_latency_seconds_bucket\{le="[0-9.]+",upstream="origin"\}/);
  assert.match(text, /rempart_open_connections \d+/);
  assert.match(text, /rempart_blocklist_entries 0/);
});

test('blocks can be listed, added with a TTL, validated and deleted', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  const bad = await request(`${shield.adminUrl}/api/blocks`, { method: 'POST', headers: AUTH, body: JSON.stringify({ cidr: '10.0.0.0/40' }) });
  assert.equal(bad.statusCode, 400);
  const badBody = await bad.body.json() as { problems: Array<{ path: string }> };
  assert.equal(badBody.problems[0]?.path, 'cidr');
  const notJson = await request(`${shield.adminUrl}/api/blocks`, { method: 'POST', headers: AUTH, body: '{nope' });
  assert.equal(notJson.statusCode, 400);
  await notJson.body.text();
  for (const cidr of ['10.0.0.0/8', '2001:db8::/32']) {
    const add = await request(`${shield.adminUrl}/api/blocks`, { method: 'POST', headers: AUTH, body: JSON.stringify({ cidr, ttlS: 120, reason: 'flood' }) });
    assert.equal(add.statusCode, 201);
    await add.body.text();
  }
  const list = await (await request(`${shield.adminUrl}/api/blocks`, { headers: AUTH })).body.json() as { blocks: Array<{ cidr: string; reason: string; expiresInS: number }> };
  assert.deepEqual(list.blocks.map((b) => b.cidr).sort(), ['10.0.0.0/8', '2001:db8::/32']);
  assert.ok(list.blocks.every((b) => b.reason === 'flood' && b.expiresInS > 100 && b.expiresInS <= 120));
  const del = await request(`${shield.adminUrl}/api/blocks/10.0.0.0/8`, { method: 'DELETE', headers: AUTH });
  assert.equal(del.statusCode, 204);
  await del.body.text();
  const again = await request(`${shield.adminUrl}/api/blocks/10.0.0.0%2F8`, { method: 'DELETE', headers: AUTH });
  assert.equal(again.statusCode, 404);
  await again.body.text();
  const state = await (await request(`${shield.adminUrl}/api/state`, { headers: AUTH })).body.json() as { blocklist: { size: number }; routes: unknown[] };
  assert.equal(state.blocklist.size, 1);
  assert.equal(state.routes.length, 2);
});

test('DELETE /api/detection/baselines forgets what detection learned and says who did it; 409 when detection is off', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  const none = await request(`${shield.adminUrl}/api/detection/baselines`, { method: 'DELETE' });
  assert.equal(none.statusCode, 401);
  await none.body.text();
  const del = await request(`${shield.adminUrl}/api/detection/baselines?who=carol&reason=poisoned`, { method: 'DELETE', headers: AUTH });
  assert.equal(del.statusCode, 204);
  await del.body.text();
  const events = await (await request(`${shield.adminUrl}/api/events?limit=50`, { headers: AUTH })).body.json() as { events: Array<{ type: string; who: string; summary: string }> };
  assert.ok(events.events.some((e) => e.who === 'carol' && /forget-baselines/.test(e.summary)), JSON.stringify(events.events.map((e) => e.summary)));

  const off = await startTestShield(t, upstream.url, { detection: { enabled: false } });
  const refused = await request(`${off.adminUrl}/api/detection/baselines`, { method: 'DELETE', headers: AUTH });
  assert.equal(refused.statusCode, 409);
  assert.match((await refused.body.json() as { error: string }).error, /detection is disabled/);
});
