import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { checkpointers, CommitError, connect, Contract, Gateway, GatewayError, hash, Network, signers, StatusCode } from '@hyperledger/fabric-gateway';
import { BALANCE_MOVEMENTS_EVENT, MONETARY_CONTRACT, MONITORING_CONTRACT } from '../../../chaincode/src/names';
import type { BalanceMovements, LedgerEventSource } from '../../core/ledger';
import { ENV } from '../../handlers/manifest';
import { ChaincodeError, ContractLedger, ContractName, parseBalanceMovements } from './contract-ledger';
import { logger } from '../observability';

/** How to reach the Fabric network and as whom. */
export interface FabricLedgerOptions {
  /** The gateway peer, `host:port`. */
  peerEndpoint: string;
  /** The name in the peer's TLS certificate, when it differs from the endpoint's host. */
  peerHostAlias?: string;
  /** PEM of the CA that signed the peer's TLS certificate. */
  tlsRootCertPem: Buffer;
  /** The controller's MSP id. */
  mspId: string;
  /** PEM of the controller's enrolment certificate. */
  certificatePem: Buffer;
  /** PEM of the controller's private key. */
  privateKeyPem: Buffer;
  /** @default 'chainfaas' */
  channel?: string;
  /** @default 'chainfaas' */
  chaincode?: string;
  /** Deadline for evaluate and endorse calls, seconds. @default 30 */
  requestTimeoutS?: number;
  /** Deadline for ordering and commit, seconds. @default 60 */
  commitTimeoutS?: number;
  /**
   * Told each submitted transaction's two waits: endorsement (the peer runs the chaincode and
   * signs; the gateway then hands the transaction to the orderer) and commit (ordered into a
   * block, validated, committed). For the benchmark's account of where the time goes.
   */
  onSubmitTiming?: (timing: { endorseMs: number; commitMs: number }) => void;
}

/** The names of the `FABRIC_*` variables: the manifest's list, which the CDK binders set too. */
const F = ENV.fabric;

/**
 * Reads FabricLedgerOptions from the environment:
 *
 * | variable | meaning |
 * |---|---|
 * | `FABRIC_PEER_ENDPOINT` | gateway peer `host:port` (required) |
 * | `FABRIC_PEER_HOST_ALIAS` | TLS server name override (optional) |
 * | `FABRIC_TLS_CERT_PATH` | PEM file of the peer's TLS CA (required) |
 * | `FABRIC_MSP_ID` | the controller's MSP id (required) |
 * | `FABRIC_CERT_PATH` | the controller's certificate PEM (required) |
 * | `FABRIC_KEY_PATH` | the controller's private key PEM, or a keystore directory holding exactly one (required) |
 * | `FABRIC_CHANNEL` | channel name (default `chainfaas`) |
 * | `FABRIC_CHAINCODE` | chaincode name (default `chainfaas`) |
 */
