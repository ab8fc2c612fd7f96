import { Annotations, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/handlers/manifest';

export interface SigningKeyProps {
  /**
   * ARN of an existing secret that already holds the key (complete ARN with the random suffix, or
   * a partial one without it).
   * @default - a new secret holding a random placeholder, which the operator replaces
   */
  readonly existingSecretArn?: string;
  /**
   * The matching public key (SPKI PEM). Lambdas that serve or check it without signing get it in
   * an environment variable instead of read access to the private key.
   * @default - none; a synth warning says the public-key route cannot answer
   */
  readonly publicKeyPem?: string;
  /**
   * What happens to a created secret when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The controller's Ed25519 signing key (PKCS#8 PEM) in Secrets Manager.
 *
 * The key is generated outside CDK, on purpose: CDK cannot make an Ed25519 key, and any key made
 * in CDK code would be written into the cloud assembly and the template. A custom resource could
 * generate it at deploy time, but the operator must still take the public key out of band (to
 * register the controller's identity on the ledger and to give it to providers), so the honest
 * flow is: `openssl genpkey -algorithm ed25519`, then `aws secretsmanager put-secret-value` on
 * this secret, then redeploy with `-c controllerPublicKey=...`. Until then the secret holds a
 * random placeholder that is not a key, and the signing Lambdas fail loudly on first use instead
 * of signing with something guessable.
 */
export class SigningKey extends Construct {
  readonly secret: secretsmanager.ISecret;
  readonly publicKeyPem?: string;

  constructor(scope: Construct, id: string, props: SigningKeyProps = {}) {
    super(scope, id);
    this.publicKeyPem = props.publicKeyPem;
    if (props.existingSecretArn) {
      this.secret = /-[A-Za-z0-9]{6}$/.test(props.existingSecretArn)
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', props.existingSecretArn)
        : secretsmanager.Secret.fromSecretPartialArn(this, 'Secret', props.existingSecretArn);
    } else {
      const secret = new secretsmanager.Secret(this, 'Secret', {
        description: 'ChainFaaS controller Ed25519 private key, PKCS#8 PEM. Created with a placeholder: put the real key with put-secret-value.',
        generateSecretString: { passwordLength: 48, excludePunctuation: true },
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The signing key is rotated by the operator, not by a rotation Lambda: a new key must first be registered on the ledger and announced to providers, which Secrets Manager rotation cannot do.',
      });
      this.secret = secret;
    }
    if (!props.publicKeyPem) {
      Annotations.of(this).addWarningV2(
        'chainfaas:noPublicKey',
        'No controllerPublicKey in context: GET /controller/public-key fails until the stack is deployed with -c controllerPublicKey=<SPKI PEM>.',
      );
    }
  }

  /** Lets `fn` sign: sets the secret's ARN in the manifest's variable and grants read of that one secret. */
  bindPrivateKey(fn: lambda.Function): void {
    fn.addEnvironment(ENV.signingKeySecretArn, this.secret.secretArn);
    this.secret.grantRead(fn);
  }

  /** Gives `fn` the public key (no secret access), when one is configured. */
  bindPublicKey(fn: lambda.Function): void {
    if (this.publicKeyPem) fn.addEnvironment(ENV.publicKey, this.publicKeyPem);
  }
}
