import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { common, ledger, msp, peer } from '@hyperledger/fabric-protos';
import { WorldState } from '../../lambdas/adapters/ledger/world-state';
import type { ChaincodeHarness, HarnessKind, Identity, MovementsEvent } from './harness';
import { CONTROLLER, tempDir } from './harness';
import { freePort, waitForPort } from './ports';

/**
 * The chaincode run as Fabric runs it, minus the peer: `chaincode/network/serve.sh` starts the
 * compiled contracts under the real fabric-shim (`fabric-chaincode-node server`, the CCaaS
 * entry point), and this stand-in peer connects to it over gRPC, speaks the chaincode shim
 * protocol (REGISTER/READY, TRANSACTION, GET_STATE, PUT_STATE, GET_STATE_BY_RANGE,
 * GET_HISTORY_FOR_KEY, COMPLETED), and commits the write set of each successful submit to a
 * world state. Proposals carry real X.509 creators, so fabric-shim's ClientIdentity derives the
 * client id itself.
 */

// google-protobuf ships no type declarations.
const { Timestamp } = require('google-protobuf/google/protobuf/timestamp_pb') as {
  Timestamp: new () => { setSeconds(seconds: number): void; setNanos(nanos: number): void };
};

const MessageType = peer.ChaincodeMessage.Type;
const CHANNEL = 'chainfaas';
const CHAINCODE = 'chainfaas';

/** The chaincode service process and the CA that issues creators' certificates; one per test file. */
class ShimEnvironment {
  private server: ChildProcess | undefined;
  private readonly certificates = new Map<string, string>();
  private readonly dir = tempDir('chainfaas-shim-');
  address = '';

  async start(): Promise<void> {
    const port = await freePort();
    this.address = `127.0.0.1:${port}`;
    const serve = resolve(__dirname, '../../chaincode/network/serve.sh');
    this.server = spawn('bash', [serve, 'chainfaas_1.0:test', this.address], { detached: true, stdio: 'ignore' });
    this.openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=test-ca',
      '-days',
      '1',
    ]);
    await waitForPort(port, 90_000);
  }

  stop(): void {
    if (this.server?.pid) process.kill(-this.server.pid, 'SIGTERM');
    this.dir.remove();
  }

  /** A PEM certificate whose subject and issuer give fabric-shim's client id `identity.id`. */
  certificateFor(identity: Identity): string {
    const cached = this.certificates.get(identity.id);
    if (cached) return cached;
    const match = /^x509::(\/CN=[^/:]+)::\/CN=test-ca$/.exec(identity.id);
    if (!match) throw new Error(`the shim harness issues certificates as x509::/CN=<name>::/CN=test-ca only, not ${identity.id}`);
    const name = `leaf-${this.certificates.size}`;
    this.openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      match[1] as string,
    ]);
    this.openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1']);
    const pem = execFileSync('cat', [join(this.dir.dir, `${name}.pem`)], { encoding: 'utf8' });
    this.certificates.set(identity.id, pem);
    return pem;
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir.dir, stdio: 'ignore' });
  }
}

interface PendingTransaction {
  writes: Map<string, Buffer | null>;
  done: (message: peer.ChaincodeMessage) => void;
}

/** One peer connection to the chaincode service, with its own world state. */
class StandInPeer {
  private readonly state = new WorldState();
  private readonly pending = new Map<string, PendingTransaction>();
  readonly events: MovementsEvent[] = [];
  private clockSeconds = 1_700_000_000;

  private constructor(
    private readonly client: peer.ChaincodeClient,
    private readonly stream: grpc.ClientDuplexStream<peer.ChaincodeMessage, peer.ChaincodeMessage>,
    private readonly environment: ShimEnvironment,
  ) {
    stream.on('data', (message: peer.ChaincodeMessage) => this.onMessage(message));
  }

  /** Connects and completes the REGISTER / REGISTERED / READY handshake. */
  static async connect(environment: ShimEnvironment): Promise<StandInPeer> {
    const client = new peer.ChaincodeClient(environment.address, grpc.credentials.createInsecure());
    const stream = client.connect();
    await new Promise<void>((resolveRegistered, reject) => {
      stream.once('error', reject);
      stream.once('data', (message: peer.ChaincodeMessage) => {
        if (message.getType() !== MessageType.REGISTER) return reject(new Error(`expected REGISTER, got ${message.getType()}`));
        for (const type of [MessageType.REGISTERED, MessageType.READY]) {
          const reply = new peer.ChaincodeMessage();
          reply.setType(type);
          stream.write(reply);
        }
        resolveRegistered();
      });
    });
    return new StandInPeer(client, stream, environment);
  }

