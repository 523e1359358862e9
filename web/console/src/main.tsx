import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, HttpError, setCsrf, type Session } from './api.js';
import { Login } from './login.js';
import { Dashboard } from './dashboard.js';
import './style.css';

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState('');
  const load = async () => {
    try {
      const s = await get<Session>('/api/session');
      setCsrf(s.csrf ?? '');
      setSession(s);
    } catch (e) {
      if (e instanceof HttpError && (e.status === 401 || e.status === 403)) setSession(null);
      else setError((e as Error).message);
    }
  };
  useEffect(() => { void load(); }, []);
  if (error) return <main class="narrow"><p role="alert">Console unavailable: {error}</p></main>;
  if (session === undefined) return <main class="narrow"><p>Loading…</p></main>;
  if (session === null) return <Login onDone={load} />;
  return <Dashboard session={session} onLogout={() => setSession(null)} />;
}

render(<App />, document.getElementById('app') as HTMLElement);
