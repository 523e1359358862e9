import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * TLS options of every drill connection to an https:// target. The drill does not verify the
 * target's certificate: it is a load tool pointed at one's own service (k6's
 * `insecureSkipTLSVerify`, `curl -k`), often with a certificate made for the test. The handshake
 * itself — what it costs the target — is the real one.
 */
export const DRILL_TLS_OPTIONS = Object.freeze({ rejectUnauthorized: false });

/** Where raw-socket attacks connect: the target's address, and whether it speaks TLS. */
export interface SocketTarget {
  readonly host: string;
  readonly port: number;
  /** The target is https://: every connection does a TLS handshake before its first byte. */
  readonly tls?: boolean;
}

/**
 * Opens a raw connection to the target (over TLS when it is https://) from `localAddress` and
 * `localPort` if given; `ready` is the event after which the attack may write (`connect` or
 * `secureConnect`). A slowloris over TLS is a TLS handshake, then the same trickle inside it.
 */
export function openTargetSocket(target: SocketTarget, local: { localAddress?: string; localPort?: number } = {}, alpn?: string[]): { socket: Socket; ready: 'connect' | 'secureConnect' } {
  const { localAddress, localPort } = local;
  const tcp = netConnect({ host: target.host, port: target.port, ...(localAddress !== undefined ? { localAddress } : {}), ...(localPort !== undefined ? { localPort } : {}) });
  if (target.tls !== true) return { socket: tcp, ready: 'connect' };
  // Errors of the TCP socket surface on the TLS one, which the caller listens to.
  tcp.on('error', () => {});
  return { socket: tlsConnect({ socket: tcp, ...DRILL_TLS_OPTIONS, ...(alpn ? { ALPNProtocols: alpn } : {}) }), ready: 'secureConnect' };
}

/** The scheme of the target's origin (what the drill's own URLs to it must use). */
export const targetScheme = (target: { tls?: boolean }): 'https' | 'http' => (target.tls === true ? 'https' : 'http');
