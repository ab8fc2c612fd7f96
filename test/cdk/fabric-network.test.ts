import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack as StackClass, type App, type CfnResource, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { caJsonCommand, checkFabricBinaries, ExternalFabricNetwork, FabricNetwork, identityJsonCommand, pinnedImage } from '../../lib/constructs/fabric-network';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { projectRoot } from '../../lib/project-root';
import { actionsOf, referencedIds, resourcesOf, statementsOfRole, synthControllerStack, TEST_IMAGE_ID, testApp, testStack, unlistedEnvNames } from './helpers';
import { ENV, HANDLERS, HandlerName } from '../../lambdas/handlers/manifest';

const ENTRY = 'test/cdk/fixtures/echo-handler.ts';
const ASSET = join(projectRoot(), 'test/cdk/fixtures/fabric-asset');

describe('FabricNetwork', () => {
  let stack: Stack;
  let fabric: FabricNetwork;
  let client: PlatformFunction;
  let template: Template;
  beforeAll(() => {
    stack = testStack();
    fabric = new FabricNetwork(stack, 'Fabric', { assetPath: ASSET, machineImage: pinnedImage(TEST_IMAGE_ID), startCommand: 'bash network/start.sh', externalPeerCidrs: ['203.0.113.0/24'] });
    client = new PlatformFunction(stack, 'Client', { entry: ENTRY, ...fabric.placement });
    fabric.bindClient(client);
    template = Template.fromStack(stack);
  });
  const id = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnResource);
  /** The instance's logical id carries a user-data hash (userDataCausesReplacement), so resolve it. */
  const instanceId = (): string => stack.resolve(fabric.instance.instance.logicalId);
  const userData = (): string => JSON.stringify(template.toJSON().Resources[instanceId()].Properties.UserData);

  test('a VPC without NAT: public subnets for the node, isolated ones for the Lambdas, endpoints and flow logs', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify(e.Properties.ServiceName));
    for (const service of ['dynamodb', '.s3', 'secretsmanager', 'xray']) expect(endpoints.some((e) => e.includes(service))).toBe(true);
    expect(endpoints).toHaveLength(4);
  });

  test("the node's subnet maps public addresses (its egress to dnf, npm and the Go module proxy goes through the internet gateway)", () => {
    const subnet = template.toJSON().Resources[instanceId()].Properties.SubnetId;
    expect(template.toJSON().Resources[subnet.Ref].Properties.MapPublicIpOnLaunch).toBe(true);
    const routes = Object.values(template.findResources('AWS::EC2::Route')).filter((r) => r.Properties.GatewayId);
    expect(routes.length).toBeGreaterThan(0);
  });

  test("interface endpoints sit in the node's AZ only, with private DNS; the node may reach Secrets Manager's (its put-secret-value resolves there)", () => {
    const nodeSubnet = template.toJSON().Resources[instanceId()].Properties.SubnetId.Ref;
    const nodeAz = JSON.stringify(template.toJSON().Resources[nodeSubnet].Properties.AvailabilityZone);
    const nodeSg = id(fabric.instance.connections.securityGroups[0]);
    const interfaces = Object.entries(template.findResources('AWS::EC2::VPCEndpoint')).filter(([, e]) => e.Properties.VpcEndpointType === 'Interface');
    expect(interfaces).toHaveLength(2);
    for (const [, e] of interfaces) {
      expect(e.Properties.PrivateDnsEnabled).toBe(true);
      expect(e.Properties.SubnetIds).toHaveLength(1);
      expect(JSON.stringify(template.toJSON().Resources[e.Properties.SubnetIds[0].Ref].Properties.AvailabilityZone)).toBe(nodeAz);
      expect(template.toJSON().Resources[e.Properties.SubnetIds[0].Ref].Properties.MapPublicIpOnLaunch).toBe(false);
    }
    const secrets = interfaces.find(([, e]) => JSON.stringify(e.Properties.ServiceName).includes('secretsmanager'))!;
    const endpointSg = (secrets[1].Properties.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[])[0]['Fn::GetAtt'][0];
    const rules = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((r) => JSON.stringify(r.GroupId).includes(endpointSg));
    expect(rules.map((r) => r.SourceSecurityGroupId['Fn::GetAtt'][0]).sort()).toEqual(
      [id(fabric.placement.securityGroups[0] as unknown as { node: { defaultChild?: unknown } }), nodeSg].sort(),
    );
  });

  test('the node: IMDSv2, detailed monitoring, encrypted gp3 root volume, termination protection, waits for its signal', () => {
    template.hasResource('AWS::EC2::Instance', {
      CreationPolicy: { ResourceSignal: { Timeout: 'PT45M' } },
      Properties: Match.objectLike({
        InstanceType: 't4g.medium',
        Monitoring: true,
        DisableApiTermination: true,
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 30, VolumeType: 'gp3', DeleteOnTermination: false } }],
        ImageId: TEST_IMAGE_ID,
        Volumes: [{ Device: '/dev/sdf', VolumeId: { Ref: id(fabric.dataVolume) } }],
      }),
    });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } } });
  });

  test('the peer is reachable from the ledger Lambdas, the peer and orderer from the listed CIDRs, nothing from anywhere', () => {
    const nodeSg = id(fabric.instance.connections.securityGroups[0]);
    const clientSg = id(fabric.placement.securityGroups[0] as unknown as { node: { defaultChild?: unknown } });
    const all = [
      ...Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties),
      ...Object.values(template.findResources('AWS::EC2::SecurityGroup')).flatMap((g) => g.Properties.SecurityGroupIngress ?? []),
    ];
    expect(all.every((r: any) => r.CidrIp !== '0.0.0.0/0' && r.CidrIpv6 !== '::/0')).toBe(true);
    const ingress = [
      ...Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
        .map((r) => r.Properties)
        .filter((r) => JSON.stringify(r.GroupId).includes(nodeSg)),
      ...(template.toJSON().Resources[nodeSg].Properties.SecurityGroupIngress ?? []),
    ];
    expect(ingress).toContainEqual(
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 7051, ToPort: 7051, SourceSecurityGroupId: { 'Fn::GetAtt': [clientSg, 'GroupId'] } }),
    );
    expect(ingress).toContainEqual(expect.objectContaining({ CidrIp: '203.0.113.0/24', FromPort: 7050 }));
    expect(ingress).toContainEqual(expect.objectContaining({ CidrIp: '203.0.113.0/24', FromPort: 7051 }));
    expect(ingress).toHaveLength(3);
    // The interface endpoints take HTTPS from the ledger Lambdas, and Secrets Manager's from the node too.
    const endpointRules = all.filter((r: any) => r.FromPort === 443);
    expect(endpointRules).toHaveLength(3);
    for (const r of endpointRules)
      expect([{ 'Fn::GetAtt': [clientSg, 'GroupId'] }, { 'Fn::GetAtt': [nodeSg, 'GroupId'] }]).toContainEqual(r.SourceSecurityGroupId);
  });

  test("the node's role reads its asset, writes the identity and CA secrets only, and uses Session Manager (no SSH key)", () => {
    const roleId = id(fabric.instance.role as iam.Role);
    const statements = statementsOfRole(template, roleId);
    const secretWrites = statements.filter((s) => actionsOf(s).includes('secretsmanager:PutSecretValue'));
    expect(secretWrites.flatMap(resourcesOf)).toEqual(expect.arrayContaining([{ Ref: id(fabric.identity) }, { Ref: id(fabric.caSecret) }]));
    expect(secretWrites.flatMap(resourcesOf)).toHaveLength(2);
    expect(statements.flatMap(actionsOf).filter((a) => a === 'secretsmanager:GetSecretValue')).toEqual([]);
    const assetReads = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    expect(assetReads.flatMap(actionsOf)).toEqual(['s3:GetObject']);
    expect(JSON.stringify(assetReads[0].Resource)).toMatch(/\/[0-9a-f]{64}\.zip"/);
    expect(JSON.stringify(template.toJSON().Resources[roleId].Properties.ManagedPolicyArns)).toContain('AmazonSSMManagedInstanceCore');
    expect(template.toJSON().Resources[instanceId()].Properties.KeyName).toBeUndefined();
  });

  test('a changed user data never replaces the node (a new instance would start a new, empty ledger)', () => {
    expect(instanceId()).toBe(stack.getLogicalId(fabric.instance.instance));
    expect(instanceId()).toMatch(/^FabricNode[0-9A-F]{8}$/);
  });

  test('user data installs the toolchain, runs the start command with the contract variables, stores the identity and signals', () => {
    const script = userData();
    expect(script).not.toContain('FABRIC_BIN_DIR');
    for (const expected of [
      'dnf install -y aws-cfn-bootstrap golang nodejs24',
      'export FABRIC_LISTEN_ADDRESS=0.0.0.0 FABRIC_PEER_HOST=\\"$PEER_HOST\\" FABRIC_PEER_PORT=7051 FABRIC_ORDERER_PORT=7050',
      'CHAINFAAS_IDENTITY_DIR=/var/lib/chainfaas/identity',
      '(cd /opt/chainfaas/network && bash network/start.sh)',
      'aws secretsmanager put-secret-value',
      'rm -f /var/lib/chainfaas/identity/identity.json',
      '/opt/aws/bin/cfn-signal',
    ]) {
      expect(script).toContain(expected);
    }
    expect(script.indexOf('bash network/start.sh')).toBeLessThan(script.indexOf('put-secret-value'));
  });

  test('bindClient gives the peer endpoint, TLS host, channel, chaincode and read of the identity', () => {
    const fn = template.toJSON().Resources[id(client)].Properties;
    expect(fn.VpcConfig.SecurityGroupIds).toEqual([
      { 'Fn::GetAtt': [id(fabric.placement.securityGroups[0] as unknown as { node: { defaultChild?: unknown } }), 'GroupId'] },
    ]);
    const env = fn.Environment.Variables;
    expect(env[ENV.fabric.peerEndpoint]).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [instanceId(), 'PrivateDnsName'] }, ':7051']] });
    expect(env[ENV.fabric.peerHostAlias]).toEqual({ 'Fn::GetAtt': [instanceId(), 'PrivateDnsName'] });
    expect(env[ENV.fabric.identitySecretArn]).toEqual({ Ref: id(fabric.identity) });
    expect(env[ENV.fabric.channel]).toBe('chainfaas');
    const reads = statementsOfRole(template, id(client.role as iam.Role)).filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
    expect(reads.map((s) => s.Resource)).toEqual([{ Ref: id(fabric.identity) }]);
  });

  test('passes cdk-nag with its acknowledgements', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });
});

