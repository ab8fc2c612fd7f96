import { JobEnvelope, SignedEnvelope, verifyPayload } from '../../contract/src';

/**
 * The agent's gate for job envelopes. A queue message runs only if it parses, names the
 * controller key the agent registered with, carries a valid controller signature over the
 * canonical JSON of the envelope exactly as received, satisfies the envelope schema, is
 * addressed to this provider, and may still be started. Anything else is refused with a reason.
 */

/** What the agent trusts: the controller's key from its registration, and its own provider id. */
export interface TrustAnchor {
  controllerPublicKey: string;
  controllerKeyId: string;
  providerId: string;
}

export const REFUSAL_REASONS = ['malformed', 'unknown_key', 'bad_signature', 'invalid_envelope', 'wrong_provider', 'expired'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export type Verdict =
  | { ok: true; envelope: JobEnvelope }
  | {
      ok: false;
      reason: RefusalReason;
      detail: string;
      /** The job id the message claims, when it has one (for the log only: it is not trusted). */
      claimedJobId?: string;
    };

/** Checks a queue message body; `now` is the instant compared with the envelope's `startBy`. */
export function verifyJobMessage(body: string, trust: TrustAnchor, now: Date = new Date()): Verdict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'malformed', detail: 'message body is not JSON' };
  }
  const signed = SignedEnvelope.safeParse(parsed);
  if (!signed.success) return { ok: false, reason: 'malformed', detail: `not a signed envelope: ${signed.error.issues[0]?.message ?? 'invalid'}` };
  const { envelope, signature, keyId } = signed.data;
  const claimedJobId = claimedJob(envelope);

  if (keyId !== trust.controllerKeyId) {
    return { ok: false, reason: 'unknown_key', detail: `signed with key ${keyId}, expected ${trust.controllerKeyId}`, claimedJobId };
  }
  if (!verifyPayload(envelope, signature, trust.controllerPublicKey)) {
    return { ok: false, reason: 'bad_signature', detail: 'the controller signature does not match the envelope', claimedJobId };
  }
  const valid = JobEnvelope.safeParse(envelope);
  if (!valid.success) {
    const issue = valid.error.issues[0];
    return { ok: false, reason: 'invalid_envelope', detail: `${issue?.path.join('.') || '(envelope)'}: ${issue?.message ?? 'invalid'}`, claimedJobId };
  }
  if (valid.data.providerId !== trust.providerId) {
    return { ok: false, reason: 'wrong_provider', detail: `addressed to provider ${valid.data.providerId}, this is ${trust.providerId}`, claimedJobId };
  }
  const expiry = startByPassed(valid.data, now);
  if (expiry) return { ok: false, reason: 'expired', detail: expiry, claimedJobId };
  return { ok: true, envelope: valid.data };
}

/** A description of why the job may no longer start at `now`, or undefined while it may. */
export function startByPassed(envelope: JobEnvelope, now: Date = new Date()): string | undefined {
  const startBy = Date.parse(envelope.startBy);
  return now.getTime() > startBy ? `start-by time ${envelope.startBy} passed ${now.getTime() - startBy} ms ago` : undefined;
}

function claimedJob(envelope: unknown): string | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const jobId = (envelope as { jobId?: unknown }).jobId;
  return typeof jobId === 'string' ? jobId.slice(0, 64) : undefined;
}
