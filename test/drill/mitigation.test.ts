import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timeToMitigation, type LegitSample } from '../../src/drill/metrics.js';

const sample = (startMs: number, ok: boolean): LegitSample => ({ startMs, latencyMs: 10, cls: 'normal', route: 'GET /track/:id', status: ok ? 200 : 503, outcome: ok ? 'ok' : 'http_error' });

test('time to effective mitigation: 0 when never dropped, the end of the last failing 2 s window, or never', () => {
  const steady = Array.from({ length: 200 }, (_, i) => sample(i * 100, true));
  assert.equal(timeToMitigation(steady, 3000, 20_000).afterS, 0);
  // Failures from 3 s to 7 s (the attack biting), success after: every window starting at >= 7 s passes.
  const bitten = Array.from({ length: 200 }, (_, i) => sample(i * 100, !(i * 100 >= 3000 && i * 100 < 7000)));
  const m = timeToMitigation(bitten, 3000, 20_000);
  assert.equal(m.afterS, 4);
  assert.equal(m.worstWindowRatio, 0);
  // A single failure later resets the clock: "and stays there".
  const relapse = bitten.map((s) => (s.startMs === 15_000 ? sample(15_000, false) : s));
  assert.equal(timeToMitigation(relapse, 3000, 20_000).afterS, 12.25);
  // Failing until the end: never.
  const lost = Array.from({ length: 200 }, (_, i) => sample(i * 100, i * 100 < 3000));
  assert.equal(timeToMitigation(lost, 3000, 20_000).afterS, null);
  // Unfinished attempts do not count either way; windows without attempts are no evidence.
  const gaps = [...steady.filter((s) => s.startMs < 5000), { ...sample(6000, false), outcome: 'unfinished' as const, status: 0 }, ...steady.filter((s) => s.startMs >= 9000)];
  assert.equal(timeToMitigation(gaps, 3000, 20_000).afterS, 0);
  assert.equal(timeToMitigation([], 3000, 20_000).afterS, null);
});