describe('FabricNetwork with prebuilt binaries', () => {
  /** A directory laid out as fabric-bin.sh lays it out, with `peer` carrying the ELF header of `machine`. */
  function fakeBinaries(machine: number): string {
    const dir = mkdtempSync(join(tmpdir(), 'chainfaas-fabric-bin-'));
    mkdirSync(join(dir, 'sampleconfig'));
    writeFileSync(join(dir, 'sampleconfig', 'core.yaml'), 'peer: {}\n');
    for (const tool of ['peer', 'orderer', 'configtxgen', 'cryptogen', 'osnadmin']) {
      const header = Buffer.alloc(64);
      header.writeUInt32BE(0x7f454c46, 0);
      header.writeUInt16LE(machine, 18);
      writeFileSync(join(dir, tool), header);
      chmodSync(join(dir, tool), 0o755);
    }
    return dir;
  }

  test('ships them as a second asset the node may read, and hands them to the start command as FABRIC_BIN_DIR', () => {
    const stack = testStack();
    const fabric = new FabricNetwork(stack, 'Fabric', { assetPath: ASSET, machineImage: pinnedImage(TEST_IMAGE_ID), startCommand: 'bash network/start.sh', binariesPath: fakeBinaries(0xb7) });
    const template = Template.fromStack(stack);
    const script = JSON.stringify(template.toJSON().Resources[stack.resolve(fabric.instance.instance.logicalId)].Properties.UserData);
    expect(script).toContain('/opt/chainfaas/fabric-bin.zip');
    expect(script).toContain('export FABRIC_BIN_DIR=/opt/chainfaas/fabric-bin');
    expect(script.indexOf('FABRIC_BIN_DIR')).toBeLessThan(script.indexOf('bash network/start.sh'));
    const reads = statementsOfRole(template, stack.getLogicalId(fabric.instance.role.node.defaultChild as CfnResource)).filter((s) =>
      actionsOf(s).includes('s3:GetObject'),
    );
    expect(reads).toHaveLength(1);
    expect(reads[0].Resource).toHaveLength(2);
  });

  test('refuses binaries for another architecture than the node, or an incomplete set', () => {
    expect(() => new FabricNetwork(testStack(), 'Fabric', { assetPath: ASSET, machineImage: pinnedImage(TEST_IMAGE_ID), startCommand: 'true', binariesPath: fakeBinaries(0x3e) })).toThrow(
      /built for x86_64, the node is arm64.*GOARCH=arm64/,
    );
    const x86 = new FabricNetwork(testStack(), 'Fabric', {
      assetPath: ASSET,
      machineImage: pinnedImage(TEST_IMAGE_ID),
      startCommand: 'true',
      binariesPath: fakeBinaries(0x3e),
      instanceType: new ec2.InstanceType('t3.medium'),
    });
    expect(x86.instance).toBeDefined();
    const dir = fakeBinaries(0xb7);
    expect(() => checkFabricBinaries(dir, ec2.InstanceArchitecture.ARM_64)).not.toThrow();
    expect(() => checkFabricBinaries(join(dir, 'nowhere'), ec2.InstanceArchitecture.ARM_64)).toThrow(/peer is missing/);
    writeFileSync(join(dir, 'peer'), '#!/bin/sh\n');
    expect(() => checkFabricBinaries(dir, ec2.InstanceArchitecture.ARM_64)).toThrow(/not an ELF/);
    rmSync(join(dir, 'sampleconfig'), { recursive: true });
    expect(() => checkFabricBinaries(dir, ec2.InstanceArchitecture.ARM_64)).toThrow(/sampleconfig/);
  });

  test('identityJsonCommand builds the JSON the ledger adapter reads (jq; the same command the user data runs)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chainfaas-identity-'));
    writeFileSync(join(dir, 'msp-id'), 'ChainFaaSMSP\n');
    writeFileSync(join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n');
    writeFileSync(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\n');
    writeFileSync(join(dir, 'tls-ca.pem'), '-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n');
    execFileSync('bash', ['-c', identityJsonCommand(dir)]);
    expect(JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8'))).toEqual({
      mspId: 'ChainFaaSMSP',
      certificate: '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n',
      privateKey: '-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\n',
      tlsRootCertificate: '-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n',
    });
  });
});

