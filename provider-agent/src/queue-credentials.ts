/**
 * The provider's AWS credentials for its own queue, in AWS: short-lived STS credentials whose
 * session policy names only that queue, minted by the controller (`POST /providers/{id}/credentials`).
 * They are kept in memory only (never written to the config directory) and fetched again before
 * they expire; one fetch at a time, whatever the number of concurrent SQS calls.
 */

export interface QueueCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** Fetch again this long before expiry, or after three quarters of a shorter lifetime. */
const REFRESH_BEFORE_MS = 5 * 60_000;

/**
 * A credential provider for the AWS SDK (`new SQSClient({ credentials })`): answers the cached
 * credentials while they are fresh, fetches new ones through `fetch` when they are not. A failed
 * fetch is thrown to the SDK call that needed it (the agent's loops back off and try again).
 */
export function refreshingCredentials(fetch: () => Promise<QueueCredentials>, now: () => number = Date.now): () => Promise<QueueCredentials> {
  let current: { credentials: QueueCredentials; refreshAt: number } | undefined;
  let inFlight: Promise<QueueCredentials> | undefined;
  const refresh = async (): Promise<QueueCredentials> => {
    const fetchedAt = now();
    const credentials = await fetch();
    const expiresAt = credentials.expiration.getTime();
    const lifetime = Math.max(0, expiresAt - fetchedAt);
    current = { credentials, refreshAt: expiresAt - Math.min(REFRESH_BEFORE_MS, lifetime / 4) };
    return credentials;
  };
  return async () => {
    if (current && now() < current.refreshAt) return current.credentials;
    inFlight ??= refresh().finally(() => (inFlight = undefined));
    return inFlight;
  };
}
