import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEARNING, LEARNING_PAUSE_NOTICE_MS, stepLearningPause, type LearningPauseNotice, type LearningPauseState } from '../../src/shield/defence/learning-pause.js';

/** Runs one window a second from `t`; returns the notices and the end time. */
function run(state: { s: LearningPauseState }, from: number, seconds: number, w: { normal: boolean; population: boolean }): { notices: LearningPauseNotice[]; t: number } {
  const notices: LearningPauseNotice[] = [];
  let t = from;
  for (let i = 0; i < seconds; i++) {
    t += 1000;
    const r = stepLearningPause(state.s, { ...w, top: { client: '198.51.100.7', share: w.population ? 0.1 : 0.9 } }, t);
    state.s = r.state;
    if (r.notice) notices.push(r.notice);
  }
  return { notices, t };
}

test('one client over half of every normal window for five minutes is announced once; many clients again, the end is announced', () => {
  const st = { s: LEARNING };
  let r = run(st, 0, LEARNING_PAUSE_NOTICE_MS / 1000 - 1, { normal: true, population: false });
  assert.deepEqual(r.notices, [], 'under five minutes: a monitor\'s night, a bench\'s checks');
  r = run(st, r.t, 600, { normal: true, population: false });
  assert.equal(r.notices.length, 1);
  assert.deepEqual(r.notices[0], { paused: true, client: '198.51.100.7', share: 0.9, forMs: LEARNING_PAUSE_NOTICE_MS });
  r = run(st, r.t, 3, { normal: true, population: true });
  assert.equal(r.notices.length, 1);
  assert.equal(r.notices[0]?.paused, false);
  assert.equal(r.notices[0]?.forMs, LEARNING_PAUSE_NOTICE_MS + 599_000, 'from the first window that taught nothing to the first that taught again');
  assert.deepEqual(st.s, LEARNING);
});

test('a short pause ends silently, and windows under attack neither start nor end one', () => {
  const st = { s: LEARNING };
  let r = run(st, 0, 120, { normal: true, population: false });
  r = run(st, r.t, 1, { normal: true, population: true });
  assert.deepEqual(r.notices, []);
  assert.deepEqual(st.s, LEARNING, 'never announced: nothing to say');
  // An attack by one client: not a proxy left undeclared.
  r = run(st, r.t, 900, { normal: false, population: false });
  assert.deepEqual(r.notices, []);
  assert.deepEqual(st.s, LEARNING);
  // A pause announced, then an attack, then many clients: the end is announced once normal.
  r = run(st, r.t, 400, { normal: true, population: false });
  assert.equal(r.notices.length, 1);
  r = run(st, r.t, 60, { normal: false, population: true });
  assert.deepEqual(r.notices, []);
  r = run(st, r.t, 1, { normal: true, population: true });
  assert.equal(r.notices[0]?.paused, false);
});
