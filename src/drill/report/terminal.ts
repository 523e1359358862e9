import type { DrillProgress, DrillReport } from '../run.js';
import { DRILL_CLASSES } from '../metrics.js';
import { int, mitigationSentence, ms, pct, statusGroups, textTable } from './format.js';

/** One progress line (drawn over itself on a TTY). */
export function progressLine(p: DrillProgress, width = 24): string {
  const f = Math.min(1, p.elapsedS / p.durationS);
  const bar = '#'.repeat(Math.round(f * width)).padEnd(width, '.');
  const ok = p.legitAttempts ? `${((p.legitOk / p.legitAttempts) * 100).toFixed(1)}% ok of ${p.legitAttempts}` : 'no attempts yet';
  const attack = p.attackRequestedPerS > 0 ? `  attack ${int(p.attackSentLastS)}/s sent of ${int(p.attackRequestedPerS)}/s` : '';
  const held = p.slowHeld > 0 ? `  held ${p.slowHeld} conns` : '';
  return `[${bar}] ${p.elapsedS.toFixed(1).padStart(5)}/${p.durationS} s  legit ${ok}${attack}${held}`;
}

/** The report as text: legitimate experience per class, goals, attack components, origin, warnings. */
export function renderText(r: DrillReport): string {
  const m = r.meta;
  const out: string[] = [];
  out.push(`Drill ${m.scenario} against ${m.target}: ${m.elapsedS.toFixed(1)} s of ${m.durationS} s, time scale ${m.timeScale}, seed ${m.seed}${m.stoppedEarly ? ' (stopped early)' : ''}`);
  out.push(`Legitimate users: ${m.population.tracking} tracking + ${m.population.banking} banking on ${m.population.addresses} addresses` +
    `${m.population.crowdFactor > 1 ? `, x${m.population.crowdFactor} flash crowd` : ''}; attempts started ${m.window.fromS.toFixed(1)}-${m.window.toS.toFixed(1)} s`);
  if (m.population.layout === 'shared-24') out.push(`Address layout: shared-/24 — attack addresses sit in ${m.population.sharedPrefixes} of the legitimate users' /24s`);
  out.push('');
  const rows = [['class', 'attempts', 'success', 'p50', 'p95', 'p99', 'failures']];
  for (const c of [...DRILL_CLASSES, 'all'] as const) {
    const s = c === 'all' ? r.legit.all : r.legit.classes[c];
    if (s.attempts === 0 && c !== 'all') continue;
    const fails = Object.entries(s.statuses).filter(([k]) => !/^[23]\d\d$/.test(k)).map(([k, v]) => `${k}:${v}`).join(' ');
    rows.push([c, int(s.attempts), pct(s.successRatio), ms(s.p50), ms(s.p95), ms(s.p99), fails || '-']);
  }
  out.push(textTable(rows));
  const goals = Object.entries(r.legit.goals).map(([k, g]) => `${k} ${pct(g.successRatio)} (${g.ok}/${g.attempts})`);
  if (goals.length) out.push(`Goals: ${goals.join(', ')}`);
  out.push(mitigationSentence(r.legit.mitigation));
  if (r.attack.components.length) {
    out.push('');
    const a = [['attack', 'sources', 'asked/s', 'sent/s', 'sent', '2xx', '3xx', '4xx', '5xx', 'other']];
    for (const c of r.attack.components) {
      const g = statusGroups(c.statuses);
      const other = Object.entries(g).filter(([k]) => !/^\dxx$/.test(k)).map(([k, v]) => `${k}:${v}`).join(' ');
      const sentCol = c.kind === 'slow' ? `${int(c.sent)} conns (peak held ${c.peakHeld ?? 0}${c.messagesPerS !== undefined ? `, ${int(c.messagesPerS)} msgs/s` : ''}${c.streamsPerS !== undefined ? `, ${int(c.streamsPerS)} streams/s opened` : ''})` : int(c.sent);
      a.push([c.label, int(c.sources), c.kind === 'slow' ? '-' : int(c.requestedRatePerS), c.kind === 'slow' ? '-' : int(c.achievedRatePerS), sentCol,
        int(g['2xx'] ?? 0), int(g['3xx'] ?? 0), int(g['4xx'] ?? 0), int(g['5xx'] ?? 0), other || '-']);
    }
    out.push(textTable(a));
    const solved = r.attack.components.filter((c) => c.challengesSolved !== undefined)
      .map((c) => `${c.label}: ${c.challengesSolved} challenges solved${c.identitiesDropped !== undefined ? `, cookies thrown away ${c.identitiesDropped} times` : ''}`);
    if (solved.length) out.push(solved.join('; '));
    for (const c of r.attack.components) {
      if (c.bytesRead !== undefined) out.push(`${c.label}: ${int(c.bytesRead)} response bytes read in all, ${int(c.responsesCompleted ?? 0)} responses read to their end, longest connection ${ms(c.longestHeldMs ?? 0)}`);
      if (c.warmup) out.push(`${c.label}: warm-up ${int(c.warmup.ok)}/${int(c.warmup.pages)} pages answered, ${int(c.warmup.botsWithCookies)} of ${int(c.sources)} bots held cookies when the flood began${c.warmup.logins ? ` (${int(c.warmup.loggedIn ?? 0)} of ${int(c.warmup.logins)} logged in to an account)` : ''}`);
    }
  }
  out.push('');
  if (r.origin.available) {
    const reach = r.origin.attackReached === null ? 'attribution unavailable' :
      `attack requests reaching it ${int(r.origin.attackReached)}, legitimate ${int(r.origin.legitReached ?? 0)}${r.origin.unattributed ? `, unattributed ${int(r.origin.unattributed)}` : ''}`;
    out.push(`Origin: served ${int(r.origin.served)}, rejected ${int(r.origin.rejected)} (503 at its queue); ${reach}`);
  } else {
    out.push('Origin: not measured (pass --origin-stats URL of the origin\'s /__origin/stats)');
  }
  const users = r.generator.users?.onThread ? `; customers' thread ${r.generator.users.eventLoopDelayP99Ms.toFixed(0)} ms` : '';
  out.push(`Generator: event-loop delay p99 ${r.generator.eventLoopDelayP99Ms.toFixed(0)} ms${users}, ${(r.generator.cpuCoreShare * 100).toFixed(0)}% of a core, ${r.meta.machine.cpus} cores`);
  const sv = r.generator.solves;
  if (sv && sv.users.count + sv.bots.count > 0) {
    out.push(`Proofs of work on the drill's threads: customers ${sv.users.count} (p50 ${sv.users.p50Ms.toFixed(0)} ms, p99 ${sv.users.p99Ms.toFixed(0)} ms), bots ${sv.bots.count} (p50 ${sv.bots.p50Ms.toFixed(0)} ms, p99 ${sv.bots.p99Ms.toFixed(0)} ms)`);
  }
  for (const w of r.generator.warnings) out.push(`WARNING: ${w}`);
  return out.join('\n');
}
