import type { Socket } from 'node:net';

/** TLS facts of a connection, filled by a TLS listener (none yet: room for SNI, ALPN, version). */
export interface TlsFacts {
  readonly version: string;
  readonly sni: string | undefined;
  readonly alpn: string | undefined;
}

/**
 * What the listener layer learned about a connection, protocol-neutral: the only view of the
 * socket that filters get. Behind TLS or HTTP/2 the same facts describe the client, not the
 * transport object the request happens to arrive on.
 */
export interface ConnectionFacts {
  /** The address connection-level decisions key on: TCP peer, or a trusted PROXY header's source. */
  readonly peer: string;
  /** How `peer` was learned. */
  readonly peerSource: 'tcp' | 'proxy-protocol';
  /** The TCP peer's port when `peer` is the TCP peer (access log: nginx's $remote_port, HAProxy's %cp). */
  readonly peerPort?: number;
  /** Whether forwarding headers (X-Forwarded-For, Forwarded) on this connection are believed. */
  readonly trusted: boolean;
  /** Application protocol of the connection. */
  readonly protocol: 'http/1.1' | 'h2';
  readonly tls: TlsFacts | undefined;
  /**
   * Requests the client already sent on this connection that wait behind the one being served
   * (HTTP/1.1 pipelining: listener/pipelining.ts; an HTTP/2 connection's other open streams would
   * be the same fact). They are the client's concurrency as much as the request being served is,
   * though no filter has seen them yet. Absent: none can wait.
   */
  readonly pending?: () => number;
}

const facts = new WeakMap<Socket, ConnectionFacts>();

/** Records a connection's facts (listener layer only). */
export function setConnectionFacts(socket: Socket, value: ConnectionFacts): void {
  facts.set(socket, value);
}

/** The facts the listener recorded for a socket, or undefined for one that bypassed the gate. */
export function connectionFacts(socket: Socket): ConnectionFacts | undefined {
  return facts.get(socket);
}
