import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeComponent, type Judgement } from '../../src/status/component-state.js';
import { incidentActions, type OpenAuto } from '../../src/status/incident-rules.js';

const OK: Judgement = { state: 'operational', cause: '' };
const P = { degradedRatio: 0.05, minRequests: 20 };

test('judgeComponent: failure share decides; too little traffic keeps the previous state; channels decide alone', () => {
  assert.equal(judgeComponent({ requests: 100, failures: 2 }, OK, P).state, 'operational');
  assert.equal(judgeComponent({ requests: 100, failures: 10 }, OK, P).state, 'degraded');
  assert.equal(judgeComponent({ requests: 100, failures: 50 }, OK, P).state, 'outage');
  const out = judgeComponent({ requests: 100, failures: 100 }, OK, P);
  assert.equal(out.cause, '100% of requests failing');
  assert.deepEqual(judgeComponent({ requests: 3, failures: 3 }, out, P), out, 'silence is not recovery');
  assert.deepEqual(judgeComponent({ requests: 3, failures: 3 }, OK, P), OK);
  assert.equal(judgeComponent({ requests: 0, failures: 0, channel: 'down' }, OK, P).state, 'outage');
  assert.equal(judgeComponent({ requests: 0, failures: 0, channel: 'unreachable' }, OK, P).state, 'outage');
  assert.equal(judgeComponent({ requests: 0, failures: 0, channel: 'up' }, out, P).state, 'operational');
  assert.equal(judgeComponent({ requests: 100, failures: 0, upstreamUp: false }, OK, P).state, 'outage', 'health checks find no server');
  assert.equal(judgeComponent({ requests: 0, failures: 0, upstreamUp: true }, out, P), out, 'a server up says nothing about what customers got');
});

test('incident rules: the attack incident opens under attack, is updated when recovering, closes at normal', () => {
  const open = new Map<string, OpenAuto>();
  assert.deepEqual(incidentActions(open, 'suspect', []), [], 'a suspicion is not an incident');
  const [o] = incidentActions(open, 'under_attack', []);
  assert.equal(o?.kind, 'open');
  open.set('attack', { stage: 'under_attack' });
  assert.deepEqual(incidentActions(open, 'under_attack', []), [], 'nothing new to say');
  const [u] = incidentActions(open, 'recovering', []);
  assert.equal(u?.kind, 'update');
  open.set('attack', { stage: 'recovering' });
  assert.deepEqual(incidentActions(open, 'recovering', []), []);
  assert.deepEqual(incidentActions(open, 'suspect', []), [], 'still open until detection is back to normal');
  const [r] = incidentActions(open, 'normal', []);
  assert.equal(r?.kind, 'resolve');
});

test('incident rules: a channel outage opens an incident titled with its customer message, closed on recovery', () => {
  const open = new Map<string, OpenAuto>();
  const app = { id: 'app', name: 'Payment approval in the app', downMessage: 'Payment approval in the app unavailable — payments are being validated by SMS code' };
  const [o] = incidentActions(open, 'normal', [{ ...app, judgement: { state: 'outage', cause: 'channel unavailable' } }]);
  assert.ok(o && o.kind === 'open');
  assert.equal(o.title, app.downMessage);
  assert.equal(o.impact, 'major');
  assert.equal(o.component, 'app');
  open.set('component:app', { stage: 'outage' });
  const [u] = incidentActions(open, 'normal', [{ ...app, judgement: { state: 'degraded', cause: '7% of requests failing' } }]);
  assert.ok(u && u.kind === 'update');
  assert.equal(u.impact, 'minor');
  assert.match(u.message, /7% of requests failing/);
  const [r] = incidentActions(open, 'normal', [{ ...app, judgement: OK }]);
  assert.equal(r?.kind, 'resolve');
  assert.deepEqual(incidentActions(new Map(), 'normal', [{ ...app, judgement: OK }]), []);
});
