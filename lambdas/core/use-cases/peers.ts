import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { conflict, DomainError, invalid, notFound } from '../errors';
import type { User } from '../model';
import { newId } from '../passwords';
import type { ChannelPeer, FabricJoinInfo, PeerEnrolment, PeerRecord, PeerStore } from '../ports';
import { certificateKey, issueCertificate, readCertificateRequest } from '../x509';
import { CreatePeerBody } from '../../../contract/src/requests';
import type { JoinBundle, PeerView } from '../../../contract/src/answers';
import { nowIso, parse, requireRole } from './context';

/**
 * Peer operators' peers in the platform's Fabric organisation (issue #6).
 *
 * Enrolment never moves a private key: the operator makes its peer's signing key and TLS key on
 * its own machine and sends certificate requests; the controller, acting as the organisation's CA
 * and TLS CA (the `PeerEnrolment` port), issues certificates for those keys whose subject it
 * chooses — `OU=peer` (the `peer` node OU: to the channel the peer can only ever be a peer,
 * never a client that submits transactions nor an admin), `CN=<peerId>.<domain>` — and whose
 * TLS certificate names the endpoint the operator registered. The answer is a join bundle for
 * `chaincode/network/join-peer.sh --bundle`.
 *
 * Status comes from the network: the channel's members as the gateway peer's discovery service
 * lists them, matched by certificate. `joined` (with its ledger height and the channel's),
 * `enrolled` (never seen), `unreachable` (seen once, not listed now), `revoked`.
 */

export interface PeerDeps {
  peers: PeerStore;
  /** Absent when no peer can join: the ledger is embedded, or the organisation's CA is not configured. */
  enrolment?: PeerEnrolment;
  /** Why `enrolment` is absent, in words for the 409. */
  unavailable?: string;
  now?: () => Date;
}

/** Peers one operator may enrol (revoked ones included). */
export const MAX_PEERS_PER_OPERATOR = 20;
const CERT_VALID_DAYS = 365;

const PeerId = z.string().regex(/^peer_[A-Za-z0-9]{1,64}$/);

const noNetwork = (deps: PeerDeps) =>
  conflict(
    deps.unavailable ??
      "this platform's ledger is embedded (LEDGER_MODE=embedded): there is no Fabric network for a peer to join. Peers can join a platform that runs with LEDGER_MODE=fabric.",
  );

/** The command that starts the peer, from the directory of a checkout of this repository. */
export function joinCommand(endpoint: string): string {
  const [host, port] = [endpoint.slice(0, endpoint.lastIndexOf(':')), endpoint.slice(endpoint.lastIndexOf(':') + 1)];
  const listen = isIPv4(host) ? endpoint : `0.0.0.0:${port}`;
  return `chaincode/network/join-peer.sh --bundle peer-bundle.json --key signkey.pem --tls-key tlskey.pem --listen ${listen}`;
}

/** `POST /peers`: a peer operator enrols a peer from its two CSRs; the answer is the join bundle. */
export async function enrolPeer(deps: PeerDeps, user: User, body: unknown) {
  requireRole(user, 'peer-operator');
  const input = parse(CreatePeerBody, body);
  const sign = readCsr('signCsr', input.signCsr);
  const tls = readCsr('tlsCsr', input.tlsCsr);
  if (sign.spki.equals(tls.spki)) throw invalid('tlsCsr', 'tlsCsr: must be for another key than signCsr (the TLS key and the signing key are two keys)');
  if (!deps.enrolment) throw noNetwork(deps);
  const info = await deps.enrolment.info();
  const peerId = newId('peer');
  const now = deps.now ? deps.now() : new Date();
  const subject = { o: info.domain, ou: 'peer', cn: `${peerId}.${info.domain}` };
  const [identityCa, tlsCa] = await Promise.all([deps.enrolment.authority('identity'), deps.enrolment.authority('tls')]);
  const host = input.endpoint.slice(0, input.endpoint.lastIndexOf(':'));
  const signCert = await issueCertificate({
    caCertificatePem: identityCa.certificatePem,
    sign: identityCa.sign,
    spki: sign.spki,
    subject,
    usage: 'identity',
    validDays: CERT_VALID_DAYS,
    now,
  });
  const tlsCert = await issueCertificate({
    caCertificatePem: tlsCa.certificatePem,
    sign: tlsCa.sign,
    spki: tls.spki,
    subject,
    usage: 'tls',
    hosts: [host],
    validDays: CERT_VALID_DAYS,
    now,
  });
  const record: PeerRecord = {
    operatorId: user.userId,
    peerId,
    name: input.name,
    endpoint: input.endpoint,
    mspId: info.mspId,
    signCertificate: signCert.pem,
    tlsCertificate: tlsCert.pem,
    signSerial: signCert.serial,
    tlsSerial: tlsCert.serial,
    createdAt: now.toISOString(),
  };
  if (!(await deps.peers.createPeer(record, MAX_PEERS_PER_OPERATOR))) {
    throw conflict(`an operator may enrol at most ${MAX_PEERS_PER_OPERATOR} peers`, { max: MAX_PEERS_PER_OPERATOR });
  }
  const bundle = bundleOf(record, info, identityCa.certificatePem, tlsCa.certificatePem);
  return { peer: view(record, undefined), bundle, command: joinCommand(record.endpoint) };
}

