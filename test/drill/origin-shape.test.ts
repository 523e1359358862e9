import { test } from 'node:test';
import assert from 'node:assert/strict';
import { originCapacity, parseOriginShape } from '../../src/drill/bench/origin-shape.js';

test('--origin: the keys given change the origin, the others stay the bench\'s', () => {
  assert.deepEqual(parseOriginShape('workers=8,serviceMs=160'), { maxInFlight: 8, serviceMs: 160 });
  assert.deepEqual(parseOriginShape(' queue=256 '), { maxQueue: 256 });
  assert.deepEqual(parseOriginShape('spreadPct=50'), { serviceSpread: 0.5 });
  assert.equal(originCapacity({ maxInFlight: 8, serviceMs: 160, maxQueue: 64 }), 50);
  assert.equal(originCapacity({ maxInFlight: 1, serviceMs: 20, maxQueue: 64 }), 50);
});

test('--origin: an unknown key, a repeated one, a value out of range or not a whole number is an error naming it', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /expected key=value pairs/],
    ['workerz=8', /unknown key "workerz"/],
    ['workers=8,workers=4', /"workers" given twice/],
    ['workers=0', /workers must be an integer from 1 to 1024, got "0"/],
    ['serviceMs=2.5', /serviceMs must be an integer from 1 to 10000, got "2\.5"/],
    ['queue', /queue must be an integer from 0 to 100000, got ""/],
    ['queue=-1', /queue must be an integer/],
    ['spreadPct=95', /spreadPct must be an integer from 0 to 90, got "95"/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseOriginShape(text), message, text);
});
