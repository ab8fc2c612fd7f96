import { ENV } from '../handlers/manifest';
import { requireEnv } from './clients';
import { FetchCallbackSender } from './http-callbacks';
import { S3InputStorage } from './s3-inputs';

/**
 * Settings and ports of the public API that are not part of the controller's shared Deps: input
 * uploads, callback delivery, and whether callbacks may go to loopback addresses.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `CALLBACK_ALLOW_LOOPBACK` | `1` when `LEDGER_MODE=embedded` (local mode), else `0` | accept `http://127.0.0.1` callback URLs |
 */
export function allowLoopbackCallbacks(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[ENV.settings.callbackAllowLoopback] ?? (env[ENV.ledgerMode] === 'embedded' ? '1' : '0');
  return raw === '1' || raw === 'true';
}

let inputs: S3InputStorage | undefined;
/** Presigned uploads into the results bucket, built on first use. */
export const inputStorage = (): S3InputStorage => (inputs ??= new S3InputStorage(requireEnv(ENV.bucket)));

export const callbackSender = new FetchCallbackSender();
