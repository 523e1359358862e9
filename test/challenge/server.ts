import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { evaluateClearance, type ClearanceDecision, type ClearancePolicy } from '../../src/shield/challenge/evaluate.js';
import type { PlainResponse } from '../../src/shield/challenge/responses.js';
import type { ChallengeSettings } from '../../src/shield/challenge/settings.js';
import { handleVerify, isVerifyPath } from '../../src/shield/challenge/verify.js';
import { planReputationCookie } from '../../src/shield/reputation/issue.js';
import { addressPrefix } from '../../src/shield/reputation/prefix.js';

/**
 * A tiny shield for tests, built only from the challenge and reputation cores: the request filter
 * (reserved verify path, then evaluateClearance) and the response filter (reputation cookie in
 * normal times) wrapped around an "origin" that echoes what it received.
 */
export interface TestShield {
  url: string;
  /** Mutable: tests change the level as an attack would. */
  policy: { -readonly [K in keyof ClearancePolicy]: ClearancePolicy[K] };
  /** Every decision taken, in order. */
  decisions: ClearanceDecision[];
  /** Targets the origin received. */
  forwarded: string[];
  close(): Promise<void>;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** What the challenge filter decided for one request: an answer to send, or pass (with headers for the response). */
export type FilterResult =
  | { readonly kind: 'answer'; readonly response: PlainResponse; readonly decision?: ClearanceDecision }
  | { readonly kind: 'pass'; readonly decision: Extract<ClearanceDecision, { kind: 'pass' }>; readonly responseHeaders: Record<string, string | string[]> };

/**
 * The request and response filters the lead wires into the shield, in miniature: the reserved
 * verify path, then evaluateClearance; on pass, the headers to add to the origin's response
 * (clearance just earned, reputation cookie in normal times).
 */
export function createChallengeFilter(settings: ChallengeSettings, policy: () => ClearancePolicy, clock: { now(): number } = { now: () => Date.now() }) {
  return (req: IncomingMessage, body: string): FilterResult => {
    const target = req.url ?? '/';
    const path = target.split('?')[0]!;
    const prefix = addressPrefix(req.socket.remoteAddress ?? '');
    const fingerprint = header(req, 'user-agent')?.slice(0, 64);
    const now = clock.now();
    const common = { prefix, ...(fingerprint !== undefined ? { fingerprint } : {}), secure: false, now, accept: header(req, 'accept'), secFetchMode: header(req, 'sec-fetch-mode'), secFetchSite: header(req, 'sec-fetch-site') };
    if (isVerifyPath(path)) return { kind: 'answer', response: handleVerify({ ...common, method: req.method ?? 'GET', target, body }, settings) };
    const p = policy();
    const d = evaluateClearance({
      ...common, method: req.method ?? 'GET', target, cookie: header(req, 'cookie'), acceptLanguage: header(req, 'accept-language'),
      clearanceHeader: header(req, 'rempart-clearance'), challengeResponse: header(req, 'rempart-challenge-response'),
    }, p, settings);
    if (d.kind === 'challenge') return { kind: 'answer', response: d.response, decision: d };
    const responseHeaders: Record<string, string | string[]> = { ...d.responseHeaders };
    const rep = planReputationCookie({ reputation: d.reputation, prefix, ...(fingerprint !== undefined ? { fingerprint } : {}), status: 200, secure: false, now },
      { issue: p.level === 0, keys: settings.keys, randomBytes: settings.randomBytes });
    if (rep) responseHeaders['set-cookie'] = [...[responseHeaders['set-cookie'] ?? []].flat(), rep];
    return { kind: 'pass', decision: d, responseHeaders };
  };
}

/** Writes a plain response. */
export function sendPlain(res: ServerResponse, plain: PlainResponse): void {
  res.writeHead(plain.status, plain.headers as Record<string, string | string[]>);
  res.end(plain.body);
}

/** Starts the test shield on 127.0.0.1, port 0. */
export async function startTestShield(settings: ChallengeSettings, policy: ClearancePolicy, clock: { now(): number } = { now: () => Date.now() }): Promise<TestShield> {
  const shield: Omit<TestShield, 'url' | 'close'> = { policy: { ...policy }, decisions: [], forwarded: [] };
  const filter = createChallengeFilter(settings, () => shield.policy, clock);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = filter(req, Buffer.concat(chunks).toString('utf8'));
      if (r.kind === 'answer') {
        if (r.decision) shield.decisions.push(r.decision);
        return sendPlain(res, r.response);
      }
      shield.decisions.push(r.decision);
      shield.forwarded.push(r.decision.target);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...r.responseHeaders });
      res.end(`<!doctype html><title>origin</title><p id="origin">origin ${r.decision.target} via=${r.decision.via}</p>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...shield,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
