import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { projectRoot } from '../project-root';

/**
 * Modules left out of every bundle: native add-ons that only optional code paths load.
 * `pkcs11js` (an optional dependency of @hyperledger/fabric-gateway) is required lazily by its
 * HSM signer, which the controller does not use; esbuild cannot bundle its `.node` binary.
 */
export const OPTIONAL_NATIVE_MODULES: readonly string[] = ['pkcs11js'];

export interface PlatformFunctionProps {
  /** Handler source file, relative to the repository root (the manifest's `entry`). */
  readonly entry: string;
  /**
   * Exported handler function.
   * @default 'handler'
   */
  readonly handler?: string;
  /**
   * Description shown in the Lambda console.
   * @default - none
   */
  readonly description?: string;
  /**
   * Environment variables; merged over the platform's own (`NODE_OPTIONS`), never replacing them
   * wholesale. Binders add more later with `addEnvironment`.
   * @default {}
   */
  readonly environment?: Record<string, string>;
  /**
   * Lambda runtime.
   * Lambda runtime; the bundle targets its Node version.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Timeout. Functions behind the HTTP API must stay under its 30 s integration limit.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * How long the function's log group keeps logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.DESTROY (logs are kept by retention, not by the stack's lifetime)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Reserved concurrency.
   * @default - unreserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Modules left out of the bundle. The AWS SDK v3 is bundled on purpose (see below).
   * @default OPTIONAL_NATIVE_MODULES
   */
  readonly externalModules?: string[];
  /**
   * VPC to place the function in (functions that reach the Fabric peer).
   * @default - not in a VPC
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets within `vpc`.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups within `vpc`.
   * @default - a new security group
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** esbuild's target for a Node.js Lambda runtime: `nodejs24.x` → `node24`. */
export function bundleTarget(runtime: lambda.Runtime): string {
  const match = /^nodejs(\d+)\.x$/.exec(runtime.name);
  if (!match) throw new Error(`${runtime.name} is not a Node.js runtime`);
  return `node${match[1]}`;
}

/**
 * The one way this project defines a Lambda function: Node.js on ARM64 (Graviton, cheaper per
 * GB-second), X-Ray tracing, JSON logs to its own log group with a retention, and an esbuild
 * bundle built locally (esbuild is a dependency, so no Docker) with minification and source maps.
 *
 * Each function gets its own execution role that may write to its own log group and nothing else
 * (instead of the AWSLambdaBasicExecutionRole managed policy, which allows every log group);
 * binders add the rest. Tracing adds the X-Ray write actions, which have no resource scoping.
 *
 * The bundle includes the AWS SDK v3 instead of using the copy in the Lambda runtime: the project
 * pins SDK versions (and relies on client options such as `requestChecksumCalculation`), and the
 * design's invariant is that the handlers in AWS are the same code as the ones tested locally —
 * the runtime's SDK is whatever version AWS ships that week. Minification and tree shaking keep
 * the cost to a few hundred kB per function.
 */
export class PlatformFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: PlatformFunctionProps) {
    const root = projectRoot();
    const runtime = props.runtime ?? lambda.Runtime.NODEJS_24_X;
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    logGroup.grantWrite(role);
    if (props.vpc) {
      role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'Lambda needs these ENI actions to join a VPC; DescribeNetworkInterfaces cannot be scoped to resources.',
      });
    }
    super(scope, id, {
      entry: join(root, props.entry),
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 512,
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.vpc ? props.securityGroups : undefined,
      projectRoot: root,
      depsLockFilePath: join(root, 'package-lock.json'),
      environment: {
        // Stack traces through the source maps shipped in the bundle.
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.CJS,
        target: bundleTarget(runtime),
        minify: true,
        sourceMap: true,
        // DEFAULT (esbuild's linked mode) writes index.js.map and the sourceMappingURL comment that --enable-source-maps follows
        // (EXTERNAL writes the map without the comment, so Node would never load it).
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        bundleAwsSDK: true,
        externalModules: props.externalModules ?? [...OPTIONAL_NATIVE_MODULES],
        tsconfig: join(root, 'tsconfig.json'),
        forceDockerBundling: false,
      },
    });
    // cdk-nag's L1 wants the newest Node.js runtime CDK knows (nodejs26.x); the platform runs the
    // LTS it is developed and tested on.
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: `${runtime.name} is chosen per deployment (context lambdaRuntime, default nodejs24.x: Node 24 LTS, the version local/setup.sh installs and the tests run on); the bundle targets it.`,
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only actions without resource-level permissions are allowed on "*": the X-Ray writes of active tracing, and dynamodb:ListStreams for a stream consumer. test/cdk asserts no other action appears there.',
    });
  }
}
