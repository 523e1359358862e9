import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { evaluateClearance, type ClearanceDecision, type ClearancePolicy, type ClearanceRequest } from '../../src/shield/challenge/evaluate.js';
import { parseChallengeHeader } from '../../src/shield/challenge/header.js';
import { leadingZeroBits, powDigest } from '../../src/shield/challenge/pow.js';
import { isNavigation, isSameOriginSubresource, readNojsMarker, returnPath } from '../../src/shield/challenge/request.js';
import { createChallengeSettings } from '../../src/shield/challenge/settings.js';
import { solveChallenge, solvePow } from '../../src/shield/challenge/solver.js';
import { handleVerify, isVerifyPath, type VerifyRequest } from '../../src/shield/challenge/verify.js';
import { signToken, createKeyring } from '../../src/shield/reputation/token.js';
import { createPrng } from './prng.js';

const settings = createChallengeSettings({ keys: createKeyring(Buffer.alloc(32, 8)), randomBytes });
const T0 = 1_800_000_000_000;
const nav: ClearanceRequest = {
  method: 'GET', target: '/account?tab=2', accept: 'text/html,application/xhtml+xml,*/*;q=0.8', secFetchMode: 'navigate',
  cookie: undefined, clearanceHeader: undefined, challengeResponse: undefined, prefix: '203.0.113.0/24', fingerprint: 'fp', secure: false, now: T0,
};
const api: ClearanceRequest = { ...nav, accept: 'application/json', secFetchMode: 'cors' };
const L = (level: 0 | 1 | 2, extra: Partial<ClearancePolicy> = {}): ClearancePolicy => ({ level, difficulty: 8, ...extra });

const cookieOf = (setCookie: string | string[] | undefined): string => String(setCookie).split(';')[0]!;
const challenged = (d: ClearanceDecision): Extract<ClearanceDecision, { kind: 'challenge' }> => {
  assert.equal(d.kind, 'challenge', JSON.stringify(d));
  return d as Extract<ClearanceDecision, { kind: 'challenge' }>;
};
const passed = (d: ClearanceDecision): Extract<ClearanceDecision, { kind: 'pass' }> => {
  assert.equal(d.kind, 'pass', JSON.stringify(d));
  return d as Extract<ClearanceDecision, { kind: 'pass' }>;
};

test('level 0 and exempt requests pass without a token; the exemption holds at level 2', () => {
  assert.deepEqual(evaluateClearance(nav, L(0), settings), { kind: 'pass', via: 'open', standing: 'unknown', target: '/account?tab=2' });
  assert.equal(passed(evaluateClearance(api, L(2, { exempt: true }), settings)).via, 'exempt');
});

test('level 1: a navigation gets 307 to the same URL with a no-JS cookie; coming back with it passes, the marker stripped', () => {
  const c = challenged(evaluateClearance(nav, L(1), settings));
  assert.equal(c.level, 1);
  assert.equal(c.response.status, 307);
  assert.equal(c.response.headers.location, '/account?tab=2&rempart-nojs=1');
  assert.match(String(c.response.headers['set-cookie']), /^rempart_nojs=[^;]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Lax$/);
  const back = passed(evaluateClearance({ ...nav, target: '/account?tab=2&rempart-nojs=1', cookie: `a=1; ${cookieOf(c.response.headers['set-cookie'])}` }, L(1), settings));
  assert.equal(back.via, 'nojs');
  assert.equal(back.standing, 'checked');
  assert.equal(back.target, '/account?tab=2', 'the origin never sees the marker');
  assert.match(back.rateKey ?? '', /^nojs:/);
  // The no-JS cookie is not enough at level 2: it leads to the proof-of-work.
  assert.equal(challenged(evaluateClearance({ ...nav, cookie: cookieOf(c.response.headers['set-cookie']) }, L(2), settings)).response.status, 503);
});

