import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, Agent } from 'undici';
import { openSocket, rawExchange, startRecordingUpstream, startTestShield, statusOf } from '../helpers/servers.js';
import { buildProxyV2 } from '../../src/shield/proxy-protocol/parse.js';

// Loopback has one IPv6 address (::1), so these clients arrive the way they reach a shield behind
// a load balancer: named by a trusted proxy's X-Forwarded-For or PROXY protocol header.

test('IPv6: a client walking its /64 is one client for the per-client rate limit; clientIpv6Prefix 128 counts addresses', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const limits = { perClient: { normal: { ratePerS: 0.1, burst: 1 } } };
  const lb = new Agent({ localAddress: '127.0.96.1' });
  t.after(() => lb.close());
  const statuses = async (url: string, clients: string[]): Promise<number[]> => {
    const out: number[] = [];
    for (const c of clients) {
      const r = await request(`${url}/page`, { dispatcher: lb, headers: { 'x-forwarded-for': c } });
      await r.body.text();
      out.push(r.statusCode);
    }
    return out;
  };
  const walk = ['2001:db8:5:1::1', '2001:db8:5:1::2', '2001:db8:5:1:8a2e:370:7334:99', '2001:db8:5:2::1'];
  const per64 = await startTestShield(t, upstream.url, { trustedProxies: ['127.0.96.0/24'], rateLimits: limits });
  // Burst of 2 for the /64, then 429 whatever the address; the next /64 has a budget of its own.
  assert.deepEqual(await statuses(per64.url, walk), [200, 200, 429, 200]);
  const per128 = await startTestShield(t, upstream.url, { trustedProxies: ['127.0.96.0/24'], rateLimits: limits, clientIpv6Prefix: 128 });
  assert.deepEqual(await statuses(per128.url, walk), [200, 200, 200, 200]);
  // IPv4 clients are unchanged: one address, one budget.
  assert.deepEqual(await statuses(per64.url, ['198.51.100.4', '198.51.100.4', '198.51.100.4', '198.51.100.5']), [200, 200, 429, 200]);
});

test('IPv6: the per-client connection cap counts a /64 (PROXY protocol v2 sources)', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    listen: { proxyProtocol: true, limits: { maxConnectionsPerClient: 2 } }, trustedProxies: ['127.0.97.1/32'],
  });
  const header = (address: string): Buffer => buildProxyV2({ command: 'proxy', source: { address, port: 40_000 }, destination: { address: '2001:db8::1', port: 443 } });
  // Two connections held open from two addresses of one /64 (the header read, no request yet).
  const held = await Promise.all(['2001:db8:6:1::a', '2001:db8:6:1::b'].map(async (a) => {
    const s = await openSocket(shield.port, '127.0.97.1');
    s.write(header(a));
    return s;
  }));
  t.after(() => held.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 100));
  const req = Buffer.from('GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  // A third address in the same /64 is the same client over its cap: reset, nothing forwarded.
  assert.equal(await rawExchange(shield.port, Buffer.concat([header('2001:db8:6:1::c'), req]), { localAddress: '127.0.97.1', timeoutMs: 2_000 }), '');
  // Another /64 is another client.
  const other = await rawExchange(shield.port, Buffer.concat([header('2001:db8:6:2::c'), req]), { localAddress: '127.0.97.1', timeoutMs: 2_000 });
  assert.equal(statusOf(other), 200, other);
  assert.deepEqual(upstream.seen.map((s) => s.headers['x-forwarded-for']), ['2001:db8:6:2::c']);
  // Closing one held connection frees a place for the /64.
  held[0]!.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const again = await rawExchange(shield.port, Buffer.concat([header('2001:db8:6:1::d'), req]), { localAddress: '127.0.97.1', timeoutMs: 2_000 });
  assert.equal(statusOf(again), 200, again);
});
