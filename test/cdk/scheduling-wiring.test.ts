import type { CfnResource } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { ENV, HANDLERS, type HandlerName } from '../../lambdas/handlers/manifest';
import { actionsOf, referencedIds, resourcesOf, statementsOfRole, synthControllerStack, type SynthesisedStack } from './helpers';

/**
 * Part of the stack that carries scheduling's failure handling: the reaper's schedule, the operator's
 * dead-letter rights, developers' result-bucket roles and the operator/scheduling settings.
 */
const HANDLER_NAMES = Object.keys(HANDLERS) as HandlerName[];
let synth: SynthesisedStack;
beforeAll(() => {
  synth = synthControllerStack({ operatorUserIds: ['usr_Operator1'], leaseS: 20, maxAttempts: 4 });
});

const id = (construct: { node: { defaultChild?: unknown } }): string => synth.stack.getLogicalId(construct.node.defaultChild as CfnResource);
const allows = (name: HandlerName) => statementsOfRole(synth.template, id(synth.stack.functions[name].role as iam.Role)).filter((s) => s.Effect === 'Allow');
const env = (name: HandlerName): Record<string, unknown> => synth.template.toJSON().Resources[id(synth.stack.functions[name])].Properties.Environment.Variables;

test('the reaper, and only the reaper, runs on an EventBridge schedule: every minute, no retries', () => {
  const rules = Object.values(synth.template.findResources('AWS::Events::Rule'));
  expect(rules).toHaveLength(HANDLER_NAMES.filter((n) => HANDLERS[n].schedule).length);
  expect(rules).toHaveLength(1);
  expect(rules[0].Properties.ScheduleExpression).toBe('rate(1 minute)');
  expect(rules[0].Properties.Targets).toEqual([
    expect.objectContaining({ Arn: { 'Fn::GetAtt': [id(synth.stack.functions.reaper), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } }),
  ]);
  synth.template.hasResourceProperties('AWS::Lambda::Permission', {
    Action: 'lambda:InvokeFunction',
    FunctionName: { 'Fn::GetAtt': [id(synth.stack.functions.reaper), 'Arn'] },
    Principal: 'events.amazonaws.com',
  });
});

test('only the operator Lambda may read the dead-letter queue, and only receive, delete and hide on it', () => {
  const dlq = id(synth.stack.providerQueues.deadLetterQueue);
  for (const name of HANDLER_NAMES) {
    const onDlq = allows(name).filter((s) => resourcesOf(s).some((r) => referencedIds(r).has(dlq)));
    if (name === 'operator') {
      expect(onDlq.flatMap(actionsOf).sort()).toEqual([
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
      ]);
    } else {
      expect(onDlq.flatMap(actionsOf).filter((a) => a !== 'sqs:SendMessage')).toEqual([]);
    }
  }
});

test("developers' result roles may be assumed by the Lambdas that presign results, only roles named chainfaas-results*", () => {
  for (const name of HANDLER_NAMES) {
    const assumes = allows(name)
      .filter((s) => actionsOf(s).includes('sts:AssumeRole'))
      .flatMap(resourcesOf)
      .filter((r) => JSON.stringify(r).includes(':iam::*:role/'));
    if (HANDLERS[name].developerBuckets) {
      expect(assumes).toHaveLength(1);
      expect(JSON.stringify(assumes[0])).toContain(':iam::*:role/chainfaas-results*');
    } else {
      expect(assumes).toEqual([]);
    }
  }
});

test('the providers Lambda signs and sends (it places waiting jobs), and mints credentials from the provider role', () => {
  expect(allows('providers').some((s) => actionsOf(s).includes('sqs:SendMessage'))).toBe(true);
  expect(env('providers')[ENV.providerRoleArn]).toEqual({ 'Fn::GetAtt': [id(synth.stack.providerQueues.providerRole), 'Arn'] });
  expect(env('providers')[ENV.signingKeySecretArn]).toBeDefined();
});

test('operator ids and scheduling settings from context reach every Lambda; the others carry their documented defaults', () => {
  for (const name of HANDLER_NAMES) {
    expect(env(name)).toMatchObject({
      [ENV.operatorUserIds]: 'usr_Operator1',
      [ENV.settings.leaseS]: '20',
      [ENV.settings.maxAttempts]: '4',
      [ENV.settings.maxWaitS]: '300',
      [ENV.settings.retryAfterS]: '10',
      [ENV.settings.providerCredentialsTtlS]: '3600',
    });
  }
});

test('#17: the ledger writer, and only it, gets its number of lanes (8 by default, ledgerWriterLanes from context)', () => {
  expect(env('ledgerWriter')[ENV.ledgerWriterLanes]).toBe('8');
  for (const name of HANDLER_NAMES.filter((n) => n !== 'ledgerWriter')) expect(env(name)[ENV.ledgerWriterLanes]).toBeUndefined();
  const one = synthControllerStack({ ledgerWriterLanes: 1 });
  const writer = one.stack.getLogicalId(one.stack.functions.ledgerWriter.node.defaultChild as CfnResource);
  expect(one.template.toJSON().Resources[writer].Properties.Environment.Variables[ENV.ledgerWriterLanes]).toBe('1');
});
