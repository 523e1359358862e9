import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { freePort } from '../../src/core/free-port.js';
import { linkHash } from '../../src/authorize/domain/dynamic-linking.js';
import { ADMIN, REQUESTER, appAnswer, call, enrol, tempDir, until } from './helpers.js';
import { systemClock } from '../../src/core/clock.js';

const root = resolve(import.meta.dirname, '../..');
const payee = { id: 'shop', name: 'Shop' };

function startChild(config: string): ChildProcess & { output: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'authorize', '--config', config],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { output: string[] };
  child.output = [];
  child.stdout?.on('data', (c: Buffer) => child.output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => child.output.push(c.toString()));
  return child;
}

async function ready(url: string, child: { output: string[] }): Promise<void> {
  try {
    await until(async () => (await fetch(`${url}/healthz`).then((r) => r.status, () => 0)) === 200, 30_000, 'service ready');
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${child.output.join('').slice(-2000)}`);
  }
}

test('crash: kill -9 mid-flow, restart: no answered authentication is lost; each one resumes (and completes) or ends', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = join(dir, 'authorize.yaml');
  writeFileSync(config, [
    `listen: { address: 127.0.0.1, port: ${port} }`,
    `store: { file: ${join(dir, 'authorize.db')} }`,
    `adminToken: ${ADMIN}`,
    `requesters: { acs-a: ${REQUESTER} }`,
    'knowledge: { scryptN: 1024 }',
    'timers: { wholeMs: 40000, appStepMs: 4000, codeMs: 40000, tickMs: 100 }',
    'push: { latencyMs: 0, deviceFetchDelayMs: 0 }',
    'rateLimits: { smsPerPayer: 1000, smsPerPhone: 1000 }',
    'log: { level: warn }',
  ].join('\n'));
  const children: ChildProcess[] = [];
  t.after(() => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

  const first = startChild(config);
  children.push(first);
  await ready(url, first);
  const h = { url };
  const appPayer = await enrol(h, 'crash-app');
  const smsPayer = await enrol(h, 'crash-sms', { noDevice: true, phone: '+33699999999' });

  // Creates run four at a time; kill -9 lands while some are in flight.
  const answered = new Map<string, number>();
  let n = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop && n < 200) {
      const i = n++;
      const payer = i % 2 === 0 ? appPayer : smsPayer;
      const r = await call(h, 'POST', '/v1/authentications', { txId: `crash-${i}`, payerRef: payer.payerRef, amountMinor: 10_000 + i, currency: 'EUR', payee }).catch(() => undefined);
      if (r?.status === 201) answered.set(r.body.authId as string, 10_000 + i);
    }
  };
  const workers = [worker(), worker(), worker(), worker()];
  await until(() => answered.size >= 24, 10_000, '24 answered creates');
  first.kill('SIGKILL');
  stop = true;
  await Promise.all(workers);
  await until(() => first.exitCode !== null || first.signalCode !== null);

  const second = startChild(config);
  children.push(second);
  await ready(url, second);
  // Nothing answered was lost.
  const states = new Map<string, string>();
  for (const id of answered.keys()) {
    const g = await call(h, 'GET', `/v1/authentications/${id}`);
    assert.equal(g.status, 200, `authentication ${id} lost`);
    states.set(id, g.body.state);
  }
  // Resume: SMS ones (40 s timers) are completed with the code the outbox shows for that amount
  // (re-issued after the restart if it had not been sent); app ones still pending are approved.
  const outbox = new Database(join(dir, 'sms-outbox.db'), { readonly: true });
  t.after(() => outbox.close());
  const codeFor = (amountMinor: number): string | undefined => {
    const text = `${(amountMinor / 100).toFixed(2)} EUR`;
    const row = outbox.prepare('SELECT text FROM outbox WHERE text LIKE ? ORDER BY rowid DESC LIMIT 1').get(`%pay ${text} %`) as { text: string } | undefined;
    return row ? /^Code (\d+)/.exec(row.text)?.[1] : undefined;
  };
  // Also those whose create was committed but whose answer the kill cut off: they resume too.
  const db = new Database(join(dir, 'authorize.db'), { readonly: true });
  t.after(() => db.close());
  const live = new Map(answered);
  for (const r of db.prepare('SELECT id, amount_minor AS a, state FROM auths WHERE terminal = 0').all() as Array<{ id: string; a: number; state: string }>) {
    if (!live.has(r.id)) { live.set(r.id, r.a); states.set(r.id, r.state); }
  }
  let smsDone = 0;
  let appDone = 0;
  for (const [id, amountMinor] of live) {
    if (states.get(id) === 'app_pending') {
      const r = await call(h, 'POST', `/v1/authentications/${id}/app-result`, appAnswer(appPayer, id, linkHash({ amountMinor, currency: 'EUR', payee }), 'APPROVE', systemClock));
      // An app step of 4 s may have run out during a slow restart: then it ended, which is also correct.
      assert.ok(r.body.state === 'authenticated' || r.body.error?.details?.state === 'expired', JSON.stringify(r.body));
      if (r.body.state === 'authenticated') appDone++;
    } else if (states.get(id) === 'sms_sent' || states.get(id) === 'fallback_offered') {
      await until(async () => (await call(h, 'GET', `/v1/authentications/${id}`)).body.state === 'sms_sent', 5_000, `${id} sms_sent`);
      const r = await call(h, 'POST', `/v1/authentications/${id}/sms-code`, { code: codeFor(amountMinor), knowledgeFactor: smsPayer.knowledge });
      assert.equal(r.body.state, 'authenticated', `${id}: ${JSON.stringify(r.body)}`);
      smsDone++;
    }
  }
  assert.ok(smsDone >= 8, `only ${smsDone} SMS authentications resumed and completed`);
  void appDone;
  // End: the app ones not approved reach `expired` by their stored deadline; none stays pending.
  await until(() => (db.prepare('SELECT count(*) AS n FROM auths WHERE terminal = 0').get() as { n: number }).n === 0, 20_000,
    `no pending authentication (${JSON.stringify(db.prepare('SELECT state, count(*) AS n FROM auths WHERE terminal = 0 GROUP BY state').all())})`);
  const byState = db.prepare('SELECT state, count(*) AS n FROM auths GROUP BY state').all() as Array<{ state: string; n: number }>;
  const total = byState.reduce((s, r) => s + r.n, 0);
  assert.ok(total >= answered.size);
  for (const r of byState) assert.ok(['authenticated', 'expired'].includes(r.state), JSON.stringify(byState));
  second.kill('SIGTERM');
  await until(() => second.exitCode !== null, 10_000);
  assert.equal(second.exitCode, 0, 'a graceful stop exits 0');
});
