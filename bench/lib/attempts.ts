import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** CPU seconds (user + system) a process has used so far (/proc/PID/stat, 100 ticks a second). */
export function processCpuSeconds(pid: number): number {
  // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A random source address in 127.`net`.0.0/16 (loopback only: Linux routes the /8 to lo). */
export function randomAddressIn(net: number): string {
  const a = 1 + Math.floor(Math.random() * 65_000);
  return `127.${net}.${a >> 8}.${(a & 255) || 1}`;
}

/**
 * Starts `rate` attempts a second for `durationS` (bounded: rate × durationS in all), each
 * `attempt()` resolving true when it succeeded; waits for the last to settle.
 */
export async function pacedAttempts(rate: number, durationS: number, attempt: () => Promise<boolean>): Promise<{ attempts: number; succeeded: number }> {
  let attempts = 0;
  let succeeded = 0;
  const total = Math.round(rate * durationS);
  const t0 = performance.now();
  const open = new Set<Promise<void>>();
  while (attempts < total) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; attempts < Math.min(due, total); attempts++) {
      const p = attempt().then((ok) => { if (ok) succeeded++; });
      open.add(p);
      void p.then(() => open.delete(p));
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(open);
  return { attempts, succeeded };
}