describe('ExternalFabricNetwork', () => {
  test('binds an existing peer and identity without a VPC', () => {
    const stack = testStack();
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fabric-id-AbCdEf';
    const fabric = new ExternalFabricNetwork(stack, 'Fabric', { peerEndpoint: 'peer0.example.org:7051', identitySecretArn: arn });
    const fn = new PlatformFunction(stack, 'Fn', { entry: ENTRY });
    fabric.bindClient(fn);
    expect(fabric.placement).toBeUndefined();
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.fabric.peerEndpoint]: 'peer0.example.org:7051',
          [ENV.fabric.peerHostAlias]: 'peer0.example.org',
          [ENV.fabric.identitySecretArn]: arn,
        }),
      },
    });
    expect(() => new ExternalFabricNetwork(testStack(), 'F', { peerEndpoint: 'no-port', identitySecretArn: arn })).toThrow(/host:port/);
  });
});

describe('ChainFaasStack with fabric=ec2', () => {
  test('with the default start command (chaincode/network/aws-node.sh): puts exactly the ledger Lambdas in the VPC, binds them, ships the repository package files and chaincode, and passes cdk-nag', () => {
    const { stack, template, app } = synthControllerStack({ fabric: 'ec2' });
    const fabric = stack.fabric as FabricNetwork;
    expect(JSON.stringify(template.toJSON().Resources[stack.resolve(fabric.instance.instance.logicalId)].Properties.UserData)).toContain(
      '(cd /opt/chainfaas/network && bash chaincode/network/aws-node.sh)',
    );
    // GET /jobs/{id} (jobs Lambda, in the VPC) presigns into developers' buckets through STS.
    const services = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify(e.Properties.ServiceName));
    expect(services.filter((e) => /secretsmanager|xray|\.sts/.test(e))).toHaveLength(3);
    for (const [name, fn] of Object.entries(stack.functions)) {
      const props = template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnResource)].Properties;
      const ledger = HANDLERS[name as HandlerName].ledger === true;
      expect([name, props.VpcConfig !== undefined]).toEqual([name, ledger]);
      expect([name, props.Environment.Variables[ENV.fabric.peerEndpoint] !== undefined]).toEqual([name, ledger]);
    }
    expect(unlistedEnvNames(template)).toEqual([]);
    // The node's status checks: the system check recovers it (same id, address and volume), both notify.
    const instanceRef = { Ref: stack.resolve(fabric.instance.instance.logicalId) };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'StatusCheckFailed_System',
      Dimensions: [{ Name: 'InstanceId', Value: instanceRef }],
      AlarmActions: Match.arrayWith([{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':automate:', { Ref: 'AWS::Region' }, ':ec2:recover']] }]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'StatusCheckFailed_Instance',
      Dimensions: [{ Name: 'InstanceId', Value: instanceRef }],
    });
    expect(referencedIds(template.toJSON().Outputs.FabricIdentitySecretArn.Value)).toEqual(
      new Set([stack.getLogicalId(fabric.identity.node.defaultChild as CfnResource)]),
    );
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);

    const outdir = (app as App).synth().directory;
    const assetDirs = readdirSync(outdir).filter((d) => d.startsWith('asset.') && existsSync(join(outdir, d, 'chaincode')));
    expect(assetDirs).toHaveLength(1);
    const top = readdirSync(join(outdir, assetDirs[0])).sort();
    expect(top).toEqual(['chaincode', 'package-lock.json', 'package.json']);
    expect(existsSync(join(outdir, assetDirs[0], 'chaincode', 'package.json'))).toBe(true);
    expect(existsSync(join(outdir, assetDirs[0], 'chaincode', 'node_modules'))).toBe(false);
    expect(existsSync(join(outdir, assetDirs[0], 'chaincode', 'network', 'aws-node.sh'))).toBe(true);
  });

  test("issue #20: the CA secret is filled by the node's user data and read only by the peer-enrolment Lambda, which learns where the orderer is", () => {
    const { stack, template } = synthControllerStack({ fabric: 'ec2' });
    const fabric = stack.fabric as FabricNetwork;
    const caId = stack.getLogicalId(fabric.caSecret.node.defaultChild as CfnResource);
    // Created empty (a placeholder CloudFormation generates); retained with the ledger's data.
    const secret = template.toJSON().Resources[caId];
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(secret.DeletionPolicy).toBe(stack.config.retainData ? 'Retain' : 'Delete');
    // The user data writes it with the same jq command test/fabric/aws-node.test.ts runs on a real node, then removes the file.
    const parts = template.toJSON().Resources[stack.resolve(fabric.instance.instance.logicalId)].Properties.UserData['Fn::Base64']['Fn::Join'][1] as unknown[];
    expect(parts.join('')).toContain(caJsonCommand('/var/lib/chainfaas/identity'));
    const at = parts.findIndex((p) => JSON.stringify(p) === JSON.stringify({ Ref: caId }));
    expect(String(parts[at - 1])).toMatch(/ --secret-id '$/);
    expect(String(parts[at + 1])).toMatch(/^' --secret-string file:\/\/\/var\/lib\/chainfaas\/identity\/ca\.json\nrm -f \/var\/lib\/chainfaas\/identity\/ca\.json/);
    for (const [name, fn] of Object.entries(stack.functions)) {
      const enrols = HANDLERS[name as HandlerName].peerEnrolment === true;
      const role = stack.getLogicalId((fn.role as iam.Role).node.defaultChild as CfnResource);
      const reads = statementsOfRole(template, role).filter((s) => referencedIds(s.Resource).has(caId));
      const env = template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnResource)].Properties.Environment.Variables;
      if (enrols) {
        // Read only (IAM merges it with the identity's read into one statement).
        expect(reads.map((r) => [r.Effect, actionsOf(r)])).toEqual([['Allow', ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']]]);
        expect(env[ENV.peerEnrolment.caSecretArn]).toEqual({ Ref: caId });
        const instanceId = stack.resolve(fabric.instance.instance.logicalId);
        expect(env[ENV.peerEnrolment.ordererEndpoint]).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [instanceId, 'PublicIp'] }, ':7050']] });
        expect(env[ENV.peerEnrolment.ordererHostAlias]).toEqual({ 'Fn::GetAtt': [instanceId, 'PrivateDnsName'] });
        expect(env[ENV.peerEnrolment.gossipBootstrap]).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [instanceId, 'PublicIp'] }, ':7051']] });
      } else {
        expect({ name, reads, arn: env[ENV.peerEnrolment.caSecretArn] }).toEqual({ name, reads: [], arn: undefined });
      }
    }
    expect(Object.keys(HANDLERS).filter((n) => HANDLERS[n as HandlerName].peerEnrolment)).toEqual(['peers']);
    expect(referencedIds(template.toJSON().Outputs.FabricCaSecretArn.Value)).toEqual(new Set([caId]));
  });

  test('issue #20: with outside peers allowed, their join bundle names the node by an Elastic IP that its certificates carry, for the orderer and the gossip bootstrap', () => {
    const { stack, template } = synthControllerStack({ fabric: 'ec2', fabricExternalCidrs: ['203.0.113.0/24'] });
    const fabric = stack.fabric as FabricNetwork;
    const eip = stack.getLogicalId(fabric.publicAddress!);
    const instanceId = stack.resolve(fabric.instance.instance.logicalId);
    template.hasResourceProperties('AWS::EC2::EIPAssociation', { AllocationId: { 'Fn::GetAtt': [eip, 'AllocationId'] }, InstanceId: { Ref: instanceId } });
    const address = { 'Fn::GetAtt': [eip, 'PublicIp'] };
    // The node's start command gets the address as an extra TLS name (aws-node.sh's FABRIC_EXTRA_SANS).
    const parts = template.toJSON().Resources[instanceId].Properties.UserData['Fn::Base64']['Fn::Join'][1] as unknown[];
    const at = parts.findIndex((p) => JSON.stringify(p) === JSON.stringify(address));
    expect(String(parts[at - 1])).toMatch(/\nexport FABRIC_EXTRA_SANS=$/);
    const env = template.toJSON().Resources[stack.getLogicalId(stack.functions.peers!.node.defaultChild as CfnResource)].Properties.Environment.Variables;
    expect(env[ENV.peerEnrolment.ordererEndpoint]).toEqual({ 'Fn::Join': ['', [address, ':7050']] });
    expect(env[ENV.peerEnrolment.gossipBootstrap]).toEqual({ 'Fn::Join': ['', [address, ':7051']] });
    // Not the private DNS name (only the VPC resolves it), which stays the host alias.
    expect(JSON.stringify(env[ENV.peerEnrolment.gossipBootstrap])).not.toContain('PrivateDnsName');
  });

  test('refuses a start script that is not in the repository', () => {
    expect(() => synthControllerStack({ fabric: 'ec2', fabricStartCommand: 'bash chaincode/network/missing.sh' })).toThrow(/does not exist/);
  });
});

