import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeComponent, type Judgement } from '../../src/status/component-state.js';
import { incidentActions, type OpenAuto } from '../../src/status/incident-rules.js';
import { renderStatusHtml, renderStatusAtom } from '../../src/status/render.js';
import { STATUS_TEXTS } from '../../src/status/texts.js';

const OK: Judgement = { state: 'operational', cause: '' };
const P = { degradedRatio: 0.05, minRequests: 20 };

test('judgeComponent: failure share decides; too little traffic keeps the previous state; channels decide alone', () => {
  assert.equal(judgeComponent({ requests: 100, failures: 2 }, OK, P).state, 'operational');
  assert.equal(judgeComponent({ requests: 100, failures: 10 }, OK, P).state, 'degraded');
  assert.equal(judgeComponent({ requests: 100, failures: 50 }, OK, P).state, 'outage');
  const out = judgeComponent({ requests: 100, failures: 100 }, OK, P);
  assert.equal(out.cause, '100% of requests failing');
  assert.equal(out.failingPercent, 100);
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
  const [u] = incidentActions(open, 'normal', [{ ...app, judgement: { state: 'degraded', cause: '7% of requests failing', failingPercent: 7 } }]);
  assert.ok(u && u.kind === 'update');
  assert.equal(u.impact, 'minor');
  assert.match(u.message, /7% of requests failing/);
  const [r] = incidentActions(open, 'normal', [{ ...app, judgement: OK }]);
  assert.equal(r?.kind, 'resolve');
  assert.deepEqual(incidentActions(new Map(), 'normal', [{ ...app, judgement: OK }]), []);
});

test('status in French: automatic incidents and the page speak the configured language; the operator\'s own words stay as written', () => {
  const fr = STATUS_TEXTS.fr;
  const [attack] = incidentActions(new Map(), 'under_attack', [], fr);
  assert.ok(attack && attack.kind === 'open');
  assert.equal(attack.title, 'Trafic inhabituellement élevé : mesures de protection actives');
  const app = { id: 'app', name: 'Validation des paiements dans l\'application' };
  const [degraded] = incidentActions(new Map(), 'normal', [{ ...app, judgement: { state: 'degraded', cause: '12% of requests failing', failingPercent: 12 } }], fr);
  assert.ok(degraded && degraded.kind === 'open');
  assert.equal(degraded.title, 'Validation des paiements dans l\'application perturbé');
  assert.match(degraded.message, /\(12 % des requêtes en échec\)\. Nos équipes sont mobilisées\.$/);
  const view = {
    operator: 'La Banque (démo)', generatedAt: Date.UTC(2026, 11, 7, 10), path: '/status', overall: 'degraded' as const, historyDays: 90, language: 'fr' as const,
    components: [{ id: 'app', name: app.name, state: 'degraded' as const, history: [{ day: '2026-12-07', worst: 'degraded' as const }] }],
    incidents: [{ id: 1, key: 'attack', component: null, title: attack.title, impact: 'minor' as const, openedAt: Date.UTC(2026, 11, 7, 9), resolvedAt: Date.UTC(2026, 11, 7, 9, 30),
      updates: [{ at: Date.UTC(2026, 11, 7, 9, 30), status: 'resolved', message: fr.attackResolved, who: 'automatic' }, { at: Date.UTC(2026, 11, 7, 9), status: 'investigating', message: fr.attackOpen, who: 'automatic' }] }],
  };
  const html = renderStatusHtml(view as never);
  assert.match(html, /<html lang="fr">/);
  assert.match(html, /La Banque \(démo\) — état des services/);
  assert.match(html, /Certains services sont perturbés/);
  assert.match(html, /Perturbé/);
  assert.match(html, /<strong>Résolu<\/strong> · début 2026-12-07 09:00 UTC · résolu 2026-12-07 09:30 UTC/);
  assert.match(html, /<strong>Analyse en cours<\/strong>/);
  assert.match(html, /Incidents passés \(90 jours\)/);
  assert.doesNotMatch(html, /Operational|Degraded|Past incidents|service status/);
  assert.match(renderStatusAtom(view as never), /<title>\[Résolu\] Trafic inhabituellement élevé/);
  assert.match(renderStatusHtml({ ...view, language: undefined } as never), /<html lang="en">[\s\S]*Some services are degraded/);
});
