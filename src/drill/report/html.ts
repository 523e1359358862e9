import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DRILL_CLASSES } from '../metrics.js';
import type { DrillReport } from '../run.js';
import { int, mitigationSentence, ms, pct, statusGroups } from './format.js';

const require = createRequire(import.meta.url);

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** uPlot's script and stylesheet, read once from the package so the report needs no network. */
function uplotAssets(): { js: string; css: string } {
  const dir = require.resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');
  return { js: readFileSync(`${dir}uPlot.iife.min.js`, 'utf8'), css: readFileSync(`${dir}uPlot.min.css`, 'utf8') };
}

function legitTable(r: DrillReport): string {
  const rows = [...DRILL_CLASSES, 'all' as const].map((c) => {
    const s = c === 'all' ? r.legit.all : r.legit.classes[c];
    if (s.attempts === 0 && c !== 'all') return '';
    const fails = Object.entries(s.statuses).filter(([k]) => !/^[23]\d\d$/.test(k)).map(([k, v]) => `${k}: ${v}`).join(', ');
    return `<tr><th>${c}</th><td>${int(s.attempts)}</td><td>${pct(s.successRatio)}</td><td>${ms(s.p50)}</td><td>${ms(s.p95)}</td><td>${ms(s.p99)}</td><td>${esc(fails || '-')}</td></tr>`;
  }).join('');
  return `<table><thead><tr><th>class</th><th>attempts</th><th>success</th><th>p50</th><th>p95</th><th>p99</th><th>failures</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function attackTable(r: DrillReport): string {
  if (!r.attack.components.length) return '<p>No attack in this scenario.</p>';
  const rows = r.attack.components.map((c) => {
    const g = statusGroups(c.statuses);
    const other = Object.entries(g).filter(([k]) => !/^\dxx$/.test(k)).map(([k, v]) => `${k}: ${v}`).join(', ');
    return `<tr><th>${esc(c.label)}</th><td>${int(c.sources)}</td><td>${c.kind === 'slow' ? '-' : int(c.requestedRatePerS)}</td><td>${c.kind === 'slow' ? `${int(c.sent)} conns, peak held ${c.peakHeld ?? 0}${c.messagesPerS !== undefined ? `, ${int(c.messagesPerS)} msgs/s` : ''}${c.streamsPerS !== undefined ? `, ${int(c.streamsPerS)} streams/s opened` : ''}` : int(c.achievedRatePerS)}</td>` +
      `<td>${int(c.sent)}</td><td>${int(g['2xx'] ?? 0)}</td><td>${int(g['4xx'] ?? 0)}</td><td>${int(g['5xx'] ?? 0)}</td><td>${esc(other || '-')}</td></tr>`;
  }).join('');
  const notes = r.attack.components.flatMap((c) => [
    ...(c.bytesRead !== undefined ? [`${c.label}: ${int(c.bytesRead)} response bytes read in all, ${int(c.responsesCompleted ?? 0)} responses read to their end.`] : []),
    ...(c.warmup ? [`${c.label}: warm-up ${int(c.warmup.ok)}/${int(c.warmup.pages)} pages answered, ${int(c.warmup.botsWithCookies)} of ${int(c.sources)} bots held cookies when the flood began.${c.warmup.logins ? ` (${int(c.warmup.loggedIn ?? 0)} of ${int(c.warmup.logins)} logged in to an account)` : ''}`] : []),
    ...(c.challengesSolved !== undefined ? [`${c.label}: ${int(c.challengesSolved)} challenges solved.`] : []),
    ...(c.identitiesDropped !== undefined ? [`${c.label}: the bots threw their cookies away and started over ${int(c.identitiesDropped)} times when refused.`] : []),
  ]).map((n) => `<li>${esc(n)}</li>`).join('');
  return `<table><thead><tr><th>component</th><th>sources</th><th>asked/s</th><th>sent/s</th><th>sent</th><th>2xx</th><th>4xx</th><th>5xx</th><th>other</th></tr></thead><tbody>${rows}</tbody></table>${notes ? `<ul>${notes}</ul>` : ''}`;
}

const CHART_SCRIPT = `
const R = JSON.parse(document.getElementById('data').textContent);
const colors = { critical: '#c0392b', high: '#d68910', normal: '#2471a3', low: '#7d3c98', all: '#1e8449' };
const width = () => Math.min(1100, document.body.clientWidth - 40);
function chart(id, title, xs, series, yLabel, range) {
  const el = document.getElementById(id);
  const opts = { title, width: width(), height: 260, scales: { x: { time: false }, y: range ? { range } : {} },
    axes: [{ label: 'seconds' }, { label: yLabel }], series: [{ label: 't' }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true }))] };
  el.dataset.drawn = '1';
  return new uPlot(opts, [xs, ...series.map((s) => s.values)], el);
}
const xs = R.legit.series.all.map((p) => p.t);
const classes = ['critical', 'high', 'normal', 'low', 'all'].filter((c) => R.legit.series[c].some((p) => p.attempts > 0));
chart('chart-success', 'Legitimate success ratio per class (%)', xs,
  classes.map((c) => ({ label: c, color: colors[c], values: R.legit.series[c].map((p) => p.successRatio === null ? null : p.successRatio * 100) })), '%', [0, 100]);
