import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { DeveloperBucket, DeveloperBuckets, ResultStorage } from '../core/ports';
import { partitionOf, resultBucketSessionPolicy, sessionName } from '../core/session-policies';
import { awsRegion, s3, sts } from './clients';
import { toCredentials } from './sts';

/** Result storage in one bucket through one S3 client (the controller's own, or an assumed role's). */
export class BucketStorage implements ResultStorage {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client,
  ) {}

  presignPut(key: string, expiresS: number): Promise<string> {
    return getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresS });
  }

  presignGet(key: string, expiresS: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresS });
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.ContentLength ?? 0;
    } catch (err) {
      if (err instanceof NotFound || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) return undefined;
      throw err;
    }
  }

  async putObject(key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
  }
  async getObject(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? Buffer.from(await out.Body.transformToByteArray()) : Buffer.alloc(0);
    } catch (err) {
      if (err instanceof NoSuchKey || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) return undefined;
      throw err;
    }
  }
}

/** Assumed sessions are reused until this long before they expire. */
const REFRESH_BEFORE_MS = 10 * 60 * 1000;

/**
 * Buckets developers name for their functions' results. With a role (AWS): STS AssumeRole on the
 * developer's `chainfaas-results*` role, external id = the developer's user id (so one developer
 * cannot name another's role), and a session policy limited to `results/` of that bucket; the S3
 * client signs with the session, so presigned URLs live at most as long as it (1 h under role
 * chaining). Without a role (local mode, where fauxqs checks no signatures): the controller's own
 * client. Sessions are cached per role, bucket and developer.
 */
export class S3DeveloperBuckets implements DeveloperBuckets {
  private readonly sessions = new Map<string, { storage: Promise<BucketStorage>; expiresAt: number }>();

  async open(location: DeveloperBucket): Promise<ResultStorage> {
    if (!location.roleArn) return new BucketStorage(location.bucket, s3);
    const key = `${location.roleArn}|${location.bucket}|${location.externalId}`;
    const cached = this.sessions.get(key);
    if (cached && cached.expiresAt - REFRESH_BEFORE_MS > Date.now()) return cached.storage;
    const entry = { storage: this.assume(location, location.roleArn), expiresAt: Date.now() + 3600_000 };
    this.sessions.set(key, entry);
    entry.storage.catch(() => this.sessions.delete(key));
    return entry.storage;
  }

  private async assume(location: DeveloperBucket, roleArn: string): Promise<BucketStorage> {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: sessionName(`chainfaas-${location.externalId}`),
        ExternalId: location.externalId,
        Policy: resultBucketSessionPolicy(location.bucket, partitionOf(roleArn)),
        DurationSeconds: 3600,
      }),
    );
    const credentials = toCredentials(out.Credentials, roleArn);
    const client = new S3Client({
      region: awsRegion,
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const entry = this.sessions.get(`${roleArn}|${location.bucket}|${location.externalId}`);
    if (entry) entry.expiresAt = Date.parse(credentials.expiration);
    return new BucketStorage(location.bucket, client);
  }
}
