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
