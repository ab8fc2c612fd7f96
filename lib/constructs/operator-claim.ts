import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/handlers/manifest';

export interface OperatorClaimProps {
  /**
   * What happens to the secret when the stack is deleted (the claim it allowed is recorded in the
   * users table; the token is useless once claimed).
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The one-time operator claim token (`POST /operator/claim`): a Secrets Manager secret whose value
 * CloudFormation generates inside Secrets Manager (`GenerateSecretString`), so it is never in
 * cdk.out, the template or a log. The platform owner reads it once with
 * `aws secretsmanager get-secret-value` and claims the operator right from a signed-in account;
 * the first claim uses it up. Only the Lambda bound here may read it.
 */
export class OperatorClaim extends Construct {
  readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: OperatorClaimProps = {}) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Token', {
      description: 'ChainFaaS one-time operator claim token: POST /operator/claim with it grants the operator right to the calling account, once',
      generateSecretString: { passwordLength: 40, excludePunctuation: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'A one-time token: the first claim uses it up (a record in the users table), so there is nothing to rotate.',
    });
  }

  /** Lets `fn` serve the claim: sets the secret's ARN in the manifest's variable and grants read of this one secret. */
  bind(fn: lambda.Function): void {
    fn.addEnvironment(ENV.operatorClaim.secretArn, this.secret.secretArn);
    this.secret.grantRead(fn);
  }
}
