import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

/** A child process we started, stopped by its PID only. */
export interface Started {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Spawns a process and returns a handle that stops exactly that PID. */
export function startProcess(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; quiet?: boolean } = {}): Started {
  const child = spawn(cmd, args, { stdio: ['ignore', opts.quiet === false ? 'inherit' : 'ignore', 'inherit'], env: opts.env ?? process.env });
  return {
    child,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      child.kill('SIGTERM');
    }),
  };
}

/** Waits until something accepts TCP connections on 127.0.0.1:port (bounded). */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
