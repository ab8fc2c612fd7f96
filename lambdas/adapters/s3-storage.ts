import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ResultStorage } from '../core/ports';
import { s3 } from './clients';

/** Results and logs in the platform's bucket, reached by the provider and the caller through presigned URLs. */
export class S3ResultStorage implements ResultStorage {
  constructor(private readonly bucket: string) {}

  presignPut(key: string, expiresS: number): Promise<string> {
    return getSignedUrl(s3, new PutObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresS });
  }

  presignGet(key: string, expiresS: number): Promise<string> {
    return getSignedUrl(s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresS });
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const out = await s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.ContentLength ?? 0;
    } catch (err) {
      if (err instanceof NotFound || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) return undefined;
      throw err;
    }
  }

  async putObject(key: string, body: Buffer): Promise<void> {
    await s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
  }

  async getObject(key: string): Promise<Buffer | undefined> {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? Buffer.from(await out.Body.transformToByteArray()) : Buffer.alloc(0);
    } catch (err) {
      if (err instanceof NoSuchKey || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) return undefined;
      throw err;
    }
  }
}