describe('FabricNetwork with three Raft orderers (issue #20, item 4)', () => {
  const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
  let stack: Stack;
  let fabric: FabricNetwork;
  let template: Template;
  beforeAll(() => {
    const app = testApp({ context: { 'availability-zones:account=123456789012:region=us-east-1': AZS } });
    stack = new StackClass(app, 'Raft', { env: { account: '123456789012', region: 'us-east-1' } });
    fabric = new FabricNetwork(stack, 'Fabric', {
      assetPath: ASSET,
      machineImage: pinnedImage(TEST_IMAGE_ID),
      startCommand: 'bash network/start.sh',
      externalPeerCidrs: ['203.0.113.0/24'],
      orderers: 3,
    });
    template = Template.fromStack(stack);
  });
  const id = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnResource);
  const resources = () => template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
  const instances = () => [fabric.instance, ...fabric.ordererHosts].map((i) => resources()[stack.resolve(i.instance.logicalId)]!);
  const userDataOf = (i: ec2.Instance): string => JSON.stringify(resources()[stack.resolve(i.instance.logicalId)]!.Properties.UserData);
  const groupIds = (instance: { Properties: any }): string[] => instance.Properties.SecurityGroupIds.map((g: any) => g['Fn::GetAtt'][0]);
  /** Every ingress rule of the template whose target is `sg`. */
  const ingressOf = (sg: string): any[] => [
    ...Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((r) => JSON.stringify(r.GroupId).includes(sg)),
    ...(resources()[sg]!.Properties.SecurityGroupIngress ?? []),
  ];

  test('three instances (the node and two orderer hosts) in three distinct subnets and AZs', () => {
    expect(fabric.ordererHosts).toHaveLength(2);
    template.resourceCountIs('AWS::EC2::Instance', 3);
    const subnets = instances().map((i) => i.Properties.SubnetId.Ref as string);
    expect(new Set(subnets).size).toBe(3);
    expect(new Set(subnets.map((s) => resources()[s]!.Properties.AvailabilityZone)).size).toBe(3);
    expect(subnets.map((s) => resources()[s]!.Properties.AvailabilityZone).sort()).toEqual(AZS);
    for (const host of instances().slice(1)) {
      expect(host.Properties.InstanceType).toBe('t4g.small');
      expect(host.Properties.Monitoring).toBe(true);
      expect(host.Properties.ImageId).toBe(TEST_IMAGE_ID);
      expect(host.Properties.BlockDeviceMappings).toEqual([{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 30, VolumeType: 'gp3', DeleteOnTermination: true } }]);
      expect(host.Properties.KeyName).toBeUndefined();
    }
    const hosts = fabric.ordererHosts.map((h) => stack.resolve(h.instance.logicalId) as string);
    for (const logicalId of hosts) expect(template.toJSON().Resources[logicalId].CreationPolicy).toEqual({ ResourceSignal: { Timeout: 'PT1H30M' } });
    // IMDSv2 on every instance (one launch template each).
    expect(Object.values(template.findResources('AWS::EC2::LaunchTemplate')).filter((t) => t.Properties.LaunchTemplateData.MetadataOptions?.HttpTokens === 'required')).toHaveLength(3);
    // The hosts do not wait for the node (it waits for them: a majority of orderers makes the channel active).
    expect(JSON.stringify(hosts.map((h) => template.toJSON().Resources[h].DependsOn ?? []))).not.toContain(stack.resolve(fabric.instance.instance.logicalId));
  });

  test('the consenter set: the node and both hosts get the three orderers, each host its own index and material', () => {
    const node = userDataOf(fabric.instance);
    expect(node).toContain('export FABRIC_ORDERERS=3 FABRIC_ORDERER_CLUSTER_PORT=7060');
    for (const n of [1, 2]) {
      expect(node).toContain(`export FABRIC_ORDERER${n}_HOST=orderer${n}.orderer.chainfaas.local FABRIC_ORDERER${n}_PORT=7050 FABRIC_ORDERER${n}_CLUSTER_PORT=7060`);
      expect(node).toContain(`CHAINFAAS_ORDERER${n}_SECRET_ARN='`);
    }
    for (const [i, host] of fabric.ordererHosts.entries()) {
      const data = userDataOf(host);
      expect(data).toContain('export FABRIC_ORDERERS=3 FABRIC_ORDERER_CLUSTER_PORT=7060');
      for (const n of [1, 2]) expect(data).toContain(`export FABRIC_ORDERER${n}_HOST=orderer${n}.orderer.chainfaas.local`);
      expect(data).toContain(`bash network/start.sh --orderer ${i + 1})`);
      expect(data).toContain(id(fabric.ordererSecrets[i]!));
      expect(data).not.toContain(id(fabric.ordererSecrets[1 - i]!));
      expect(data).toContain('cfn-signal');
    }
    // The names resolve in the VPC to the hosts' private addresses.
    const zone = Object.values(template.findResources('AWS::Route53::HostedZone'))[0]!;
    expect(zone.Properties.Name).toBe('orderer.chainfaas.local.');
    expect(zone.Properties.VPCs).toHaveLength(1);
    const records = Object.values(template.findResources('AWS::Route53::RecordSet')).map((r) => r.Properties);
    expect(records.map((r) => r.Name).sort()).toEqual(['orderer1.orderer.chainfaas.local.', 'orderer2.orderer.chainfaas.local.']);
    for (const [i, host] of fabric.ordererHosts.entries()) {
      const record = records.find((r) => r.Name === `orderer${i + 1}.orderer.chainfaas.local.`);
      expect(record.ResourceRecords).toEqual([{ 'Fn::GetAtt': [stack.resolve(host.instance.logicalId), 'PrivateIp'] }]);
    }
  });

  test('Raft cluster traffic is allowed between the orderers only; orderer hosts take clients from the peer and the listed CIDRs', () => {
    const cluster = id(fabric.clusterSecurityGroup!);
    for (const instance of instances()) expect(groupIds(instance)).toContain(cluster);
    const clusterIngress = ingressOf(cluster);
    expect(clusterIngress).toEqual([expect.objectContaining({ IpProtocol: 'tcp', FromPort: 7060, ToPort: 7060, SourceSecurityGroupId: { 'Fn::GetAtt': [cluster, 'GroupId'] } })]);
    // Nothing else opens the cluster port.
    const all = [
      ...Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties),
      ...Object.values(template.findResources('AWS::EC2::SecurityGroup')).flatMap((g) => g.Properties.SecurityGroupIngress ?? []),
    ];
    expect(all.filter((r: any) => r.FromPort <= 7060 && r.ToPort >= 7060)).toHaveLength(1);
    expect(all.every((r: any) => r.CidrIp !== '0.0.0.0/0')).toBe(true);
    // The orderer hosts' own group: the orderer port from the node (its peer) and the outside peers, nothing else.
    const nodeSg = id(fabric.instance.connections.securityGroups[0]!);
    const hostGroups = new Set(instances().slice(1).map((i) => groupIds(i).find((g) => g !== cluster)));
    expect(hostGroups.size).toBe(1);
    const hostSg = [...hostGroups][0] as string;
    const hostIngress = ingressOf(hostSg).filter((r: any) => r.FromPort !== 443);
    expect(hostIngress).toHaveLength(2);
    expect(hostIngress).toContainEqual(expect.objectContaining({ FromPort: 7050, ToPort: 7050, SourceSecurityGroupId: { 'Fn::GetAtt': [nodeSg, 'GroupId'] } }));
    expect(hostIngress).toContainEqual(expect.objectContaining({ FromPort: 7050, ToPort: 7050, CidrIp: '203.0.113.0/24' }));
    expect(groupIds(instances()[0]!)).not.toContain(hostSg);
  });

  test("each host reads only its own material secret; the node writes both; the hosts may reach Secrets Manager's endpoint", () => {
    const nodeWrites = statementsOfRole(template, id(fabric.instance.role as iam.Role))
      .filter((s) => actionsOf(s).includes('secretsmanager:PutSecretValue'))
      .flatMap(resourcesOf);
    for (const secret of fabric.ordererSecrets) expect(nodeWrites).toContainEqual({ Ref: id(secret) });
    for (const [i, host] of fabric.ordererHosts.entries()) {
      const statements = statementsOfRole(template, id(host.role as iam.Role));
      const reads = statements.filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue')).flatMap(resourcesOf);
      expect(reads).toEqual([{ Ref: id(fabric.ordererSecrets[i]!) }]);
      expect(statements.flatMap(actionsOf).filter((a) => a === 'secretsmanager:PutSecretValue')).toEqual([]);
    }
    const endpointRules = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((r) => r.FromPort === 443);
    const hostSg = groupIds(instances()[1]!).find((g) => g !== id(fabric.clusterSecurityGroup!));
    expect(endpointRules.map((r) => r.SourceSecurityGroupId)).toContainEqual({ 'Fn::GetAtt': [hostSg, 'GroupId'] });
  });

  test('passes cdk-nag with its acknowledgements', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });

  test('refuses three orderers in a VPC of two AZs (what an account- and region-less stack sees)', () => {
    expect(
      () => new FabricNetwork(testStack(), 'Fabric', { assetPath: ASSET, machineImage: pinnedImage(TEST_IMAGE_ID), startCommand: 'bash network/start.sh', orderers: 3 }),
    ).toThrow(/three availability zones/);
  });
});
