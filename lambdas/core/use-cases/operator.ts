import { TERMINAL, User } from '../model';
import type { DeadLetter } from '../ports';
import { DeadLetterQuery, JobEnvelope, RedriveBody, SignedEnvelope, verifyPayload } from '../../../contract/src';
import { Deps, parse, requireOperator } from './context';
import { dispatchWaiting, reclaim } from './scheduling';
import { replicaEnded } from './verification';

/**
 * The platform operator's view of the provider queues' dead-letter queue. An envelope lands there
 * after its provider received it MAX_RECEIVE times without deleting it (a crashing agent, a job
 * that kills it, a report the controller keeps refusing). Listing shows each message with the job
 * it names and where that job is now; redriving does not resend the old envelope (its presigned
 * URLs and start-by time may have passed, and its provider is the one that failed it): it takes
 * the job back from that provider as a fresh attempt placed elsewhere (`reclaim`), or discards the
 * message when the job has moved on.
 *
 * Who is an operator: the accounts whose user ids are in OPERATOR_USER_IDS (`context.ts#requireOperator`).
 */

/** How long listed or skipped dead letters stay hidden while a request looks at them. */
const LOOK_S = 30;

interface Inspected {
  message: DeadLetter;
  envelope?: JobEnvelope;
  /** Why the message cannot be acted on as a job envelope. */
  problem?: string;
}

async function inspect(deps: Deps, message: DeadLetter): Promise<Inspected> {
  let raw: unknown;
  try {
    raw = JSON.parse(message.body);
  } catch {
    return { message, problem: 'the body is not JSON' };
  }
  const signed = SignedEnvelope.safeParse(raw);
  const envelope = signed.success ? JobEnvelope.safeParse(signed.data.envelope) : undefined;
  if (!signed.success || !envelope?.success) return { message, problem: 'the body is not a signed job envelope' };
  const key = await deps.signer.publicKey();
  if (signed.data.keyId !== key.keyId || !verifyPayload(signed.data.envelope, signed.data.signature, key.pem)) {
    return { message, envelope: envelope.data, problem: "the envelope's signature is not the controller's" };
  }
  return { message, envelope: envelope.data };
}

/** `GET /operator/dlq?max=`: the dead letters, each with its job's current state. They stay in the queue. */
export async function listDeadLetters(deps: Deps, user: User, query: Record<string, string>) {
  requireOperator(deps, user);
  const { max } = parse(DeadLetterQuery, query);
  const messages = await deps.queues.receiveDeadLetters(max, LOOK_S);
  try {
    const out = [];
    for (const message of messages) {
      const { envelope, problem } = await inspect(deps, message);
      const job = envelope ? await deps.jobs.getJob(envelope.jobId) : undefined;
      out.push({
        messageId: message.messageId,
        receiveCount: message.receiveCount,
        sentAt: message.sentAt,
        sourceQueueArn: message.sourceQueueArn,
        jobId: envelope?.jobId,
        providerId: envelope?.providerId,
        attempt: envelope?.attempt,
        problem,
        job: job && { status: job.status, attempt: job.attempt, providerId: job.providerId, reason: job.reason },
      });
    }
    return { messages: out };
  } finally {
    await Promise.all(messages.map((m) => deps.queues.releaseDeadLetter(m.receiptHandle)));
  }
}

type RedriveOutcome = 'requeued' | 'failed' | 'discarded';

/**
 * `POST /operator/dlq/redrive` `{messageIds: [...]}` or `{all: true}`: for each chosen message,
 * if its job is still ASSIGNED to the envelope's provider at the envelope's attempt, the job is
 * taken back (`requeued` at attempt + 1, placed on another provider when one has room, or
 * `failed` when out of attempts); otherwise (job finished, re-queued already, unknown, or the
 * message is not a controller envelope) the message is `discarded`. Handled messages are deleted;
 * the others stay. Idempotent: redriving the same message twice finds it gone.
 */
export async function redriveDeadLetters(deps: Deps, user: User, body: unknown) {
  requireOperator(deps, user);
  const req = parse(RedriveBody, body);
  const wanted = req.messageIds ? new Set(req.messageIds) : undefined;
  const results: { messageId: string; jobId?: string; outcome: RedriveOutcome; detail: string }[] = [];
  const seen = new Set<string>();
  const skipped: string[] = [];
  try {
    while (seen.size < MAX_REDRIVE && !(wanted && results.length === wanted.size)) {
      const batch = (await deps.queues.receiveDeadLetters(10, LOOK_S)).filter((m) => !seen.has(m.messageId));
      if (batch.length === 0) break;
      for (const message of batch) {
        seen.add(message.messageId);
        if (wanted && !wanted.has(message.messageId)) {
          skipped.push(message.receiptHandle);
          continue;
        }
        results.push({ messageId: message.messageId, ...(await redriveOne(deps, message)) });
        await deps.queues.deleteDeadLetter(message.receiptHandle);
      }
    }
  } finally {
    // Messages looked at but not chosen become visible again at once.
    await Promise.all(skipped.map((handle) => deps.queues.releaseDeadLetter(handle)));
  }
  const placed = results.some((r) => r.outcome === 'requeued') ? await dispatchWaiting(deps) : 0;
  const notFound = wanted ? [...wanted].filter((id) => !results.some((r) => r.messageId === id)) : [];
  return { redriven: results, placed, notFound };
}

/** Messages looked at per redrive request; call again for more. */
const MAX_REDRIVE = 100;

async function redriveOne(deps: Deps, message: DeadLetter): Promise<{ jobId?: string; outcome: RedriveOutcome; detail: string }> {
  const { envelope, problem } = await inspect(deps, message);
  if (!envelope || problem) return { jobId: envelope?.jobId, outcome: 'discarded', detail: problem ?? 'not an envelope' };
  const job = await deps.jobs.getJob(envelope.jobId);
  if (!job) return { jobId: envelope.jobId, outcome: 'discarded', detail: `job ${envelope.jobId} does not exist` };
  if (TERMINAL.includes(job.status)) return { jobId: job.jobId, outcome: 'discarded', detail: `the job is already ${job.status}` };
  if (job.status !== 'ASSIGNED' || job.providerId !== envelope.providerId || job.attempt !== envelope.attempt) {
    return { jobId: job.jobId, outcome: 'discarded', detail: `the job has moved on (now ${job.status} at attempt ${job.attempt})` };
  }
  const reason = `its envelope went to the dead-letter queue after ${message.receiveCount} deliveries to provider ${envelope.providerId}`;
  const reclaimed = await reclaim(deps, job, reason);
  // Issue #19: a replica is failed, not re-queued: its group replaces it (or decides).
  if (reclaimed.outcome === 'failed' && job.replicaOf !== undefined) await replicaEnded(deps, job.replicaOf);
  if (reclaimed.outcome === 'requeued') return { jobId: job.jobId, outcome: 'requeued', detail: `queued again at attempt ${reclaimed.job.attempt}` };
  if (reclaimed.outcome === 'failed') return { jobId: job.jobId, outcome: 'failed', detail: reclaimed.reason };
  return { jobId: job.jobId, outcome: 'discarded', detail: 'the job moved on while it was redriven' };
}