test('level 1: a client that comes back without its cookie is escalated to the proof-of-work interstitial', () => {
  const c = challenged(evaluateClearance({ ...nav, target: '/account?tab=2&rempart-nojs=1' }, L(1), settings));
  assert.equal(c.level, 2);
  assert.equal(c.reason, 'cookies-not-kept');
  assert.equal(c.response.status, 503);
  const seed = parseChallengeHeader(c.response.headers['rempart-challenge'] as string)!.seed;
  const r = JSON.parse(Buffer.from(seed.split('.')[0]!, 'base64url').toString()).r;
  assert.equal(r, '/account?tab=2', 'returns to the URL without the marker');
});

test('level 2: a navigation without cookies gets the no-JS redirect first (a cookie-less flood costs a body-less 307)', () => {
  const c = challenged(evaluateClearance(nav, L(2), settings));
  assert.equal(c.response.status, 307);
  assert.equal(c.response.body, '');
  const back = challenged(evaluateClearance({ ...nav, target: String(c.response.headers.location), cookie: cookieOf(c.response.headers['set-cookie']) }, L(2), settings));
  assert.equal(back.response.status, 503, 'a cookie keeper gets the proof-of-work');
});

test('level 2 interstitial: 503, no-store, Retry-After, CSP with the page nonce, noscript explanation, no external resource', () => {
  const c = challenged(evaluateClearance({ ...nav, target: '/account?tab=2&rempart-nojs=1' }, L(2, { difficulty: 16 }), settings));
  const h = c.response.headers;
  assert.equal(c.response.status, 503);
  assert.equal(h['cache-control'], 'no-store');
  assert.equal(h['retry-after'], '5');
  assert.equal(h['content-type'], 'text/html; charset=utf-8');
  const nonce = /'nonce-([^']+)'/.exec(String(h['content-security-policy']))![1]!;
  assert.ok(c.response.body.includes(`<script nonce="${nonce}">`));
  assert.ok(c.response.body.includes(`<style nonce="${nonce}">`));
  assert.match(String(h['content-security-policy']), /worker-src blob:/);
  assert.match(c.response.body, /<noscript>.*JavaScript is disabled.*<\/noscript>/s);
  assert.ok(!/\b(src|href)=["']?(https?:)?\/\//i.test(c.response.body), 'no external resources');
  assert.ok(c.response.body.length < 12_000, `${c.response.body.length} bytes`);
  assert.equal(parseChallengeHeader(String(h['rempart-challenge']))?.bits, 16);
});

test('API clients never get HTML: 429 with the challenge headers and JSON; answering on the retry passes and earns a clearance', () => {
  for (const level of [1, 2] as const) {
    const c = challenged(evaluateClearance(api, L(level), settings));
    assert.equal(c.response.status, 429);
    assert.equal(c.response.headers['content-type'], 'application/json');
    assert.equal(JSON.parse(c.response.body).error, 'challenge');
  }
  const c = challenged(evaluateClearance(api, L(2), settings));
  const answer = solveChallenge(String(c.response.headers['rempart-challenge']));
  const p = passed(evaluateClearance({ ...api, challengeResponse: answer }, L(2), settings));
  assert.equal(p.via, 'solved');
  assert.equal(p.standing, 'cleared');
  const token = p.responseHeaders!['rempart-clearance']!;
  assert.match(p.responseHeaders!['set-cookie']!, /^rempart_clr=/);
  // A cookie-less client sends the clearance back as a header; a browser as a cookie: same rate key.
  const viaHeader = passed(evaluateClearance({ ...api, clearanceHeader: token }, L(2), settings));
  const viaCookie = passed(evaluateClearance({ ...nav, cookie: `rempart_clr=${token}` }, L(2), settings));
  assert.equal(viaHeader.via, 'clearance');
  assert.equal(viaHeader.rateKey, p.rateKey);
  assert.equal(viaCookie.rateKey, p.rateKey);
  // Replaying the same answer yields a clearance with the same id: every replay shares one rate limit.
  const replay = passed(evaluateClearance({ ...api, challengeResponse: answer, now: T0 + 60_000 }, L(2), settings));
  assert.equal(replay.rateKey, p.rateKey);
  // The answer replayed from another prefix is refused.
  assert.equal(challenged(evaluateClearance({ ...api, challengeResponse: answer, prefix: '198.51.100.0/24' }, L(2), settings)).problem, 'pow:wrong-prefix');
  // A wrong answer is refused with a fresh challenge.
  const wrong = challenged(evaluateClearance({ ...api, challengeResponse: answer.replace(/counter=\d+/, 'counter=x') }, L(2), settings));
  assert.equal(wrong.reason, 'answer-refused');
  assert.equal(wrong.problem, 'pow:bad-counter');
});

