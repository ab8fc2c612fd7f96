import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ChainFaasStack } from '../../lib/chainfaas-stack';
import type { FabricNetwork } from '../../lib/constructs/fabric-network';
import { stageConfig } from '../../lib/stage-settings';
import { TEST_IMAGE_ID, TEST_PUBLIC_KEY, testApp } from './helpers';

/**
 * Issue #20, items 1 and 2: an ordinary deploy never replaces the Fabric node or loses its ledger,
 * and a deploy that forgets (or contradicts) the stage's ledger settings is refused.
 */

/** Properties whose change makes CloudFormation replace the resource ("Update requires: Replacement"). */
const REPLACING: Record<string, string[]> = {
  'AWS::EC2::Instance': [
    'AvailabilityZone',
    'CpuOptions',
    'EnclaveOptions',
    'HibernationOptions',
    'ImageId',
    'Ipv6AddressCount',
    'Ipv6Addresses',
    'KeyName',
    'LaunchTemplate',
    'NetworkInterfaces',
    'PlacementGroupName',
    'PrivateIpAddress',
    'SecurityGroups',
    'SubnetId',
  ],
  'AWS::EC2::Volume': ['AvailabilityZone', 'Encrypted', 'KmsKeyId', 'OutpostArn', 'SnapshotId'],
  'AWS::SecretsManager::Secret': ['Name'],
};

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

/**
 * What a deploy going from `before` to `after` would do to the ledger's resources (the node, its
 * data volume, the identity secret): each one kept under the same logical id with no replacing
 * property changed, or the reason it would be deleted or replaced.
 */
function ledgerRisks(before: Record<string, CfnResource>, after: Record<string, CfnResource>): string[] {
  const risks: string[] = [];
  for (const [id, resource] of Object.entries(before)) {
    const replacing = REPLACING[resource.Type];
    if (!replacing) continue;
    const next = after[id];
    if (!next) {
      risks.push(`${id} (${resource.Type}) deleted`);
      continue;
    }
    for (const key of replacing)
      if (JSON.stringify(resource.Properties?.[key]) !== JSON.stringify(next.Properties?.[key])) risks.push(`${id} replaced: ${key} changed`);
  }
  return risks;
}

function synth(config: Record<string, unknown>, env?: { account: string; region: string }, context: Record<string, unknown> = {}) {
  const app = testApp({ context });
  const stack = new ChainFaasStack(app, 'ChainFaas-prod', { config: { stage: 'prod', controllerPublicKey: TEST_PUBLIC_KEY, fabric: 'ec2', ...config }, env });
  return { app, stack, resources: Template.fromStack(stack).toJSON().Resources as Record<string, CfnResource> };
}

