import { useState } from 'preact/hooks';
import { fmtAgo, send } from './api.js';

interface Entry { value: string; count: number; share: number; ratePerS: number }
interface Mitigation { kind: string; id: string; reason: string; ttlS: number; expiresInS: number; level?: number; cidr?: string; scope?: unknown; dimension?: string; value?: string; ratePerS?: number }
export interface Tick {
  sample: { t: number; verdicts: Record<string, number> };
  detection: { enabled?: boolean; dryRun?: boolean; phase?: string; classes?: Record<string, { phase: string; sinceS: number; forced: boolean; baselineRatePerS: number }>; mitigations?: Mitigation[] } | null;
  offenders: { windowS: number; total: number; dimensions: Record<string, Entry[]> } | null | undefined;
  blocks: Array<{ cidr: string; reason: string; source: string; expiresInS: number | null }>;
  channels: { mode: string; app: string; sms: string; override: { mode: string; reason: string; until: number } | null; breaker: string | null } | null;
  upstreams: unknown;
}
type Act = (what: string, fn: () => Promise<unknown>) => Promise<void>;

export function AttackState(props: { tick: Tick | null }) {
  const classes = props.tick?.detection?.classes ?? {};
  return (
    <section aria-labelledby="h-attack" class="panel">
      <h2 id="h-attack">Attack state by route class</h2>
      {props.tick?.detection?.enabled === false ? <p>Detection is disabled.</p> : (
        <table>
          <thead><tr><th scope="col">Class</th><th scope="col">Phase</th><th scope="col">Since</th><th scope="col">Normal rate</th></tr></thead>
          <tbody>{Object.entries(classes).map(([c, s]) => (
            <tr key={c}><th scope="row">{c}</th><td><span class={`phase p-${s.phase}`}>{s.phase.replace('_', ' ')}</span>{s.forced ? ' (forced)' : ''}</td><td>{fmtAgo(s.sinceS)}</td><td>{s.baselineRatePerS}/s</td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

const scopeOf = (m: Mitigation): string => {
  if (m.kind === 'block') return m.cidr ?? '';
  if (m.kind === 'rate-limit-aggregate') return `${m.dimension} ${m.value} ≤ ${m.ratePerS}/s`;
  if (m.kind === 'challenge') return typeof m.scope === 'string' ? m.scope : `${(m.scope as { dimension: string; value: string }).dimension} ${(m.scope as { value: string }).value}`;
  return 'all classes';
};

export function Mitigations(props: { tick: Tick | null; act: Act }) {
  const list = props.tick?.detection?.mitigations ?? [];
  return (
    <section aria-labelledby="h-mit" class="panel wide">
      <h2 id="h-mit">Active mitigations</h2>
      {list.length === 0 ? <p>None.</p> : (
        <table>
          <thead><tr><th scope="col">Kind</th><th scope="col">Scope</th><th scope="col">Reason</th><th scope="col">Left</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
          <tbody>{list.map((m) => (
            <tr key={m.id}><td>{m.kind}</td><td class="mono">{scopeOf(m)}</td><td>{m.reason}</td><td>{fmtAgo(m.expiresInS)}</td>
              <td><button type="button" class="small" onClick={() => props.act(`lift ${m.id}`, () => send('DELETE', `/api/mitigations/${encodeURIComponent(m.id)}`))}>Lift</button></td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

const DIMENSIONS: Array<[string, string, boolean]> = [
  ['prefix', 'Address prefixes', true], ['client', 'Client addresses', true], ['fingerprint', 'Header fingerprints', false], ['path', 'Paths', false], ['userAgent', 'User agents', false],
];

const asCidr = (v: string): string => (v.includes('/') ? v : v.includes(':') ? `${v}/128` : `${v}/32`);

export function Offenders(props: { tick: Tick | null; act: Act }) {
  const [dim, setDim] = useState('prefix');
  const snap = props.tick?.offenders;
  const blocked = new Set((props.tick?.blocks ?? []).map((b) => b.cidr));
  const challenged = new Set((props.tick?.detection?.mitigations ?? []).map((m) => m.id));
  const current = DIMENSIONS.find((d) => d[0] === dim) ?? DIMENSIONS[0]!;
  const entries = (snap?.dimensions[dim] ?? []).slice(0, 10);
  return (
    <section aria-labelledby="h-off" class="panel wide">
      <h2 id="h-off">Top sources (last {snap ? Math.round(snap.windowS) : 0} s)</h2>
      <div role="group" aria-label="Show top" class="tabs">
        {DIMENSIONS.map(([d, label]) => (
          <button type="button" key={d} aria-pressed={dim === d} class={dim === d ? 'tab on' : 'tab'} onClick={() => setDim(d)}>{label}</button>
        ))}
      </div>
      {entries.length === 0 ? <p>No traffic yet.</p> : (
        <table>
          <thead><tr><th scope="col">{current[1]}</th><th scope="col">Share</th><th scope="col">Rate</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
          <tbody>{entries.map((e) => {
            const cidr = asCidr(e.value);
            const isBlocked = blocked.has(cidr);
            return (
              <tr key={e.value}>
                <td class="mono trunc" title={e.value}>{e.value === '' ? <em>(none)</em> : e.value}</td><td>{Math.round(e.share * 1000) / 10}%</td><td>{Math.round(e.ratePerS * 10) / 10}/s</td>
                <td>{current[2] ? (isBlocked
                  ? <button type="button" class="small" onClick={() => props.act(`unblock ${cidr}`, () => send('DELETE', `/api/blocks/${encodeURIComponent(cidr)}?reason=${encodeURIComponent('console: top sources')}`))}>Unblock</button>
                  : <button type="button" class="small danger" data-block={cidr} onClick={() => props.act(`block ${cidr}`, () => send('POST', '/api/blocks', { cidr, reason: `console: top source (${Math.round(e.share * 100)}% of traffic)`, ttlS: 3600 }))}>Block</button>)
                  : challenged.has(`operator:challenge:${dim}:${e.value}`)
                    ? <button type="button" class="small" onClick={() => props.act(`lift challenge on ${dim}`, () => send('DELETE', `/api/mitigations/${encodeURIComponent(`operator:challenge:${dim}:${e.value}`)}`))}>Lift challenge</button>
                    : <button type="button" class="small danger" data-challenge={`${dim}:${e.value}`} title="Proof-of-work for everyone sending this (customers sharing it can pass)"
                        onClick={() => props.act(`challenge ${dim}`, () => send('POST', '/api/challenges', { dimension: dim, value: e.value, ttlS: 3600, reason: `console: top source (${Math.round(e.share * 100)}% of traffic)` }))}>Challenge</button>}</td>
              </tr>
            );
          })}</tbody>
        </table>
      )}
    </section>
  );
}

export function Blocks(props: { tick: Tick | null; act: Act }) {
  const [cidr, setCidr] = useState('');
  const [reason, setReason] = useState('');
  const list = props.tick?.blocks ?? [];
  const add = (e: Event) => {
    e.preventDefault();
    void props.act(`block ${cidr}`, () => send('POST', '/api/blocks', { cidr: cidr.trim(), reason: reason.trim() || 'console', ttlS: 3600 })).then(() => setCidr(''));
  };
  return (
    <section aria-labelledby="h-blocks" class="panel">
      <h2 id="h-blocks">Blocked addresses</h2>
      <form class="row" onSubmit={add}>
        <label for="cidr" class="sr-only">Address or CIDR to block</label>
        <input id="cidr" placeholder="203.0.113.0/24" value={cidr} onInput={(e) => setCidr((e.target as HTMLInputElement).value)} required />
        <label for="block-reason" class="sr-only">Reason</label>
        <input id="block-reason" placeholder="reason" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        <button type="submit" class="danger">Block 1 h</button>
      </form>
      {list.length === 0 ? <p>None.</p> : (
        <table>
          <thead><tr><th scope="col">CIDR</th><th scope="col">Source</th><th scope="col">Reason</th><th scope="col">Left</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
          <tbody>{list.map((b) => (
            <tr key={b.cidr}><td class="mono">{b.cidr}</td><td>{b.source}</td><td>{b.reason}</td><td>{b.expiresInS === null ? 'permanent' : fmtAgo(b.expiresInS)}</td>
              <td><button type="button" class="small" onClick={() => props.act(`unblock ${b.cidr}`, () => send('DELETE', `/api/blocks/${encodeURIComponent(b.cidr)}?reason=${encodeURIComponent('console')}`))}>Unblock</button></td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

export function Channels(props: { tick: Tick | null }) {
  const c = props.tick?.channels;
  return (
    <section aria-labelledby="h-ch" class="panel">
      <h2 id="h-ch">Payment approval channel</h2>
      {!c ? <p>Authorization service not configured (console.authorizeUrl).</p> : (
        <dl class="kv">
          <dt>In use</dt><dd><strong data-testid="channel-mode">{c.mode === 'app' ? 'app (push)' : c.mode === 'sms' ? 'SMS code' : 'unknown'}</strong></dd>
          <dt>App channel</dt><dd>{c.app}{c.breaker ? ` (breaker ${c.breaker})` : ''}</dd>
          <dt>SMS</dt><dd>{c.sms}</dd>
          {c.override ? <><dt>Override</dt><dd>{c.override.mode}: {c.override.reason}</dd></> : null}
        </dl>
      )}
    </section>
  );
}
