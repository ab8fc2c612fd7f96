import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { ChainFaasStack } from '../../lib/chainfaas-stack';
import { projectRoot } from '../../lib/project-root';
import { stageConfig } from '../../lib/stage-settings';
import { TEST_IMAGE_ID, testApp } from './helpers';

/**
 * README's counts of tables and alarms come from the synthesised template: the repository's own
 * stage files, as a plain `cdk synth` reads them (prod with its image pinned on the command line).
 */
const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
const deploy = readme.slice(readme.indexOf('## Deploy to AWS'));

function counts(context: Record<string, unknown>): { tables: number; alarms: number } {
  const app = testApp({ context });
  const { config, env } = stageConfig(app);
  const template = Template.fromStack(new ChainFaasStack(app, `ChainFaas-${config.stage}`, { config, env })).toJSON();
  const types = Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
  return { tables: types.filter((t) => t === 'AWS::DynamoDB::Table').length, alarms: types.filter((t) => t === 'AWS::CloudWatch::Alarm').length };
}

test("README's table and alarm counts are the synthesised template's", () => {
  const stated = /has (\d+) DynamoDB tables and (\d+) CloudWatch alarms; with `fabric=ec2` (\d+) alarms/.exec(deploy);
  expect(stated).not.toBeNull();
  const dev = counts({});
  const prod = counts({ stage: 'prod', fabricImageId: TEST_IMAGE_ID });
  expect({ tables: Number(stated![1]), alarms: Number(stated![2]), ec2Alarms: Number(stated![3]) }).toEqual({
    tables: dev.tables,
    alarms: dev.alarms,
    ec2Alarms: prod.alarms,
  });
  // The clean-up section names the same number of retained tables, and the cost table the same alarms.
  expect(deploy).toContain(`the ${dev.tables} DynamoDB tables`);
  expect(deploy).toContain(`API 5xx (${dev.alarms}), plus ${prod.alarms - dev.alarms} on the Fabric node`);
});
