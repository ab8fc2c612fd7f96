import { readFile } from 'node:fs/promises';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { Signer } from '../core/ports';
import { keyId, signPayload } from '../../contract/src';
import { ENV } from '../handlers/manifest';
import { readSecret } from './secrets';

/**
 * The controller's Ed25519 signing key: from Secrets Manager in AWS (`CONTROLLER_KEY_SECRET_ARN`),
 * from a PEM file in local mode (`CONTROLLER_KEY_FILE`). Loaded once per process; never logged.
 */
export class KeySigner implements Signer {
  private key?: Promise<{ privateKeyPem: string; publicKeyPem: string; keyId: string }>;

  constructor(
    private readonly load: () => Promise<string>,
    /** When given, the public key is served without loading the private key. */
    private readonly publicPem?: string,
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): KeySigner {
    const file = env[ENV.signingKeyFile];
    const secretArn = env[ENV.signingKeySecretArn];
    const publicPem = env[ENV.publicKey];
    if (file) return new KeySigner(() => readFile(file, 'utf8'), publicPem);
    if (secretArn) return new KeySigner(() => readSecret(secretArn, 'the controller key secret'), publicPem);
    if (publicPem) return new KeySigner(() => Promise.reject(new Error('this function holds no signing key (least privilege)')), publicPem);
    throw new Error(`set ${ENV.signingKeyFile} (local), ${ENV.signingKeySecretArn} (AWS) or ${ENV.publicKey}`);
  }

  private material() {
    this.key ??= this.load().then((privateKeyPem) => {
      const publicKeyPem = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
      return { privateKeyPem, publicKeyPem, keyId: keyId(publicKeyPem) };
    });
    return this.key;
  }

  async publicKey(): Promise<{ pem: string; keyId: string }> {
    if (this.publicPem) return { pem: this.publicPem, keyId: keyId(this.publicPem) };
    const { publicKeyPem, keyId: id } = await this.material();
    return { pem: publicKeyPem, keyId: id };
  }

  async sign(payload: unknown): Promise<{ signature: string; keyId: string }> {
    const { privateKeyPem, keyId: id } = await this.material();
    return { signature: signPayload(payload, privateKeyPem), keyId: id };
  }
}
