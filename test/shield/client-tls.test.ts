import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';

/** A page load from `from` with `headers`; resolves with the Set-Cookie lines the shield added. */
function pageCookies(port: number, from: string, headers: Record<string, string>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/page', localAddress: from, agent: false, headers: {
      accept: 'text/html,application/xhtml+xml', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', ...headers,
    } }, (res) => { res.resume(); res.on('end', () => resolve((res.headers['set-cookie'] ?? []).filter((c) => c.startsWith('rempart_')))); });
    req.on('error', reject);
    req.end();
  });
}

test('behind a trusted TLS terminator the shield\'s cookies carry Secure; an untrusted peer claiming https gets none', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<p>page</p>'); };
  const shield = await startTestShield(t, upstream.url, { trustedProxies: ['127.0.99.1/32'] });
  const behind = await pageCookies(shield.port, '127.0.99.1', { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' });
  assert.ok(behind.length > 0, 'a page load in normal times earns the shield\'s cookies');
  for (const c of behind) assert.match(c, /;\s*Secure/i, c);
  assert.equal(upstream.seen.at(-1)?.headers['x-forwarded-proto'], 'https');
  const claim = await pageCookies(shield.port, '127.0.99.2', { 'x-forwarded-proto': 'https' });
  assert.ok(claim.length > 0);
  for (const c of claim) assert.doesNotMatch(c, /;\s*Secure/i, c);
  assert.equal(upstream.seen.at(-1)?.headers['x-forwarded-proto'], 'http', 'an untrusted peer\'s field is replaced');
});

test('behind a trusted proxy (it may be a CDN), answers it may store carry none of the shield\'s cookies; private ones do, and so does any answer to a client reaching the shield directly', async (t) => {
  const upstream = await startRecordingUpstream(t);
  let cc = 'public, max-age=300';
  upstream.handler = (_req, res) => { res.writeHead(200, { 'content-type': 'text/html', 'cache-control': cc }); res.end('<p>page</p>'); };
  const shield = await startTestShield(t, upstream.url, { trustedProxies: ['127.0.99.1/32'] });
  // Varnish and Cloudflare (origin cache control) pass or bypass an answer with Set-Cookie: ours would turn their cache off.
  assert.deepEqual(await pageCookies(shield.port, '127.0.99.1', { 'x-forwarded-for': '203.0.113.8' }), []);
  cc = 's-maxage=60';
  assert.deepEqual(await pageCookies(shield.port, '127.0.99.1', { 'x-forwarded-for': '203.0.113.9' }), []);
  cc = 'private, max-age=60';
  const personal = await pageCookies(shield.port, '127.0.99.1', { 'x-forwarded-for': '203.0.113.10' });
  assert.ok(personal.some((c) => c.startsWith('rempart_rep=')), `a private page earns a reputation (${personal.join(' | ')})`);
  cc = 'public, max-age=300';
  const direct = await pageCookies(shield.port, '127.0.99.3', {});
  assert.ok(direct.some((c) => c.startsWith('rempart_rep=')), `no proxy in front: the shield is the edge (${direct.join(' | ')})`);
});
