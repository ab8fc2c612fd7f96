import { createPrivateKey, KeyObject, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CertificateAuthority, ChannelPeer, FabricJoinInfo, PeerEnrolment } from '../core/ports';
import { ENV } from '../handlers/manifest';
import { FabricDiscovery } from './fabric-discovery';
import { fabricOptions } from './ledger';
import type { FabricLedgerOptions } from './ledger/fabric-ledger';
import { readSecret } from './secrets';

/**
 * PeerEnrolment on the platform's Fabric network. The organisation's CA and TLS CA keys come from
 * PEM files in local mode (up.sh's cryptogen output: `FABRIC_CA_KEY_PATH`, `FABRIC_TLS_CA_KEY_PATH`)
 * or, in AWS, from the Secrets Manager secret `FABRIC_CA_SECRET_ARN` (JSON: `caCertificate`,
 * `caKey`, `tlsCaCertificate`, `tlsCaKey`, `ordererTlsCaCertificate`, PEM strings). They are read on
 * first use and stay inside this module: the core only gets a signing callback.
 */

interface CaMaterial {
  caCertificate: string;
  caKey: string;
  tlsCaCertificate: string;
  tlsCaKey: string;
  ordererTlsCaCertificate: string;
  /** In the CA secret the Fabric node writes (AWS), what only the node knows; elsewhere from FABRIC_* variables. */
  mspId?: string;
  packageId?: string;
  ccaasAddress?: string;
}

/** The CA secret's JSON, checked (every PEM present; the node's extras optional strings). */
export function parseCaSecret(json: string, secretArn: string): CaMaterial {
  const parsed = JSON.parse(json) as Partial<Record<keyof CaMaterial, unknown>>;
  for (const field of ['caCertificate', 'caKey', 'tlsCaCertificate', 'tlsCaKey', 'ordererTlsCaCertificate'] as const) {
    if (typeof parsed[field] !== 'string') throw new Error(`the CA secret ${secretArn} has no ${field}`);
  }
  for (const field of ['mspId', 'packageId', 'ccaasAddress'] as const) {
    if (parsed[field] !== undefined && typeof parsed[field] !== 'string') throw new Error(`the CA secret ${secretArn}: ${field} is not a string`);
  }
  return parsed as CaMaterial;
}

export class FabricPeerEnrolment implements PeerEnrolment {
  private material?: Promise<CaMaterial>;
  private readonly keys = new Map<string, KeyObject>();
  private discovery?: Promise<FabricDiscovery>;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly loadMaterial: () => Promise<CaMaterial>,
    private readonly ledgerOptions: () => Promise<FabricLedgerOptions>,
  ) {}

  private ca(): Promise<CaMaterial> {
    this.material ??= this.loadMaterial().catch((err) => {
      this.material = undefined;
      throw err;
    });
    return this.material;
  }

  async info(): Promise<FabricJoinInfo> {
    const m = await this.ca();
    // The environment first; in AWS the node's CA secret supplies what only the node knows.
    const required = (name: string, fromSecret?: string): string => {
      const value = this.env[name] || fromSecret;
      if (!value) throw new Error(`peer enrolment needs ${name}`);
      return value;
    };
    const F = ENV.fabric;
    const P = ENV.peerEnrolment;
    const packageId = required(P.packageId, m.packageId);
    const label = packageId.split(':')[0] as string;
    return {
      mspId: required(F.mspId, m.mspId),
      domain: organisationOf(m.caCertificate),
      channel: this.env[F.channel] || 'chainfaas',
      orderer: { endpoint: required(P.ordererEndpoint), hostAlias: this.env[P.ordererHostAlias] || undefined, tlsCaCertificate: m.ordererTlsCaCertificate },
      gossipBootstrap: { endpoint: this.env[P.gossipBootstrap] || required(F.peerEndpoint), hostAlias: this.env[F.peerHostAlias] || undefined },
      chaincode: { name: this.env[F.chaincode] || 'chainfaas', label, packageId, address: required(P.ccaasAddress, m.ccaasAddress) },
    };
  }

  async authority(which: 'identity' | 'tls'): Promise<CertificateAuthority> {
    const m = await this.ca();
    const [certificatePem, keyPem] = which === 'identity' ? [m.caCertificate, m.caKey] : [m.tlsCaCertificate, m.tlsCaKey];
    let key = this.keys.get(which);
    if (!key) {
      key = createPrivateKey(keyPem);
      this.keys.set(which, key);
    }
    const caKey = key;
    return { certificatePem, sign: async (data) => sign('sha256', data, caKey) };
  }

  async channelPeers(): Promise<ChannelPeer[]> {
    this.discovery ??= this.ledgerOptions().then(
      (options) => new FabricDiscovery(options),
      (err) => {
        this.discovery = undefined;
        throw err;
      },
    );
    return (await this.discovery).channelPeers();
  }
}

/** The O of a certificate's subject (cryptogen puts the organisation's domain there). */
function organisationOf(pem: string): string {
  const o = /^O=(.+)$/m.exec(new X509Certificate(pem).subject)?.[1];
  if (!o) throw new Error("the organisation's CA certificate names no O");
  return o;
}

/**
 * The enrolment port from the environment, or why there is none: the ledger is not Fabric, or no
 * CA is configured (neither `FABRIC_CA_SECRET_ARN` nor `FABRIC_CA_KEY_PATH`).
 */
export function peerEnrolmentFromEnv(env: NodeJS.ProcessEnv = process.env): { enrolment?: PeerEnrolment; unavailable?: string } {
  const P = ENV.peerEnrolment;
  if (env[ENV.ledgerMode] !== 'fabric') {
    return {
      unavailable: `this platform's ledger is embedded (${ENV.ledgerMode}=${env[ENV.ledgerMode] || 'embedded'}): there is no Fabric network for a peer to join. Peers can join a platform that runs with ${ENV.ledgerMode}=fabric.`,
    };
  }
  const secretArn = env[P.caSecretArn];
  if (!secretArn && !env[P.caKeyPath]) {
    return {
      unavailable: `this platform's Fabric organisation has no certificate authority configured for peer enrolment (${P.caSecretArn} or ${P.caKeyPath})`,
    };
  }
  const loadMaterial = secretArn
    ? async (): Promise<CaMaterial> => parseCaSecret(await readSecret(secretArn, 'the CA secret'), secretArn)
    : async (): Promise<CaMaterial> => {
        const file = (name: string) => {
          const path = env[name];
          if (!path) throw new Error(`peer enrolment needs ${name} (or ${P.caSecretArn})`);
          return readFileSync(path, 'utf8');
        };
        return {
          caCertificate: file(P.caCertPath),
          caKey: file(P.caKeyPath),
          tlsCaCertificate: file(ENV.fabric.tlsCertPath),
          tlsCaKey: file(P.tlsCaKeyPath),
          ordererTlsCaCertificate: file(P.ordererTlsCertPath),
        };
      };
  return { enrolment: new FabricPeerEnrolment(env, loadMaterial, () => fabricOptions(env)) };
}
