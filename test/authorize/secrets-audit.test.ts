import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { createLogger } from '../../src/core/logger.js';
import { verifyAudit } from '../../src/authorize/audit/audit-chain.js';
import { parseAuthorizeConfigText } from '../../src/authorize/config.js';
import { isConfigError } from '../../src/config/load.js';
import { appAnswer, appChallenges, call, enrol, forceMode, startTestAuthorize, tempDir, txBody, until, waitState } from './helpers.js';

const root = resolve(import.meta.dirname, '../..');

function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => { clearTimeout(timer); res({ code, out }); });
  });
}

test('no code, knowledge factor or key in clear in the database files, the logs or the audit; the audit chain verifies', async (t) => {
  const dir = tempDir(t);
  const logFile = join(dir, 'authorize.log');
  const logger = createLogger('trace', { destination: logFile, sync: true });
  // 10-digit codes: a chance match inside a stored timestamp is negligible, so any hit is a leak.
  const { h, clock } = await startTestAuthorize(t, dir, { code: { length: 10 } }, { logger });
  const app = await enrol(h, 'sam');
  const sms = await enrol(h, 'tia', { noDevice: true });
  const codes: string[] = [];
  const collect = (): void => {
    for (const m of (h.outbox?.list(100) ?? []).reverse()) { const c = /^Code (\d+)/.exec(m.text)?.[1]; if (c && !codes.includes(c)) codes.push(c); }
  };
  for (let i = 0; i < 4; i++) {
    const a = await call(h, 'POST', '/v1/authentications', txBody('tia', 1_000 + i));
    await waitState(h, a.body.authId, 'sms_sent');
    await call(h, 'POST', `/v1/authentications/${a.body.authId}/resend`);
    await waitState(h, a.body.authId, 'sms_sent');
    collect();
    await call(h, 'POST', `/v1/authentications/${a.body.authId}/sms-code`, { code: codes.at(-2), knowledgeFactor: sms.knowledge }); // the replaced code: a failure
    await call(h, 'POST', `/v1/authentications/${a.body.authId}/sms-code`, { code: codes.at(-1), knowledgeFactor: sms.knowledge });
  }
  const x = await call(h, 'POST', '/v1/authentications', txBody('sam'));
  const ch = (await appChallenges(h, app, clock)).body.challenges[0];
  await call(h, 'POST', `/v1/authentications/${x.body.authId}/app-result`, appAnswer(app, ch.authId, ch.linkHash, 'APPROVE', clock));
  await forceMode(h, 'sms');
  assert.equal(codes.length, 8);
  await h.close();

  const secrets = [...codes, sms.knowledge, app.knowledge, readFileSync(join(dir, 'authorize.db.key'), 'utf8').trim(),
    app.key.export({ type: 'pkcs8', format: 'der' }).subarray(-32).toString('base64'), 'operator-alice-token', 'test-admin-token'];
  const files = ['authorize.db', 'authorize.db-wal', 'authorize.log'].map((f) => join(dir, f)).filter((f) => existsSync(f));
  assert.ok(files.length >= 2);
  for (const f of files) {
    const bytes = readFileSync(f).toString('latin1');
    for (const s of secrets) assert.ok(!bytes.includes(s), `${f} contains a secret in clear (${s.slice(0, 3)}…)`);
  }
  assert.ok(readFileSync(logFile, 'utf8').includes('channel mode changed'), 'the log scanned is the real one');
  const db = new Database(join(dir, 'authorize.db'));
  t.after(() => db.close());
  const audit = (db.prepare('SELECT kind, data FROM audit').all() as Array<{ kind: string; data: string }>);
  assert.ok(audit.length > 40);
  const kinds = new Set(audit.map((r) => r.kind));
  for (const k of ['auth.created', 'auth.state', 'code.issued', 'auth.check_failed', 'auth.check_ok', 'sms.receipt', 'operator.approved', 'channel.mode', 'payer.enrolled']) {
    assert.ok(kinds.has(k), `audit has ${k}`);
  }
  const text = audit.map((r) => r.data).join('\n');
  for (const s of secrets) assert.ok(!text.includes(s));
  assert.deepEqual(verifyAudit(db), { ok: true, rows: audit.length, head: (db.prepare('SELECT hash FROM audit_head').get() as { hash: string }).hash });
});