test('tokens bound elsewhere, expired or revoked do not pass', () => {
  const iat = T0 / 1000;
  const clr = (p: string, exp = iat + 60, id = 'c1'): string => `rempart_clr=${signToken({ k: 'clr', iat, exp, p, f: 'fp', id, d: 8 }, settings.keys)}`;
  assert.equal(passed(evaluateClearance({ ...nav, cookie: clr('203.0.113.0/24') }, L(2), settings)).via, 'clearance');
  assert.equal(challenged(evaluateClearance({ ...nav, cookie: clr('198.51.100.0/24') }, L(2), settings)).problem, 'clr:wrong-prefix');
  assert.equal(challenged(evaluateClearance({ ...nav, cookie: clr('203.0.113.0/24', iat) }, L(2), settings)).problem, 'clr:expired');
  assert.equal(challenged(evaluateClearance({ ...nav, fingerprint: 'fp2', cookie: clr('203.0.113.0/24') }, L(2), settings)).problem, 'clr:wrong-fingerprint');
  const revoked = challenged(evaluateClearance({ ...nav, cookie: clr('203.0.113.0/24') }, L(2, { isRevoked: (id) => id === 'c1' }), settings));
  assert.equal(revoked.problem, 'clr:revoked');
  assert.equal(revoked.reason, 'invalid-token');
});

test('reputation: established passes every level first; a young one only proves cookies (level 1)', () => {
  const rep = (iatMs: number): string => `rempart_rep=${signToken({ k: 'rep', iat: iatMs / 1000, exp: iatMs / 1000 + 86_400 * 30, p: '203.0.113.0/24', f: 'fp', id: 'r1' }, settings.keys)}`;
  const attack = { attackStartedAt: T0 - 60_000 };
  const old = passed(evaluateClearance({ ...api, cookie: rep(T0 - 3_600_000) }, L(2, attack), settings));
  assert.deepEqual([old.via, old.standing, old.rateKey], ['rep', 'established', 'rep:r1']);
  assert.equal(old.reputation?.id, 'r1');
  const young = rep(T0 - 120_000);
  assert.equal(passed(evaluateClearance({ ...nav, cookie: young }, L(1, attack), settings)).standing, 'checked');
  const atTwo = challenged(evaluateClearance({ ...nav, cookie: young }, L(2, attack), settings));
  assert.equal(atTwo.response.status, 503);
  assert.equal(passed(evaluateClearance({ ...nav, cookie: young }, L(0), settings)).reputation?.id, 'r1', 'level 0 still reports the reputation (admission priority, refresh)');
  // A signature challenge (level 2 from a path or agent the customers share): a young reputation
  // the caller finds at a customer's pace passes; a flooding one pays.
  const light = passed(evaluateClearance({ ...nav, cookie: young }, L(2, { ...attack, recentPasses: (id) => id === 'r1' }), settings));
  assert.deepEqual([light.via, light.standing, light.rateKey], ['rep', 'checked', 'rep:r1']);
  assert.equal(challenged(evaluateClearance({ ...nav, cookie: young }, L(2, { ...attack, recentPasses: () => false }), settings)).response.status, 503);
  assert.equal(challenged(evaluateClearance(nav, L(2, { ...attack, recentPasses: () => true }), settings)).level, 1, 'no reputation, no pass');
});

