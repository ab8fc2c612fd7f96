/**
 * Job pricing for the controller: the chaincode's own functions, re-exported so that the hold the
 * controller places and the cost the chaincode settles are computed by the same code, to the
 * micro-credit. `vcpuMillicores` reads a vCPU amount as exact millicores (no float rounding).
 */
export { isBilledOutcome, jobCost, RUNTIME_GRACE_MS, vcpuMillicores, worstCaseCost } from '../../chaincode/src/pricing';
export type { PriceList, PricedResources } from '../../chaincode/src/pricing';
