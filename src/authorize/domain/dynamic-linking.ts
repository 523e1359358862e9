import { createHash } from 'node:crypto';

/** The transaction elements the payer is shown and the authentication is bound to (RTS art. 5). */
export interface LinkedTransaction {
  amountMinor: number;
  currency: string;
  payee: { id: string; name: string };
}

/**
 * RTS (EU) 2018/389 art. 5(1)(b): the authentication code is specific to the amount and payee;
 * SHA-256 over an unambiguous encoding (JSON array), so any change to the cent, currency or
 * payee gives another hash and invalidates the code or approval bound to it.
 */
export function linkHash(tx: LinkedTransaction): string {
  const canonical = JSON.stringify(['rempart-link/v1', tx.amountMinor, tx.currency, tx.payee.id, tx.payee.name]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/** Formats an amount for the payer (art. 5(1)(a): the payer is made aware of the amount). */
export function formatAmount(amountMinor: number, currency: string): string {
  const digits = currency === 'JPY' ? 0 : 2;
  const major = (amountMinor / 10 ** digits).toFixed(digits);
  return `${major} ${currency}`;
}

/** The text of the SMS: amount and payee shown with the code (art. 5(1)(a)); never the knowledge factor. */
export function smsText(code: string, tx: LinkedTransaction): string {
  return `Code ${code} to pay ${formatAmount(tx.amountMinor, tx.currency)} to ${tx.payee.name}. Never share it. Not you? Call your bank.`;
}

/**
 * The exact bytes the app signs to list its pending challenges (GET /v1/app/challenges without a
 * push token): device id and timestamp. The list shows amount and payee, so only the device may read it.
 */
export function appFetchPayload(deviceId: string, timestamp: number): Buffer {
  return Buffer.from(`rempart-authorize/v1/app-fetch\n${deviceId}\n${timestamp}`, 'utf8');
}

/** The exact bytes the app signs: authId, link hash, decision and timestamp, one per line. */
export function appSignedPayload(authId: string, hash: string, decision: 'APPROVE' | 'DENY', timestamp: number): Buffer {
  return Buffer.from(`rempart-authorize/v1\n${authId}\n${hash}\n${decision}\n${timestamp}`, 'utf8');
}
