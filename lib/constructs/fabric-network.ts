import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, IgnoreMode, Names, RemovalPolicy, Size, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dlm from 'aws-cdk-lib/aws-dlm';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/handlers/manifest';

/** Construct ids of the interface endpoints (kept as they were before the list became a prop). */
const ENDPOINT_NAMES: Record<string, string> = { secretsmanager: 'SecretsManager', xray: 'XRay', sts: 'Sts' };

/** Where a Lambda must run to reach the peer, if anywhere in particular. */
export interface FabricPlacement {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/** A Fabric network the controller's ledger Lambdas can use. */
export interface IFabricNetwork {
  /** VPC placement the ledger Lambdas need; undefined when the peer is reachable from anywhere. */
  readonly placement?: FabricPlacement;
  /** Sets the FABRIC_* variables on `fn` and grants it read of the client identity. */
  bindClient(fn: lambda.Function): void;
  /**
   * Lets `fn` enrol peer operators' peers (manifest `peerEnrolment`): the CA secret's ARN and the
   * orderer's address, and read of that secret. Absent: this network's CAs are not the stack's
   * (enrolment then says why it is unavailable).
   */
  bindEnrolment?(fn: lambda.Function): void;
}

export interface FabricNetworkProps {
  /**
   * Directory uploaded to the node as a zip asset, holding the network script and what it needs
   * (for this repository: the root package files and chaincode/, with its network/ scripts).
   */
  readonly assetPath: string;
  /**
   * Paths of `assetPath` left out of the asset, in .gitignore syntax (negations allowed).
   * @default ['node_modules/', 'dist/', '.git/', 'cdk.out/']
   */
  readonly assetExclude?: string[];
  /**
   * Command run as root from the unpacked asset directory on first boot (Go, Node 24, git, jq and
   * unzip are installed by then; cloud-init runs it once per instance). The contract it must
   * honour, given these exported variables:
   *
   * - `FABRIC_LISTEN_ADDRESS` (0.0.0.0), `FABRIC_PEER_HOST` (the node's private DNS name, for the
   *   TLS certificates), `FABRIC_PEER_PORT`, `FABRIC_ORDERER_PORT`, `FABRIC_CHANNEL`,
   *   `FABRIC_CHAINCODE`, `CHAINFAAS_DATA_DIR` (persistent state), and `FABRIC_BIN_DIR` when
   *   `binariesPath` ships prebuilt binaries (use them instead of building);
   * - build the Fabric binaries, start one Raft orderer, one peer and the chaincode as a service,
   *   as systemd units so they come back after a reboot, and create and join the channel;
   * - write the controller's client identity into `CHAINFAAS_IDENTITY_DIR`: `msp-id`, `cert.pem`,
   *   `key.pem` (PKCS#8) and `tls-ca.pem`;
   * - exit 0 only when the peer answers on its port.
   *
   * The boot script then copies the identity into the identity secret and signals CloudFormation.
   * The repository's implementation is chaincode/network/aws-node.sh.
   *
   * With `orderers: 3` the node also gets `FABRIC_ORDERERS=3`, `FABRIC_ORDERER_CLUSTER_PORT`,
   * `FABRIC_ORDERER<N>_HOST`, `_PORT`, `_CLUSTER_PORT` and `CHAINFAAS_ORDERER<N>_SECRET_ARN`
   * (N = 1, 2): it must make orderers 1 and 2's material, put it in those secrets (JSON
   * `{bundle}`) before it waits for a Raft majority; each orderer host runs
   * `<startCommand> --orderer N` with the same variables and `CHAINFAAS_ORDERER_BUNDLE` (a file
   * holding the bundle).
   */
  readonly startCommand: string;
  /**
   * Directory of prebuilt Fabric binaries for the instance's architecture (`peer`, `orderer`,
   * `configtxgen`, `cryptogen`, `osnadmin` and `sampleconfig/`, as chaincode/network/fabric-bin.sh
   * lays them out), shipped as a second asset so the node does not build Fabric on first boot.
   * @default - the start command builds them on the node, from the Go module proxy (the node has a
   *   public address and reaches the internet through the VPC's internet gateway)
   */
  readonly binariesPath?: string;
  /**
   * AWS services the ledger Lambdas call from the VPC's isolated subnets, besides DynamoDB and S3
   * (gateway endpoints): one interface endpoint each, used only when this construct creates the VPC.
   * @default [SECRETS_MANAGER, XRAY] (the client identity; traces)
   */
  readonly clientServices?: ec2.InterfaceVpcEndpointAwsService[];
  /**
   * VPC to use.
   * @default - a new VPC over two AZs: public subnets for the node, isolated subnets for the
   *   Lambdas (no NAT), gateway endpoints for DynamoDB and S3, interface endpoints for
   *   `clientServices` in the node's AZ, and flow logs
   */
  readonly vpc?: ec2.IVpc;
  /**
   * The node's machine image, fixed: an image resolved at each deploy (`latestAmazonLinux2023()`)
   * changes when AWS publishes a new one, and a new image id replaces the instance. Use
   * `pinnedImage('ami-...')`, or a lookup cached in context (`cachedInContext: true`). Amazon Linux
   * 2023 (dnf, cloud-init) is what the boot script expects.
   */
  readonly machineImage: ec2.IMachineImage;
  /**
   * Size of the ledger's data volume in GiB: a separate encrypted gp3 volume mounted at
   * /var/lib/chainfaas (ledgers, crypto material, the identity), which outlives the instance.
   * @default 20
   */
  readonly dataVolumeSize?: number;
  /**
   * Daily snapshots of the data volume by Data Lifecycle Manager, and how many are kept.
   * 0 turns them off.
   * @default 14
   */
  readonly snapshotsKept?: number;
  /**
   * Instance type of the node (orderer, peer and chaincode on one machine).
   * @default t4g.medium (Graviton; Fabric is built from source with GOARCH=arm64)
   */
  readonly instanceType?: ec2.InstanceType;
  /**
   * Root volume size in GiB (the OS, Fabric's binaries, the Go module cache; the ledger is on the
   * data volume).
   * @default 30
   */
  readonly volumeSize?: number;
  /**
   * Raft orderers: 1 on the node, or 3 — the node's and one on each of two more hosts, the three
   * in three AZs and all consenters of the channel, which then keeps ordering while any one of
   * them (or its AZ) is down. Fixed for a network's life: the channel's consenters are set when
   * the node first boots.
   * @default 1
   */
  readonly orderers?: 1 | 3;
  /**
   * Instance type of the orderer hosts (`orderers: 3`), same architecture as `instanceType`.
   * @default t4g.small
   */
  readonly ordererInstanceType?: ec2.InstanceType;
  /**
   * Port of the orderers' Raft cluster listener (`orderers: 3`): open between the orderers only.
   * @default 7060
   */
  readonly ordererClusterPort?: number;
  /**
   * @default 7051
   */
  readonly peerPort?: number;
  /**
   * @default 7050
   */
  readonly ordererPort?: number;
  /**
   * CIDRs allowed to reach the peer and the orderer from outside the VPC (peer operators who run
   * their own peer on the channel).
   * @default [] (the ledger Lambdas only)
   */
  readonly externalPeerCidrs?: string[];
  /**
   * @default 'chainfaas'
   */
  readonly channel?: string;
  /**
   * @default 'chainfaas'
   */
  readonly chaincode?: string;
  /**
   * Keep the data volume and the identity secret when the stack is deleted or a change would
   * replace them, and protect the instance from termination (the volume holds the only copy of the
   * ledger unless other peers joined).
   * @default true
   */
  readonly retain?: boolean;
  /**
   * How long CloudFormation waits for the node to build Fabric and start.
   * @default Duration.minutes(45)
   */
  readonly startTimeout?: Duration;
  /**
   * Retention of the VPC flow logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: logs.RetentionDays;
}

/** Mount point of the data volume; everything the node must keep lives under it. */
export const DATA_MOUNT = '/var/lib/chainfaas';
const IDENTITY_DIR = `${DATA_MOUNT}/identity`;
const DATA_DIR = `${DATA_MOUNT}/fabric`;
/** Namespace of the node's own metrics (the CloudWatch agent's disk usage). */
export const NODE_METRICS_NAMESPACE = 'ChainFaaS/FabricNode';
const WORK_DIR = '/opt/chainfaas';
const BIN_DIR = `${WORK_DIR}/fabric-bin`;
const FABRIC_TOOLS = ['peer', 'orderer', 'configtxgen', 'cryptogen', 'osnadmin'] as const;
/** Private DNS zone of the orderer hosts (`orderers: 3`): orderer1 and orderer2 under it, the names in their certificates. */
export const ORDERER_ZONE = 'orderer.chainfaas.local';

/**
 * The shell command that turns the identity files the start command wrote into `dir` into the
 * secret's JSON, `dir/identity.json` (test/fabric/aws-node.test.ts runs this same command).
 */
export function identityJsonCommand(dir: string): string {
  return (
    `jq -n --rawfile mspId ${dir}/msp-id --rawfile certificate ${dir}/cert.pem --rawfile privateKey ${dir}/key.pem --rawfile tlsRootCertificate ${dir}/tls-ca.pem ` +
    `'{mspId: ($mspId | rtrimstr("\\n")), certificate: $certificate, privateKey: $privateKey, tlsRootCertificate: $tlsRootCertificate}' > ${dir}/identity.json`
  );
}

/**
 * The shell command that turns the CA files the start command wrote into `dir/ca` (and the TLS CA
 * certificate and MSP id beside the identity) into the CA secret's JSON, `dir/ca.json`: what
 * lambdas/adapters/fabric-enrolment.ts reads (test/fabric/aws-node.test.ts runs this same command).
 */
export function caJsonCommand(dir: string): string {
  const ca = `${dir}/ca`;
  return (
    `jq -n --rawfile caCertificate ${ca}/ca-cert.pem --rawfile caKey ${ca}/ca-key.pem --rawfile tlsCaCertificate ${dir}/tls-ca.pem ` +
    `--rawfile tlsCaKey ${ca}/tls-ca-key.pem --rawfile ordererTlsCaCertificate ${ca}/orderer-tls-ca.pem --rawfile mspId ${dir}/msp-id ` +
    `--rawfile packageId ${ca}/package-id --rawfile ccaasAddress ${ca}/ccaas-address ` +
    `'{caCertificate: $caCertificate, caKey: $caKey, tlsCaCertificate: $tlsCaCertificate, tlsCaKey: $tlsCaKey, ordererTlsCaCertificate: $ordererTlsCaCertificate, ` +
    `mspId: ($mspId | rtrimstr("\\n")), packageId: ($packageId | rtrimstr("\\n")), ccaasAddress: ($ccaasAddress | rtrimstr("\\n"))}' > ${dir}/ca.json`
  );
}

/** A machine image fixed by its id (Amazon Linux 2023, in the stack's region). */
export function pinnedImage(imageId: string): ec2.IMachineImage {
  if (!/^ami-[0-9a-f]{8,17}$/.test(imageId)) throw new Error(`machine image ${imageId} is not an AMI id (ami-...)`);
  return { getImage: () => ({ imageId, osType: ec2.OperatingSystemType.LINUX, userData: ec2.UserData.forLinux() }) };
}

/**
 * Shell lines that mount the data volume `volumeId` at `DATA_MOUNT`, making a file system on it
 * only when it has none (a new volume), so a volume restored from a snapshot keeps its data.
 * The volume shows up as an NVMe device named after its id on Nitro instances, /dev/sdf otherwise.
 */
export function mountDataVolumeCommands(volumeId: string): string[] {
  return [
    `VOL_ID='${volumeId}'; VOL_DEV=''`,
    'for _ in $(seq 1 60); do for d in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOL_ID/-/}" /dev/sdf; do [ -e "$d" ] && VOL_DEV="$d" && break 2; done; sleep 5; done',
    '[ -n "$VOL_DEV" ] || { echo "data volume $VOL_ID not attached" >&2; exit 1; }',
    'blkid "$VOL_DEV" >/dev/null || mkfs.xfs -L chainfaas-data "$VOL_DEV"',
    `mkdir -p ${DATA_MOUNT}`,
    `grep -q '^LABEL=chainfaas-data ' /etc/fstab || echo 'LABEL=chainfaas-data ${DATA_MOUNT} xfs defaults,nofail 0 2' >> /etc/fstab`,
    `mountpoint -q ${DATA_MOUNT} || mount ${DATA_MOUNT}`,
  ];
}

/**
 * Checks that `dir` holds the Fabric tools for `architecture` (read from the ELF header of `peer`),
 * so a deployment cannot ship x86_64 binaries to a Graviton node.
 */
export function checkFabricBinaries(dir: string, architecture: ec2.InstanceArchitecture): void {
  for (const tool of FABRIC_TOOLS) if (!existsSync(join(dir, tool))) throw new Error(`Fabric binaries in ${dir}: ${tool} is missing`);
  if (!existsSync(join(dir, 'sampleconfig', 'core.yaml'))) throw new Error(`Fabric binaries in ${dir}: sampleconfig/core.yaml is missing`);
  const header = Buffer.alloc(20);
  const fd = openSync(join(dir, 'peer'), 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`Fabric binaries in ${dir}: peer is not an ELF executable`);
  const machine = header.readUInt16LE(18);
  const found = machine === 0xb7 ? ec2.InstanceArchitecture.ARM_64 : machine === 0x3e ? ec2.InstanceArchitecture.X86_64 : `machine ${machine}`;
  if (found !== architecture) {
    throw new Error(
      `Fabric binaries in ${dir} are built for ${found}, the node is ${architecture} (build them with GOARCH=${architecture === ec2.InstanceArchitecture.ARM_64 ? 'arm64' : 'amd64'} chaincode/network/fabric-bin.sh)`,
    );
  }
}

/**
 * A Hyperledger Fabric network on EC2 (Amazon Managed Blockchain takes no new customers):
 * one node running a Raft orderer, a peer and the chaincode as a service, built and started on
 * first boot by the repository's own network script (shipped as an asset), reachable by the
 * ledger Lambdas over the VPC. The controller's client identity lands in Secrets Manager; no
 * SSH, only Session Manager.
 */
export class FabricNetwork extends Construct implements IFabricNetwork {
  readonly vpc: ec2.IVpc;
  readonly instance: ec2.Instance;
  /** The ledger's data volume (mounted at DATA_MOUNT), kept when the instance goes. */
  readonly dataVolume: ec2.Volume;
  /** Daily snapshots of the data volume, unless `snapshotsKept` is 0. */
  readonly snapshots?: dlm.CfnLifecyclePolicy;
  readonly identity: secretsmanager.Secret;
  /** The organisation's CA and TLS CA (keys and certificates), written by the node on first boot: peer enrolment signs with them. */
  readonly caSecret: secretsmanager.Secret;
  readonly placement: FabricPlacement;
  readonly peerPort: number;
  readonly ordererPort: number;
  readonly channel: string;
  readonly chaincode: string;
  /** Raft orderers (1 or 3). */
  readonly orderers: 1 | 3;
  /** The hosts of orderers 1 and 2 (`orderers: 3`), in two AZs other than the node's. */
  readonly ordererHosts: ec2.Instance[] = [];
  /** Each orderer host's material (its keys and the genesis block), written by the node, read by that host only. */
  readonly ordererSecrets: secretsmanager.Secret[] = [];
  /** Raft cluster traffic between the orderers (`orderers: 3`): on the node and the orderer hosts, open only among them. */
  readonly clusterSecurityGroup?: ec2.SecurityGroup;
  /**
   * The node's Elastic IP, when outside peers may connect (`externalPeerCidrs`): the address their
   * join bundle names for the orderer and the gossip bootstrap peer, which the node's TLS
   * certificates carry (a public address assigned at launch would change at every stop and start).
   */
  readonly publicAddress?: ec2.CfnEIP;