  /** Runs `Contract:Function` with `args` as `identity`; commits its writes when `commit` and it succeeded. */
  async invoke(identity: Identity, fn: string, args: string[], commit: boolean): Promise<string> {
    const txId = randomBytes(32).toString('hex');
    this.clockSeconds += 1;
    const message = new peer.ChaincodeMessage();
    message.setType(MessageType.TRANSACTION);
    message.setTxid(txId);
    message.setChannelId(CHANNEL);
    const input = new peer.ChaincodeInput();
    input.setArgsList([fn, ...args].map((arg) => Buffer.from(arg, 'utf8')));
    message.setPayload(input.serializeBinary());
    message.setProposal(this.signedProposal(identity, txId, input));

    const writes = new Map<string, Buffer | null>();
    const completed = await new Promise<peer.ChaincodeMessage>((done) => {
      this.pending.set(txId, { writes, done });
      this.stream.write(message);
    });
    this.pending.delete(txId);
    if (completed.getType() !== MessageType.COMPLETED) throw new Error(Buffer.from(completed.getPayload_asU8()).toString('utf8'));
    const response = peer.Response.deserializeBinary(completed.getPayload_asU8());
    if (response.getStatus() >= 400) throw new Error(response.getMessage());
    if (commit) {
      this.state.apply(
        txId,
        this.clockSeconds * 1000,
        [...writes].map(([key, value]) => ({ key, value })),
      );
      const event = completed.getChaincodeEvent();
      if (event?.getEventName() === 'BalanceMovements') this.events.push(JSON.parse(Buffer.from(event.getPayload_asU8()).toString('utf8')) as MovementsEvent);
    }
    return Buffer.from(response.getPayload_asU8()).toString('utf8');
  }

  /** Moves the clock of later transactions forward. */
  advanceClock(seconds: number): void {
    this.clockSeconds += seconds;
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }

  private signedProposal(identity: Identity, txId: string, input: peer.ChaincodeInput): peer.SignedProposal {
    const timestamp = new Timestamp();
    timestamp.setSeconds(this.clockSeconds);
    timestamp.setNanos(0);
    const channelHeader = new common.ChannelHeader();
    channelHeader.setType(common.HeaderType.ENDORSER_TRANSACTION);
    channelHeader.setChannelId(CHANNEL);
    channelHeader.setTxId(txId);
    channelHeader.setTimestamp(timestamp as never);
    const creator = new msp.SerializedIdentity();
    creator.setMspid(identity.mspId);
    creator.setIdBytes(Buffer.from(this.environment.certificateFor(identity), 'utf8'));
    const signatureHeader = new common.SignatureHeader();
    signatureHeader.setCreator(creator.serializeBinary());
    signatureHeader.setNonce(randomBytes(24));
    const header = new common.Header();
    header.setChannelHeader(channelHeader.serializeBinary());
    header.setSignatureHeader(signatureHeader.serializeBinary());
    const spec = new peer.ChaincodeSpec();
    const chaincodeId = new peer.ChaincodeID();
    chaincodeId.setName(CHAINCODE);
    spec.setChaincodeId(chaincodeId);
    spec.setInput(input);
    const invocation = new peer.ChaincodeInvocationSpec();
    invocation.setChaincodeSpec(spec);
    const payload = new peer.ChaincodeProposalPayload();
    payload.setInput(invocation.serializeBinary());
    const proposal = new peer.Proposal();
    proposal.setHeader(header.serializeBinary());
    proposal.setPayload(payload.serializeBinary());
    const signed = new peer.SignedProposal();
    signed.setProposalBytes(proposal.serializeBinary());
    signed.setSignature(new Uint8Array());
    return signed;
  }

