import { PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { InputStorage } from '../core/ports';
import { s3 } from './clients';

/**
 * Uploads of large job inputs into the platform's bucket (under `inputs/`). The presigned PUT
 * signs the content length, so in AWS S3 refuses an upload of any other size; the controller
 * checks the stored size again when the invocation references the upload (the emulator checks
 * no signature).
 */
export class S3InputStorage implements InputStorage {
  constructor(private readonly bucket: string) {}

  presignUpload(key: string, size: number, expiresS: number): Promise<string> {
    return getSignedUrl(s3, new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentLength: size }), {
      expiresIn: expiresS,
      signableHeaders: new Set(['content-length']),
    });
  }
}
