import { useEffect, useState } from 'preact/hooks';
import { fmtTime, get } from './api.js';

interface LoggedEvent { id: number; at: number; type: string; who: string; summary: string }
const TYPES = ['', 'attack', 'mitigation', 'block', 'operator', 'incident', 'channel', 'config', 'detection', 'shield'];

/** The persisted event log, filtered by type, text and time range (GET /api/events). */
export function EventLog() {
  const [type, setType] = useState('');
  const [text, setText] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [events, setEvents] = useState<LoggedEvent[]>([]);
  const [error, setError] = useState('');
  const load = async () => {
    const q = new URLSearchParams({ limit: '200' });
    if (type) q.set('type', type);
    if (text) q.set('q', text);
    if (from) q.set('from', String(new Date(from).getTime()));
    if (to) q.set('to', String(new Date(to).getTime()));
    try { setEvents((await get<{ events: LoggedEvent[] }>(`/api/events?${q}`)).events); setError(''); } catch (e) { setError((e as Error).message); }
  };
  useEffect(() => { void load(); const t = setInterval(() => void load(), 5000); return () => clearInterval(t); }, [type, text, from, to]);
  return (
    <section aria-labelledby="h-events" class="panel wide">
      <h2 id="h-events">Event log</h2>
      <form class="row filters" onSubmit={(e) => { e.preventDefault(); void load(); }}>
        <label>Type <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>{TYPES.map((t) => <option key={t} value={t}>{t || 'all'}</option>)}</select></label>
        <label>Search <input value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} placeholder="who or text" /></label>
        <label>From <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} /></label>
        <label>To <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} /></label>
        <button type="submit">Refresh</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="scroll" tabIndex={0} aria-label="Events, newest first">
        <table class="events">
          <thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col">Who</th><th scope="col">What</th></tr></thead>
          <tbody>{events.map((e) => <tr key={e.id}><td class="nowrap">{fmtTime(e.at)}</td><td>{e.type}</td><td>{e.who}</td><td>{e.summary}</td></tr>)}</tbody>
        </table>
      </div>
    </section>
  );
}