describe('the Fabric node survives ordinary deploys', () => {
  const base = synth({ fabricImageId: TEST_IMAGE_ID });
  const fabric = base.stack.fabric as FabricNetwork;
  const nodeId = base.stack.resolve(fabric.instance.instance.logicalId) as string;
  const volumeId = base.stack.getLogicalId(fabric.dataVolume.node.defaultChild as CfnElement);

  test('the image is the pinned id, not one resolved at deploy time (no SSM image parameter in the template)', () => {
    expect(base.resources[nodeId].Properties?.ImageId).toBe(TEST_IMAGE_ID);
    const template = Template.fromStack(base.stack).toJSON();
    expect(JSON.stringify(template.Parameters ?? {})).not.toMatch(/ami-amazon-linux-latest/);
  });

  test('without a pinned id, the image is looked up once and cached in context; what AWS publishes later changes nothing', () => {
    const env = { account: '123456789012', region: 'eu-west-1' };
    // The first synth asks for the lookup (its placeholder image is no AMI id, so no template check).
    const app = testApp({ context: { '@aws-cdk/core:validateAgainstDefaultRules': false } });
    new ChainFaasStack(app, 'ChainFaas-prod', { config: { stage: 'prod', controllerPublicKey: TEST_PUBLIC_KEY, fabric: 'ec2' }, env });
    const missing = app.synth().manifest.missing ?? [];
    // The image, and (now that the stack has an environment) the VPC's availability zones.
    expect(missing.map((m) => m.provider).sort()).toEqual(['availability-zones', 'ssm']);
    const key = missing.find((m) => m.provider === 'ssm')!.key;
    const azs = missing.find((m) => m.provider === 'availability-zones')!.key;
    expect(key).toMatch(/ami-amazon-linux-latest\/al2023-ami-kernel-.*-arm64/);
    // cdk.context.json holds what the first deploy looked up: later synths read it from there.
    const cached = synth({}, env, { [key]: 'ami-0aaaaaaaaaaaaaaaa', [azs]: ['eu-west-1a', 'eu-west-1b'] });
    expect(cached.app.synth().manifest.missing ?? []).toEqual([]);
    const node = Object.values(cached.resources).find((r) => r.Type === 'AWS::EC2::Instance');
    expect(node?.Properties?.ImageId).toBe('ami-0aaaaaaaaaaaaaaaa');
  });

  test('environment-agnostic and unpinned: refused with the command that finds an image id', () => {
    expect(() => synth({})).toThrow(/fabricImageId.*al2023-ami-kernel-default-arm64/);
  });

  test('a changed user data (another start command, a chaincode edit) only updates the node; its volume and identity stay', () => {
    const changed = synth({ fabricImageId: TEST_IMAGE_ID, fabricStartCommand: 'bash chaincode/network/aws-node.sh --dry-run' });
    expect(JSON.stringify(changed.resources[nodeId].Properties?.UserData)).not.toEqual(JSON.stringify(base.resources[nodeId].Properties?.UserData));
    expect(ledgerRisks(base.resources, changed.resources)).toEqual([]);
    expect(changed.resources[volumeId]).toEqual(base.resources[volumeId]);
  });

  test('the checker sees a replacement: a new image id replaces the node', () => {
    const other = synth({ fabricImageId: 'ami-0bbbbbbbbbbbbbbbb' });
    expect(ledgerRisks(base.resources, other.resources)).toEqual([`${nodeId} replaced: ImageId changed`]);
  });

  test('the ledger is on its own encrypted volume, retained on delete and on replacement, attached at launch, snapshotted daily', () => {
    const volume = base.resources[volumeId];
    expect(volume).toMatchObject({ Type: 'AWS::EC2::Volume', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(volume.Properties).toMatchObject({ Encrypted: true, VolumeType: 'gp3', Size: 20 });
    expect(base.resources[nodeId].Properties?.Volumes).toEqual([{ Device: '/dev/sdf', VolumeId: { Ref: volumeId } }]);
    // The volume's AZ is the subnet's, not the instance's attribute: a new instance would not move it.
    expect(JSON.stringify(volume.Properties?.AvailabilityZone)).not.toContain(nodeId);
    const tag = (volume.Properties?.Tags as { Key: string; Value: string }[]).find((t) => t.Key === 'chainfaas:ledger-volume');
    const policy = Object.values(base.resources).find((r) => r.Type === 'AWS::DLM::LifecyclePolicy');
    expect(policy?.Properties).toMatchObject({
      State: 'ENABLED',
      PolicyDetails: {
        ResourceTypes: ['VOLUME'],
        TargetTags: [{ Key: 'chainfaas:ledger-volume', Value: tag?.Value }],
        Schedules: [{ CreateRule: { Interval: 24, IntervalUnit: 'HOURS' }, RetainRule: { Count: 14 } }],
      },
    });
    // The boot script formats the volume only when it has no file system (a restored snapshot keeps its data).
    const userData = JSON.stringify(base.resources[nodeId].Properties?.UserData);
    expect(userData).toContain('blkid \\"$VOL_DEV\\" >/dev/null || mkfs.xfs -L chainfaas-data');
    expect(userData.indexOf('mountpoint -q /var/lib/chainfaas')).toBeLessThan(userData.indexOf('network.zip'));
  });

  test("the data disk's used share is published by the node's CloudWatch agent and alarmed at 80%", () => {
    const alarm = Object.values(base.resources).find((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties?.MetricName === 'disk_used_percent');
    expect(alarm?.Properties).toMatchObject({
      Namespace: 'ChainFaaS/FabricNode',
      Threshold: 80,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [
        { Name: 'InstanceId', Value: { Ref: nodeId } },
        { Name: 'path', Value: '/var/lib/chainfaas' },
      ],
    });
    const userData = JSON.stringify(base.resources[nodeId].Properties?.UserData);
    expect(userData).toContain('amazon-cloudwatch-agent-ctl -a fetch-config');
    expect(userData).toContain('\\"namespace\\":\\"ChainFaaS/FabricNode\\"');
    expect(userData).toContain('\\"aggregation_dimensions\\":[[\\"InstanceId\\",\\"path\\"]]');
  });

  test('the root volume is kept on termination while data is retained (a node older than the data volume has its ledger there)', () => {
    expect(base.resources[nodeId].Properties?.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: false, Encrypted: true, VolumeSize: 30, VolumeType: 'gp3' } },
    ]);
  });
});

