import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAttackCounters, latencySummary, perSecond, percentile, recordAnswer, recordSent, summarize, summarizeByClass, type LegitSample } from '../../src/drill/metrics.js';

const sample = (startMs: number, latencyMs: number, status: number, outcome: LegitSample['outcome'] = status >= 200 && status < 400 ? 'ok' : 'http_error', cls: LegitSample['cls'] = 'normal'): LegitSample =>
  ({ startMs, latencyMs, status, outcome, cls, route: 'GET /track/:id' });

test('nearest-rank percentiles of 1..100 and of small sets', () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(v, 50), 50);
  assert.equal(percentile(v, 95), 95);
  assert.equal(percentile(v, 99), 99);
  assert.equal(percentile(v, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.ok(Number.isNaN(percentile([], 50)));
  // Order of input does not matter: latencySummary sorts a copy.
  const shuffled = [...v].reverse();
  assert.deepEqual(latencySummary(shuffled), { p50: 50, p95: 95, p99: 99, max: 100 });
  assert.equal(shuffled[0], 100, 'input left untouched');
});

test('known responses give known success ratio and percentiles; unfinished attempts are excluded', () => {
  // 200 attempts: latency i ms for i = 1..200; every 4th fails with 503; 3 more unfinished.
  const samples: LegitSample[] = [];
  for (let i = 1; i <= 200; i++) samples.push(sample(i * 10, i, i % 4 === 0 ? 503 : 200));
  samples.push(sample(100, 50_000, 0, 'unfinished'), sample(200, 50_000, 0, 'unfinished'), sample(300, 9_000, 0, 'timeout'));
  const s = summarize(samples);
  assert.equal(s.attempts, 201); // 200 answered + 1 timeout; unfinished are not attempts that ended
  assert.equal(s.ok, 150);
  assert.equal(s.successRatio, 150 / 201);
  assert.equal(s.unfinished, 2);
  assert.deepEqual(s.statuses, { 200: 150, 503: 50, timeout: 1 });
  assert.equal(s.p50, 101); // rank ceil(0.5*201)=101 → value 101
  assert.equal(s.p95, 191); // rank 191
  assert.equal(s.p99, 199); // rank 199
  assert.equal(s.max, 9_000);
});

test('window and class split', () => {
  const samples = [sample(500, 10, 200, 'ok', 'critical'), sample(1500, 20, 503, 'http_error', 'critical'), sample(2500, 30, 200, 'ok', 'low')];
  const by = summarizeByClass(samples, 1000, 3000);
  assert.equal(by.critical.attempts, 1);
  assert.equal(by.critical.successRatio, 0);
  assert.equal(by.low.successRatio, 1);
  assert.equal(by.high.attempts, 0);
  assert.equal(by.high.successRatio, null);
});

test('per-second series bucket attempts by start time', () => {
  const samples = [sample(100, 10, 200), sample(900, 30, 503), sample(1100, 20, 200), sample(2999, 5, 0, 'unfinished')];
  const s = perSecond(samples, 3);
  assert.deepEqual(s.map((p) => p.attempts), [2, 1, 0]);
  assert.deepEqual(s.map((p) => p.successRatio), [0.5, 1, null]);
  assert.equal(s[0]!.p50, 10);
  assert.equal(s[0]!.p99, 30);
});

test('attack counters count sent and answers per second', () => {
  const c = createAttackCounters('x', 'flood', 2);
  recordSent(c, 10); recordSent(c, 1500); recordSent(c, 5000);
  recordAnswer(c, 20, '200'); recordAnswer(c, 1600, '429'); recordAnswer(c, 1700, 'timeout');
  assert.equal(c.sent, 3);
  assert.deepEqual(c.sentPerSecond, [1, 1]);
  assert.deepEqual(c.answeredPerSecond, [1, 2]);
  assert.deepEqual(c.statuses, { 200: 1, 429: 1, timeout: 1 });
});

test('checkout completion bound: the Wilson 95% lower bound of what was seen', async () => {
  const { wilsonLower } = await import('../../src/drill/bench/ddos.js');
  assert.ok(Math.abs(wilsonLower(52, 52) - 0.9312) < 0.001, String(wilsonLower(52, 52)));
  assert.ok(wilsonLower(385, 385) > 0.99, 'about 385 of 385 needed to claim 99%');
  assert.ok(wilsonLower(380, 380) < 0.99);
  assert.ok(wilsonLower(300, 300) < 0.99);
  assert.ok(wilsonLower(99, 100) < 0.99 && wilsonLower(99, 100) > 0.94);
  assert.equal(wilsonLower(0, 0), 0);
});
