import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from '../../src/demo/origin/server.js';
import { serverUrlOf } from '../../src/drill/bench/ddos.js';

test('`rempart drill`: Ctrl-C stops the run and the JSON and HTML reports are still written', async (t) => {
  const origin = await startOrigin({ maxInFlight: 8, maxQueue: 16, serviceMs: 2 });
  t.after(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'rempart-drill-cli-'));
  const json = join(dir, 'r.json');
  const html = join(dir, 'r.html');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'drill', '--target', origin.url, '--scenario', 'single-flood',
    '--duration', '60', '--time-scale', '10', '--users', '4', '--bank-users', '2', '--param', 'rate=50', '--json', json, '--html', html], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  // Ctrl-C once the run is under way (traffic at the origin), not after a fixed time: on a busy
  // machine tsx can take longer to start than any fixed wait, and an early SIGINT meets no handler.
  const served = (): number => origin.stats().served.track + origin.stats().served.home + origin.stats().served.search;
  for (let i = 0; i < 300 && served() === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.ok(code !== null, out);
  assert.ok(existsSync(json) && existsSync(html), `reports written; output:\n${out}`);
  const report = JSON.parse(readFileSync(json, 'utf8')) as { meta: { stoppedEarly: boolean; elapsedS: number } };
  assert.equal(report.meta.stoppedEarly, true);
  assert.ok(report.meta.elapsedS < 30, `stopped after ${report.meta.elapsedS} s of 60`);
  assert.ok(origin.stats().served.track + origin.stats().served.home + origin.stats().served.search > 0, 'traffic reached the target before the stop');
});

test('`rempart drill` refuses a target outside loopback with exit code 2 and sends nothing', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'drill', '--target', 'http://192.0.2.10/', '--scenario', 'single-flood', '--duration', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 2);
  assert.match(err, /allow-target/);
});

test('`rempart drill` and `rempart bench ddos` reject an unknown address layout before starting anything', async () => {
  for (const args of [['drill', '--target', 'http://127.0.0.1:9/', '--layout', 'contiguous'], ['bench', 'ddos', '--layout', 'contiguous']]) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.notEqual(code, 0, args.join(' '));
    assert.match(err, /layout must be/);
  }
});

