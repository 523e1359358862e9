import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, isConfigError, type ConfigProblem } from '../../src/config/load.js';
import { configWarnings } from '../../src/config/warnings.js';

const good = `
listen: { address: 127.0.0.1, port: 8080 }
admin: { address: 127.0.0.1, port: 8081, token: \${REMPART_ADMIN_TOKEN} }
trustedProxies: [10.0.0.0/8]
upstreams:
  origin: { url: http://127.0.0.1:9100, connections: 64, timeoutMs: 10000 }
routes:
  - { match: { method: POST, path: /pay/ }, upstream: origin, class: critical }
  - { match: { path: /track/ }, upstream: origin, class: normal, cache: { ttlS: 30, query: [id] } }
  - { match: { path: / }, upstream: origin, class: normal }
`;

function problems(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    parseConfigText(text, 'x.yaml', env);
  } catch (e) {
    if (isConfigError(e)) return e.problems;
    throw e;
  }
  return [];
}

test('the issue example loads, with defaults filled in and the result frozen', () => {
  const c = parseConfigText(good, 'x.yaml', { REMPART_ADMIN_TOKEN: 'a-very-secret-token-123' });
  assert.equal(c.admin.token, 'a-very-secret-token-123');
  assert.equal(c.routes[1]?.cache?.ttlS, 30);
  assert.equal(c.listen.limits.headersTimeoutMs, 10_000);
  assert.equal(c.rateLimits.perClient.critical.ratePerS, 20);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.routes[0]) && Object.isFrozen(c.listen.limits));
  assert.throws(() => { (c.listen as { port: number }).port = 1; });
});

test('detection.patienceMs (admission rule 7): 6 s by default, an operator\'s value kept, under a second refused at its line', () => {
  const env = { REMPART_ADMIN_TOKEN: 'a-very-secret-token-123' };
  assert.equal(parseConfigText(good, 'x.yaml', env).detection.patienceMs, 6000);
  assert.equal(parseConfigText(`${good}detection: { patienceMs: 30000 }\n`, 'x.yaml', env).detection.patienceMs, 30_000);
  const bad = problems(`${good}detection:\n  patienceMs: 500\n`, env);
  assert.deepEqual(bad.map((p) => [p.path, p.line]), [['detection.patienceMs', good.split('\n').length + 1]]);
});

test('every problem is reported with its key path and line', () => {
  const text = [
    'listen: { address: 127.0.0.1, port: 99999 }', // 1
    'trustedProxies: [10.0.0.0/33]', // 2
    'upstreams:', // 3
    '  origin: { url: http://127.0.0.1:9100, timeoutMs: -1 }', // 4
    'routes:', // 5
    '  - { match: { method: post, path: /pay/ }, upstream: origin }', // 6
    '  - { match: { path: /t/ }, upstream: nowhere }', // 7
    '  - match: { path: / }', // 8
    '    upstream: origin', // 9
    '    class: urgent', // 10
    '    bogus: 1', // 11
  ].join('\n');
  const got = problems(text).map((p) => [p.line, p.path]);
  assert.deepEqual(got, [
    [1, 'listen.port'],
    [2, 'trustedProxies[0]'],
    [4, 'upstreams.origin.timeoutMs'],
    [6, 'routes[0].match.method'],
    [7, 'routes[1].upstream'],
    [10, 'routes[2].class'],
    [11, 'routes[2].bogus'],
  ]);
});

test('a missing environment variable is reported at its line; ${VAR:-default} supplies a default', () => {
  const missing = problems(good);
  assert.equal(missing.length, 2); // the unset variable, then the empty token it leaves
  assert.equal(missing[0]?.line, 3);
  assert.match(missing[0]?.message ?? '', /REMPART_ADMIN_TOKEN is not set/);
  const c = parseConfigText(good.replace('${REMPART_ADMIN_TOKEN}', '${REMPART_ADMIN_TOKEN:-default-token-0123456789}'), 'x.yaml', {});
  assert.equal(c.admin.token, 'default-token-0123456789');
});

