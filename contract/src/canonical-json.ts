/**
 * Deterministic JSON: object keys sorted, no whitespace, `undefined` members dropped. Used for
 * everything that is signed (job envelopes, run-time reports) and for ledger state, so that two
 * parties serialising the same value produce the same bytes. It is the chaincode's own function,
 * re-exported: the bytes the controller and the agent sign are the bytes the chaincode verifies.
 */
export { canonicalJson } from '../../chaincode/src/canonical-json';