test('`rempart bench ddos --param` rejects a malformed pair, a scenario not in the run and an unknown parameter before starting anything', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--param', 'sources=3'], /expected scenario\.key=number/],
    [['--scenarios', 'none', '--param', 'browse-then-flood.sources=3'], /not among the scenarios of this run/],
    [['--scenarios', 'browse-then-flood', '--param', 'browse-then-flood.sourcez=3'], /has no parameter "sourcez" \(it has: rate, sources/],
    [['--page-requests', '13'], /page requests must be at most 12 \(the account page's data: accounts, transactions/],
    [['--page-requests', '-1'], /page requests must be a whole number >= 0/],
    [['--origin', 'workerz=8'], /unknown key "workerz" \(known: workers, queue, serviceMs, spreadPct\)/],
    [['--origin', 'workers=0'], /workers must be an integer from 1 to 1024, got "0"/],
    [['--search-path-suffix', 'page/1'], /a search path suffix is one or more path segments, e\.g\. \/page\/1/],
    [['--search-path-suffix', '/page?n=1'], /a search path suffix is one or more path segments/],
  ];
  for (const [args, message] of cases) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'ddos', '--targets', 'rempart', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.notEqual(code, 0, args.join(' '));
    assert.match(out, message);
    assert.doesNotMatch(out, /Origin|\[1\//, 'nothing started');
  }
});

test('bench attack parameters: the run\'s overrides over the bench\'s own, per scenario', async () => {
  const { benchParams, BENCH_PARAMS } = await import('../../src/drill/bench/ddos.js');
  const { benchOverrides } = await import('../../src/cli/drill-commands.js');
  const overrides = benchOverrides(['browse-then-flood.sources=1000', 'browse-then-flood.pages=1', 'login-flood.rate=900']);
  assert.deepEqual(benchParams('browse-then-flood', overrides), { ...BENCH_PARAMS['browse-then-flood'], sources: 1000, pages: 1 });
  assert.deepEqual(benchParams('login-flood', overrides), { ...BENCH_PARAMS['login-flood'], rate: 900 });
  assert.deepEqual(benchParams('slowloris', overrides), BENCH_PARAMS.slowloris);
  assert.deepEqual(benchParams('none', overrides), {});
});

test('bench: the spawned server\'s URL is read from its `{"url"}` line, whatever log lines come before it', () => {
  const warning = JSON.stringify({ level: 40, msg: 'limits.maxConnections is at or above what the open-files limit leaves for clients' });
  assert.equal(serverUrlOf(warning), undefined);
  assert.equal(serverUrlOf('not json'), undefined);
  assert.equal(serverUrlOf('null'), undefined);
  assert.equal(serverUrlOf(JSON.stringify({ url: 42 })), undefined);
  assert.equal(serverUrlOf(JSON.stringify({ url: 'http://127.0.0.1:41234' })), 'http://127.0.0.1:41234');
});

test('`bench ddos --restart-shield`: Rempart is stopped gracefully mid-cell and started again on its port with its state file — the customers get through again and the restarted shield restores what it saw', async () => {
  const { runDdosBench } = await import('../../src/drill/bench/ddos.js');
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-restart-'));
  const logs: string[] = [];
  const cells = await runDdosBench({
    targets: ['rempart'], scenarios: ['none'], durationS: 12, timeScale: 5, seed: 1,
    restartShieldAtS: 5, accessLogDir: join(dir, 'al'), log: (l) => logs.push(l), out: (md) => logs.push(md),
  });
  const report = cells[0]?.report;
  assert.ok(report, JSON.stringify(cells[0]?.error ?? logs));
  assert.doesNotMatch(logs.join('\n'), /restart failed/);
  assert.match(logs.join('\n'), /^\| none \| rempart \| /m, 'the table reaches the caller\'s `out`, not stdout');
  // The restarted process's own lines in the cell's access log: it restored the roster it saved.
  const log = readFileSync(join(dir, 'al', 'none--rempart.jsonl'), 'utf8');
  assert.match(log, /"msg":"reputation roster restored"/);
  // Customers were answered after the restart (the shield listens on its port again).
  const after = report.legit.series.all.filter((p) => p.t >= 9);
  assert.ok(after.some((p) => p.ok > 0), `answered after the restart (${JSON.stringify(after)})`);
});

test('bench: Rempart runs with the product\'s default log when given a log file (the access log, within its budget, written there); warnings only without one', async (t) => {
  const { startRempart } = await import('../../src/drill/bench/targets.js');
  const origin = await startOrigin({ maxInFlight: 8, maxQueue: 16, serviceMs: 1 });
  t.after(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-log-'));
  const file = join(dir, 'shield.log');
  const logged = await startRempart(origin.url, { logFile: file });
  const quiet = await startRempart(origin.url);
  try {
    for (const s of [logged, quiet]) {
      const r = await fetch(`${s.url}/track/AB123`, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) test' } });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
  } finally { await logged.close(); await quiet.close(); }
  // The logger writes asynchronously; closing the shield flushes it.
  let text = '';
  for (let i = 0; i < 50 && !/"msg":"access"/.test(text); i++) { text = existsSync(file) ? readFileSync(file, 'utf8') : ''; await new Promise((r) => setTimeout(r, 20)); }
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const access = lines.filter((l) => l.msg === 'access');
  assert.equal(access.length, 1, text);
  assert.equal(access[0]!.path, '/track/AB123');
  // Info lines too (the default level), not only the access log's.
  assert.ok(lines.some((l) => l.level === 30 && l.msg !== 'access'), text);
});

test('bench: rempart-plain is the site undescribed — one route, class normal, for what the demo configuration calls critical', async (t) => {
  const { startRempart } = await import('../../src/drill/bench/targets.js');
  const origin = await startOrigin({ maxInFlight: 8, maxQueue: 16, serviceMs: 1 });
  t.after(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-plain-'));
  const classes: Record<string, unknown> = {};
  for (const plain of [true, false]) {
    const file = join(dir, `${plain}.log`);
    const s = await startRempart(origin.url, { logFile: file, plain });
    try {
      const r = await fetch(`${s.url}/api/pay/status/1`, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) test' } });
      await r.arrayBuffer();
    } finally { await s.close(); }
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && line === undefined; i++) {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      line = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'access');
      if (line === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    classes[String(plain)] = line?.class;
  }
  assert.deepEqual(classes, { true: 'normal', false: 'critical' });
});
