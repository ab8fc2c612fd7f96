import type { Ledger, LedgerEventSource } from '../../core/ledger';
import type { LedgerIdentity } from './simulated-stub';

/**
 * Opens the ledger the environment asks for:
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `LEDGER_MODE` | `embedded` (in-process, hash-chained block file) or `fabric` (real peers) | `embedded` |
 * | `LEDGER_DIR` | embedded: directory of the block file | `.chainfaas/ledger` |
 * | `LEDGER_CONTROLLER_MSP_ID`, `LEDGER_CONTROLLER_ID` | embedded: the controller identity | see `DEFAULT_CONTROLLER` |
 *
 * Fabric mode reads the `FABRIC_*` variables described in fabric-ledger.ts; in AWS the client
 * identity comes from the Secrets Manager secret named by `FABRIC_IDENTITY_SECRET_ARN` (JSON
 * `{ mspId, certificate, privateKey, tlsRootCertificate }`), elsewhere from the PEM files named by
 * `FABRIC_MSP_ID`, `FABRIC_CERT_PATH`, `FABRIC_KEY_PATH` and `FABRIC_TLS_CERT_PATH`. The chosen
 * implementation is loaded on demand, so a Lambda in Fabric mode never loads the contracts.
 */
export async function createLedger(env: NodeJS.ProcessEnv = process.env): Promise<Ledger & LedgerEventSource> {
  const mode = env.LEDGER_MODE ?? 'embedded';
  switch (mode) {
    case 'embedded': {
      const { EmbeddedLedger } = await import('./embedded-ledger');
      return new EmbeddedLedger({ dir: env.LEDGER_DIR ?? '.chainfaas/ledger', controller: controllerFromEnv(env) });
    }
    case 'fabric': {
      const { FabricLedger, fabricOptionsFromEnv, fabricOptionsFromIdentity } = await import('./fabric-ledger');
      const secretArn = env.FABRIC_IDENTITY_SECRET_ARN;
      return new FabricLedger(secretArn ? fabricOptionsFromIdentity(env, await readSecret(secretArn)) : fabricOptionsFromEnv(env));
    }
    default:
      throw new Error(`LEDGER_MODE must be embedded or fabric, got ${JSON.stringify(mode)}`);
  }
}

function controllerFromEnv(env: NodeJS.ProcessEnv): LedgerIdentity | undefined {
  const mspId = env.LEDGER_CONTROLLER_MSP_ID;
  const id = env.LEDGER_CONTROLLER_ID;
  if (mspId === undefined && id === undefined) return undefined;
  if (!mspId || !id) throw new Error('set both LEDGER_CONTROLLER_MSP_ID and LEDGER_CONTROLLER_ID, or neither');
  return { mspId, id };
}

async function readSecret(secretArn: string): Promise<string> {
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!out.SecretString) throw new Error(`the Fabric identity secret ${secretArn} is empty`);
  return out.SecretString;
}
