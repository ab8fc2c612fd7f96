import { MonetaryContract } from './monetary-contract';
import { MonitoringContract } from './monitoring-contract';

/**
 * The ChainFaaS chaincode: the monitoring and monetary ledgers as two contracts in one package
 * (one world-state namespace). fabric-chaincode-node loads `contracts`; the first is the default.
 */
export { MonitoringContract, MonetaryContract };
export * from './models';
export { jobCost, worstCaseCost, vcpuMillicores, isBilledOutcome } from './pricing';
export { MAX_BATCH_EVENTS } from './batch';
export * from './names';
export type { JobVersion } from './jobs';

export const contracts = [MonitoringContract, MonetaryContract];
