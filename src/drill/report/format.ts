/** Small formatting helpers shared by the terminal and HTML reports. */

export const pct = (r: number | null | undefined): string => (r === null || r === undefined || Number.isNaN(r) ? '—' : `${(r * 100).toFixed(1)}%`);

export const ms = (v: number | null | undefined): string => {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
};

export const int = (v: number): string => Math.round(v).toLocaleString('en-US');

/** Groups status counts into 2xx/3xx/4xx/5xx and named failures (timeout, reset, ...). */
export function statusGroups(statuses: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(statuses)) {
    const g = /^\d{3}$/.test(k) ? `${k[0]}xx` : k;
    out[g] = (out[g] ?? 0) + v;
  }
  return out;
}

/** Renders rows as a fixed-width text table, first row as header. */
export function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r, j) => {
    const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

/** "4.3 s", "0 s (never dropped)", "never" or "—" (no attack) for a time to effective mitigation. */
export function mitigationText(m: { afterS: number | null; worstWindowRatio: number | null } | null | undefined): string {
  if (!m) return '—';
  if (m.afterS === null) return 'never';
  return m.afterS === 0 ? '0 s (never dropped)' : `${m.afterS.toFixed(1)} s`;
}

/** One sentence on the time to effective mitigation, for the terminal and HTML reports. */
export function mitigationSentence(m: { onsetS: number; afterS: number | null; windowS: number; threshold: number; worstWindowRatio: number | null } | null | undefined): string {
  if (!m) return 'Time to effective mitigation: — (no attack)';
  const rule = `every ${m.windowS} s window of legitimate attempts >= ${(m.threshold * 100).toFixed(0)}% successful`;
  const worst = m.worstWindowRatio === null ? '' : `; worst window ${pct(m.worstWindowRatio)}`;
  if (m.afterS === null) return `Time to effective mitigation: never (attack from ${m.onsetS.toFixed(1)} s; ${rule} was not reached for good before the end${worst})`;
  return `Time to effective mitigation: ${mitigationText(m)} (attack from ${m.onsetS.toFixed(1)} s; ${rule} from ${(m.onsetS + m.afterS).toFixed(2)} s on${worst})`;
}
