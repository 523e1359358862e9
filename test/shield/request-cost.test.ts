import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { request, Agent, type Dispatcher } from 'undici';
import { parseConfig } from '../../src/config/load.js';
import { startShield } from '../../src/shield/start.js';
import { startOrigin } from '../../src/demo/origin/server.js';

/**
 * A shield in front of the demo origin, whose search costs a lookup per term: returns a GET that
 * resolves to the request's access-log line.
 */
async function searchSite(t: { after(fn: () => unknown): void }, costWeighting: boolean, dryRun = false) {
  const origin = await startOrigin({ maxInFlight: 4, serviceMs: 10 });
  t.after(() => origin.close());
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 },
    admin: { address: '127.0.0.1', port: 0, token: TOKEN },
    upstreams: { origin: { url: origin.url, connections: 8 } },
    routes: [{ match: { path: '/' }, upstream: 'origin', class: 'normal' }],
    rateLimits: { enabled: false },
    detection: { costWeighting, dryRun },
    log: { level: 'info', access: true },
  });
  const shield = await startShield({ config, logger: pino({ level: 'info' }, sink) });
  t.after(() => shield.close());
  const agent = new Agent({ connections: 16 });
  t.after(() => agent.close());
  const costly = async (): Promise<unknown> => {
    const r = await request(`${shield.adminUrl}/api/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return ((await r.body.json()) as { detection: { costWeighting: unknown } }).detection.costWeighting;
  };
  // `inPath`: the site's search takes its terms in the path (`/search/colis+suivi`), as the origin also serves it.
  // `suffix`: what follows the terms in the path (`/page/1`: the terms in an inner segment).
  /** The request's answered, then its own access-log line, by the id the shield answered with (requests may run side by side). */
  const lineOf = async (r: Dispatcher.ResponseData): Promise<Record<string, unknown>> => {
    await r.body.dump();
    assert.equal(r.statusCode, 200);
    const id = r.headers['x-request-id'];
    const mine = (): Record<string, unknown> | undefined => lines.find((l) => l.msg === 'access' && l.reqId === id);
    for (let i = 0; i < 100 && mine() === undefined; i++) await new Promise((res) => setTimeout(res, 5));
    return mine()!;
  };
  const search = async (q: string, userAgent: string, inPath = false, suffix = '', method: 'GET' | 'HEAD' = 'GET', path = '/search'): Promise<Record<string, unknown>> =>
    lineOf(await request(inPath ? `${shield.url}${path}/${q}${suffix}` : `${shield.url}${path}?q=${q}`, { method, dispatcher: agent, headers: { 'user-agent': userAgent } }));
  // The site's search form posts its terms (urlencoded, or JSON with `json`), as the origin also takes them.
  const post = async (q: string, userAgent: string, json = false): Promise<Record<string, unknown>> => lineOf(await request(`${shield.url}/search`, {
    method: 'POST', dispatcher: agent,
    headers: { 'user-agent': userAgent, 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: json ? JSON.stringify({ q: decodeURIComponent(q.replaceAll('+', ' ')) }) : `q=${q}`,
  }));
  const admin = async (path: string): Promise<string> => (await request(`${shield.adminUrl}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.text();
  const forceAttack = async (): Promise<void> => {
    const r = await request(`${shield.adminUrl}/api/attack`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ reason: 'test', ttlS: 60 }) });
    assert.equal(r.statusCode, 200);
    await r.body.dump();
  };
  return { search, post, costly, admin, forceAttack, lines, url: shield.url, agent };
}

const TOKEN = 'test-admin-token-0123456789';

/** Asserts the operator is shown `shape` weighing the four or more typical requests it costs, under a kind matching `kind`. */
function assertShownCostly(state: { costly: Array<{ kind: string; shape: string; weight: number }> }, shape: string, kind: RegExp): void {
  const heavy = state.costly.find((c) => c.shape === shape);
  assert.ok(heavy !== undefined, JSON.stringify(state));
  assert.match(heavy.kind, kind);
  assert.ok(heavy.weight >= 4, JSON.stringify(heavy));
}
const EIGHT = 'colis+suivi+lettre+bureau+timbre+retour+carte+x7f3k';