  constructor(scope: Construct, id: string, props: FabricNetworkProps) {
    super(scope, id);
    const retain = props.retain ?? true;
    this.peerPort = props.peerPort ?? 7051;
    const ordererPort = props.ordererPort ?? 7050;
    this.ordererPort = ordererPort;
    this.channel = props.channel ?? 'chainfaas';
    this.chaincode = props.chaincode ?? 'chainfaas';
    this.orderers = props.orderers ?? 1;
    if (this.orderers !== 1 && this.orderers !== 3) throw new Error(`orderers must be 1 or 3, got ${String(this.orderers)}`);
    this.vpc = props.vpc ?? this.createVpc(props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH, this.orderers === 3 ? 3 : 2);

    const clientSg = new ec2.SecurityGroup(this, 'ClientSecurityGroup', { vpc: this.vpc, description: 'ChainFaaS ledger Lambdas (Fabric gateway clients)' });
    const nodeSg = new ec2.SecurityGroup(this, 'NodeSecurityGroup', { vpc: this.vpc, description: 'ChainFaaS Fabric node: peer and orderer' });
    // The node runs in the first public subnet; the endpoints go to the isolated subnet of the same AZ.
    const nodeSubnet = this.vpc.publicSubnets[0];
    if (!nodeSubnet) throw new Error('FabricNetwork needs a VPC with a public subnet for the node');
    // Three orderers: the other two in the next public subnets, each in an AZ of its own.
    const ordererSubnets = this.orderers === 3 ? this.vpc.publicSubnets.slice(1, 3) : [];
    if (this.orderers === 3 && new Set([nodeSubnet, ...ordererSubnets].map((subnet) => subnet.availabilityZone)).size < 3) {
      throw new Error(
        'FabricNetwork with orderers: 3 needs a VPC with public subnets in three availability zones (a stack without account and region sees two: set both in the stage file)',
      );
    }
    const ordererSg =
      this.orderers === 3 ? new ec2.SecurityGroup(this, 'OrdererSecurityGroup', { vpc: this.vpc, description: 'ChainFaaS Fabric orderer hosts (orderers 1 and 2)' }) : undefined;
    if (!props.vpc)
      this.addInterfaceEndpoints(
        props.clientServices ?? [ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, ec2.InterfaceVpcEndpointAwsService.XRAY],
        clientSg,
        [nodeSg, ...(ordererSg ? [ordererSg] : [])],
        nodeSubnet,
      );
    nodeSg.addIngressRule(clientSg, ec2.Port.tcp(this.peerPort), 'Fabric gateway from the ledger Lambdas');
    for (const cidr of props.externalPeerCidrs ?? []) {
      nodeSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(this.peerPort), `Fabric peer from ${cidr}`);
      nodeSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(ordererPort), `Fabric orderer from ${cidr}`);
    }
    const clusterPort = props.ordererClusterPort ?? 7060;
    if (ordererSg) {
      // Clients of an orderer: the node's peer (blocks, and the transactions its gateway submits) and outside peers.
      ordererSg.addIngressRule(nodeSg, ec2.Port.tcp(ordererPort), 'Fabric orderer from the peer on the node');
      for (const cidr of props.externalPeerCidrs ?? []) ordererSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(ordererPort), `Fabric orderer from ${cidr}`);
      const clusterSg = new ec2.SecurityGroup(this, 'OrdererClusterSecurityGroup', {
        vpc: this.vpc,
        description: 'ChainFaaS Raft orderers: cluster traffic among themselves only',
      });
      clusterSg.addIngressRule(clusterSg, ec2.Port.tcp(clusterPort), 'Raft cluster traffic between the orderers');
      this.clusterSecurityGroup = clusterSg;
    }
    this.placement = { vpc: this.vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [clientSg] };

