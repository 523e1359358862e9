import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { request, Agent } from 'undici';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';
import { spawnNft } from '../../src/shield/blocklist/kernel-mirror.js';
import { parseConfig } from '../../src/config/load.js';
import { startShield } from '../../src/shield/start.js';

/**
 * The blocklist mirrored in nftables, against the real kernel (scripts/test.sh installs nftables;
 * the tests run as root). Every table is named after this process and deleted after the test;
 * every rule matches only the test shield's own port, and every address is in 127.0.0.0/8.
 */

const NFT = existsSync('/usr/sbin/nft') ? '/usr/sbin/nft' : 'nft';
const TOKEN = 'test-admin-token-0123456789';
const nft = spawnNft(NFT);

/** What a connection from `localAddress` gets within `ms`: 'connected' (SYN answered), or 'silent' (dropped). */
function dial(port: number, localAddress: string, ms: number): Promise<'connected' | 'silent'> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => {});
    const timer = setTimeout(() => { s.destroy(); resolve('silent'); }, ms);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve('connected'); });
  });
}

async function getFrom(t: TestContext, url: string, localAddress: string): Promise<number> {
  const agent = new Agent({ localAddress, connect: { timeout: 2_000 } });
  t.after(() => agent.close());
  const r = await request(url, { dispatcher: agent, headers: { accept: 'application/json' } });
  await r.body.dump();
  return r.statusCode;
}

async function admin(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await request(`${url}${path}`, {
    method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.body.text();
  return { status: r.statusCode, json: text ? JSON.parse(text) : undefined };
}

/** The kernel's view of a table (nft's text), or '' when it does not exist. */
async function listTable(table: string): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => execFile(NFT, ['list', 'table', 'inet', table], (err, stdout) => resolve(err ? '' : stdout)));
}