test('audit verify: the table refuses UPDATE and DELETE; a modified, a deleted and a truncated record are each detected (CLI exits 1)', async (t) => {
  const dir = tempDir(t);
  const { h } = await startTestAuthorize(t, dir);
  await enrol(h, 'uma', { noDevice: true });
  for (let i = 0; i < 3; i++) await waitState(h, (await call(h, 'POST', '/v1/authentications', txBody('uma'))).body.authId, 'sms_sent');
  await until(() => (h.store.db.prepare("SELECT count(*) AS n FROM audit WHERE kind = 'sms.receipt'").get() as { n: number }).n === 3);
  await h.close();
  const good = join(dir, 'authorize.db');
  const copy = (name: string): Database.Database => {
    const f = join(dir, name);
    copyFileSync(good, f);
    const db = new Database(f);
    t.after(() => db.close());
    return db;
  };
  const altered = copy('altered.db');
  assert.throws(() => altered.prepare("UPDATE audit SET data = '{}' WHERE seq = 5").run(), /append-only/);
  assert.throws(() => altered.prepare('DELETE FROM audit WHERE seq = 5').run(), /append-only/);
  // Someone with the file drops the guards and edits: the chain still tells.
  altered.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete');
  altered.prepare("UPDATE audit SET data = replace(data, 'sms_sent', 'authenticated') WHERE seq = (SELECT min(seq) FROM audit WHERE data LIKE '%sms_sent%')").run();
  const v1 = verifyAudit(altered);
  assert.ok(!v1.ok && /altered/.test(v1.problem), JSON.stringify(v1));
  const deleted = copy('deleted.db');
  deleted.exec('DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 7');
  const v2 = verifyAudit(deleted);
  assert.ok(!v2.ok && v2.seq === 7 && /missing/.test(v2.problem), JSON.stringify(v2));
  const truncated = copy('truncated.db');
  truncated.exec('DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)');
  const v3 = verifyAudit(truncated);
  assert.ok(!v3.ok && /deleted at the end/.test(v3.problem), JSON.stringify(v3));
  altered.close();
  const [ok, bad] = await Promise.all([runCli(['authorize', 'audit', 'verify', '--db', good]), runCli(['authorize', 'audit', 'verify', '--db', join(dir, 'altered.db')])]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /audit OK/);
  assert.equal(bad.code, 1, bad.out);
  assert.match(bad.out, /audit BROKEN at record \d+: record content does not match its hash/);
});

test('authorize config: every problem reported with file:line and key path', () => {
  const text = [
    'listen: { port: 99999 }',
    'adminToken: short',
    'timers:',
    '  wholeMs: 600000',
    '  codeMs: -1',
    'sms:',
    '  providers:',
    '    - { type: smpp, name: a, url: "http://x", systemId: s }',
    'lockout: { maxFailures: 6 }',
    'nonsense: true',
  ].join('\n');
  let problems: Array<{ path: string; line?: number; message: string }> = [];
  try {
    parseAuthorizeConfigText(text, 'a.yaml', {});
  } catch (e) {
    assert.ok(isConfigError(e));
    problems = e.problems;
  }
  const where = problems.map((p) => `${p.line}:${p.path}`).sort();
  assert.deepEqual(where, ['10:nonsense', '1:listen.port', '2:adminToken', '5:timers.codeMs', '8:sms.providers[0].url', '9:lockout.maxFailures'], JSON.stringify(problems));
});

test('authorize config: cross-field checks (same operator token twice, duplicate provider names) and a valid file loads frozen', () => {
  assert.throws(() => parseAuthorizeConfigText('adminToken: a-long-enough-token\noperators: { a: aaaaaaaaaaaaaaaa, b: aaaaaaaaaaaaaaaa }\n', 'b.yaml', {}),
    (e: unknown) => isConfigError(e) && e.problems.some((p) => p.path === 'operators' && p.line === 2));
  assert.throws(() => parseAuthorizeConfigText('adminToken: a-long-enough-token\nsms: { providers: [ { type: outbox, name: o }, { type: outbox, name: o } ] }\n', 'c.yaml', {}),
    (e: unknown) => isConfigError(e) && e.problems.some((p) => p.path === 'sms.providers[1].name'));
  const c = parseAuthorizeConfigText('adminToken: ${T}\n', 'd.yaml', { T: 'a-long-enough-token' });
  assert.equal(c.listen.port, 8090);
  assert.equal(c.listen.address, '127.0.0.1');
  assert.equal(c.timers.wholeMs, 600_000);
  assert.equal(c.timers.maxResends, 3);
  assert.equal(c.lockout.maxFailures, 5);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.timers));
});

test('the configuration example in docs/authorize.md is valid', () => {
  const doc = readFileSync(resolve(root, 'docs/authorize.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Configuration'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(yaml && yaml.includes('providers:'));
  const env = { AUTHORIZE_CODE_KEY: 'k'.repeat(32), AUTHORIZE_ADMIN_TOKEN: 'a'.repeat(20), OP_ALICE_TOKEN: 'b'.repeat(20), OP_BOB_TOKEN: 'c'.repeat(20), SMPP_PASSWORD: 'pw', SMS_TOKEN: 't',
    ACS_TOKEN: 'd'.repeat(20), ACS_B_OLD: 'e'.repeat(20), ACS_B_NEW: 'f'.repeat(20), SMS_RECEIPT_TOKEN: 'g'.repeat(20) };
  const c = parseAuthorizeConfigText(yaml, 'docs/authorize.md', env);
  assert.deepEqual(c.sms.providers.map((p) => p.type), ['smpp', 'http', 'outbox']);
  assert.deepEqual(c.requesters, { 'acs-main': ['d'.repeat(20)], 'acs-backup': ['e'.repeat(20), 'f'.repeat(20)] });
});
