import { JobEnvelope } from '../../contract/src';
import { Backoff, sleep } from './backoff';
import { ControllerError } from './controller-client';
import { errorMessage } from './log';

/** The HTTP an attempt does besides the controller's API: its input, the presigned PUTs, and retrying with back-off. */

/** The job's input: decoded inline, or fetched from its URL and checked against the declared size. */
export async function fetchInput(envelope: JobEnvelope): Promise<Buffer> {
  if (envelope.input.kind === 'inline') return Buffer.from(envelope.input.base64, 'base64');
  const response = await fetch(envelope.input.url, { signal: AbortSignal.timeout(60_000) });
  if (!response.ok) throw new Error(`GET of the input answered ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length !== envelope.input.size) throw new Error(`the input has ${bytes.length} bytes; the envelope declares ${envelope.input.size}`);
  return bytes;
}

/** Uploads bytes to a presigned S3 PUT URL. */
export async function put(url: string, body: Buffer): Promise<void> {
  const response = await fetch(url, { method: 'PUT', body, headers: { 'Content-Type': 'application/octet-stream' }, signal: AbortSignal.timeout(120_000) });
  if (!response.ok) {
    const detail = (await response.text().catch(() => '')).slice(0, 200);
    throw new ControllerError(`PUT to the presigned URL answered ${response.status}: ${detail}`, response.status);
  }
}

/**
 * Calls `fn` up to `attempts` times with back-off. A definitive refusal is rethrown as it is (the
 * caller may act on its status); running out of attempts or an abort throws with `what` named.
 */
export async function retry<T>(fn: () => Promise<T>, attempts: number, what: string, signal: AbortSignal): Promise<T> {
  const backoff = new Backoff();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ControllerError && err.definitive) throw err;
      if (attempt >= attempts || signal.aborted) throw new Error(`${what} failed after ${attempt} attempt(s): ${errorMessage(err)}`, { cause: err });
      await sleep(backoff.next(), signal);
    }
  }
}