test('level 1: a page\'s own stylesheet or fetch (Fetch Metadata same-origin, not a navigation) gets the no-JS redirect a browser follows; not at level 2, not cross-site, not a POST, not without Fetch Metadata, not from a flooded address', () => {
  const css: ClearanceRequest = { ...nav, target: '/static/site.css', accept: 'text/css,*/*;q=0.1', secFetchMode: 'no-cors', secFetchSite: 'same-origin' };
  const c = challenged(evaluateClearance(css, L(1), settings));
  assert.equal(c.level, 1);
  assert.equal(c.response.status, 307);
  assert.equal(c.response.headers.location, '/static/site.css?rempart-nojs=1');
  const back = passed(evaluateClearance({ ...css, target: '/static/site.css?rempart-nojs=1', cookie: cookieOf(c.response.headers['set-cookie']) }, L(1), settings));
  assert.equal(back.via, 'nojs');
  assert.equal(back.target, '/static/site.css');
  // A page's fetch() too (cors mode).
  assert.equal(challenged(evaluateClearance({ ...api, secFetchSite: 'same-origin' }, L(1), settings)).response.status, 307);
  // Otherwise the API client's challenge, as before.
  for (const [why, req, level] of [
    ['level 2', css, 2], ['cross-site', { ...css, secFetchSite: 'cross-site' }, 1], ['no Fetch Metadata', { ...css, secFetchMode: undefined, secFetchSite: undefined }, 1],
    ['a POST', { ...api, method: 'POST', secFetchSite: 'same-origin' }, 1], ['back without its cookie', { ...css, target: '/static/site.css?rempart-nojs=1' }, 1],
  ] as const) {
    assert.equal(challenged(evaluateClearance(req, L(level), settings)).response.status, 429, why);
  }
  // From a flooded address, whose page loads go to proof-of-work: the API client's challenge too.
  const fromFlooded = { ...css, address: '203.0.113.9' };
  assert.equal(challenged(evaluateClearance(fromFlooded, L(1, { addressFlooded: (a) => a === '203.0.113.9' }), settings)).response.status, 429, 'flooded address');
  assert.equal(challenged(evaluateClearance(fromFlooded, L(1, { addressFlooded: () => false }), settings)).response.status, 307);
});

test('level 2 from a signature: a page\'s own stylesheet or script with the no-JS cookie passes at a customer\'s pace (a browser cannot solve a proof-of-work for it); its page, its fetch(), a flooding pace, an operator\'s level 2 and a flooded address still pay', () => {
  const css: ClearanceRequest = { ...nav, target: '/static/site.css', accept: 'text/css,*/*;q=0.1', secFetchMode: 'no-cors', secFetchSite: 'same-origin' };
  const redirect = challenged(evaluateClearance(css, L(1), settings));
  const cookie = cookieOf(redirect.response.headers['set-cookie']);
  const seen: string[] = [];
  const light = L(2, { subresourcePasses: (t) => { seen.push(t.k); return true; } });
  const ok = passed(evaluateClearance({ ...css, cookie }, light, settings));
  assert.equal(ok.standing, 'checked');
  assert.deepEqual(seen, ['nojs'], 'asked with the cookie it holds');
  // Without the cookie: the no-JS redirect a browser follows, then it passes as above.
  assert.equal(challenged(evaluateClearance(css, light, settings)).response.status, 307);
  for (const [why, req, policy, status] of [
    ['a flooding pace', { ...css, cookie }, L(2, { subresourcePasses: () => false }), 429],
    ['an operator\'s level 2 (not a signature)', { ...css, cookie }, L(2), 429],
    ['its page', { ...nav, cookie }, light, 503],
    ['a page\'s fetch() (cors: a script that can answer)', { ...api, secFetchSite: 'same-origin', cookie }, light, 429],
    ['cross-site', { ...css, secFetchSite: 'cross-site', cookie }, light, 429],
    ['from a flooded address', { ...css, cookie, address: '203.0.113.9' }, L(2, { subresourcePasses: () => true, addressFlooded: () => true }), 429],
  ] as const) {
    assert.equal(challenged(evaluateClearance(req, policy, settings)).response.status, status, why);
  }
});

