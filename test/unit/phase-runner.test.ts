import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFilters } from '../../src/shield/pipeline/run.js';
import { named, type UpstreamRequest, type UpstreamRequestFilter } from '../../src/shield/pipeline/phases.js';
import type { RequestContext } from '../../src/shield/context.js';
import { deny, type Verdict } from '../../src/shield/verdict.js';

const ctx = {} as RequestContext;
const up: UpstreamRequest = { method: 'GET', path: '/', headers: [] };
const recorder = (): { calls: string[]; f: (name: string, result?: Verdict | Promise<Verdict | undefined> | (() => never)) => UpstreamRequestFilter } => {
  const calls: string[] = [];
  return {
    calls,
    f: (name, result) => named(name, () => {
      calls.push(name);
      return typeof result === 'function' ? result() : result;
    }),
  };
};

test('filters run in order and the run stays synchronous when every filter is', () => {
  const { calls, f } = recorder();
  const r = runFilters([f('a'), f('b'), f('c')], ctx, up);
  assert.equal(r, undefined, 'not a promise');
  assert.deepEqual(calls, ['a', 'b', 'c']);
});

test('the first verdict short-circuits the rest', () => {
  const { calls, f } = recorder();
  const v = deny('RMP_ERR_BLOCKED', 'test');
  const r = runFilters([f('a'), f('b', v), f('c')], ctx, up);
  assert.equal(r, v);
  assert.deepEqual(calls, ['a', 'b']);
});

test('an asynchronous filter suspends the run, which resumes after it in order', async () => {
  const { calls, f } = recorder();
  const r = runFilters([f('a'), f('b', Promise.resolve(undefined)), f('c'), f('d', deny('RMP_ERR_SHED', 'x')), f('e')], ctx, up);
  assert.ok(r instanceof Promise);
  assert.deepEqual(calls, ['a', 'b'], 'nothing after the async filter ran synchronously');
  const v = await r;
  assert.equal(v?.kind, 'deny');
  assert.deepEqual(calls, ['a', 'b', 'c', 'd']);
});

test('an asynchronous verdict stops the run', async () => {
  const { calls, f } = recorder();
  const v = await runFilters([f('a', Promise.resolve(deny('RMP_ERR_BLOCKED', 'late'))), f('b')], ctx, up);
  assert.equal(v?.kind, 'deny');
  assert.deepEqual(calls, ['a']);
});

test('a throwing filter throws out of the run; a rejecting one rejects it', async () => {
  const { calls, f } = recorder();
  assert.throws(() => runFilters([f('a'), f('boom', () => { throw new Error('sync'); }), f('c')], ctx, up), /sync/);
  assert.deepEqual(calls, ['a', 'boom']);
  await assert.rejects(Promise.resolve(runFilters([f('x', Promise.reject(new Error('async'))), f('y')], ctx, up)), /async/);
  assert.ok(!calls.includes('y'));
});

test('named filters carry their name (profiles and the admin state show it)', () => {
  assert.equal(named('rate-limit', () => undefined).name, 'rate-limit');
});
