import { createHash, createPrivateKey } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { signers } from '@hyperledger/fabric-gateway';
import { discovery, gossip, msp } from '@hyperledger/fabric-protos';
import type { ChannelPeer } from '../core/ports';
import type { FabricLedgerOptions } from './ledger/fabric-ledger';

/**
 * The channel's peers as the network itself reports them: a peer membership query to the
 * gateway peer's discovery service (the same gRPC port the Fabric Gateway uses), signed by the
 * controller's client identity (a channel reader). Each peer comes with its gossip endpoint, its
 * ledger height (from its gossip state info) and its enrolment certificate. A peer is listed only
 * while it gossips on the channel: one that stopped drops out after gossip's alive expiration.
 */
export class FabricDiscovery {
  private readonly client: discovery.DiscoveryClient;
  private readonly sign: (digest: Uint8Array) => Promise<Uint8Array>;

  constructor(
    private readonly options: Pick<
      FabricLedgerOptions,
      'peerEndpoint' | 'peerHostAlias' | 'tlsRootCertPem' | 'mspId' | 'certificatePem' | 'privateKeyPem' | 'channel'
    >,
  ) {
    this.client = new discovery.DiscoveryClient(
      options.peerEndpoint,
      grpc.credentials.createSsl(options.tlsRootCertPem),
      options.peerHostAlias ? { 'grpc.ssl_target_name_override': options.peerHostAlias } : {},
    );
    this.sign = signers.newPrivateKeySigner(createPrivateKey(options.privateKeyPem));
  }

  async channelPeers(timeoutMs = 10_000): Promise<ChannelPeer[]> {
    const identity = new msp.SerializedIdentity();
    identity.setMspid(this.options.mspId);
    identity.setIdBytes(this.options.certificatePem);
    const auth = new discovery.AuthInfo();
    auth.setClientIdentity(identity.serializeBinary());
    const query = new discovery.Query();
    query.setChannel(this.options.channel ?? 'chainfaas');
    query.setPeerQuery(new discovery.PeerMembershipQuery());
    const request = new discovery.Request();
    request.setAuthentication(auth);
    request.setQueriesList([query]);
    const payload = request.serializeBinary();
    const signed = new discovery.SignedRequest();
    signed.setPayload(payload);
    signed.setSignature(await this.sign(createHash('sha256').update(payload).digest()));

    const response = await new Promise<discovery.Response>((resolve, reject) => {
      this.client.discover(signed, { deadline: Date.now() + timeoutMs }, (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res)));
    });
    const result = response.getResultsList()[0];
    const error = result?.getError();
    if (!result || error) throw new Error(`discovery: ${error?.getContent() ?? 'no result'}`);
    const peers: ChannelPeer[] = [];
    result
      .getMembers()
      ?.getPeersByOrgMap()
      .forEach((byOrg: discovery.Peers) => {
        for (const peer of byOrg.getPeersList()) {
          const id = msp.SerializedIdentity.deserializeBinary(peer.getIdentity_asU8());
          const alive = peer.getMembershipInfo() && gossip.GossipMessage.deserializeBinary(peer.getMembershipInfo()!.getPayload_asU8()).getAliveMsg();
          const state = peer.getStateInfo() && gossip.GossipMessage.deserializeBinary(peer.getStateInfo()!.getPayload_asU8()).getStateInfo();
          peers.push({
            mspId: id.getMspid(),
            certificatePem: Buffer.from(id.getIdBytes_asU8()).toString('utf8'),
            endpoint: alive?.getMembership()?.getEndpoint() ?? '',
            ledgerHeight: Number(state?.getProperties()?.getLedgerHeight() ?? 0),
          });
        }
      });
    return peers;
  }

  close(): void {
    this.client.close();
  }
}
