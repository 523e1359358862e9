/** One SMS to hand to a provider. */
export interface SmsMessage { to: string; text: string; reference: string }

/**
 * A provider's answer: accepted (with its message id, for the delivery receipt), throttled
 * (backpressure: retry later, not a failure — SMPP ESME_RTHROTTLED 0x58, HTTP 429) or failed.
 */
export type SmsSendResult =
  | { kind: 'accepted'; providerMessageId: string }
  | { kind: 'throttled'; retryAfterMs: number }
  | { kind: 'failed'; reason: string };

/** A delivery receipt from the network (SMPP deliver_sm, an HTTP callback, the outbox). */
export interface DeliveryReceipt { provider: string; providerMessageId: string; status: 'delivered' | 'undelivered' | 'unknown' }

/** The SMS port: each adapter (smpp, http, outbox) implements it and passes one conformance suite. */
export interface SmsProvider {
  readonly name: string;
  start(): Promise<void>;
  send(m: SmsMessage): Promise<SmsSendResult>;
  onReceipt(fn: (r: DeliveryReceipt) => void): void;
  close(): Promise<void>;
}