chart('chart-latency', 'Legitimate p99 latency per class (ms)', xs,
  classes.map((c) => ({ label: c + ' p99', color: colors[c], values: R.legit.series[c].map((p) => p.p99) })), 'ms');
const ax = R.attack.series.sent.map((_, i) => i);
chart('chart-attack', 'Attack rate', ax.length ? ax : [0], [
  { label: 'sent/s', color: '#c0392b', values: ax.length ? R.attack.series.sent : [0] },
  { label: 'answered/s', color: '#7f8c8d', values: ax.length ? R.attack.series.answered : [0] },
  { label: 'slow conns held', color: '#8e44ad', values: ax.length ? R.attack.series.held : [0] }], 'per second');
const os = R.origin.series;
chart('chart-origin', 'Origin load', os.length ? os.map((p) => p.t) : [0], [
  { label: 'served/s', color: '#1e8449', values: os.length ? os.map((p) => p.served) : [0] },
  { label: 'rejected/s (503)', color: '#c0392b', values: os.length ? os.map((p) => p.rejected) : [0] },
  { label: 'in flight', color: '#2471a3', values: os.length ? os.map((p) => p.inFlight) : [0] },
  { label: 'queued', color: '#d68910', values: os.length ? os.map((p) => p.queued) : [0] }], 'requests');
document.body.dataset.chartsReady = '1';
`;

/** One self-contained HTML file: summary tables and four charts, with the report's JSON embedded. */
export function renderHtml(r: DrillReport): string {
  const { js, css } = uplotAssets();
  const m = r.meta;
  const data = JSON.stringify(r).replace(/</g, '\\u003c');
  const goals = Object.entries(r.legit.goals).map(([k, g]) => `${esc(k)} ${pct(g.successRatio)} (${g.ok}/${g.attempts})`).join(' · ');
  const origin = r.origin.available
    ? `Origin served ${int(r.origin.served)}, rejected ${int(r.origin.rejected)}; attack requests reaching it: ${r.origin.attackReached === null ? 'n/a' : int(r.origin.attackReached)}.`
    : 'Origin load not measured.';
  const warnings = r.generator.warnings.map((w) => `<li>${esc(w)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rempart drill — ${esc(m.scenario)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${css}
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th:first-child{text-align:left}
.warn{color:#a04000}.chart{margin:12px 0;min-height:300px}.meta{color:#555}</style></head>
<body>
<h1>Rempart drill: ${esc(m.scenario)} against ${esc(m.target)}</h1>
<p class="meta">${m.elapsedS.toFixed(1)} s of ${m.durationS} s${m.stoppedEarly ? ' (stopped early)' : ''}, time scale ${m.timeScale}, seed ${m.seed}, started ${esc(m.startedAt)}.
${m.population.tracking} tracking + ${m.population.banking} banking users on ${m.population.addresses} addresses${m.population.crowdFactor > 1 ? `, ×${m.population.crowdFactor} flash crowd` : ''}.
Summaries cover attempts started ${m.window.fromS.toFixed(1)}–${m.window.toS.toFixed(1)} s. Parameters: ${esc(JSON.stringify(m.params))}.</p>
<h2>What legitimate users experienced</h2>${legitTable(r)}<p>${goals ? `Goals: ${goals}` : ''}</p>
<p id="mitigation">${esc(mitigationSentence(r.legit.mitigation))}</p>${m.population.layout === 'shared-24' ? `<p>Address layout: shared-/24 (attack addresses in ${m.population.sharedPrefixes} of the legitimate users' /24s).</p>` : ''}
<div class="chart" id="chart-success"></div><div class="chart" id="chart-latency"></div>
<h2>Attack</h2>${attackTable(r)}<div class="chart" id="chart-attack"></div>
<h2>Origin</h2><p>${origin}</p><div class="chart" id="chart-origin"></div>
<h2>Generator</h2><p>Event-loop delay p99 ${r.generator.eventLoopDelayP99Ms.toFixed(0)} ms${r.generator.users?.onThread ? ` (the customers' own thread: ${r.generator.users.eventLoopDelayP99Ms.toFixed(0)} ms)` : ''}, ${(r.generator.cpuCoreShare * 100).toFixed(0)}% of a core on a ${m.machine.cpus}-core machine.</p>
${warnings ? `<ul class="warn">${warnings}</ul>` : '<p>No generator warnings: every rate shown was sent.</p>'}
<script id="data" type="application/json">${data}</script>
<script>${js}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}