test('level 2 from a signature: a page\'s WebSocket handshake with the no-JS cookie passes at a customer\'s pace like its stylesheet (a browser\'s WebSocket answers no challenge and follows no redirect); without the cookie, cross-site or at a flooding pace it gets the API challenge, never a redirect', () => {
  const css: ClearanceRequest = { ...nav, target: '/static/site.css', accept: 'text/css,*/*;q=0.1', secFetchMode: 'no-cors', secFetchSite: 'same-origin' };
  const cookie = cookieOf(challenged(evaluateClearance(css, L(1), settings)).response.headers['set-cookie']);
  const socket: ClearanceRequest = { ...nav, target: '/live/parcel/42', accept: undefined, secFetchMode: 'websocket', secFetchSite: 'same-origin', webSocket: { origin: 'https://shop.example', host: 'shop.example' } };
  // Chromium sends no Fetch Metadata on a handshake: its Origin names the host it asks.
  const chromium: ClearanceRequest = { ...socket, secFetchMode: undefined, secFetchSite: undefined };
  const asked: string[] = [];
  const light = L(2, { subresourcePasses: (t) => { asked.push(t.k); return true; } });
  const ok = passed(evaluateClearance({ ...socket, cookie }, light, settings));
  assert.equal(ok.standing, 'checked');
  assert.equal(ok.via, 'nojs');
  assert.deepEqual(asked, ['nojs'], 'judged by the same pace and page as a stylesheet');
  assert.equal(passed(evaluateClearance({ ...chromium, cookie }, light, settings)).via, 'nojs', 'no Fetch Metadata, its Origin this host');
  assert.equal(passed(evaluateClearance({ ...chromium, cookie, webSocket: { origin: 'http://SHOP.example', host: 'shop.example' } }, light, settings)).via, 'nojs', 'another scheme (TLS ended before the shield), any case');
  for (const [why, req, policy] of [
    ['no cookie: a redirect would fail the handshake', socket, light],
    ['a flooding pace', { ...socket, cookie }, L(2, { subresourcePasses: () => false })],
    ['an operator\'s level 2 (not a signature)', { ...socket, cookie }, L(2)],
    ['cross-site', { ...socket, secFetchSite: 'cross-site', cookie }, light],
    ['another site\'s Origin', { ...chromium, cookie, webSocket: { origin: 'https://evil.example', host: 'shop.example' } }, light],
    ['no Origin (not a browser)', { ...chromium, cookie, webSocket: { origin: undefined, host: 'shop.example' } }, light],
    ['not an upgrade', { ...socket, cookie, webSocket: undefined }, light],
    ['from a flooded address', { ...socket, cookie, address: '203.0.113.9' }, L(2, { subresourcePasses: () => true, addressFlooded: () => true })],
  ] as const) {
    const c = challenged(evaluateClearance(req, policy, settings));
    assert.equal(c.response.status, 429, why);
  }
  // At level 1 the cookie passes it as before, and without one it is not redirected either.
  assert.equal(passed(evaluateClearance({ ...socket, cookie }, L(1), settings)).via, 'nojs');
  assert.equal(challenged(evaluateClearance(socket, L(1), settings)).response.status, 429);
});

test('property: whatever the request, API clients never get HTML or a 2xx challenge; navigations get 307 or the 503 page', () => {
  const rng = createPrng(7);
  const accepts = [undefined, '*/*', 'application/json', 'text/html', 'image/avif,image/webp,*/*', 'text/html,application/xhtml+xml'];
  const modes = [undefined, 'navigate', 'cors', 'same-origin', 'no-cors', 'websocket'];
  const sites = [undefined, 'same-origin', 'same-site', 'cross-site', 'none'];
  for (let i = 0; i < 400; i++) {
    const req: ClearanceRequest = {
      ...nav, method: rng() < 0.8 ? 'GET' : 'POST', accept: accepts[Math.floor(rng() * accepts.length)], secFetchMode: modes[Math.floor(rng() * modes.length)],
      target: rng() < 0.3 ? '/x?rempart-nojs=1' : '/x', cookie: rng() < 0.3 ? 'rempart_clr=garbage' : undefined,
      secFetchSite: sites[Math.floor(rng() * sites.length)],
    };
    const level = (1 + Math.floor(rng() * 2)) as 1 | 2;
    const c = challenged(evaluateClearance(req, L(level), settings));
    const html = String(c.response.headers['content-type'] ?? '').includes('html');
    if (!isNavigation(req.accept, req.secFetchMode)) {
      // A page's own subresource or fetch at level 1, first time: the no-JavaScript redirect.
      const subresource = level === 1 && req.method === 'GET' && !req.target.includes('rempart-nojs') && isSameOriginSubresource(req.secFetchSite, req.secFetchMode);
      assert.equal(c.response.status, subresource ? 307 : 429);
      assert.equal(html, false);
    } else {
      const first = !req.target.includes('rempart-nojs');
      assert.equal(c.response.status, first ? 307 : 503, `${req.target} at ${level}`);
    }
  }
});

