import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Clock } from '../../core/clock.js';
import { readTlsCertificates, type ListenTls, type TlsCertificate } from '../../config/tls-material.js';
import type { ShieldBus } from '../events.js';
import type { TlsFacts } from './connection-facts.js';

/** First byte of a TLS record carrying a handshake (RFC 8446 §5.1, ContentType handshake = 22). */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * What a plain-HTTP request on the TLS port gets: a 400 in clear text, as nginx answers it ("The
 * plain HTTP request was sent to HTTPS port"), instead of a TLS alert the client cannot read.
 */
const PLAIN_HTTP_ANSWER = (() => {
  const body = 'This port speaks HTTPS: use https:// in the address.\n';
  return `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    + `Cache-Control: no-store\r\nConnection: close\r\nX-Rempart-Error: RMP_ERR_PLAIN_HTTP_ON_TLS\r\n\r\n${body}`;
})();

/** The certificates being served, as the admin API shows them. */
export interface TlsCertificateView {
  readonly subject: string;
  readonly names: readonly string[];
  readonly notAfter: string;
  readonly expiresInDays: number;
}

/** Turns admitted TCP connections into TLS ones; the gate has already judged the peer. */
export interface TlsTerminator {
  /**
   * Handshakes on `raw`; `secure` gets the TLS socket and its facts once the handshake is done.
   * A connection that fails, stalls past the timeout or speaks plain HTTP is closed here (and
   * counted as refused with its reason); `secure` is then never called.
   */
  terminate(raw: Socket, address: string, secure: (socket: TLSSocket, facts: TlsFacts) => void): void;
  /**
   * Reads `tls`'s certificates (throws if one cannot be used, changing nothing); `apply` then makes
   * them the ones new connections get. Two steps, so a reload fails before anything changed.
   */
  prepare(tls: ListenTls): { apply(): void };
  certificates(now: number): TlsCertificateView[];
}

interface Served { readonly cert: TlsCertificate; readonly context: SecureContext }

function contextsFor(tls: ListenTls): Served[] {
  const { certificates, problems } = readTlsCertificates(tls, process.cwd());
  // The configuration was checked when it was loaded; a file changed or removed since is fatal at
  // start and refuses the reload (the running certificates stay), with the loader's own words.
  if (problems.length > 0) throw new Error(`TLS certificates: ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`);
  return certificates.map((cert) => ({
    cert,
    context: createSecureContext({ cert: cert.certPem, key: cert.keyPem, minVersion: tls.minVersion, ...(tls.ciphers !== undefined ? { ciphers: tls.ciphers } : {}) }),
  }));
}

/**
 * The name a client asked for, matched against each certificate's names (`checkHost`: wildcards
 * one label deep, RFC 6125 §6.4.3); the first certificate when none matches, as nginx's default server.
 */
export function pickCertificate<T extends { readonly cert: { readonly leaf: { checkHost(name: string): string | undefined } } }>(served: readonly T[], servername: string | undefined): T | undefined {
  if (servername) for (const s of served) if (s.cert.leaf.checkHost(servername) !== undefined) return s;
  return served[0];
}

export function createTlsTerminator(initial: ListenTls, bus: ShieldBus, clock: Clock): TlsTerminator {
  let settings = initial;
  let served = contextsFor(initial);

  const handshake = (raw: Socket, address: string, secure: (socket: TLSSocket, facts: TlsFacts) => void, timer: NodeJS.Timeout, startedAt: number): void => {
    const current = served;
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: (current[0] as Served).context,
      // RFC 6066 §3: the certificate for the name asked for.
      SNICallback: (name, cb) => cb(null, pickCertificate(current, name)?.context),
      // RFC 7301: h2 first when HTTP/2 is on (RFC 9113 §3.2), else HTTP/1.1 only — a client
      // offering h2 alone is then refused by OpenSSL's ALPN callback.
      ALPNProtocols: settings.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
      requestCert: false,
    });
    let done = false;
    socket.on('error', () => {
      if (!done) { done = true; clearTimeout(timer); bus.emit('connection:refused', { address, reason: 'tls-handshake' }); }
      socket.destroy();
    });
    socket.once('secure', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const version = socket.getProtocol() ?? 'unknown';
      bus.emit('tls:handshake', { address, version, resumed: socket.isSessionReused(), ms: clock.now() - startedAt });
      secure(socket, Object.freeze({ version, sni: typeof socket.servername === 'string' && socket.servername !== '' ? socket.servername : undefined, alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined }));
    });
    // Closed before the handshake ended (the client went away): not a refusal of ours, just gone.
    socket.once('close', () => { if (!done) { done = true; clearTimeout(timer); } });
  };

  return {
    terminate(raw, address, secure) {
      const startedAt = clock.now();
      const timer = setTimeout(() => {
        bus.emit('connection:refused', { address, reason: 'tls-timeout' });
        raw.destroy();
      }, settings.handshakeTimeoutMs);
      timer.unref();
      // The first bytes say whether this is TLS at all: a client that typed http:// gets a 400 it
      // can read. They are put back for the TLS socket, which reads what its socket has buffered.
      const onFirst = (chunk: Buffer): void => {
        raw.pause();
        if (chunk[0] !== TLS_HANDSHAKE_RECORD) {
          clearTimeout(timer);
          bus.emit('connection:refused', { address, reason: 'plain-http' });
          raw.end(PLAIN_HTTP_ANSWER);
          raw.destroySoon?.();
          return;
        }
        raw.unshift(chunk);
        handshake(raw, address, secure, timer, startedAt);
      };
      raw.once('data', onFirst);
      raw.once('close', () => { raw.off('data', onFirst); clearTimeout(timer); });
      raw.resume();
    },
    prepare(next) {
      const nextServed = contextsFor(next);
      return { apply: () => { served = nextServed; settings = next; } };
    },
    certificates(now) {
      return served.map(({ cert }) => ({
        subject: cert.subject, names: cert.names, notAfter: new Date(cert.notAfter).toISOString(),
        expiresInDays: Math.floor((cert.notAfter - now) / 86_400_000),
      }));
    },
  };
}
