import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderBenchMarkdown } from '../../src/drill/bench/ddos.js';
import type { DrillReport } from '../../src/drill/run.js';

/** The fields of a report the bench table reads, with `critical` attempts and p99. */
function report(critical: number, p99: number): DrillReport {
  const cls = (attempts: number) => ({ attempts, ok: attempts, successRatio: 1, p99: attempts ? p99 : null });
  return {
    legit: {
      all: { successRatio: 1 }, classes: { critical: cls(critical), high: cls(10), normal: cls(50), low: cls(0) },
      goals: {}, mitigation: { afterS: 0, worstWindowRatio: 1 },
    },
    attack: { components: [], totals: { achievedRatePerS: 0, requestedRatePerS: 0 } },
    origin: { attackReached: 0, served: 100, rejected: 0 },
    generator: { warnings: [] },
  } as unknown as DrillReport;
}

test('the bench table says how many critical attempts each attack cell\'s p99 stands on', () => {
  const cells = [
    { target: 'rempart', scenario: 'none', report: report(40, 200) },
    { target: 'rempart', scenario: 'single-flood', report: report(25, 300) },
    { target: 'rempart', scenario: 'login-flood', report: report(31, 900) },
    { target: 'rempart', scenario: 'waves', report: report(62, 250) },
  ];
  const md = renderBenchMarkdown(cells, [], {}, { targets: ['rempart'], scenarios: cells.map((c) => c.scenario), durationS: 20, timeScale: 5 } as never, 60);
  assert.match(md, /Critical attempts per attack cell: median 31 \(25–62\); under 100 attempts, a p99 is the slowest attempt or the next one\./);
  assert.match(md, /\| login-flood \| rempart \| 100\.0% \| — \| 0 s \(never dropped\) \| 900 ms \(4\.5×\) \|/);
});
