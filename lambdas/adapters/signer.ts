import { readFile } from 'node:fs/promises';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Signer } from '../core/ports';
import { keyId, signPayload } from '../core/signing';

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
    const file = env.CONTROLLER_KEY_FILE;
    const secretArn = env.CONTROLLER_KEY_SECRET_ARN;
    const publicPem = env.CONTROLLER_PUBLIC_KEY;
    if (file) return new KeySigner(() => readFile(file, 'utf8'), publicPem);
    if (secretArn) {
      const client = new SecretsManagerClient({});
      return new KeySigner(async () => {
        const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
        if (!out.SecretString) throw new Error('the controller key secret is empty');
        return out.SecretString;
      }, publicPem);
    }
    if (publicPem) return new KeySigner(() => Promise.reject(new Error('this function holds no signing key (least privilege)')), publicPem);
    throw new Error('set CONTROLLER_KEY_FILE (local), CONTROLLER_KEY_SECRET_ARN (AWS) or CONTROLLER_PUBLIC_KEY');
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