    this.identity = new secretsmanager.Secret(this, 'ClientIdentity', {
      description:
        'ChainFaaS controller Fabric client identity (JSON: mspId, certificate, privateKey, tlsRootCertificate), written by the Fabric node on first boot',
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    Validations.of(this.identity).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "The identity is a certificate issued by the network's own CA; it is renewed by re-enrolling on the node, which a Secrets Manager rotation Lambda cannot do.",
    });

    this.caSecret = new secretsmanager.Secret(this, 'CaSecret', {
      description:
        "ChainFaaS Fabric organisation's CAs for peer enrolment (JSON: caCertificate, caKey, tlsCaCertificate, tlsCaKey, ordererTlsCaCertificate, mspId, packageId, ccaasAddress), written by the Fabric node on first boot",
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    Validations.of(this.caSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: "The organisation's CA keys are the network's roots of trust, made by the node; a new CA means re-issuing every member's certificate, which a rotation Lambda cannot do.",
    });

    const instanceType = props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM);
    if (props.binariesPath) checkFabricBinaries(props.binariesPath, instanceType.architecture);
    const asset = new s3assets.Asset(this, 'NetworkAsset', {
      path: props.assetPath,
      exclude: props.assetExclude ?? ['node_modules/', 'dist/', '.git/', 'cdk.out/'],
      ignoreMode: IgnoreMode.GIT,
    });
    const binaries = props.binariesPath ? new s3assets.Asset(this, 'BinariesAsset', { path: props.binariesPath }) : undefined;
    const role = new iam.Role(this, 'NodeRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'), description: 'ChainFaaS Fabric node' });
    // The asset objects themselves, not the whole (shared) asset bucket.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [asset, ...(binaries ? [binaries] : [])].map((a) => a.bucket.arnForObjects(a.s3ObjectKey)),
      }),
    );
    this.identity.grantWrite(role);
    this.caSecret.grantWrite(role);
    for (const n of this.orderers === 3 ? [1, 2] : []) {
      const secret = new secretsmanager.Secret(this, `Orderer${n}Material`, {
        description: `ChainFaaS Fabric orderer${n}'s material (JSON: bundle, a base64 tar.gz of its keys and the genesis block), written by the Fabric node on first boot, read by its host`,
        removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: "An orderer's keys are issued by the network's own CA on the node; a rotation Lambda cannot re-issue them.",
      });
      secret.grantWrite(role);
      this.ordererSecrets.push(secret);
    }

    // The ledger lives on its own volume, attached through the instance's Volumes property (attached
    // at launch, before the boot script waits for it). It is retained on delete and on replacement,
    // and while it is attached a replacement instance cannot take it: such a deploy fails and rolls
    // back instead of starting an empty ledger.
    this.dataVolume = new ec2.Volume(this, 'DataVolume', {
      availabilityZone: nodeSubnet.availabilityZone,
      size: Size.gibibytes(props.dataVolumeSize ?? 20),
      volumeType: ec2.EbsDeviceVolumeType.GP3,
      encrypted: true,
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const snapshotTag = Names.uniqueId(this.dataVolume);
    Tags.of(this.dataVolume).add('chainfaas:ledger-volume', snapshotTag);
    if ((props.snapshotsKept ?? 14) > 0) this.snapshots = this.scheduleSnapshots(snapshotTag, props.snapshotsKept ?? 14);

    const userData = ec2.UserData.forLinux();
    this.instance = new ec2.Instance(this, 'Node', {
      vpc: this.vpc,
      vpcSubnets: { subnets: [nodeSubnet] },
      instanceType,
      machineImage: props.machineImage,
      securityGroup: nodeSg,
      role,
      userData,
      // Never replace the node because its user data changed (a new asset after a chaincode edit,
      // say): a user-data change stops and starts the node instead; cloud-init does not run it again.
      userDataCausesReplacement: false,
      requireImdsv2: true,
      detailedMonitoring: true,
      ssmSessionPermissions: true,
      disableApiTermination: retain,
      resourceSignalTimeout: props.startTimeout ?? Duration.minutes(45),
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          // The root volume holds only what the boot rebuilds, except on a node deployed before the
          // data volume existed, whose ledger is still there (README, "The ledger's volume"): kept
          // on termination while data is retained, so such a ledger is never lost with its instance.
          volume: ec2.BlockDeviceVolume.ebs(props.volumeSize ?? 30, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: !retain }),
        },
      ],
    });
    Validations.of(this.instance).acknowledge({
      id: 'CloudFormation-Validate::W9010',
      reason: 'The image id is pinned on purpose (the stage file, or a lookup cached in cdk.context.json): an image resolved at each deploy would replace the ledger node.',
    });
    (this.instance.node.defaultChild as ec2.CfnInstance).volumes = [{ device: '/dev/sdf', volumeId: this.dataVolume.volumeId }];
    const stack = Stack.of(this);
    userData.addCommands('set -euo pipefail', 'dnf install -y aws-cfn-bootstrap golang nodejs24 nodejs24-npm git jq unzip amazon-cloudwatch-agent');
    userData.addSignalOnExitCommand(this.instance);
    userData.addCommands(...mountDataVolumeCommands(this.dataVolume.volumeId), ...this.diskMetricCommands());
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'NodeMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': NODE_METRICS_NAMESPACE } },
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:PutMetricData has no resource-level permissions; the statement is limited to the node metrics namespace by a condition.',
    });
    const zip = userData.addS3DownloadCommand({ bucket: asset.bucket, bucketKey: asset.s3ObjectKey, localFile: `${WORK_DIR}/network.zip` });
    userData.addCommands(
      `rm -rf ${WORK_DIR}/network && mkdir -p ${WORK_DIR}/network ${IDENTITY_DIR} ${DATA_DIR} && chmod 700 ${IDENTITY_DIR}`,
      `unzip -q -o ${zip} -d ${WORK_DIR}/network`,
    );
    if (binaries) {
      const binZip = userData.addS3DownloadCommand({ bucket: binaries.bucket, bucketKey: binaries.s3ObjectKey, localFile: `${WORK_DIR}/fabric-bin.zip` });
      userData.addCommands(
        `rm -rf ${BIN_DIR} && mkdir -p ${BIN_DIR} && unzip -q -o ${binZip} -d ${BIN_DIR}`,
        `chmod 755 ${FABRIC_TOOLS.map((tool) => `${BIN_DIR}/${tool}`).join(' ')}`,
        `export FABRIC_BIN_DIR=${BIN_DIR}`,
      );
    }
    if ((props.externalPeerCidrs ?? []).length > 0) {
      this.publicAddress = new ec2.CfnEIP(this, 'NodeAddress', { domain: 'vpc', tags: [{ key: 'Name', value: `${Names.uniqueId(this)}-node` }] });
      new ec2.CfnEIPAssociation(this, 'NodeAddressAssociation', { allocationId: this.publicAddress.attrAllocationId, instanceId: this.instance.instanceId });
    }
    const ordererExports = this.orderers === 3 ? this.ordererExports(ordererPort, clusterPort) : [];
    if (this.orderers === 3) {
      ordererExports.push(
        `export AWS_DEFAULT_REGION=${stack.region} ${this.ordererSecrets.map((secret, i) => `CHAINFAAS_ORDERER${i + 1}_SECRET_ARN='${secret.secretArn}'`).join(' ')}`,
      );
    }
    userData.addCommands(
      // The name EC2 reports as the instance's private DNS name: the one the Lambdas dial and the TLS certificates must carry.
      'IMDS_TOKEN="$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")"',
      'PEER_HOST="$(curl -sf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" http://169.254.169.254/latest/meta-data/local-hostname)"',
      `export FABRIC_LISTEN_ADDRESS=0.0.0.0 FABRIC_PEER_HOST="$PEER_HOST" FABRIC_PEER_PORT=${this.peerPort} FABRIC_ORDERER_PORT=${ordererPort}`,
      `export FABRIC_CHANNEL=${this.channel} FABRIC_CHAINCODE=${this.chaincode} CHAINFAAS_DATA_DIR=${DATA_DIR} CHAINFAAS_IDENTITY_DIR=${IDENTITY_DIR}`,
      // Outside peers dial the Elastic IP: the certificates carry it besides the private name.
      ...(this.publicAddress ? [`export FABRIC_EXTRA_SANS=${this.publicAddress.attrPublicIp}`] : []),
      ...ordererExports,
      `(cd ${WORK_DIR}/network && ${props.startCommand})`,
      identityJsonCommand(IDENTITY_DIR),
      `aws secretsmanager put-secret-value --region ${stack.region} --secret-id '${this.identity.secretArn}' --secret-string file://${IDENTITY_DIR}/identity.json`,
      `rm -f ${IDENTITY_DIR}/identity.json`,
      caJsonCommand(IDENTITY_DIR),
      `aws secretsmanager put-secret-value --region ${stack.region} --secret-id '${this.caSecret.secretArn}' --secret-string file://${IDENTITY_DIR}/ca.json`,
      `rm -f ${IDENTITY_DIR}/ca.json`,
    );

    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'Session Manager replaces SSH on the node; this is the policy Systems Manager documents for it.',
    });
    if (!retain) {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-EC29',
        reason: 'Termination protection is on whenever data is retained; this deployment asked for disposable data (retainData=false).',
      });
    }
    if (ordererSg && this.clusterSecurityGroup) {
      this.instance.addSecurityGroup(this.clusterSecurityGroup);
      this.addOrdererHosts(props, {
        subnets: ordererSubnets,
        securityGroups: [ordererSg, this.clusterSecurityGroup],
        assets: [asset, ...(binaries ? [binaries] : [])],
        binaries,
        asset,
        ordererPort,
        clusterPort,
        retain,
      });
    }
  }

  /** The variables that tell the start command where the three orderers are (FabricNetworkProps.startCommand). */
  private ordererExports(ordererPort: number, clusterPort: number): string[] {
    return [
      `export FABRIC_ORDERERS=3 FABRIC_ORDERER_CLUSTER_PORT=${clusterPort}`,
      ...[1, 2].map((n) => `export FABRIC_ORDERER${n}_HOST=orderer${n}.${ORDERER_ZONE} FABRIC_ORDERER${n}_PORT=${ordererPort} FABRIC_ORDERER${n}_CLUSTER_PORT=${clusterPort}`),
    ];
  }

  /**
   * Orderers 1 and 2 (`orderers: 3`): a host each, in its own AZ, named `orderer<N>.ORDERER_ZONE` in
   * a private hosted zone (the names the node puts in their certificates and in the channel's
   * consenters, so a replaced host keeps its identity). A host waits for the material the node
   * writes to its secret, then runs the start command with `--orderer N`. Its ledger is a copy:
   * on the root volume, rebuilt from the other two if the host is replaced.
   */
  private addOrdererHosts(
    props: FabricNetworkProps,
    o: {
      subnets: ec2.ISubnet[];
      securityGroups: ec2.ISecurityGroup[];
      assets: s3assets.Asset[];
      binaries?: s3assets.Asset;
      asset: s3assets.Asset;
      ordererPort: number;
      clusterPort: number;
      retain: boolean;
    },
  ): void {
    // A host waits for the node's material (up to the node's start timeout), then may still have to
    // build Fabric itself (no binariesPath): it gets twice the node's time.
    const nodeTimeout = props.startTimeout ?? Duration.minutes(45);
    const zone = new route53.PrivateHostedZone(this, 'OrdererZone', { zoneName: ORDERER_ZONE, vpc: this.vpc, comment: 'ChainFaaS Fabric orderer hosts' });
    const instanceType = props.ordererInstanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.SMALL);
    const stack = Stack.of(this);
    for (const [i, subnet] of o.subnets.entries()) {
      const n = i + 1;
      const secret = this.ordererSecrets[i] as secretsmanager.Secret;
      const role = new iam.Role(this, `Orderer${n}Role`, { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'), description: `ChainFaaS Fabric orderer${n} host` });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: o.assets.map((a) => a.bucket.arnForObjects(a.s3ObjectKey)) }));
      secret.grantRead(role);
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
        reason: 'Session Manager replaces SSH on the orderer hosts; this is the policy Systems Manager documents for it.',
      });
      const userData = ec2.UserData.forLinux();
      const host = new ec2.Instance(this, `Orderer${n}`, {
        vpc: this.vpc,
        vpcSubnets: { subnets: [subnet] },
        instanceType,
        machineImage: props.machineImage,
        securityGroup: o.securityGroups[0],
        role,
        userData,
        userDataCausesReplacement: false,
        requireImdsv2: true,
        detailedMonitoring: true,
        ssmSessionPermissions: true,
        disableApiTermination: o.retain,
        resourceSignalTimeout: Duration.minutes(nodeTimeout.toMinutes() * 2),
        blockDevices: [
          { deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(props.volumeSize ?? 30, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }) },
        ],
      });
      for (const sg of o.securityGroups.slice(1)) host.addSecurityGroup(sg);
      Validations.of(host).acknowledge({
        id: 'CloudFormation-Validate::W9010',
        reason: 'The image id is pinned on purpose, as the node\'s: an image resolved at each deploy would replace the orderer host.',
      });
      if (!o.retain) {
        Validations.of(host).acknowledge({
          id: 'AwsSolutions-EC29',
          reason: 'Termination protection is on whenever data is retained; this deployment asked for disposable data (retainData=false).',
        });
      }
      new route53.ARecord(this, `Orderer${n}Record`, {
        zone,
        recordName: `orderer${n}`,
        target: route53.RecordTarget.fromIpAddresses(host.instancePrivateIp),
        ttl: Duration.minutes(1),
      });
      const bundle = `${DATA_MOUNT}/material/orderer-bundle.b64`;
      userData.addCommands('set -euo pipefail', 'dnf install -y aws-cfn-bootstrap golang git jq unzip');
      userData.addSignalOnExitCommand(host);
      const zip = userData.addS3DownloadCommand({ bucket: o.asset.bucket, bucketKey: o.asset.s3ObjectKey, localFile: `${WORK_DIR}/network.zip` });
      userData.addCommands(`rm -rf ${WORK_DIR}/network && mkdir -p ${WORK_DIR}/network ${DATA_DIR} ${DATA_MOUNT}/material && chmod 700 ${DATA_MOUNT}/material`, `unzip -q -o ${zip} -d ${WORK_DIR}/network`);
      if (o.binaries) {
        const binZip = userData.addS3DownloadCommand({ bucket: o.binaries.bucket, bucketKey: o.binaries.s3ObjectKey, localFile: `${WORK_DIR}/fabric-bin.zip` });
        userData.addCommands(
          `rm -rf ${BIN_DIR} && mkdir -p ${BIN_DIR} && unzip -q -o ${binZip} -d ${BIN_DIR}`,
          `chmod 755 ${FABRIC_TOOLS.map((tool) => `${BIN_DIR}/${tool}`).join(' ')}`,
          `export FABRIC_BIN_DIR=${BIN_DIR}`,
        );
      }
      userData.addCommands(
        // The node writes the material once it has made it (within the start timeout).
        `for _ in $(seq 1 ${Math.ceil(nodeTimeout.toSeconds() / 5)}); do aws secretsmanager get-secret-value --region ${stack.region} --secret-id '${secret.secretArn}' --query SecretString --output text 2>/dev/null | jq -er .bundle > ${bundle}.tmp 2>/dev/null && break; sleep 5; done`,
        `[ -s ${bundle}.tmp ] || { echo "no material for orderer${n} in its secret" >&2; exit 1; }`,
        `chmod 600 ${bundle}.tmp && mv ${bundle}.tmp ${bundle}`,
        `export FABRIC_LISTEN_ADDRESS=0.0.0.0 FABRIC_ORDERER_PORT=${o.ordererPort} FABRIC_CHANNEL=${this.channel} CHAINFAAS_DATA_DIR=${DATA_DIR} CHAINFAAS_ORDERER_BUNDLE=${bundle}`,
        ...this.ordererExports(o.ordererPort, o.clusterPort),
        `(cd ${WORK_DIR}/network && ${props.startCommand} --orderer ${n})`,
      );
      this.ordererHosts.push(host);
    }
  }

  /**
   * The CloudWatch agent's configuration and start: the used share of the data volume's file
   * system, every minute, as `disk_used_percent` {InstanceId, path} in NODE_METRICS_NAMESPACE.
   */
  private diskMetricCommands(): string[] {
    const config = {
      metrics: {
        namespace: NODE_METRICS_NAMESPACE,
        append_dimensions: { InstanceId: '${aws:InstanceId}' },
        aggregation_dimensions: [['InstanceId', 'path']],
        metrics_collected: { disk: { resources: [DATA_MOUNT], measurement: ['used_percent'], metrics_collection_interval: 60, drop_device: true } },
      },
    };
    const file = '/opt/aws/amazon-cloudwatch-agent/etc/chainfaas.json';
    return [
      `cat > ${file} <<'CWAGENT'\n${JSON.stringify(config)}\nCWAGENT`,
      `/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:${file}`,
    ];
  }

  /** The used share of the data volume's file system, percent (what the agent above publishes). */
  metricDataDiskUsed(): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: NODE_METRICS_NAMESPACE,
      metricName: 'disk_used_percent',
      dimensionsMap: { InstanceId: this.instance.instanceId, path: DATA_MOUNT },
      period: Duration.minutes(5),
      statistic: 'Maximum',
    });
  }

  /** A Data Lifecycle Manager policy: a snapshot of the volumes tagged `tag` every day at 03:00 UTC, `kept` of them kept. */
  private scheduleSnapshots(tag: string, kept: number): dlm.CfnLifecyclePolicy {
    const role = new iam.Role(this, 'SnapshotRole', {
      assumedBy: new iam.ServicePrincipal('dlm.amazonaws.com'),
      description: 'ChainFaaS: Data Lifecycle Manager snapshots of the Fabric data volume',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSDataLifecycleManagerServiceRole')],
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole]',
      reason: 'The policy AWS documents for Data Lifecycle Manager EBS snapshot policies; it acts only on the volumes a policy targets by tag.',
    });
    return new dlm.CfnLifecyclePolicy(this, 'Snapshots', {
      description: 'ChainFaaS Fabric data volume daily',
      state: 'ENABLED',
      executionRoleArn: role.roleArn,
      policyDetails: {
        policyType: 'EBS_SNAPSHOT_MANAGEMENT',
        resourceTypes: ['VOLUME'],
        targetTags: [{ key: 'chainfaas:ledger-volume', value: tag }],
        schedules: [
          {
            name: 'daily',
            createRule: { interval: 24, intervalUnit: 'HOURS', times: ['03:00'] },
            retainRule: { count: kept },
            copyTags: true,
          },
        ],
      },
    });
  }

  private createVpc(flowLogRetention: logs.RetentionDays, maxAzs: number): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'node', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'lambdas', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets: [{ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] },
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [{ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] },
      },
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', { retention: flowLogRetention, removalPolicy: RemovalPolicy.DESTROY }),
          ),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });
    return vpc;
  }

  /**
   * One interface endpoint per service the Lambdas in the isolated subnets call; HTTPS from the
   * client security group only, and for Secrets Manager also from the node (private DNS points
   * the whole VPC's secretsmanager name at the endpoint, the node's put-secret-value included).
   *
   * In the node's AZ only: an endpoint costs per AZ-hour, the Lambdas in the other AZ reach it
   * across AZs, and the ledger is down with that AZ anyway (the node lives there).
   */
  private addInterfaceEndpoints(
    services: ec2.InterfaceVpcEndpointAwsService[],
    clients: ec2.ISecurityGroup,
    nodes: ec2.ISecurityGroup[],
    nodeSubnet: ec2.ISubnet,
  ): void {
    const sameAz = this.vpc.isolatedSubnets.filter((subnet) => subnet.availabilityZone === nodeSubnet.availabilityZone);
    for (const service of services) {
      const name = ENDPOINT_NAMES[service.shortName] ?? service.shortName.replace(/[^A-Za-z0-9]/g, '');
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: sameAz.length > 0 ? { subnets: sameAz.slice(0, 1) } : { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        open: false,
      });
      endpoint.connections.allowFrom(clients, ec2.Port.tcp(443), `HTTPS to ${name} from the ledger Lambdas`);
      if (service === ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER)
        for (const [i, node] of nodes.entries())
          endpoint.connections.allowFrom(
            node,
            ec2.Port.tcp(443),
            i === 0 ? 'HTTPS to SecretsManager from the Fabric node (put-secret-value)' : 'HTTPS to SecretsManager from the orderer hosts (their material)',
          );
    }
  }

  bindClient(fn: lambda.Function): void {
    fn.addEnvironment(ENV.fabric.peerEndpoint, `${this.instance.instancePrivateDnsName}:${this.peerPort}`);
    fn.addEnvironment(ENV.fabric.peerHostAlias, this.instance.instancePrivateDnsName);
    fn.addEnvironment(ENV.fabric.identitySecretArn, this.identity.secretArn);
    fn.addEnvironment(ENV.fabric.channel, this.channel);
    fn.addEnvironment(ENV.fabric.chaincode, this.chaincode);
    this.identity.grantRead(fn);
  }

  /**
   * Peer enrolment: the CA secret (read of that one secret), and the orderer and the gossip
   * bootstrap peer a joining peer dials. From outside the VPC (externalPeerCidrs) the node is
   * reached at its Elastic IP, which its TLS certificates carry (as they carry its private DNS
   * name, given as the host alias for the clients that set one).
   */
  bindEnrolment(fn: lambda.Function): void {
    const address = this.publicAddress?.attrPublicIp ?? this.instance.instancePublicIp;
    fn.addEnvironment(ENV.peerEnrolment.caSecretArn, this.caSecret.secretArn);
    fn.addEnvironment(ENV.peerEnrolment.ordererEndpoint, `${address}:${this.ordererPort}`);
    fn.addEnvironment(ENV.peerEnrolment.gossipBootstrap, `${address}:${this.peerPort}`);
    fn.addEnvironment(ENV.peerEnrolment.ordererHostAlias, this.instance.instancePrivateDnsName);
    this.caSecret.grantRead(fn);
  }
}