test('verify path: a navigation gets 303 to its original URL with the clearance cookie; API clients get JSON and the header', () => {
  assert.equal(isVerifyPath('/.rempart/challenge/verify'), true);
  const c = challenged(evaluateClearance({ ...nav, target: '/account?tab=2&rempart-nojs=1' }, L(2), settings));
  const seed = parseChallengeHeader(String(c.response.headers['rempart-challenge']))!.seed;
  const counter = solvePow(seed, 8)!;
  const v: VerifyRequest = { method: 'GET', target: `/.rempart/challenge/verify?seed=${encodeURIComponent(seed)}&counter=${counter}`, accept: nav.accept, secFetchMode: 'navigate', prefix: nav.prefix, fingerprint: 'fp', secure: false, now: T0 + 2_000 };
  const ok = handleVerify(v, settings);
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.location, '/account?tab=2');
  assert.match(String(ok.headers['set-cookie']), /^rempart_clr=[^;]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/);
  assert.match(String(handleVerify({ ...v, secure: true }, settings).headers['set-cookie']), /; Secure$/);
  const cleared = passed(evaluateClearance({ ...nav, cookie: cookieOf(ok.headers['set-cookie']) }, L(2), settings));
  assert.equal(cleared.rateKey, `clr:${ok.clearanceId}`);

  const apiOk = handleVerify({ ...v, method: 'POST', target: '/.rempart/challenge/verify', body: `seed=${encodeURIComponent(seed)}&counter=${counter}`, accept: 'application/json', secFetchMode: 'cors' }, settings);
  assert.equal(apiOk.status, 200);
  assert.ok(apiOk.headers['rempart-clearance']);
  assert.equal(JSON.parse(apiOk.body).ok, true);

  const expired = handleVerify({ ...v, now: T0 + 301_000 }, settings);
  assert.deepEqual([expired.status, expired.headers.location, expired.headers['set-cookie']], [303, '/account?tab=2', undefined], 'back for a fresh challenge');
  let weak = 0;
  while (leadingZeroBits(powDigest(seed, weak)) >= 8) weak++;
  assert.equal(handleVerify({ ...v, target: `/.rempart/challenge/verify?seed=${encodeURIComponent(seed)}&counter=${weak}` }, settings).status, 403);
  assert.equal(handleVerify({ ...v, prefix: '198.51.100.0/24' }, settings).reason, 'wrong-prefix');
  assert.equal(handleVerify({ ...v, target: '/.rempart/challenge/verify' }, settings).status, 400);
  assert.equal(handleVerify({ ...v, method: 'PUT' }, settings).status, 405);
});

test('request helpers: navigation detection, marker parsing, return paths never leave the origin', () => {
  assert.equal(isNavigation('text/html', undefined), true, 'browsers without Fetch Metadata');
  assert.equal(isNavigation('text/html', 'cors'), false, 'a fetch() asking for HTML is still an API call');
  assert.equal(isNavigation('*/*', 'navigate'), true);
  assert.equal(isNavigation(undefined, undefined), false);
  assert.deepEqual(readNojsMarker('/a?rempart-nojs=2&b=1'), { clean: '/a?b=1', attempts: 2 });
  assert.deepEqual(readNojsMarker('/a?b=rempart-nojs=1'), { clean: '/a?b=rempart-nojs=1', attempts: 0 });
  assert.equal(returnPath('//evil.example/x'), '/');
  assert.equal(returnPath('https://evil.example/'), '/');
  assert.equal(returnPath(`/p?${'q'.repeat(2000)}`), '/p');
});

