import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import type { Config } from './schema.js';

export type ListenTls = NonNullable<Config['listen']['tls']>;

/** One certificate as read from its files: what the listener serves and what operators are shown. */
export interface TlsCertificate {
  /** Leaf first, then intermediates: PEM text as read. */
  readonly certPem: string;
  readonly keyPem: string;
  /** The leaf's parsed form: `checkHost` matches SNI names against its subject alternative names. */
  readonly leaf: X509Certificate;
  readonly subject: string;
  /** DNS names and addresses the leaf is valid for (its subjectAltName, else its CN). */
  readonly names: readonly string[];
  readonly notAfter: number;
}

/** A problem with a file the configuration names, at the key that names it. */
export interface TlsFileProblem {
  readonly path: PropertyKey[];
  readonly message: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A certificate path as the listener opens it: relative paths from `baseDir` (the configuration file's directory). */
export const resolveTlsPath = (path: string, baseDir: string): string => (isAbsolute(path) ? path : resolve(baseDir, path));

/**
 * Reads and checks every certificate of `listen.tls`: each file readable, the certificate file a
 * PEM certificate (chain allowed), the key a private key that belongs to the leaf. Every problem is
 * returned at the key naming the file, so `rempart config check` and a refused reload say which
 * file and why — nginx says as much only when it starts.
 */
export function readTlsCertificates(tls: ListenTls, baseDir: string): { certificates: TlsCertificate[]; problems: TlsFileProblem[] } {
  const certificates: TlsCertificate[] = [];
  const problems: TlsFileProblem[] = [];
  tls.certificates.forEach((c, i) => {
    const at = (field: 'cert' | 'key'): PropertyKey[] => ['listen', 'tls', 'certificates', i, field];
    const read = (field: 'cert' | 'key'): string | undefined => {
      const file = resolveTlsPath(c[field], baseDir);
      try { return readFileSync(file, 'utf8'); } catch (err) {
        problems.push({ path: at(field), message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
        return undefined;
      }
    };
    const certPem = read('cert');
    const keyPem = read('key');
    if (certPem === undefined || keyPem === undefined) return;
    const first = certPem.match(PEM_CERT)?.[0];
    let leaf: X509Certificate;
    try {
      if (first === undefined) throw new Error('no PEM certificate in it');
      leaf = new X509Certificate(first);
    } catch (err) {
      problems.push({ path: at('cert'), message: `${c.cert} is not a PEM certificate (${(err as Error).message})` });
      return;
    }
    let key: KeyObject;
    try { key = createPrivateKey(keyPem); } catch (err) {
      problems.push({ path: at('key'), message: `${c.key} is not an unencrypted PEM private key (${(err as Error).message.split('\n')[0]})` });
      return;
    }
    if (!leaf.checkPrivateKey(key)) {
      problems.push({ path: at('key'), message: `${c.key} is not the private key of ${c.cert} (${leaf.subject.replace(/\n/g, ', ')})` });
      return;
    }
    certificates.push({ certPem, keyPem, leaf, subject: leaf.subject.replace(/\n/g, ', '), names: namesOf(leaf), notAfter: Date.parse(leaf.validTo) });
  });
  return { certificates, problems };
}

/** The names a certificate is valid for: its subjectAltName's DNS names and addresses, else its CN. */
export function namesOf(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san) {
    return san.split(/,\s*/).map((entry) => {
      const colon = entry.indexOf(':');
      return colon === -1 ? entry : entry.slice(colon + 1);
    }).filter((n) => n.length > 0);
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn] : [];
}
