import type { Ledger, LedgerEventSource } from '../../core/ledger';
import { ENV } from '../../handlers/manifest';
import { readSecret } from '../secrets';
import type { FabricLedgerOptions } from './fabric-ledger';
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
  const mode = env[ENV.ledgerMode] ?? 'embedded';
  switch (mode) {
    case 'embedded': {
      const { EmbeddedLedger } = await import('./embedded-ledger');
      return new EmbeddedLedger({ dir: env[ENV.embeddedLedger.dir] ?? '.chainfaas/ledger', controller: controllerFromEnv(env) });
    }
    case 'fabric': {
      const { FabricLedger } = await import('./fabric-ledger');
      return new FabricLedger(await fabricOptions(env));
    }
    default:
      throw new Error(`${ENV.ledgerMode} must be embedded or fabric, got ${JSON.stringify(mode)}`);
  }
}

/**
 * How to reach the Fabric network: the client identity from the secret `FABRIC_IDENTITY_SECRET_ARN`
 * (AWS) or from the PEM files of the `FABRIC_*` variables. For the ledger, and for peer enrolment's
 * discovery queries (fabric-enrolment.ts).
 */
export async function fabricOptions(env: NodeJS.ProcessEnv): Promise<FabricLedgerOptions> {
  const { fabricOptionsFromEnv, fabricOptionsFromIdentity } = await import('./fabric-ledger');
  const secretArn = env[ENV.fabric.identitySecretArn];
  return secretArn ? fabricOptionsFromIdentity(env, await readSecret(secretArn, 'the Fabric identity secret')) : fabricOptionsFromEnv(env);
}

function controllerFromEnv(env: NodeJS.ProcessEnv): LedgerIdentity | undefined {
  const { controllerMspId, controllerId } = ENV.embeddedLedger;
  const mspId = env[controllerMspId];
  const id = env[controllerId];
  if (mspId === undefined && id === undefined) return undefined;
  if (!mspId || !id) throw new Error(`set both ${controllerMspId} and ${controllerId}, or neither`);
  return { mspId, id };
}