for (const costWeighting of [true, false]) {
  test(`a search of eight terms from a client never seen before counts as the eight it costs in its pace (costWeighting ${costWeighting})`, async (t) => {
    const { search, costly: shown } = await searchSite(t, costWeighting);
    // Normal times: one-word searches one at a time (20 ms each) teach the kind's RTT at light load;
    // a few 8-term ones (160 ms each) teach their shape's.
    for (let i = 0; i < 16; i++) await search(['colis', 'lettre', 'timbre', 'carte'][i % 4]!, `customer/${i}`);
    for (let i = 0; i < 3; i++) await search(EIGHT, `searcher/${i}`);
    // A client never seen before: its first request is its pace's first.
    const costly = await search(EIGHT.replace('x7f3k', 'q9w2e'), 'newcomer/costly');
    const cheap = await search('bureau', 'newcomer/cheap');
    assert.equal(cheap.pace, 0, 'a one-word search counts one');
    // Eight lookups against the one-word search's two: weight 4 at least (level 1 at 4 requests in
    // the window, level 2 at 8), whatever the loopback timers added.
    if (costWeighting) assert.ok(Number(costly.pace) >= 1, `pace ${String(costly.pace)}`);
    else assert.equal(costly.pace, 0, 'counted as one request when the operator turns it off');
    // A shape never seen (ignored parameters ride along): weighed by its costly part, `q:6*4`.
    const varied = await search(`${EIGHT.replace('x7f3k', 'z8x7c')}&sort=date&page=3`, 'newcomer/varied');
    if (costWeighting) assert.ok(Number(varied.pace) >= 1, `pace ${String(varied.pace)}`);
    else assert.equal(varied.pace, 0);
    // The operator sees which shapes cost what (GET /api/state).
    const state = await shown() as { enabled: boolean; costly: Array<{ kind: string; shape: string; weight: number; fastestMs: number }> };
    assert.equal(state.enabled, costWeighting);
    if (!costWeighting) { assert.deepEqual(state.costly, []); return; }
    assert.equal(state.costly.length, 1, JSON.stringify(state));
    const [heavy] = state.costly;
    assert.equal(heavy!.shape, 'q:6*4');
    assert.match(heavy!.kind, /GET \/search$/);
    assert.ok(heavy!.weight >= 4 && heavy!.fastestMs >= 160, JSON.stringify(heavy));
  });

  test(`a site whose search takes its terms in the path: once a list was answered there, an eight-term search counts as the eight it costs (costWeighting ${costWeighting})`, async (t) => {
    const { search, costly: shown } = await searchSite(t, costWeighting);
    // Normal times: one-word searches in the path — each word its own path template, one kind for
    // the cost (`/search/{id}`), learned from before any list made the position a parameter.
    for (let i = 0; i < 16; i++) await search(['colis', 'lettre', 'timbre', 'carte'][i % 4]!, `customer/${i}`, true);
    // The first list answered there makes it one (an id-like segment, keyed only from then on); the
    // next three teach the 8-term shape's cost.
    for (let i = 0; i < 4; i++) await search(EIGHT, `searcher/${i}`, true);
    const costly = await search(EIGHT.replace('x7f3k', 'q9w2e'), 'newcomer/costly', true);
    const cheap = await search('bureau', 'newcomer/cheap', true);
    assert.equal(cheap.pace, 0, 'a one-word search counts one');
    if (costWeighting) assert.ok(Number(costly.pace) >= 1, `pace ${String(costly.pace)}`);
    else assert.equal(costly.pace, 0, 'counted as one request when the operator turns it off');
    const state = await shown() as { costly: Array<{ kind: string; shape: string; weight: number }> };
    if (!costWeighting) { assert.deepEqual(state.costly, []); return; }
    assertShownCostly(state, '@:6*4', /GET \/search\/\{id\}$/);
  });
}

test('a site whose search takes its terms in an inner segment (/search/<terms>/page/1): once a list was answered there, an eight-term search counts as the eight it costs', async (t) => {
  const { search, costly: shown } = await searchSite(t, true);
  // A list answered in the inner segment makes it a parameter; one-word searches there are keyed
  // from then on (before, a word in an inner segment is no key: nothing to learn from), and teach
  // the kind's typical cost; three more lists teach the 8-term shape's.
  await search(EIGHT, 'searcher/first', true, '/page/1');
  for (let i = 0; i < 16; i++) await search(['colis', 'lettre', 'timbre', 'carte'][i % 4]!, `customer/${i}`, true, `/page/${1 + (i % 3)}`);
  for (let i = 0; i < 3; i++) await search(EIGHT, `searcher/${i}`, true, '/page/1');
  const costly = await search(EIGHT.replace('x7f3k', 'q9w2e'), 'newcomer/costly', true, '/page/2');
  const cheap = await search('bureau', 'newcomer/cheap', true, '/page/1');
  assert.equal(cheap.pace, 0, 'a one-word search counts one');
  assert.ok(Number(costly.pace) >= 1, `pace ${String(costly.pace)}`);
  const state = await shown() as { costly: Array<{ kind: string; shape: string; weight: number }>; pathParameters: { learned: number; recent: Array<{ path: string; confirmed: string }> } };
  assertShownCostly(state, '@:6*4', /GET \/search\/\{id\}\/page\/\{id\}$/);
  // The operator sees where the shield reads a parameter (GET /api/state).
  assert.equal(state.pathParameters.learned, 1);
  assert.deepEqual(state.pathParameters.recent.map((p) => [p.path, p.confirmed]), [['/search/{}/page/{id}', 'again']]);
});