test('YAML syntax errors and duplicate keys are located', () => {
  const p = problems('upstreams:\n  a: { url: http://127.0.0.1:1 }\n  a: { url: http://127.0.0.1:2 }\nroutes: [\n');
  assert.ok(p.length >= 1);
  assert.ok(p.every((x) => typeof x.line === 'number' && x.message.startsWith('YAML')));
});

test('`rempart config check` prints every problem and exits 2; a good file exits 0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-cfg-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'upstreams: {}\nroutes: []\nlisten: { port: -1 }\n');
  const run = (file: string) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', 'check', file], {
    encoding: 'utf8', env: { ...process.env, REMPART_ADMIN_TOKEN: 'check-token-0123456789' },
  });
  const r = run(bad);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bad\.yaml:1:\d+ upstreams: at least one upstream is required/);
  assert.match(r.stderr, /bad\.yaml:2:\d+ routes: at least one route is required/);
  assert.match(r.stderr, /bad\.yaml:3:\d+ listen\.port: /);
  const ok = run('examples/rempart.yaml');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /OK/);
  assert.doesNotMatch(ok.stderr, /warning/);
  // Valid, but rule 7 can never hold: a warning naming the key, exit 0.
  const off = join(dir, 'patience.yaml');
  writeFileSync(off, 'upstreams:\n  origin: { url: http://127.0.0.1:9100, queueTimeoutMs: 8000 }\nroutes:\n  - { match: { path: / }, upstream: origin }\ndetection: { patienceMs: 8000 }\n');
  const warned = run(off);
  assert.equal(warned.status, 0, warned.stderr);
  assert.match(warned.stderr, /patience\.yaml: warning: upstreams\.origin\.queueTimeoutMs: detection\.patienceMs \(8000 ms\) is at or above upstreams\.origin\.queueTimeoutMs \(8000 ms\)/);
});

test('configWarnings: patience at or above a queue timeout is said per upstream; with detection off, nothing', () => {
  const env = { REMPART_ADMIN_TOKEN: 'a-very-secret-token-123' };
  const two = `upstreams:\n  a: { url: http://127.0.0.1:9100, queueTimeoutMs: 5000 }\n  b: { url: http://127.0.0.1:9101 }\nroutes:\n  - { match: { path: / }, upstream: a }\n`;
  assert.deepEqual(configWarnings(parseConfigText(two, 'x.yaml', env)).map((w) => w.path), ['upstreams.a.queueTimeoutMs']);
  assert.deepEqual(configWarnings(parseConfigText(`${two}detection: { patienceMs: 12000 }\n`, 'x.yaml', env)).map((w) => w.path), ['upstreams.a.queueTimeoutMs', 'upstreams.b.queueTimeoutMs']);
  assert.deepEqual(configWarnings(parseConfigText(`${two}detection: { enabled: false }\n`, 'x.yaml', env)), []);
  assert.deepEqual(configWarnings(parseConfigText(good, 'x.yaml', env)), []);
});

test('an upstream url is scheme, host and port: a path, query or credentials (silently dropped before) are refused at their line', () => {
  const text = [
    'upstreams:', // 1
    '  api: { url: http://127.0.0.1:9100/api }', // 2
    '  q: { url: "http://127.0.0.1:9100/?x=1" }', // 3
    '  cred: { url: http://user:pw@127.0.0.1:9100 }', // 4
    '  ok: { url: http://127.0.0.1:9100/ }', // 5
    '  several:', // 6
    '    servers:', // 7
    '      - { url: https://127.0.0.5:8443/v2 }', // 8
    'routes:', // 9
    '  - { match: { path: / }, upstream: ok }', // 10
  ].join('\n');
  const got = problems(text).map((p) => [p.line, p.path, /path|credentials/.test(p.message)]);
  assert.deepEqual(got, [
    [2, 'upstreams.api.url', true],
    [3, 'upstreams.q.url', true],
    [4, 'upstreams.cred.url', true],
    [8, 'upstreams.several.servers[0].url', true],
  ]);
});
