import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Secrets Manager, for every secret the controller reads (the signing key, the Fabric client
 * identity, the Fabric CA keys): the one client, created once per process. Local mode reads files
 * instead and never sends it a request. Secret values are returned, never logged.
 */
const secretsManager = new SecretsManagerClient({});

/** The secret's string value; `what` names the secret in the error when it holds none. */
export async function readSecret(secretArn: string, what: string): Promise<string> {
  const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!out.SecretString) throw new Error(`${what} ${secretArn} is empty`);
  return out.SecretString;
}
