import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_HASH_CHARS, clientBindingKey } from '../../src/shield/defence/binding.js';
import { fnv1a64Hex } from '../../src/shield/detect/fnv.js';

const whole = (ua: string): string => fnv1a64Hex(ua).slice(0, 8);
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

test('an agent up to the bound keeps the key of its whole hash: tokens already issued stay bound to it', () => {
  assert.equal(clientBindingKey(FIREFOX), whole(FIREFOX));
  assert.equal(clientBindingKey(undefined), whole(''));
  const atBound = 'M'.repeat(AGENT_HASH_CHARS);
  assert.equal(clientBindingKey(atBound), whole(atBound));
});

test('a longer agent is keyed by its first characters and its length', () => {
  const head = 'Mozilla/5.0 '.padEnd(AGENT_HASH_CHARS, 'x');
  const a = `${head}${'a'.repeat(15_000)}`;
  const b = `${head}${'b'.repeat(15_000)}`;
  const c = `${head}${'a'.repeat(15_001)}`;
  assert.equal(clientBindingKey(a), clientBindingKey(b), 'the same first characters and length: one key');
  assert.notEqual(clientBindingKey(a), clientBindingKey(c), 'another length: another key');
  assert.notEqual(clientBindingKey(a), clientBindingKey(head), 'not the key of its first characters alone');
  assert.equal(clientBindingKey(a), whole(`${head}\n${a.length}`));
});

test('the key of the last agent read is the key computed afresh, whatever came between', () => {
  const other = `${FIREFOX} Edg/128`;
  const keys = [FIREFOX, other, FIREFOX, FIREFOX, other, 'x'.repeat(5000), FIREFOX].map((ua) => clientBindingKey(ua));
  assert.deepEqual(keys, [FIREFOX, other, FIREFOX, FIREFOX, other, 'x'.repeat(5000), FIREFOX].map((ua) => whole(ua.length <= AGENT_HASH_CHARS ? ua : `${ua.slice(0, AGENT_HASH_CHARS)}\n${ua.length}`)));
  assert.notEqual(keys[0], keys[1]);
});
