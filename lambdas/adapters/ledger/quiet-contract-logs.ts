import { ENV } from '../../handlers/manifest';

/**
 * fabric-contract-api logs every decorator it evaluates at `info` level when the contracts are
 * loaded, unless the peer's CORE_CHAINCODE_LOGGING_LEVEL says otherwise. The embedded ledger loads
 * the contracts into the controller's own process, so it defaults that level to WARNING. Import
 * this module before anything that loads the chaincode.
 */
process.env[ENV.chaincodeLoggingLevel] ??= 'WARNING';
