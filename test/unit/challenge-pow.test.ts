import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { formatChallengeHeader, parseChallengeHeader, parseChallengeResponse, parseDictionary } from '../../src/shield/challenge/header.js';
import { checkPowSolution, difficultyFor, issuePowChallenge, leadingZeroBits, policyForRung, powDigest } from '../../src/shield/challenge/pow.js';
import { solveChallenge, solvePow } from '../../src/shield/challenge/solver.js';
import { createKeyring } from '../../src/shield/reputation/token.js';

const keys = createKeyring(Buffer.alloc(32, 6));
const T0 = 1_800_000_000_000;
const bound = { prefix: '198.51.100.0/24', fingerprint: 'fp' };
const challenge = (difficulty = 10, now = T0): string => issuePowChallenge({ ...bound, difficulty, now, ttlS: 300, returnTo: '/a?b=1' }, keys, randomBytes);

test('leading zero bits of a digest', () => {
  assert.equal(leadingZeroBits(Uint8Array.from([0x80, 0])), 0);
  assert.equal(leadingZeroBits(Uint8Array.from([0x01, 0])), 7);
  assert.equal(leadingZeroBits(Uint8Array.from([0, 0x10])), 11);
  assert.equal(leadingZeroBits(new Uint8Array(32)), 256);
});

test('a correct answer verifies (one HMAC, one SHA-256) and yields the challenge with its id and return path', () => {
  const seed = challenge(12);
  const counter = solvePow(seed, 12)!;
  assert.ok(leadingZeroBits(powDigest(seed, counter)) >= 12);
  const r = checkPowSolution(seed, String(counter), keys, T0 + 10_000, bound);
  assert.ok(r.ok);
  assert.equal(r.challenge.d, 12);
  assert.equal(r.challenge.r, '/a?b=1');
  assert.equal(typeof r.challenge.id, 'string');
});

test('property: the reference solver (JavaScript SHA-256) finds the smallest counter node:crypto accepts, for seeds of every length', () => {
  for (let len = 1; len <= 140; len += 3) {
    const seed = randomBytes(len).toString('base64url').slice(0, len);
    const bits = 1 + (len % 9);
    const c = solvePow(seed, bits)!;
    assert.ok(leadingZeroBits(powDigest(seed, c)) >= bits, `seed length ${len}, ${bits} bits`);
    for (let smaller = 0; smaller < c; smaller++) assert.ok(leadingZeroBits(powDigest(seed, smaller)) < bits, `a smaller counter ${smaller} works`);
  }
  assert.equal(solvePow('x', 33, 1000), undefined, 'bounded');
});

test('insufficient work, malformed counters, expired challenges, another prefix or fingerprint, forged difficulty are refused', () => {
  const seed = challenge(12);
  let weak = 0;
  while (leadingZeroBits(powDigest(seed, weak)) >= 12) weak++;
  assert.equal(reason(checkPowSolution(seed, String(weak), keys, T0, bound)), 'insufficient');
  const counter = String(solvePow(seed, 12)!);
  for (const bad of ['', '-1', '01', '1e3', '1.0', '99999999999999999', ' 1']) {
    assert.equal(reason(checkPowSolution(seed, bad, keys, T0, bound)), 'bad-counter', bad);
  }
  assert.equal(reason(checkPowSolution(seed, counter, keys, T0 + 300_000, bound)), 'expired');
  assert.equal(reason(checkPowSolution(seed, counter, keys, T0, { ...bound, prefix: '198.51.101.0/24' })), 'wrong-prefix', 'an answer replayed from another prefix');
  assert.equal(reason(checkPowSolution(seed, counter, keys, T0, { ...bound, fingerprint: 'other' })), 'wrong-fingerprint');
  // Lowering the difficulty in the seed breaks its MAC.
  const [body, mac] = seed.split('.') as [string, string];
  const easier = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), d: 1 })).toString('base64url');
  assert.equal(reason(checkPowSolution(`${easier}.${mac}`, '0', keys, T0, bound)), 'bad-mac');
  assert.equal(reason(checkPowSolution(seed, counter, createKeyring(Buffer.alloc(32, 7)), T0, bound)), 'unknown-key');
});

test('difficulty grows one bit per doubling of the overload, within bounds', () => {
  assert.equal(difficultyFor(0), 14);
  assert.equal(difficultyFor(1), 14);
  assert.equal(difficultyFor(2), 15);
  assert.equal(difficultyFor(12), 18);
  assert.equal(difficultyFor(1e9), 20);
  assert.equal(difficultyFor(Infinity), 20);
  assert.equal(difficultyFor(Number.NaN), 14);
  assert.equal(difficultyFor(100, { minBits: 10, maxBits: 22 }), 17);
  assert.deepEqual([undefined, 0, 1, 2, 3, 4, 9].map((r) => policyForRung(r)), [
    { level: 0, difficulty: 14 }, { level: 1, difficulty: 14 }, { level: 2, difficulty: 14 }, { level: 2, difficulty: 16 },
    { level: 2, difficulty: 18 }, { level: 2, difficulty: 20 }, { level: 2, difficulty: 20 },
  ], 'the planner\'s rungs: 0 no-JS check, then proof-of-work two bits per rung');
  assert.throws(() => challenge(0), /difficulty/);
  assert.throws(() => challenge(33), /difficulty/);
});

test('challenge headers are RFC 8941 dictionaries; the reference solver answers one', () => {
  const seed = challenge(8);
  const header = formatChallengeHeader({ v: 1, alg: 'sha256', bits: 8, seed, exp: T0 / 1000 + 300, verify: '/.rempart/challenge/verify' });
  assert.deepEqual(parseChallengeHeader(header), { v: 1, alg: 'sha256', bits: 8, seed, exp: T0 / 1000 + 300, verify: '/.rempart/challenge/verify' });
  const answer = solveChallenge(header);
  const parsed = parseChallengeResponse(answer)!;
  assert.equal(parsed.seed, seed);
  assert.equal(checkPowSolution(parsed.seed, parsed.counter, keys, T0, bound).ok, true);
  assert.equal(parseChallengeHeader('v=2, alg=sha256, bits=8, seed="x", exp=1, verify="/v"'), undefined, 'unknown version');
  assert.equal(parseChallengeHeader('v=1, alg=md5, bits=8, seed="x", exp=1, verify="/v"'), undefined);
  assert.equal(parseDictionary('a=1, b="x'), undefined);
  assert.equal(parseDictionary('a=1 b=2'), undefined);
  assert.deepEqual(parseDictionary('a=1,b="x y", c=tok'), { a: '1', b: 'x y', c: 'tok' });
  assert.throws(() => solveChallenge('nonsense'), /not a Rempart-Challenge/);
  assert.throws(() => solveChallenge(header.replace('bits=8', 'bits=32'), 10), /no answer/);
});

function reason(r: { ok: boolean; reason?: string }): string | undefined {
  return r.ok ? undefined : r.reason;
}
