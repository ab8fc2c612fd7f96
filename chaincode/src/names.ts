/**
 * Names clients address the chaincode by. Free of Fabric imports so that ledger clients (the
 * controller's FabricLedger) can use them without loading the contracts.
 */
export const MONITORING_CONTRACT = 'MonitoringContract';
export const MONETARY_CONTRACT = 'MonetaryContract';
/** The chaincode event that carries a transaction's BalanceMovements. */
export const BALANCE_MOVEMENTS_EVENT = 'BalanceMovements';