export function fabricOptionsFromEnv(env: NodeJS.ProcessEnv): FabricLedgerOptions {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${ENV.ledgerMode}=fabric needs ${name}`);
    return value;
  };
  return {
    peerEndpoint: required(F.peerEndpoint),
    peerHostAlias: env[F.peerHostAlias] || undefined,
    tlsRootCertPem: readFileSync(required(F.tlsCertPath)),
    mspId: required(F.mspId),
    certificatePem: readFileSync(required(F.certPath)),
    privateKeyPem: readKey(required(F.keyPath)),
    channel: env[F.channel] || undefined,
    chaincode: env[F.chaincode] || undefined,
  };
}

/**
 * FabricLedgerOptions from a client identity JSON (`{ mspId, certificate, privateKey,
 * tlsRootCertificate }`, PEM strings: the secret the CDK stack keeps) plus `FABRIC_PEER_ENDPOINT`,
 * `FABRIC_PEER_HOST_ALIAS`, `FABRIC_CHANNEL` and `FABRIC_CHAINCODE` from the environment.
 */
export function fabricOptionsFromIdentity(env: NodeJS.ProcessEnv, identityJson: string): FabricLedgerOptions {
  let identity: Record<string, unknown>;
  try {
    identity = JSON.parse(identityJson) as Record<string, unknown>;
  } catch {
    throw new Error('the Fabric identity is not valid JSON');
  }
  const pem = (field: string): Buffer => {
    const value = identity[field];
    if (typeof value !== 'string' || !value.includes('-----BEGIN')) throw new Error(`the Fabric identity needs ${field} as a PEM string`);
    return Buffer.from(value, 'utf8');
  };
  if (typeof identity.mspId !== 'string' || identity.mspId === '') throw new Error('the Fabric identity needs mspId');
  const peerEndpoint = env[F.peerEndpoint];
  if (!peerEndpoint) throw new Error(`${ENV.ledgerMode}=fabric needs ${F.peerEndpoint}`);
  return {
    peerEndpoint,
    peerHostAlias: env[F.peerHostAlias] || undefined,
    tlsRootCertPem: pem('tlsRootCertificate'),
    mspId: identity.mspId,
    certificatePem: pem('certificate'),
    privateKeyPem: pem('privateKey'),
    channel: env[F.channel] || undefined,
    chaincode: env[F.chaincode] || undefined,
  };
}

/**
 * The `Ledger` port on a real Fabric network, through the Fabric Gateway of one peer. Submits
 * are endorsed, ordered and awaited until committed; a transaction that fails validation (an MVCC
 * conflict, say) rejects with the validation code, so the caller's outbox retries it.
 */
export class FabricLedger extends ContractLedger implements LedgerEventSource {
  private readonly client: grpc.Client;
  private readonly gateway: Gateway;
  private readonly network: Network;
  private readonly chaincode: string;
  private readonly contracts: Record<ContractName, Contract>;
  private readonly feeds = new Set<{ stop: () => void }>();
  private readonly onSubmitTiming: FabricLedgerOptions['onSubmitTiming'];

  constructor(options: FabricLedgerOptions) {
    super();
    this.onSubmitTiming = options.onSubmitTiming;
    const requestTimeoutMs = (options.requestTimeoutS ?? 30) * 1000;
    const commitTimeoutMs = (options.commitTimeoutS ?? 60) * 1000;
    const deadline = (ms: number) => () => ({ deadline: Date.now() + ms });
    this.client = new grpc.Client(
      options.peerEndpoint,
      grpc.credentials.createSsl(options.tlsRootCertPem),
      options.peerHostAlias ? { 'grpc.ssl_target_name_override': options.peerHostAlias } : {},
    );
    this.gateway = connect({
      client: this.client,
      identity: { mspId: options.mspId, credentials: options.certificatePem },
      signer: signers.newPrivateKeySigner(createPrivateKey(options.privateKeyPem)),
      hash: hash.sha256,
      evaluateOptions: deadline(requestTimeoutMs),
      endorseOptions: deadline(requestTimeoutMs),
      submitOptions: deadline(commitTimeoutMs),
      commitStatusOptions: deadline(commitTimeoutMs),
    });
    this.network = this.gateway.getNetwork(options.channel ?? 'chainfaas');
    this.chaincode = options.chaincode ?? 'chainfaas';
    this.contracts = {
      [MONITORING_CONTRACT]: this.network.getContract(this.chaincode, MONITORING_CONTRACT),
      [MONETARY_CONTRACT]: this.network.getContract(this.chaincode, MONETARY_CONTRACT),
    };
  }

  /**
   * Follows the chaincode's BalanceMovements events. Reconnects after a dropped stream, resuming
   * after the last event delivered (if none was delivered yet, from `fromBlock` or from the next
   * block).
   */
  onBalanceMovements(listener: (movements: BalanceMovements) => void | Promise<void>, options: { fromBlock?: number } = {}): () => void {
    const checkpoint = checkpointers.inMemory();
    let stopped = false;
    let closeStream: (() => void) | undefined;
    let cancelWait: (() => void) | undefined;
    const feed = {
      stop: () => {
        stopped = true;
        closeStream?.();
        cancelWait?.();
      },
    };
    this.feeds.add(feed);
    const follow = async () => {
      while (!stopped) {
        try {
          const events = await this.network.getChaincodeEvents(this.chaincode, {
            checkpoint,
            startBlock: options.fromBlock === undefined ? undefined : BigInt(options.fromBlock),
          });
          closeStream = () => events.close();
          for await (const event of events) {
            if (event.eventName === BALANCE_MOVEMENTS_EVENT) {
              await listener(parseBalanceMovements(Buffer.from(event.payload).toString('utf8'), Number(event.blockNumber)));
            }
            await checkpoint.checkpointChaincodeEvent(event);
          }
        } catch (err) {
          if (stopped) return;
          logger.error('fabric ledger: the chaincode event stream failed; reconnecting in 5 s', { error: describe(err) });
          // Stopping the feed cuts the wait short, so close() leaves no timer behind.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 5000);
            cancelWait = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          cancelWait = undefined;
        }
      }
    };
    void follow();
    return () => {
      feed.stop();
      this.feeds.delete(feed);
    };
  }

  async close(): Promise<void> {
    for (const feed of this.feeds) feed.stop();
    this.feeds.clear();
    this.gateway.close();
    this.client.close();
  }

  protected async submitTx(contract: ContractName, transaction: string, args: string[]): Promise<{ txId: string; result: string }> {
    try {
      const started = Date.now();
      const submitted = await this.contracts[contract].submitAsync(transaction, { arguments: args });
      const endorsed = Date.now();
      const status = await submitted.getStatus();
      this.onSubmitTiming?.({ endorseMs: endorsed - started, commitMs: Date.now() - endorsed });
      if (!status.successful) {
        throw new ChaincodeError(transaction, `transaction ${status.transactionId} was not committed: ${validationCodeName(status.code)}`);
      }
      return { txId: submitted.getTransactionId(), result: Buffer.from(submitted.getResult()).toString('utf8') };
    } catch (err) {
      throw asChaincodeError(transaction, err);
    }
  }

  protected async evaluateTx(contract: ContractName, transaction: string, args: string[]): Promise<string> {
    try {
      return Buffer.from(await this.contracts[contract].evaluate(transaction, { arguments: args })).toString('utf8');
    } catch (err) {
      throw asChaincodeError(transaction, err);
    }
  }
}

/** A private key PEM from a file, or from the one file in a Fabric MSP keystore directory. */
function readKey(path: string): Buffer {
  if (!statSync(path).isDirectory()) return readFileSync(path);
  const files = readdirSync(path);
  if (files.length !== 1) throw new Error(`FABRIC_KEY_PATH ${path} is a directory holding ${files.length} files; expected exactly one key`);
  return readFileSync(join(path, files[0] as string));
}

/** Turns gateway errors into ChaincodeError with the peers' own messages (the chaincode's refusal). */
function asChaincodeError(transaction: string, err: unknown): Error {
  if (err instanceof ChaincodeError) return err;
  if (err instanceof CommitError) return new ChaincodeError(transaction, `transaction ${err.transactionId} was not committed: ${validationCodeName(err.code)}`);
  return new ChaincodeError(transaction, describe(err));
}

function describe(err: unknown): string {
  if (err instanceof GatewayError) {
    const details = err.details.map((detail) => detail.message).filter(Boolean);
    return details.length > 0 ? details.join('; ') : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

function validationCodeName(code: number): string {
  const name = Object.entries(StatusCode).find(([, value]) => value === code)?.[0];
  return name ?? `validation code ${code}`;
}
