import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnResource } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../lambdas/handlers/manifest';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { SigningKey } from '../../lib/constructs/signing-key';
import { actionsOf, statementsOfRole, testStack, TEST_PUBLIC_KEY } from './helpers';

const ENTRY = 'test/cdk/fixtures/echo-handler.ts';

describe('SigningKey', () => {
  test('creates a retained secret with a placeholder, readable only by the bound signer', () => {
    const stack = testStack();
    const key = new SigningKey(stack, 'Key', { publicKeyPem: TEST_PUBLIC_KEY });
    const signer = new PlatformFunction(stack, 'Signer', { entry: ENTRY });
    const other = new PlatformFunction(stack, 'Other', { entry: ENTRY });
    key.bindPrivateKey(signer);
    key.bindPublicKey(other);
    const template = Template.fromStack(stack);
    const secretId = stack.getLogicalId(key.secret.node.defaultChild as CfnResource);
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: { GenerateSecretString: Match.objectLike({ PasswordLength: 48 }) },
    });
    const statementsOf = (fn: PlatformFunction) => statementsOfRole(template, stack.getLogicalId((fn.role as iam.Role).node.defaultChild as CfnResource));
    const secretStatements = statementsOf(signer).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secretStatements).toEqual([
      { Effect: 'Allow', Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], Resource: { Ref: secretId } },
    ]);
    expect(
      statementsOf(other)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('secretsmanager:')),
    ).toEqual([]);
    const env = (fn: PlatformFunction) => template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnResource)].Properties.Environment.Variables;
    expect(env(signer)[ENV.signingKeySecretArn]).toEqual({ Ref: secretId });
    expect(env(other)[ENV.publicKey]).toBe(TEST_PUBLIC_KEY);
    expect(env(other)[ENV.signingKeySecretArn]).toBeUndefined();
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('controllerPublicKey'));
  });

  test('imports an existing secret instead of creating one', () => {
    const stack = testStack();
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:chainfaas/controller-key-AbCdEf';
    const key = new SigningKey(stack, 'Key', { existingSecretArn: arn, publicKeyPem: TEST_PUBLIC_KEY });
    const signer = new PlatformFunction(stack, 'Signer', { entry: ENTRY });
    key.bindPrivateKey(signer);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const statements = statementsOfRole(template, stack.getLogicalId((signer.role as iam.Role).node.defaultChild as CfnResource));
    expect(statements.find((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))!.Resource).toBe(arn);
  });
});
