/**
 * @chainfaas/contract: the wire formats of ChainFaaS, written once. Requests and answers of the
 * controller's HTTP API, the problem body, the signed job envelope and run-time report, canonical
 * JSON and Ed25519 signing, the route table and the OpenAPI document generated from it.
 * It imports zod and Node's crypto (and the chaincode's canonical JSON); nothing of the controller,
 * the agent, the portal or the CLI.
 */
export * from './answers';
export * from './envelope';
export * from './problem';
export * from './requests';
export * from './input-schema';
export * from './routes';
export * from './signing';
export * from './canonical-json';
export * from './compare';
