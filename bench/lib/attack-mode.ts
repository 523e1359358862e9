/**
 * Puts a running shield in forced attack mode through its admin API (`POST /api/attack`), as the
 * refusal benches measure it: every request is then answered as under a flood. Throws unless 200.
 */
export async function forceAttack(adminPort: number, token: string, reason: string): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${adminPort}/api/attack`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttlS: 3600, reason }),
  });
  if (r.status !== 200) throw new Error(`forcing attack mode on :${adminPort} answered ${r.status}`);
}
