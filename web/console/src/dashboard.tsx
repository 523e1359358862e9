import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { send, type Session } from './api.js';
import { Chart } from './chart.js';
import { Offenders, Mitigations, Blocks, Channels, AttackState, type Tick } from './panels.js';
import { EventLog } from './events.js';
import { Incidents } from './incidents.js';

interface Sample { t: number; verdicts: Record<string, number>; latencyMs: Record<string, number | null>; inFlight: Record<string, number>; phases: Record<string, number> }

const VERDICTS: Array<[string, string, string]> = [
  ['allowed', 'allowed', '#1f6f3a'], ['challenged', 'challenged', '#8a5a00'], ['rateLimited', 'rate-limited', '#6a3d9a'],
  ['blocked', 'blocked', '#b3261e'], ['shed', 'shed', '#1f4e9c'], ['stale', 'served stale', '#5f6368'],
];
const CLASSES: Array<[string, string]> = [['critical', '#b3261e'], ['high', '#8a5a00'], ['normal', '#1f4e9c'], ['low', '#5f6368']];
const KEEP = 300;

/** The console's main page: live charts, the current picture, actions, event log, incidents. */
export function Dashboard(props: { session: Session; onLogout: () => void }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [tick, setTick] = useState<Tick | null>(null);
  const [live, setLive] = useState<'connecting' | 'live' | 'lost'>('connecting');
  const [message, setMessage] = useState('');
  useEffect(() => {
    const es = new EventSource('/api/stream');
    es.addEventListener('history', (e) => {
      const h = JSON.parse((e as MessageEvent).data) as { samples: Sample[]; last: Tick | null };
      setSamples(h.samples.slice(-KEEP));
      if (h.last) setTick(h.last);
      setLive('live');
    });
    es.addEventListener('tick', (e) => {
      const t = JSON.parse((e as MessageEvent).data) as Tick & { sample: Sample };
      setTick(t);
      setSamples((prev) => (prev.length && prev[prev.length - 1]!.t >= t.sample.t ? prev : [...prev, t.sample].slice(-KEEP)));
      setLive('live');
    });
    es.onerror = () => setLive('lost');
    return () => es.close();
  }, []);

  const x = useMemo(() => samples.map((s) => s.t / 1000), [samples]);
  const verdictData = useMemo(() => [x, ...VERDICTS.map(([k]) => samples.map((s) => s.verdicts[k] ?? 0))] as uPlot.AlignedData, [samples]);
  const latencyData = useMemo(() => [x, ...CLASSES.map(([c]) => samples.map((s) => s.latencyMs[c] ?? null))] as uPlot.AlignedData, [samples]);
  const inFlightData = useMemo(() => [x, ...CLASSES.map(([c]) => samples.map((s) => s.inFlight[c] ?? 0))] as uPlot.AlignedData, [samples]);
  const phaseData = useMemo(() => [x, ...CLASSES.map(([c]) => samples.map((s) => s.phases[c] ?? 0))] as uPlot.AlignedData, [samples]);
  const total = tick ? Object.values(tick.sample.verdicts).reduce((a, b) => a + b, 0) : 0;
  const dryRun = (tick?.detection as { dryRun?: boolean } | undefined)?.dryRun ?? props.session.dryRun;

  const act = async (what: string, fn: () => Promise<unknown>) => {
    try { await fn(); setMessage(`${what}: done`); } catch (e) { setMessage(`${what}: ${(e as Error).message}`); }
  };
  const logout = async () => { await act('sign out', () => send('POST', '/console/logout')); props.onLogout(); };

  return (
    <div class="page">
      <header class="top">
        <h1>Rempart console</h1>
        <p class="who">Signed in as <strong data-testid="who">{props.session.who}</strong> · feed <span class={`feed ${live}`} data-testid="feed">{live}</span></p>
        <button type="button" class="secondary" onClick={logout}>Sign out</button>
      </header>
      <p class="toast" role="status" aria-live="polite">{message}</p>
      <main>
        <section aria-labelledby="h-now" class="summary">
          <h2 id="h-now">Now</h2>
          <p><span class={`phase p-${(tick?.detection as { phase?: string } | undefined)?.phase ?? 'normal'}`} data-testid="phase">{((tick?.detection as { phase?: string } | undefined)?.phase ?? 'normal').replace('_', ' ')}</span>
            {' '}<span data-testid="rps">{total}</span> requests in the last second{dryRun ? <strong class="dry"> · DRY RUN (nothing enforced)</strong> : null}</p>
          <Actions dryRun={dryRun} act={act} />
        </section>
        <section aria-labelledby="h-charts" class="charts">
          <h2 id="h-charts">Traffic (last 5 minutes, one point per second)</h2>
          <Chart title="Requests per second by verdict" yLabel="req/s" data={verdictData} series={VERDICTS.map(([, label, stroke]) => ({ label, stroke }))} />
          <Chart title="Upstream latency by route class" yLabel="ms" data={latencyData} series={CLASSES.map(([label, stroke]) => ({ label, stroke }))} />
          <Chart title="Requests in flight upstream by route class" yLabel="in flight" data={inFlightData} series={CLASSES.map(([label, stroke]) => ({ label, stroke }))} />
          <Chart title="Attack state (0 normal, 1 suspect, 2 recovering, 3 under attack)" yLabel="phase" stepped yRange={[0, 3.2]} height={150} data={phaseData} series={CLASSES.map(([label, stroke]) => ({ label, stroke }))} />
        </section>
        <div class="grid">
          <AttackState tick={tick} />
          <Mitigations tick={tick} act={act} />
          <Offenders tick={tick} act={act} />
          <Blocks tick={tick} act={act} />
          <Channels tick={tick} />
          <Incidents act={act} />
        </div>
        <EventLog />
      </main>
    </div>
  );
}

/** Force "under attack", toggle dry run: each asks why, and the event log records who and when. */
function Actions(props: { dryRun: boolean; act: (what: string, fn: () => Promise<unknown>) => Promise<void> }) {
  const [reason, setReason] = useState('');
  const [ttl, setTtl] = useState('600');
  const why = reason.trim() || 'operator decision from the console';
  return (
    <form class="actions" onSubmit={(e) => e.preventDefault()}>
      <label for="reason">Reason (recorded with each action)</label>
      <input id="reason" value={reason} placeholder="e.g. flood on tracking, ticket 4711" onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      <div class="buttons">
        <label for="ttl" class="inline">for</label>
        <select id="ttl" value={ttl} onChange={(e) => setTtl((e.target as HTMLSelectElement).value)}>
          <option value="300">5 min</option><option value="600">10 min</option><option value="1800">30 min</option><option value="3600">1 h</option>
        </select>
        <button type="button" class="danger" onClick={() => props.act('force under attack', () => send('POST', '/api/attack', { reason: why, ttlS: Number(ttl) }))}>Force “under attack”</button>
        <button type="button" onClick={() => props.act('stop forcing', () => send('DELETE', '/api/attack'))}>Stop forcing</button>
        <button type="button" aria-pressed={props.dryRun} onClick={() => props.act(props.dryRun ? 'dry run off' : 'dry run on', () => send('POST', '/api/dry-run', { enabled: !props.dryRun, reason: why }))}>
          {props.dryRun ? 'Leave dry run (enforce)' : 'Enter dry run'}
        </button>
      </div>
    </form>
  );
}