export interface ExternalFabricNetworkProps {
  /** `host:port` of a peer's gateway endpoint reachable from Lambda (outside any VPC). */
  readonly peerEndpoint: string;
  /**
   * TLS server name of the peer.
   * @default the host part of `peerEndpoint`
   */
  readonly peerHostAlias?: string;
  /** ARN of an existing secret with the client identity JSON (the manifest's ENV.fabric.identitySecretArn). */
  readonly identitySecretArn: string;
  /**
   * @default 'chainfaas'
   */
  readonly channel?: string;
  /**
   * @default 'chainfaas'
   */
  readonly chaincode?: string;
}

/** An existing Fabric network (self-hosted elsewhere, or an existing Managed Blockchain member). */
export class ExternalFabricNetwork extends Construct implements IFabricNetwork {
  readonly placement = undefined;
  private readonly identity: secretsmanager.ISecret;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: ExternalFabricNetworkProps,
  ) {
    super(scope, id);
    if (!/^[^:\s]+:\d+$/.test(props.peerEndpoint)) throw new Error(`peerEndpoint ${props.peerEndpoint} must be host:port`);
    this.identity = /-[A-Za-z0-9]{6}$/.test(props.identitySecretArn)
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'Identity', props.identitySecretArn)
      : secretsmanager.Secret.fromSecretPartialArn(this, 'Identity', props.identitySecretArn);
  }

  bindClient(fn: lambda.Function): void {
    fn.addEnvironment(ENV.fabric.peerEndpoint, this.props.peerEndpoint);
    fn.addEnvironment(ENV.fabric.peerHostAlias, this.props.peerHostAlias ?? this.props.peerEndpoint.split(':')[0]);
    fn.addEnvironment(ENV.fabric.identitySecretArn, this.identity.secretArn);
    fn.addEnvironment(ENV.fabric.channel, this.props.channel ?? 'chainfaas');
    fn.addEnvironment(ENV.fabric.chaincode, this.props.chaincode ?? 'chainfaas');
    this.identity.grantRead(fn);
  }
}
