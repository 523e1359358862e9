import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { call, startTestAuthorize, tempDir } from './helpers.js';

const spec = parse(readFileSync(resolve(import.meta.dirname, '../../docs/authorize-openapi.yaml'), 'utf8')) as {
  openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
};

test('OpenAPI 3.1 description and server agree: every documented operation is routed, every route is documented', async (t) => {
  assert.equal(spec.openapi, '3.1.0');
  const { h } = await startTestAuthorize(t, tempDir(t));
  const documented: string[] = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const method of Object.keys(ops)) {
      documented.push(`${method.toUpperCase()} ${path}`);
      const r = await call(h, method.toUpperCase(), path.replace('{id}', 'au_unknown').replace('/v1/app/challenges', '/v1/app/challenges?deviceId=x'), method === 'get' ? undefined : {});
      const routeMissing = (r.status === 404 && r.body?.error?.message === 'Not Found') || r.status === 405;
      assert.ok(!routeMissing, `${method.toUpperCase()} ${path} is documented but not served (${r.status})`);
    }
  }
  // The routes the server knows (src/authorize/http/server.ts), all documented.
  const served = ['POST /v1/payers', 'POST /v1/authentications', 'GET /v1/authentications/{id}', 'POST /v1/authentications/{id}/app-result',
    'POST /v1/authentications/{id}/sms-code', 'POST /v1/authentications/{id}/resend', 'POST /v1/authentications/{id}/cancel',
    'GET /v1/app/challenges', 'POST /v1/sms/receipts', 'GET /v1/channels', 'POST /v1/channels/mode', 'GET /healthz'];
  assert.deepEqual(documented.sort(), served.sort());
  assert.equal((await call(h, 'GET', '/v1/unknown')).body.error.message, 'Not Found', 'the probe above can tell a missing route');
});