  /** Answers the chaincode's requests for one transaction, the way a peer's handler does. */
  private onMessage(message: peer.ChaincodeMessage): void {
    const tx = this.pending.get(message.getTxid());
    if (!tx) return;
    const payload = message.getPayload_asU8();
    const reply = (type: number, body: Uint8Array) => {
      const out = new peer.ChaincodeMessage();
      out.setType(type as peer.ChaincodeMessage.TypeMap[keyof peer.ChaincodeMessage.TypeMap]);
      out.setTxid(message.getTxid());
      out.setChannelId(message.getChannelId());
      out.setPayload(body);
      this.stream.write(out);
    };
    switch (message.getType()) {
      case MessageType.GET_STATE: {
        const key = peer.GetState.deserializeBinary(payload).getKey();
        return reply(MessageType.RESPONSE, this.state.get(key) ?? new Uint8Array());
      }
      case MessageType.PUT_STATE: {
        const put = peer.PutState.deserializeBinary(payload);
        const value = Buffer.from(put.getValue_asU8());
        tx.writes.set(put.getKey(), value.length === 0 ? null : value);
        return reply(MessageType.RESPONSE, new Uint8Array());
      }
      case MessageType.DEL_STATE: {
        tx.writes.set(peer.DelState.deserializeBinary(payload).getKey(), null);
        return reply(MessageType.RESPONSE, new Uint8Array());
      }
      case MessageType.GET_STATE_BY_RANGE: {
        const range = peer.GetStateByRange.deserializeBinary(payload);
        const rows = this.state.range(range.getStartkey(), range.getEndkey() === '' ? undefined : range.getEndkey());
        return reply(
          MessageType.RESPONSE,
          queryResponse(
            rows.map(({ key, value }) => {
              const kv = new ledger.queryresult.KV();
              kv.setNamespace(CHAINCODE);
              kv.setKey(key);
              kv.setValue(value);
              return kv.serializeBinary();
            }),
          ),
        );
      }
      case MessageType.GET_HISTORY_FOR_KEY: {
        const key = peer.GetHistoryForKey.deserializeBinary(payload).getKey();
        const versions = [...this.state.versions(key)].reverse();
        return reply(
          MessageType.RESPONSE,
          queryResponse(
            versions.map((version) => {
              const modification = new ledger.queryresult.KeyModification();
              const at = new Timestamp();
              at.setSeconds(Math.floor(version.timestampMs / 1000));
              at.setNanos(0);
              modification.setTxId(version.txId);
              modification.setValue(version.value ?? new Uint8Array());
              modification.setIsDelete(version.value === null);
              modification.setTimestamp(at as never);
              return modification.serializeBinary();
            }),
          ),
        );
      }
      case MessageType.QUERY_STATE_CLOSE:
        return reply(MessageType.RESPONSE, new peer.QueryResponse().serializeBinary());
      case MessageType.COMPLETED:
      case MessageType.ERROR:
        return tx.done(message);
      default:
        return reply(MessageType.ERROR, Buffer.from(`the stand-in peer does not serve message type ${message.getType()}`));
    }
  }
}

function queryResponse(results: Uint8Array[]): Uint8Array {
  const response = new peer.QueryResponse();
  response.setResultsList(
    results.map((bytes) => {
      const result = new peer.QueryResultBytes();
      result.setResultbytes(bytes);
      return result;
    }),
  );
  response.setHasMore(false);
  response.setId(randomBytes(8).toString('hex'));
  return response.serializeBinary();
}

const environment = new ShimEnvironment();

/** The third harness: the real fabric-shim, driven over gRPC by a stand-in peer. */
export const shimHarness: HarnessKind = {
  name: 'real fabric-shim over gRPC',
  setup: () => environment.start(),
  teardown: async () => environment.stop(),
  create: async (): Promise<ChaincodeHarness> => {
    const standIn = await StandInPeer.connect(environment);
    await standIn.invoke(CONTROLLER, 'MonitoringContract:InitLedger', [], true);
    return {
      controller: CONTROLLER,
      submit: (contract, fn, args, as = CONTROLLER) => standIn.invoke(as, `${contract}:${fn}`, args, true),
      evaluate: (contract, fn, args, as = CONTROLLER) => standIn.invoke(as, `${contract}:${fn}`, args, false),
      movements: async () => [...standIn.events],
      advanceClock: (seconds) => standIn.advanceClock(seconds),
      close: async () => standIn.close(),
    };
  },
};
