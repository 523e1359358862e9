/**
 * Per-request cost of the console's and status page's `request:end` subscribers (live rate
 * series, status component windows), against the same bus with no subscriber, in one run.
 * Usage: npx tsx bench/console-subscribers.ts
 */
import { createEventBus } from '../src/core/events.js';
import { createManualClock } from '../src/core/clock.js';
import { parseConfig } from '../src/config/load.js';
import { createLiveFeed } from '../src/console/live.js';
import { createStatusService } from '../src/status/service.js';
import { createStatusStore } from '../src/status/store.js';
import { openShieldDatabase } from '../src/console/database.js';
import type { RequestContext, ShieldHandle } from '../src/shield/index.js';

const N = 2_000_000;
const config = parseConfig({
  upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }],
  status: { components: [
    { id: 'tracking', name: 'Parcel tracking', paths: ['/track'] }, { id: 'website', name: 'Website', paths: ['/'] },
    { id: 'banking', name: 'Online banking', paths: ['/bank/', '/api/pay/', '/authorize/'] },
  ] },
});
const ctxs = ['/track/6A1', '/bank/account', '/', '/search'].map((path) => ({
  path, routeClass: 'normal', verdict: undefined, cacheState: undefined, errorCode: undefined, upstreamMs: 3,
}) as unknown as RequestContext);

function run(withSubscribers: boolean): number {
  const bus: ShieldHandle['bus'] = createEventBus();
  const clock = createManualClock(Date.UTC(2026, 10, 30));
  const stops: Array<() => void> = [];
  if (withSubscribers) {
    const live = createLiveFeed({ clock, bus, sources: { detection: () => ({}), offenders: () => null, blocks: () => [], channels: () => null, upstreams: () => null } });
    const status = createStatusService({ clock, bus, config: () => config, store: createStatusStore(openShieldDatabase(undefined)), attackPhase: () => 'normal', channels: () => undefined });
    live.start?.(); status.start?.();
    stops.push(() => live.stop?.(0), () => status.stop?.(0));
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    if ((i & 1023) === 0) clock.advance(10);
    bus.emit('request:end', { ctx: ctxs[i & 3] as RequestContext, status: 200, durationMs: 3, aborted: false });
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  stops.forEach((s) => s());
  return ns;
}

for (let round = 0; round < 3; round++) {
  const base = run(false);
  const subs = run(true);
  process.stdout.write(`round ${round + 1}: no subscriber ${base.toFixed(1)} ns/request, console + status subscribers ${subs.toFixed(1)} ns/request (+${(subs - base).toFixed(1)} ns)\n`);
}
