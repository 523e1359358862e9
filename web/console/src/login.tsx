import { useState } from 'preact/hooks';

/** Login with an operator account, or "admin" and the admin token. */
export function Login(props: { onDone: () => void }) {
  const [name, setName] = useState('admin');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const res = await fetch('/console/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
      const body = await res.json() as { error?: string };
      if (!res.ok) { setError(body.error ?? `HTTP ${res.status}`); return; }
      props.onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally { setBusy(false); }
  };
  return (
    <main class="narrow login">
      <h1>Rempart console</h1>
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <label for="name">Operator</label>
        <input id="name" name="username" autocomplete="username" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
        <label for="password">Password or admin token</label>
        <input id="password" name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} required />
        {error && <p id="login-error" class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
      <p class="hint">Operators sign in with their name and password; "admin" signs in with the admin token.</p>
    </main>
  );
}
