import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { registerHotPathHistogram } from '../../src/admin/hot-path-histogram.js';
import { createPrng } from './prng.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

test('the hot-path histogram renders exactly what a prom-client Histogram renders for the same observations', async () => {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({ name: 'x_seconds', help: 'latency "quoted" \\ back', labelNames: ['upstream'], buckets: BUCKETS, registers: [theirs] });
  const hot = registerHotPathHistogram(ours, { name: 'x_seconds', help: 'latency "quoted" \\ back', labelName: 'upstream', buckets: BUCKETS });
  const rnd = createPrng(7);
  // Bounds themselves (le is inclusive), values past the last bound, zero, and a label needing escapes.
  const values = [0, 0.001, 0.0025, 10, 11, 1e-9, ...Array.from({ length: 500 }, () => rnd() ** 3 * 12)];
  for (const upstream of ['origin', 'b"ack\\end', 'api']) {
    for (const v of values) { reference.labels(upstream).observe(v); hot.series(upstream).observe(v); }
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('a series appears once observed, and keeps counting across scrapes', async () => {
  const registry = new Registry();
  const hot = registerHotPathHistogram(registry, { name: 'y_seconds', help: 'h', labelName: 'upstream', buckets: [0.1, 1] });
  assert.doesNotMatch(await registry.metrics(), /y_seconds_count/);
  hot.series('origin').observe(0.5);
  assert.match(await registry.metrics(), /y_seconds_bucket\{le="0.1",upstream="origin"\} 0\ny_seconds_bucket\{le="1",upstream="origin"\} 1\ny_seconds_bucket\{le="\+Inf",upstream="origin"\} 1\ny_seconds_sum\{upstream="origin"\} 0.5\ny_seconds_count\{upstream="origin"\} 1/);
  hot.series('origin').observe(2);
  assert.match(await registry.metrics(), /y_seconds_bucket\{le="\+Inf",upstream="origin"\} 2\ny_seconds_sum\{upstream="origin"\} 2.5\ny_seconds_count\{upstream="origin"\} 2/);
});