describe('stage settings files', () => {
  function stagesWith(files: Record<string, unknown>): string {
    const dir = mkdtempSync(join(tmpdir(), 'chainfaas-stages-'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(content));
    return dir;
  }
  const prod = { stage: 'prod', fabric: 'ec2', fabricImageId: TEST_IMAGE_ID, fabricOrderers: 3, retainData: true, operatorUserIds: ['usr_Ops1'], priceVcpuMs: 12 };
  const read = (context: Record<string, unknown>, dir = stagesWith({ prod })) => stageConfig(testApp({ context }), dir);

  test('a plain deploy of a stage reads its file: the ledger, the operators and the prices come from it', () => {
    expect(read({ stage: 'prod' }).config).toMatchObject({ stage: 'prod', fabric: 'ec2', fabricImageId: TEST_IMAGE_ID, fabricOrderers: 3, operatorUserIds: ['usr_Ops1'], priceVcpuMs: 12 });
  });

  test('a deploy that forgets the ledger setting still deploys the ledger (nothing to forget)', () => {
    const { config } = read({ stage: 'prod', priceVcpuMs: '15' });
    expect(config.fabric).toBe('ec2');
    expect(config.priceVcpuMs).toBe(15);
  });

  test.each([
    ['fabric', 'none'],
    ['fabricImageId', 'ami-0bbbbbbbbbbbbbbbb'],
    ['retainData', 'false'],
    ['fabricOrderers', '1'],
  ])('-c %s=%s against the stage file is refused: it would delete or replace the ledger', (key, value) => {
    expect(() => read({ stage: 'prod', [key]: value })).toThrow(new RegExp(`-c ${key}=${value} contradicts stages/prod.json.*allowLedgerReplacement`));
  });

  test('allowLedgerReplacement=true lets such a deploy through, on purpose', () => {
    expect(read({ stage: 'prod', fabric: 'none', allowLedgerReplacement: 'true' }).config.fabric).toBe('none');
  });

  test('the same value on the command line is not a contradiction', () => {
    expect(read({ stage: 'prod', fabric: 'ec2', retainData: 'true' }).config.fabric).toBe('ec2');
  });

  test('a stage without a file is refused (a typo must not create a second stack)', () => {
    expect(() => read({ stage: 'prdo' })).toThrow(/no settings for stage prdo: create stages\/prdo.json/);
  });

  test('account and region in the file make the stack environment-specific', () => {
    const dir = stagesWith({ prod: { ...prod, account: '123456789012', region: 'eu-west-1' } });
    expect(read({ stage: 'prod' }, dir).env).toEqual({ account: '123456789012', region: 'eu-west-1' });
  });

  test("the repository's own stage files parse: dev synthesises as is, prod asks for its image to be pinned", () => {
    expect(stageConfig(testApp()).config.stage).toBe('dev');
    const { config, env } = stageConfig(testApp({ context: { stage: 'prod' } }));
    expect(config).toMatchObject({ stage: 'prod', fabric: 'ec2', retainData: true });
    expect(() => new ChainFaasStack(testApp(), 'ChainFaas-prod', { config, env })).toThrow(/pinned/);
  });
});
