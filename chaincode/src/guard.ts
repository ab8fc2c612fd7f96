import { keys } from './keys';
import { ControllerIdentity } from './models';
import type { Tx } from './state';

/**
 * Authorisation: who the controller is, and the one check every controller-only transaction makes.
 *
 * Configuration scheme: `InitLedger` is run once, right after the chaincode definition is
 * committed, by the controller's own identity (chaincode/network/up.sh does this in a real
 * network; the EmbeddedLedger does it when it creates a new chain). It records the caller's MSP id
 * and client id (Fabric's `x509::<subject DN>::<issuer DN>`, stable across certificate renewal
 * with the same subject) and refuses every later call, so the controller cannot be replaced by a
 * transaction. Because any channel member could in principle call `InitLedger` first, the
 * deployment reads `GetController` afterwards and must find the controller there; if not, the
 * chaincode is redeployed under a new name before any job is recorded.
 */
export async function recordController(tx: Tx): Promise<ControllerIdentity> {
  const key = keys.controller(tx.state);
  const existing = await tx.state.get<ControllerIdentity>(key);
  if (existing) throw new Error(`the ledger is already initialised: the controller is ${existing.clientId} of ${existing.mspId}`);
  const controller: ControllerIdentity = {
    mspId: tx.ctx.clientIdentity.getMSPID(),
    clientId: tx.ctx.clientIdentity.getID(),
    recordedAt: tx.timestamp,
  };
  tx.state.put(key, controller);
  return controller;
}

/** The recorded controller identity, or undefined before `InitLedger`. */
export function readController(tx: Tx): Promise<ControllerIdentity | undefined> {
  return tx.state.get<ControllerIdentity>(keys.controller(tx.state));
}

/** Throws unless the transaction's creator is the recorded controller. */
export async function requireController(tx: Tx, action: string): Promise<void> {
  const controller = await readController(tx);
  if (!controller) throw new Error('the ledger is not initialised: the controller must run InitLedger first');
  const mspId = tx.ctx.clientIdentity.getMSPID();
  const clientId = tx.ctx.clientIdentity.getID();
  if (mspId !== controller.mspId || clientId !== controller.clientId) {
    throw new Error(`only the controller may ${action}; the caller is ${clientId} of ${mspId}`);
  }
}
