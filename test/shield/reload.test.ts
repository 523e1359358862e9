import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { startRecordingUpstream } from '../helpers/servers.js';

const configFor = (upstreamUrl: string, marker: string): string => `
listen: { address: 127.0.0.1, port: 0 }
admin: { address: 127.0.0.1, port: 0, token: reload-test-token-0123456789 }
upstreams:
  origin: { url: ${upstreamUrl} }
routes:
  - { match: { path: / }, upstream: origin, class: ${marker} }
log: { level: info, access: false }
`;

/** Waits (bounded) until a line of the child's JSON log satisfies `pred`. */
function waitLog(lines: Array<Record<string, unknown>>, pred: (l: Record<string, unknown>) => boolean, ms = 10_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const hit = lines.find(pred);
      if (hit) return resolve(hit);
      if (Date.now() > deadline) return reject(new Error(`log line not seen; got: ${JSON.stringify(lines.map((l) => l.msg))}`));
      setTimeout(poll, 25);
    };
    poll();
  });
}

test('SIGHUP reloads a new configuration without dropping connections; a bad file is rejected and the old one keeps running', async (t) => {
  const a = await startRecordingUpstream(t);
  const b = await startRecordingUpstream(t);
  a.handler = (_q, res) => res.end('from A');
  b.handler = (_q, res) => res.end('from B');
  const dir = mkdtempSync(join(tmpdir(), 'rempart-reload-'));
  const file = join(dir, 'rempart.yaml');
  writeFileSync(file, configFor(a.url, 'normal'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const started = await waitLog(lines, (l) => l.msg === 'shield started').catch((e: Error) => { throw new Error(`${e.message}\n${stderr}`); });
  const base = `http://${String(started.listen)}`;
  // One keep-alive connection is held across both reloads.
  const client = new Client(base, { keepAliveTimeout: 30_000 });
  let connects = 0;
  client.on('connect', () => { connects++; });
  t.after(() => client.close());
  const get = async (): Promise<string> => (await client.request({ path: '/', method: 'GET' })).body.text();
  assert.equal(await get(), 'from A');

  writeFileSync(file, configFor(b.url, 'high'));
  child.kill('SIGHUP');
  await waitLog(lines, (l) => l.msg === 'configuration reloaded');
  assert.equal(await get(), 'from B');

  writeFileSync(file, configFor(a.url, 'urgent') + 'bogus: true\n');
  child.kill('SIGHUP');
  const rejected = await waitLog(lines, (l) => String(l.msg).startsWith('new configuration rejected'));
  assert.match(String(rejected.reason), /routes\[0\]\.class/);
  assert.match(String(rejected.reason), /bogus/);
  assert.equal(await get(), 'from B', 'the previous configuration keeps serving');

  assert.equal(a.seen.length + b.seen.length, 3);
  assert.equal(connects, 1, 'all three requests went over one connection: the reloads dropped nothing');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
});
