import { z } from 'zod';

const id = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@-]+$/, 'letters, digits and . _ : @ - only');

/** POST /v1/payers. */
export const enrolSchema = z.object({
  payerRef: id,
  phone: z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'expected E.164, e.g. +33612345678'),
  knowledgeFactor: z.string().min(4).max(128),
  devices: z.array(z.object({ deviceId: id, publicKey: z.string().min(40).max(4096) }).strict()).max(10).default([]),
}).strict();

/** POST /v1/authentications: note there is no field to ask for SMS — only the channel policy routes there. */
export const createSchema = z.object({
  txId: id,
  payerRef: id,
  amountMinor: z.number().int().min(0).max(1e13),
  currency: z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 code, e.g. EUR'),
  payee: z.object({ id: id, name: z.string().min(1).max(140) }).strict(),
}).strict();

/** POST /v1/authentications/{id}/app-result. */
export const appResultSchema = z.object({
  decision: z.enum(['APPROVE', 'DENY']),
  deviceId: id,
  /** Milliseconds since the epoch, as signed. */
  timestamp: z.number().int().positive(),
  signature: z.string().min(16).max(1024),
}).strict();

/** POST /v1/authentications/{id}/sms-code. */
export const smsCodeSchema = z.object({
  code: z.string().min(1).max(32),
  knowledgeFactor: z.string().min(1).max(128),
}).strict();

/** POST /v1/sms/receipts: delivery receipts from an HTTP SMS gateway. */
export const receiptSchema = z.object({
  provider: z.string().min(1),
  messageId: z.string().min(1).max(128),
  status: z.enum(['delivered', 'undelivered', 'unknown']),
}).strict();

/** POST /v1/channels/mode. */
export const modeSchema = z.object({
  mode: z.enum(['auto', 'app', 'sms']),
  reason: z.string().min(5).max(500),
  ttlS: z.number().int().min(60),
}).strict();

/** Resend and cancel take no body (an empty object at most). */
export const emptySchema = z.object({}).strict();
