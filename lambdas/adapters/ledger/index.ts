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
 * Fabric mode reads the `FABRIC_*` variables described in fabric-ledger.ts. The chosen
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
      const { FabricLedger, fabricOptionsFromEnv } = await import('./fabric-ledger');
      return new FabricLedger(fabricOptionsFromEnv(env));
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
