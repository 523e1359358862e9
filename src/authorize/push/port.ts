/** A notification to wake the app on one device; it carries no transaction data, only a reference. */
export interface PushMessage { deviceId: string; ref: string }

/** The push provider's answer (like FCM/APNs: accepted, or an error). */
export type PushResult = { ok: true } | { ok: false; error: string };

/** The push port: a real FCM/APNs adapter or the simulator implement it. */
export interface PushProvider {
  send(m: PushMessage): Promise<PushResult>;
  close(): Promise<void>;
}