test('settings are validated once and frozen', () => {
  const keys = createKeyring(Buffer.alloc(32, 1));
  assert.throws(() => createChallengeSettings({ keys, clearanceTtlS: 0 }), /clearanceTtlS/);
  assert.throws(() => createChallengeSettings({ keys, nojsMaxAttempts: 0 }), /nojsMaxAttempts/);
  const s = createChallengeSettings({ keys, clearanceTtlS: 600 });
  assert.equal(Object.isFrozen(s), true);
  assert.equal(s.clearanceTtlS, 600);
  assert.equal(s.nojsTtlS, 1_800);
});

test('the no-JavaScript cookie is one identity per address and agent: concurrent challenges do not mint identities', () => {
  const at = (address: string | undefined, fingerprint: string, now = T0): string | undefined => {
    const c = challenged(evaluateClearance({ ...nav, prefix: '127.0.113.0/24', fingerprint, now, ...(address ? { address } : {}) }, L(1), settings));
    const back = passed(evaluateClearance({ ...nav, prefix: '127.0.113.0/24', fingerprint, now, target: '/account?tab=2&rempart-nojs=1', cookie: cookieOf(c.response.headers['set-cookie']) }, L(1), settings));
    return back.rateKey;
  };
  // Sixteen challenges answered at once to one bot: one identity (its pace adds up).
  const keys = new Set(Array.from({ length: 16 }, () => at('127.0.113.7', 'fp-bot')));
  assert.equal(keys.size, 1);
  assert.match([...keys][0] ?? '', /^nojs:/);
  // Another address, or another browser on the same address: another identity.
  assert.notEqual(at('127.0.113.8', 'fp-bot'), at('127.0.113.7', 'fp-bot'));
  assert.notEqual(at('127.0.113.7', 'fp-other'), at('127.0.113.7', 'fp-bot'));
  // Without the address (an embedder that does not pass it), each cookie is its own identity.
  assert.notEqual(at(undefined, 'fp-bot'), at(undefined, 'fp-bot'));
  // The identity is renewed with the cookie's lifetime window.
  assert.notEqual(at('127.0.113.7', 'fp-bot', T0 + settings.nojsTtlS * 1000), at('127.0.113.7', 'fp-bot'));
});

test('a personal no-JavaScript cookie: asked only when one is issued, a fresh identity each, marked as such', () => {
  let asked = 0;
  const policy = L(1, { personalNojs: () => { asked++; return true; } });
  const issue = (): string => cookieOf(challenged(evaluateClearance({ ...nav, address: '127.0.113.7' }, policy, settings)).response.headers['set-cookie']);
  const [c1, c2] = [issue(), issue()];
  assert.equal(asked, 2);
  const back = (cookie: string) => passed(evaluateClearance({ ...nav, address: '127.0.113.7', target: '/account?tab=2&rempart-nojs=1', cookie }, policy, settings));
  const [b1, b2] = [back(c1), back(c2)];
  assert.equal(asked, 2, 'passing with the cookie spends nothing');
  assert.notEqual(b1.rateKey, b2.rateKey);
  assert.equal(b1.token?.n, 1);
  // Level 2 with the cookie kept leads to proof-of-work, no new cookie: nothing asked.
  challenged(evaluateClearance({ ...nav, address: '127.0.113.7', cookie: c1 }, L(2, { personalNojs: policy.personalNojs }), settings));
  assert.equal(asked, 2);
  // Refused: the address's and agent's identity, unmarked.
  const refused = L(1, { personalNojs: () => false });
  const d = back(cookieOf(challenged(evaluateClearance({ ...nav, address: '127.0.113.7' }, refused, settings)).response.headers['set-cookie']));
  assert.equal(d.token?.n, undefined);
});

