import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a script that installs the shield's handler on an asynchronous logger, then throws from a timer. */
async function crash(body: string): Promise<{ code: number | null; lines: Array<Record<string, unknown>>; stderr: string }> {
  const script = `
    import { createLogger } from './src/core/logger.ts';
    import { onUncaught } from './src/core/fatal.ts';
    const log = createLogger('info');
    process.on('uncaughtException', onUncaught(log, (code) => process.exit(code)));
    // Lines written just before the throw sit in the asynchronous buffer: they must come out too.
    for (let i = 0; i < 200; i++) log.info({ i }, 'busy');
    ${body}
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = await once(child, 'exit') as [number | null];
  clearTimeout(timer);
  const lines = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines, stderr };
}

test('an uncaught exception is logged as one structured fatal line with its stack, after the lines before it, and the process exits 70', async () => {
  const r = await crash(`setTimeout(() => { throw new Error('boom in a socket handler'); }, 10);`);
  assert.equal(r.code, 70, `exit code (stderr: ${r.stderr.slice(0, 300)})`);
  assert.equal(r.lines.filter((l) => l.msg === 'busy').length, 200, 'the buffered lines were flushed');
  const fatal = r.lines.at(-1)!;
  assert.equal(fatal.level, 60);
  assert.match(String(fatal.msg), /uncaught exception/);
  assert.equal(fatal.origin, 'uncaughtException');
  const err = fatal.err as { message: string; stack: string };
  assert.equal(err.message, 'boom in a socket handler');
  assert.match(err.stack, /boom in a socket handler\n\s+at /);
});

test('an unhandled promise rejection ends the process the same way', async () => {
  const r = await crash(`setTimeout(() => { void Promise.reject(new Error('lost promise')); }, 10);`);
  assert.equal(r.code, 70, `exit code (stderr: ${r.stderr.slice(0, 300)})`);
  const fatal = r.lines.at(-1)!;
  assert.equal(fatal.level, 60);
  assert.equal((fatal.err as { message: string }).message, 'lost promise');
});