/** Polls (bounded) until `check` holds on the table's text. */
async function waitTable(table: string, check: (text: string) => boolean, what: string): Promise<string> {
  let text = '';
  for (let i = 0; i < 60; i++) {
    text = await listTable(table);
    if (check(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what}; the table reads:\n${text}`);
}

test('kernelBlocklist: blocks reach nftables — a blocked /16 is dropped before accept, its TTL is the kernel\'s, an unblock lets it in, the table goes with the shield', async (t) => {
  const table = `rempart_t${process.pid}`;
  t.after(() => nft(`add table inet ${table}\ndelete table inet ${table}`));
  // Can this machine make a table at all? (root, nf_tables in the kernel)
  const probe = await nft(`add table inet ${table}\ndelete table inet ${table}`);
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    kernelBlocklist: { enabled: true, table, command: NFT },
    blocklist: [{ cidr: '127.68.0.0/16', reason: 'from the configuration' }],
  });
  const state = async (): Promise<any> => (await admin(shield.adminUrl, 'GET', '/api/state')).json.blocklist.kernel;
  if (!probe.ok) {
    // No nftables here: the shield says so and refuses in userspace as before (a reset after accept).
    const k = await state();
    assert.equal(k.active, false);
    assert.ok(k.lastError, 'the failure is shown in /api/state');
    assert.equal(await dial(shield.port, '127.68.0.5', 1_000), 'connected', 'accepted, then reset by the gate');
    t.diagnostic(`nftables unavailable here (${probe.stderr}): only the fallback was checked`);
    return;
  }
  assert.equal((await state()).active, true);
  // The configuration's block is in the kernel from the start.
  await waitTable(table, (x) => /127\.68\.0\.0/.test(x), 'the configured block is in the kernel');
  assert.equal(await dial(shield.port, '127.68.0.5', 700), 'silent', 'a configured block: the SYN is dropped');

  assert.equal(await getFrom(t, shield.url, '127.66.1.2'), 200, 'not blocked yet');
  const added = await admin(shield.adminUrl, 'POST', '/api/blocks', { cidr: '127.66.0.0/16', ttlS: 90, reason: 'test' });
  assert.equal(added.status, 201);
  const text = await waitTable(table, (x) => /127\.66\.0\.0 timeout 1m30s/.test(x), 'the operator\'s block is in the kernel with its TTL');
  assert.match(text, /tcp dport \d+ ip saddr & 255\.255\.0\.0 == @b4_16 drop/);
  assert.match(text, new RegExp(`tcp dport ${shield.port} `), 'only the shield\'s port is matched');
  assert.equal(await dial(shield.port, '127.66.1.3', 700), 'silent', 'blocked: the kernel drops the SYN, no accept');
  assert.equal(await getFrom(t, shield.url, '127.67.0.1'), 200, 'its neighbour /16 passes');
  // A single address, IPv4 /32, beside the /16: a set of its own.
  await admin(shield.adminUrl, 'POST', '/api/blocks', { cidr: '127.69.0.9', reason: 'test' });
  await waitTable(table, (x) => /127\.69\.0\.9/.test(x), 'the /32 is in the kernel');
  assert.equal(await dial(shield.port, '127.69.0.9', 700), 'silent');
  assert.equal(await getFrom(t, shield.url, '127.69.0.10'), 200);

  const removed = await admin(shield.adminUrl, 'DELETE', '/api/blocks/127.66.0.0%2F16');
  assert.equal(removed.status, 204);
  await waitTable(table, (x) => x !== '' && !/127\.66\.0\.0/.test(x), 'the unblocked /16 left the kernel');
  assert.equal(await getFrom(t, shield.url, '127.66.1.3'), 200, 'unblocked: served again');
  const k = await state();
  assert.equal(k.failures, 0);
  assert.equal(k.elements, 2, 'the configured /16 and the /32');
  const metrics = await (await request(`${shield.adminUrl}/metrics`)).body.text();
  assert.match(metrics, /^rempart_kernel_blocklist_active 1$/m);
  assert.match(metrics, /^rempart_kernel_blocklist_entries 2$/m);
  assert.match(metrics, /^rempart_kernel_blocklist_failures_total 0$/m);

  await shield.close();
  assert.equal(await listTable(table), '', 'the table is deleted at stop');
});

test('kernelBlocklist: an nft that cannot run costs nothing but the kernel copy — the shield starts, says why, and blocks in userspace', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    kernelBlocklist: { enabled: true, table: `rempart_x${process.pid}`, command: '/nonexistent/nft' },
  });
  const k = (await admin(shield.adminUrl, 'GET', '/api/state')).json.blocklist.kernel;
  assert.equal(k.enabled, true);
  assert.equal(k.active, false);
  assert.match(k.lastError, /nonexistent\/nft/);
  const metrics = await (await request(`${shield.adminUrl}/metrics`)).body.text();
  assert.match(metrics, /^rempart_kernel_blocklist_active 0$/m);
  assert.equal((await admin(shield.adminUrl, 'POST', '/api/blocks', { cidr: '127.70.0.0/16' })).status, 201);
  // Refused in userspace: accepted by the kernel, reset by the gate before any request is read.
  await assert.rejects(getFrom(t, shield.url, '127.70.0.1'));
  assert.equal(await getFrom(t, shield.url, '127.71.0.1'), 200);
  assert.equal(upstream.seen.length, 1);
});

test('kernelBlocklist: read at start — a reload that changes it says it waits for a restart, and the mirror stays as started', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const out: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { out.push(String(chunk)); cb(); } }));
  const base = {
    listen: { address: '127.0.0.1', port: 0 }, admin: { port: 0, token: TOKEN },
    upstreams: { origin: { url: upstream.url } }, routes: [{ match: { path: '/' }, upstream: 'origin' }], log: { access: false },
  };
  const shield = await startShield({ config: parseConfig(base), logger });
  t.after(() => shield.close());
  const warned = (): boolean => out.join('').split('\n').filter(Boolean).some((l) => (JSON.parse(l) as { key?: string }).key === 'kernelBlocklist');
  shield.reload(parseConfig({ ...base, blocklist: [{ cidr: '127.72.0.0/16' }] }), 'a.yaml');
  assert.equal(warned(), false, 'an unrelated change says nothing of it');
  shield.reload(parseConfig({ ...base, kernelBlocklist: { enabled: true, command: '/nonexistent/nft' } }), 'b.yaml');
  assert.equal(warned(), true);
  assert.equal((await admin(shield.adminUrl, 'GET', '/api/state')).json.blocklist.kernel, undefined, 'no mirror was started by the reload');
});
