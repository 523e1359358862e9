import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** Parses a device public key (SPKI PEM): Ed25519 or ECDSA P-256 only; throws on anything else. */
export function parseDeviceKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType === 'ed25519') return key;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return key;
  throw new Error(`unsupported device key type ${key.asymmetricKeyType ?? '?'} (Ed25519 or ECDSA P-256)`);
}

/**
 * Verifies the app's signature (base64 or base64url; ECDSA in DER or IEEE P1363 form) with the
 * device-bound key registered for the payer (RTS art. 7: possession of the device key).
 */
export function verifyDeviceSignature(key: KeyObject, payload: Buffer, signature: string): boolean {
  const sig = Buffer.from(signature, signature.includes('+') || signature.includes('/') ? 'base64' : 'base64url');
  if (sig.length === 0 || sig.length > 512) return false;
  try {
    if (key.asymmetricKeyType === 'ed25519') return verify(null, payload, key, sig);
    return verify('sha256', payload, { key, dsaEncoding: sig.length === 64 ? 'ieee-p1363' : 'der' }, sig);
  } catch {
    return false;
  }
}
