import { useEffect, useState } from 'preact/hooks';
import { fmtTime, get, send } from './api.js';

interface Incident { id: number; key: string | null; title: string; impact: string; openedAt: number; resolvedAt: number | null; updates: Array<{ at: number; status: string; message: string; who: string }> }
type Act = (what: string, fn: () => Promise<unknown>) => Promise<void>;

/** The public status page's incidents: automatic ones, and operator-written ones and updates. */
export function Incidents(props: { act: Act }) {
  const [list, setList] = useState<Incident[]>([]);
  const [title, setTitle] = useState('');
  const [message, setMessage] = useState('');
  const [impact, setImpact] = useState('minor');
  const [updates, setUpdates] = useState<Record<number, string>>({});
  const load = async () => { try { setList((await get<{ incidents: Incident[] }>('/api/status/incidents')).incidents); } catch { /* status page disabled */ } };
  useEffect(() => { void load(); const t = setInterval(() => void load(), 3000); return () => clearInterval(t); }, []);
  const open = list.filter((i) => i.resolvedAt === null);
  const post = async (e: Event) => {
    e.preventDefault();
    await props.act('publish incident', () => send('POST', '/api/status/incidents', { title, message, impact }));
    setTitle(''); setMessage(''); void load();
  };
  const update = async (id: number, status: string) => {
    const text = (updates[id] ?? '').trim() || (status === 'resolved' ? 'The problem is solved.' : '');
    if (!text) return;
    await props.act(`update incident ${id}`, () => send('POST', `/api/status/incidents/${id}/updates`, { message: text, status }));
    setUpdates({ ...updates, [id]: '' }); void load();
  };
  return (
    <section aria-labelledby="h-inc" class="panel">
      <h2 id="h-inc">Status page incidents</h2>
      <p class="muted">Shown on the public page (/status on the shield's listener).</p>
      {open.length === 0 ? <p>No open incident.</p> : open.map((i) => (
        <article key={i.id} class="incident">
          <h3>{i.title} <span class="muted">({i.key ? 'automatic' : 'operator'}, {i.impact}, since {fmtTime(i.openedAt)})</span></h3>
          <p>{i.updates[0]?.message}</p>
          <label for={`upd-${i.id}`}>Update for customers</label>
          <textarea id={`upd-${i.id}`} rows={2} value={updates[i.id] ?? ''} onInput={(e) => setUpdates({ ...updates, [i.id]: (e.target as HTMLTextAreaElement).value })} />
          <div class="buttons">
            <button type="button" class="small" onClick={() => update(i.id, 'update')}>Post update</button>
            <button type="button" class="small" onClick={() => update(i.id, 'resolved')}>Resolve</button>
          </div>
        </article>
      ))}
      <details>
        <summary>Publish a new incident</summary>
        <form onSubmit={post}>
          <label for="inc-title">Title</label>
          <input id="inc-title" value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} required maxLength={200} />
          <label for="inc-msg">Message for customers</label>
          <textarea id="inc-msg" rows={3} value={message} onInput={(e) => setMessage((e.target as HTMLTextAreaElement).value)} required />
          <label for="inc-impact">Impact</label>
          <select id="inc-impact" value={impact} onChange={(e) => setImpact((e.target as HTMLSelectElement).value)}><option value="minor">minor</option><option value="major">major</option></select>
          <button type="submit">Publish</button>
        </form>
      </details>
    </section>
  );
}