test('the address\'s no-JS identity presented behind an address known as shared is answered with a personal one, within the budget', () => {
  const at = { ...nav, address: '127.0.113.7', target: '/account' };
  // Issued before the address was known as shared: the address's and agent's identity, held by
  // every newcomer there with this browser.
  const addressCookie = cookieOf(challenged(evaluateClearance(at, L(1), settings)).response.headers['set-cookie']);
  let asked = 0;
  const shared = L(1, { personalNojs: () => { asked++; return true; } });
  const first = passed(evaluateClearance({ ...at, cookie: addressCookie }, shared, settings));
  assert.equal(first.via, 'nojs');
  assert.equal(first.token?.n, undefined, 'this request passes as the identity it presented');
  assert.equal(asked, 1);
  const setCookie = first.responseHeaders?.['set-cookie'];
  assert.ok(setCookie !== undefined, 'its answer carries a personal cookie');
  const again = passed(evaluateClearance({ ...at, cookie: addressCookie }, shared, settings));
  const [p1, p2] = [cookieOf(setCookie), cookieOf(again.responseHeaders?.['set-cookie'])];
  const b1 = passed(evaluateClearance({ ...at, cookie: p1 }, shared, settings));
  const b2 = passed(evaluateClearance({ ...at, cookie: p2 }, shared, settings));
  assert.equal(b1.token?.n, 1);
  assert.notEqual(b1.rateKey, b2.rateKey, 'two holders of the shared cookie, two identities');
  assert.notEqual(b1.rateKey, first.rateKey);
  assert.equal(b1.responseHeaders, undefined, 'a personal cookie is not replaced');
  assert.equal(asked, 2, 'and asks nothing of the budget');
  // Not shared, or the budget spent: it passes as before, with nothing to set.
  assert.equal(passed(evaluateClearance({ ...at, cookie: addressCookie }, L(1, { personalNojs: () => false }), settings)).responseHeaders, undefined);
  assert.equal(passed(evaluateClearance({ ...at, cookie: addressCookie }, L(1), settings)).responseHeaders, undefined);
});

test('a flooded shared address: its page loads go to proof-of-work; its own no-JS cookie passes only form posts and fetches', () => {
  let asked = 0;
  const flooded = (extra: Partial<ClearancePolicy> = {}): ClearancePolicy => L(1, { addressFlooded: (a) => { asked++; return a === '127.0.113.7'; }, ...extra });
  const at = { ...nav, address: '127.0.113.7' };
  // The address's identity, issued before the revocation there.
  const addressCookie = cookieOf(challenged(evaluateClearance(at, L(1), settings)).response.headers['set-cookie']);
  const page = challenged(evaluateClearance(at, flooded(), settings));
  assert.equal(page.level, 2, 'no no-JS redirect: straight to proof-of-work');
  assert.equal(page.response.status, 503);
  assert.equal(challenged(evaluateClearance({ ...at, cookie: addressCookie }, flooded(), settings)).level, 2, 'the shared identity proves nothing for a page load');
  assert.equal(challenged(evaluateClearance({ ...at, method: 'HEAD', cookie: addressCookie }, flooded(), settings)).level, 2);
  // A form post keeps its body, a page's fetch keeps working: both pass with the cookie, as before.
  assert.equal(passed(evaluateClearance({ ...at, method: 'POST', cookie: addressCookie }, flooded(), settings)).via, 'nojs');
  assert.equal(passed(evaluateClearance({ ...api, address: '127.0.113.7', cookie: addressCookie }, flooded(), settings)).via, 'nojs');
  // A personal no-JS cookie (issued within the address's budget before the flood) is its holder's own.
  const personal = cookieOf(challenged(evaluateClearance(at, L(1, { personalNojs: () => true }), settings)).response.headers['set-cookie']);
  assert.equal(passed(evaluateClearance({ ...at, cookie: personal }, flooded(), settings)).token?.n, 1);
  // Not flooded: the same page load passes with the address's cookie.
  assert.equal(passed(evaluateClearance({ ...at, cookie: addressCookie }, L(1, { addressFlooded: () => false }), settings)).via, 'nojs');
  // Asked only when a page load needs a token: not at level 0, not for the post or the fetch above.
  asked = 0;
  passed(evaluateClearance(at, flooded({ level: 0 }), settings));
  passed(evaluateClearance({ ...at, method: 'POST', cookie: addressCookie }, flooded(), settings));
  assert.equal(asked, 0);
});