for (const json of [false, true]) {
  test(`a search form that posts its terms (${json ? 'JSON' : 'urlencoded'}): an eight-term search counts as the eight it costs, from the body's shape`, async (t) => {
    const { post, costly: shown } = await searchSite(t, true);
    // Normal times: one-word searches posted one at a time teach the kind's RTT; three 8-term ones its shape's cost.
    for (let i = 0; i < 16; i++) await post(['colis', 'lettre', 'timbre', 'carte'][i % 4]!, `customer/${i}`, json);
    for (let i = 0; i < 3; i++) await post(EIGHT, `searcher/${i}`, json);
    const costly = await post(EIGHT.replace('x7f3k', 'q9w2e'), 'newcomer/costly', json);
    const cheap = await post('bureau', 'newcomer/cheap', json);
    assert.equal(cheap.pace, 0, 'a one-word search counts one');
    assert.ok(Number(costly.pace) >= 1, `pace ${String(costly.pace)}`);
    const state = await shown() as { costly: Array<{ kind: string; shape: string; weight: number }> };
    assertShownCostly(state, '~q:6*4', /POST \/search$/);
  });
}

test('a search sent as HEAD is weighed as its GET, and its answers teach nothing', async (t) => {
  const { search, costly: shown } = await searchSite(t, true);
  for (let i = 0; i < 16; i++) await search(['colis', 'lettre', 'timbre', 'carte'][i % 4]!, `customer/${i}`);
  for (let i = 0; i < 3; i++) await search(EIGHT, `searcher/${i}`);
  // A HEAD of the costly shape, from a client never seen: as costly as the GET (the origin does the
  // same lookups); HEAD is a kind no customer sends, which had no typical cost of its own.
  const head = await search(EIGHT.replace('x7f3k', 'h4e4d'), 'newcomer/head', false, '', 'HEAD');
  assert.equal(head.method, 'HEAD');
  assert.ok(Number(head.pace) >= 1, `pace ${String(head.pace)}`);
  const cheap = await search('bureau', 'newcomer/cheap-head', false, '', 'HEAD');
  assert.equal(cheap.pace, 0);
  // Twelve terms, a shape no GET had: three HEADs of it teach nothing; three GETs do.
  const TWELVE = `${EIGHT}+avis+passage+tarif+relais`;
  const shapes = async (): Promise<string[]> => ((await shown()) as { costly: Array<{ shape: string }> }).costly.map((c) => c.shape);
  for (let i = 0; i < 3; i++) await search(TWELVE, `header/${i}`, false, '', 'HEAD');
  assert.ok(!(await shapes()).includes('q:7*4'), JSON.stringify(await shapes()));
  for (let i = 0; i < 3; i++) await search(TWELVE, `getter/${i}`);
  assert.ok((await shapes()).includes('q:7*4'), JSON.stringify(await shapes()));
});

test('searches of a query part never measured, then known costly, go a few at a time; a known cheap search beside them is not held', async (t) => {
  const { search, costly: shown, admin } = await searchSite(t, true);
  for (let i = 0; i < 16; i++) await search(['colis', 'lettre', 'timbre', 'carte'][i % 4]!, `customer/${i}`);
  const untried = async (): Promise<{ inFlight: number; held: number }> =>
    (JSON.parse(await admin('/api/state')) as { upstreams: Record<string, { costProbe: { inFlight: number; held: number } }> }).upstreams.origin!.costProbe;
  // Six 8-term searches at once, each with a parameter of its own (every shape new, one costly
  // part), and a one-word search among them: the upstream's limit is 8, so one untried part holds
  // one slot and the other searches wait for its answers.
  const floods = Array.from({ length: 6 }, (_, i) => search(`${EIGHT.replace('x7f3k', `k${i}z`)}&v${i}=1`, `newcomer/${i}`));
  const customer = search('bureau', 'customer/now');
  // The operator sees them held while they wait (GET /api/state, the metrics).
  let seen = { inFlight: 0, held: 0 };
  let metric = '';
  for (let i = 0; i < 200 && seen.held === 0; i++) {
    seen = await untried();
    if (seen.held > 0) metric = await admin('/metrics');
    else await new Promise((res) => setTimeout(res, 5));
  }
  assert.ok(seen.held >= 1 && seen.inFlight >= 1, JSON.stringify(seen));
  assert.match(metric, /rempart_upstream_cost_probe_held\{upstream="origin"\} [1-9]/);
  const lines = await Promise.all(floods);
  const cheap = await customer;
  assert.equal(cheap.heldMs, undefined, 'a known search is not held');
  const held = lines.filter((l) => Number(l.heldMs) > 0);
  // The first goes at once; the next waits for its answer (two lookups a term: 160 ms), and so on:
  // untried, then known to be costly, the part has one request at the upstream at a time.
  assert.equal(lines.filter((l) => l.heldMs === undefined).length, 1, JSON.stringify(lines.map((l) => l.heldMs)));
  assert.ok(held.length >= 2, JSON.stringify(lines.map((l) => l.heldMs)));
  for (const l of held) assert.ok(Number(l.queueMs) >= Number(l.heldMs), 'the held time is part of the wait for a slot');
  const state = await shown() as { costly: Array<{ shape: string }> };
  assert.ok(state.costly.some((c) => c.shape === 'q:6*4'), 'their answers weighed the part');
  assert.deepEqual(await untried(), { inFlight: 0, held: 0 });
});