/** `GET /peers`: the operator's peers with their status in the network. */
export async function listPeers(deps: PeerDeps, user: User) {
  requireRole(user, 'peer-operator');
  const records = await deps.peers.listPeers(user.userId);
  const network = records.length ? await channelView(deps) : { peers: undefined };
  const items = await Promise.all(records.map((r) => observe(deps, r, network.peers)));
  // Said with the list, so the portal can tell an operator before they fill in the form.
  const unavailable = deps.enrolment ? undefined : noNetwork(deps).message;
  return { items, ...(network.error ? { networkError: network.error } : {}), ...(unavailable ? { enrolmentUnavailable: unavailable } : {}) };
}

/** `GET /peers/{peerId}`: one of the operator's peers, its status and its join bundle again (certificates only). */
export async function getPeer(deps: PeerDeps, user: User, peerId: string) {
  requireRole(user, 'peer-operator');
  const record = await ownPeer(deps, user, peerId);
  const network = await channelView(deps);
  const peer = await observe(deps, record, network.peers);
  const info = deps.enrolment ? await deps.enrolment.info() : undefined;
  const cas = deps.enrolment ? await Promise.all([deps.enrolment.authority('identity'), deps.enrolment.authority('tls')]) : undefined;
  return {
    peer,
    ...(info && cas && !record.revokedAt
      ? { bundle: bundleOf(record, info, cas[0].certificatePem, cas[1].certificatePem), command: joinCommand(record.endpoint) }
      : {}),
    ...(network.error ? { networkError: network.error } : {}),
  };
}

/**
 * `DELETE /peers/{peerId}`: the controller stops vouching for the peer (it is listed as revoked
 * and its bundle is no longer served). Its certificates stay valid to Fabric until the channel's
 * MSP carries a CRL naming them, which needs a channel configuration update (README: not done).
 */
export async function revokePeer(deps: PeerDeps, user: User, peerId: string) {
  requireRole(user, 'peer-operator');
  const record = await ownPeer(deps, user, peerId);
  const at = nowIso(deps);
  if (!record.revokedAt) await deps.peers.markRevoked(user.userId, record.peerId, at);
  const stored = (await deps.peers.getPeer(user.userId, record.peerId)) ?? { ...record, revokedAt: at };
  return { peer: view(stored, undefined) };
}

function readCsr(field: 'signCsr' | 'tlsCsr', pem: string) {
  try {
    return readCertificateRequest(pem);
  } catch (err) {
    throw invalid(field, `${field}: ${(err as Error).message}`);
  }
}

async function ownPeer(deps: PeerDeps, user: User, peerId: string): Promise<PeerRecord> {
  const record = PeerId.safeParse(peerId).success ? await deps.peers.getPeer(user.userId, peerId) : undefined;
  if (!record) throw notFound('peer', peerId);
  return record;
}

function bundleOf(record: PeerRecord, info: FabricJoinInfo, caCertificate: string, tlsCaCertificate: string): JoinBundle {
  const { domain: _domain, ...network } = info;
  void _domain;
  return {
    peerId: record.peerId,
    name: record.name,
    endpoint: record.endpoint,
    ...network,
    mspId: record.mspId,
    caCertificate,
    tlsCaCertificate,
    certificates: { sign: record.signCertificate, tls: record.tlsCertificate },
  };
}

async function channelView(deps: PeerDeps): Promise<{ peers?: ChannelPeer[]; error?: string }> {
  if (!deps.enrolment) return {};
  try {
    return { peers: await deps.enrolment.channelPeers() };
  } catch (err) {
    // The network's view is unavailable: statuses fall back to what the controller recorded.
    if (err instanceof DomainError) throw err;
    return { error: `the network's discovery service did not answer: ${(err as Error).message}` };
  }
}

async function observe(deps: PeerDeps, record: PeerRecord, channel: ChannelPeer[] | undefined): Promise<PeerView> {
  if (!channel || record.revokedAt) return view(record, undefined);
  const mine = certificateKey(record.signCertificate);
  const member = mine === undefined ? undefined : channel.find((p) => p.mspId === record.mspId && certificateKey(p.certificatePem) === mine);
  if (member && !record.joinedAt) {
    const at = nowIso(deps);
    await deps.peers.markJoined(record.operatorId, record.peerId, at);
    record = { ...record, joinedAt: at };
  }
  const channelHeight = Math.max(0, ...channel.map((p) => p.ledgerHeight));
  return view(record, member ? { ledgerHeight: member.ledgerHeight, channelHeight } : undefined);
}

function view(record: PeerRecord, seen: { ledgerHeight: number; channelHeight: number } | undefined): PeerView {
  const base = {
    peerId: record.peerId,
    name: record.name,
    endpoint: record.endpoint,
    mspId: record.mspId,
    createdAt: record.createdAt,
    ...(record.joinedAt ? { joinedAt: record.joinedAt } : {}),
    ...(record.revokedAt ? { revokedAt: record.revokedAt } : {}),
  };
  if (record.revokedAt) return { ...base, status: 'revoked', statusText: `revoked at ${record.revokedAt}` };
  if (seen) return { ...base, status: 'joined', ...seen, statusText: `joined (height ${seen.ledgerHeight} of ${seen.channelHeight})` };
  if (record.joinedAt) return { ...base, status: 'unreachable', statusText: 'unreachable: the network does not list it now' };
  return { ...base, status: 'enrolled', statusText: 'enrolled: not in the channel yet' };
}
