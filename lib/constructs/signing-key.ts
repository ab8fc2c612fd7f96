import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/handlers/manifest';
import { PlatformFunction } from './platform-function';

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
   * @default - the key's own: a custom resource reads it from the secret at deploy time (generating
   *   the key there first when the secret is this construct's new one)
   */
  readonly publicKeyPem?: string;
  /**
   * Retention of the custom resource handler's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to a created secret when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The controller's Ed25519 signing key (PKCS#8 PEM) in Secrets Manager.
 *
 * The key is generated inside AWS, at deploy time, by a custom resource (lib/handlers/controller-key.ts):
 * a key made in CDK code would be written into the cloud assembly and the template. The secret is
 * created with a random placeholder; on the first deploy the handler replaces it with a new key
 * and answers with the public key, which reaches the Lambdas' environment in the same deploy.
 * Later deploys read the key already there. An existing secret (`existingSecretArn`) is never
 * written: the handler only derives its public key, and fails the deploy if it holds no key.
 * Agents fetch the public key from `GET /controller/public-key`.
 */
export class SigningKey extends Construct {
  readonly secret: secretsmanager.ISecret;
  /** The public key: the configured one, or the custom resource's answer (a deploy-time token). */
  readonly publicKeyPem: string;
  /** The custom resource that generates the key or reads its public key, unless one was configured. */
  readonly keyResource?: CustomResource;

  constructor(scope: Construct, id: string, props: SigningKeyProps = {}) {
    super(scope, id);
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
    if (props.publicKeyPem) {
      this.publicKeyPem = props.publicKeyPem;
      return;
    }
    const handler = new PlatformFunction(this, 'KeyHandler', {
      entry: 'lib/handlers/controller-key.ts',
      description: "ChainFaaS deploy: generates the controller's signing key in its secret (first deploy) and returns its public key",
      timeout: Duration.seconds(30),
      memorySize: 256,
      logRetention: props.logRetention,
    });
    this.secret.grantRead(handler);
    if (!props.existingSecretArn) this.secret.grantWrite(handler);
    this.keyResource = new CustomResource(this, 'Key', {
      serviceToken: handler.functionArn,
      resourceType: 'Custom::ControllerKey',
      properties: { SecretId: this.secret.secretArn, MayGenerate: String(!props.existingSecretArn) },
    });
    this.publicKeyPem = this.keyResource.getAttString('PublicKeyPem');
  }

  /** Lets `fn` sign: sets the secret's ARN in the manifest's variable and grants read of that one secret. */
  bindPrivateKey(fn: lambda.Function): void {
    fn.addEnvironment(ENV.signingKeySecretArn, this.secret.secretArn);
    this.secret.grantRead(fn);
  }

  /** Gives `fn` the public key (no secret access). */
  bindPublicKey(fn: lambda.Function): void {
    fn.addEnvironment(ENV.publicKey, this.publicKeyPem);
  }
}
