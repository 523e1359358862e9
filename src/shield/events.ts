import type { EventBus } from '../core/events.js';
import type { RequestContext } from './context.js';
import type { AttackTransition } from './detect/attack-state.js';
import type { Mitigation } from './detect/escalation.js';
import type { ServerTransition } from './upstream/health/monitor.js';
import type { WakeEvent } from './reputation/wake-watch.js';
import type { LearningPauseNotice } from './defence/learning-pause.js';
import type { AdmissionMode } from './upstream/admission.js';

/** Why a connection was refused before any HTTP parsing. */
export type RefusalReason = 'blocklist' | 'client-cap' | 'global-cap' | 'proxy-protocol'
  /** A client past limits.emptyConnectionsPerClient: too many connections that carried no request (listener/gate.ts). */
  | 'empty-connections'
  /** An idle connection closed at the global cap to make room for a new one (listener/gate.ts). */
  | 'evicted-idle'
  /** A connection that pipelined more requests than limits.maxPipelined, closed after those admitted (listener/pipelining.ts). */
  | 'pipeline-depth'
  /** TLS listener (listener/tls.ts): a handshake that failed (no shared protocol or cipher, a bad hello, a reset). */
  | 'tls-handshake'
  /** TLS listener: no completed handshake within listen.tls.handshakeTimeoutMs. */
  | 'tls-timeout'
  /** TLS listener: a plain HTTP request on the TLS port, answered 400 in clear text. */
  | 'plain-http'
  /** HTTP/2 (listener/http2.ts): a connection past limits.http2ClientResets, closed with GOAWAY ENHANCE_YOUR_CALM. */
  | 'h2-resets'
  /** HTTP/2: a connection Node ended for a protocol error (too many invalid frames, too many refused streams). */
  | 'h2-protocol'
  /** HTTP/2: a stream whose answer the client did not take (flow control held shut) within limits.sendTimeoutMs, cancelled. */
  | 'h2-send-timeout';

/** Events the shield publishes; metrics, logs and the console subscribe. */
export type ShieldEvents = {
  'request:end': { ctx: RequestContext; status: number; durationMs: number; aborted: boolean };
  'connection:open': { address: string };
  'connection:close': { address: string };
  'connection:refused': { address: string; reason: RefusalReason };
  /** A TLS handshake completed on the shield's listener (listener/tls.ts): version, session resumed, how long it took. */
  'tls:handshake': { address: string; version: string; resumed: boolean; ms: number };
  'client:error': { address: string; code: string; status: number; requestId: string };
  'config:reloaded': { file: string };
  'config:rejected': { file: string; message: string };
  'block:added': { cidr: string; reason: string; ttlS: number | undefined };
  'block:removed': { cidr: string };
  /** A route class changed attack phase; the reason says which signal, observed against its baseline. */
  'attack:transition': AttackTransition & { scope: string };
  'mitigation:added': { mitigation: Mitigation; dryRun: boolean };
  'mitigation:lifted': { mitigation: Mitigation; dryRun: boolean };
  /**
   * Reputations established before the attack woke with it (reputation/roster.ts): once per
   * attack, at the first one judged woken, with the first sightings that showed it.
   */
  'reputation:wake': WakeEvent;
  /**
   * The baselines stopped learning because one client sent most of the traffic for minutes (most
   * often a proxy not declared in trustedProxies), or learn again (defence/learning-pause.ts).
   */
  'detection:learning': LearningPauseNotice;
  /** An upstream server changed state (ejected, probed down or up, drained, disabled, back). */
  'upstream:server': ServerTransition;
  /**
   * An upstream's admission changed between known customers strictly first and sharing with the
   * newcomers (upstream/admission.ts, rule 2), with what it measured.
   */
  'admission:mode': { upstream: string } & AdmissionMode;
  /** A request that failed before any response byte was sent again to another server. */
  'upstream:retry': { upstream: string; from: string; to: string; code: string };
  /** A WebSocket upgrade was accepted or an upgraded connection ended. */
  'websocket:open': { client: string; upstream: string; server: string };
  'websocket:close': { client: string; upstream: string; reason: string; durationMs: number };
  /** Something an operator did through the admin API (who, what). */
  'operator:action': { who: string; action: string; detail: string };
};

export type ShieldBus = EventBus<ShieldEvents>;
