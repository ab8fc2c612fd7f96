/**
 * Custom resource handler of SigningKey (lib/constructs/signing-key.ts): makes sure the signing-key
 * secret holds the controller's Ed25519 key, generating it here, inside AWS, the first time, and
 * answers CloudFormation with the matching public key (SPKI PEM) for the Lambdas' environment.
 * The private key goes from this function's memory into the secret and nowhere else: not into the
 * response, not into a log, never into cdk.out.
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey } from 'node:crypto';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/** Where the key lives: the secret's current value, and a way to store a new one. */
export interface KeyStore {
  read(): Promise<string | undefined>;
  write(pem: string): Promise<void>;
}

/**
 * The public key of the Ed25519 PKCS#8 PEM key in `store`. When the store holds something else
 * (the placeholder a new secret is created with) and `mayGenerate`, a new key is generated and
 * stored first; an existing secret of the operator's is never overwritten.
 */
export async function ensureControllerKey(store: KeyStore, mayGenerate: boolean): Promise<{ publicKeyPem: string; generated: boolean }> {
  const current = await store.read();
  if (current?.includes('PRIVATE KEY')) {
    const key = createPrivateKey(current);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the signing-key secret holds a ${key.asymmetricKeyType} key, not Ed25519`);
    return { publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(), generated: false };
  }
  if (!mayGenerate) throw new Error('the signing-key secret given (signingKeySecretArn) holds no PKCS#8 PEM private key: put the Ed25519 key in it first');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await store.write(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), generated: true };
}

const secrets = new SecretsManagerClient({});

function secretStore(secretId: string): KeyStore {
  return {
    read: async () => (await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
    write: async (pem) => {
      await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: pem }));
    },
  };
}

/** Answers CloudFormation on the pre-signed URL of the event (what cfn-response does). */
export async function respond(
  event: CloudFormationCustomResourceEvent,
  outcome: { status: 'SUCCESS' | 'FAILED'; reason?: string; physicalResourceId: string; data?: Record<string, string> },
): Promise<void> {
  const body = JSON.stringify({
    Status: outcome.status,
    Reason: outcome.reason ?? outcome.status,
    PhysicalResourceId: outcome.physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: outcome.data,
  });
  const answer = await fetch(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' }, body });
  if (!answer.ok) throw new Error(`CloudFormation's response URL answered ${answer.status}`);
}

/** The Lambda entry point. */
export const handler = (event: CloudFormationCustomResourceEvent): Promise<void> => handle(event);

/** One custom resource event, against `store` (the secret named in the event by default). */
export async function handle(event: CloudFormationCustomResourceEvent, store?: KeyStore): Promise<void> {
  const props = event.ResourceProperties as unknown as { SecretId: string; MayGenerate: string };
  const physicalResourceId = `controller-key:${props.SecretId}`;
  try {
    if (event.RequestType === 'Delete') return await respond(event, { status: 'SUCCESS', physicalResourceId });
    const { publicKeyPem } = await ensureControllerKey(store ?? secretStore(props.SecretId), props.MayGenerate === 'true');
    await respond(event, { status: 'SUCCESS', physicalResourceId, data: { PublicKeyPem: publicKeyPem } });
  } catch (err) {
    // The message names what is wrong; it never carries the secret's value.
    await respond(event, { status: 'FAILED', reason: (err as Error).message, physicalResourceId });
  }
}