test('a search the cost probe holds whose client leaves is logged as abandoned, with its held time', async (t) => {
  const site = await searchSite(t, true);
  for (let i = 0; i < 16; i++) await site.search(['colis', 'lettre', 'timbre', 'carte'][i % 4]!, `customer/${i}`);
  // A part never answered: the first 8-term search goes (160 ms at the origin), the next is held behind it.
  const first = site.search(EIGHT, 'newcomer/first');
  await new Promise((res) => setTimeout(res, 20));
  const ac = new AbortController();
  const leaving = request(`${site.url}/search?q=${EIGHT.replace('x7f3k', 'l3v4r')}`, { dispatcher: site.agent, headers: { 'user-agent': 'newcomer/leaver' }, signal: ac.signal });
  setTimeout(() => ac.abort(), 80);
  await assert.rejects(leaving);
  await first;
  let line: Record<string, unknown> | undefined;
  for (let i = 0; i < 100 && line === undefined; i++) {
    line = site.lines.find((l) => l.msg === 'access' && l.status === 499);
    if (line === undefined) await new Promise((res) => setTimeout(res, 10));
  }
  assert.ok(line !== undefined, 'the abandoned search is logged');
  assert.ok(Number(line.heldMs) >= 30, `held ${String(line.heldMs)} ms: ${JSON.stringify(line)}`);
  assert.ok(Number(line.queueMs) >= Number(line.heldMs), `part of its wait for a slot: ${JSON.stringify(line)}`);
});

test('a route no customer used before the attack (the app\'s /api/search to the same action) is weighed against the site\'s typical search', async (t) => {
  // Dry run: decided and logged, nothing enforced, so the forced attack challenges no one here.
  const { search, costly: shown, forceAttack } = await searchSite(t, true, true);
  // Normal times: the customers' one-word searches, for longer than an onset (5 s), teach the site's typical keyed request.
  const from = Date.now();
  for (let i = 0; i < 600 && Date.now() - from < 5_500; i++) await search(['colis', 'lettre', 'timbre', 'carte'][i % 4]!, `customer/${i % 50}`);
  const site = (await shown() as { siteTypicalMs?: number }).siteTypicalMs;
  assert.ok(site !== undefined && site >= 20 && site < 80, `the site's typical search: ${String(site)} ms`);
  // The flood's route, answered first just before the attack: its own median is its 8-term searches', so they read as typical.
  for (let i = 0; i < 3; i++) await search(EIGHT.replace('x7f3k', `a${i}b`), `bot/${i}`, false, '', 'GET', '/api/search');
  const before = await search(EIGHT.replace('x7f3k', 'c9d'), 'bot/before', false, '', 'GET', '/api/search');
  assert.equal(before.pace, 0, 'before the alert, the kind is typical of itself');
  await forceAttack();
  // The runtime tells the cost model of the alert on its 100 ms tick.
  await new Promise((res) => setTimeout(res, 300));
  const during = await search(EIGHT.replace('x7f3k', 'e8f'), 'bot/during', false, '', 'GET', '/api/search');
  assert.ok(Number(during.pace) >= 1, `in the attack the kind born just before it weighs against the site: pace ${String(during.pace)}`);
  const cheap = await search('bureau', 'customer/cheap', false, '', 'GET', '/api/search');
  assert.equal(cheap.pace, 0, 'a one-word search there costs what the site\'s does: one');
  const state = await shown() as { costly: Array<{ kind: string; shape: string; weight: number; againstSite?: boolean }>; doubtfulKinds: number };
  assertShownCostly(state, 'q:6*4', /GET \/api\/search$/);
  assert.equal(state.costly.find((c) => /api/.test(c.kind))?.againstSite, true);
  assert.equal(state.doubtfulKinds, 1, 'the customers\' /search, older than the onset, is not doubtful');
});
