import { CfnOutput, CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PlatformFunction } from './platform-function';

export interface ReservedConcurrencyProps {
  /** The function whose concurrency is reserved. */
  readonly target: lambda.IFunction;
  /** Executions to reserve when the account can afford them. */
  readonly wanted: number;
  /**
   * Retention of the handler's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Reserved concurrency that never fails a deploy: set at deploy time by a custom resource
 * (lib/handlers/writer-concurrency.ts) when the account keeps its 10 unreserved executions besides,
 * else left unreserved. The stack output `<id>Reserved` says which happened. After a quota
 * increase, reserve by hand (`aws lambda put-function-concurrency`) or deploy with another `wanted`:
 * the resource runs again only when its properties change.
 */
export class ReservedConcurrency extends Construct {
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: ReservedConcurrencyProps) {
    super(scope, id);
    const handler = new PlatformFunction(this, 'Handler', {
      entry: 'lib/handlers/writer-concurrency.ts',
      description: `ChainFaaS deploy: reserves ${props.wanted} concurrent executions for the ledger writer when the account can afford them`,
      timeout: Duration.seconds(30),
      memorySize: 256,
      logRetention: props.logRetention,
    });
    handler.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReserveConcurrency',
        actions: ['lambda:GetFunctionConcurrency', 'lambda:PutFunctionConcurrency', 'lambda:DeleteFunctionConcurrency'],
        resources: [props.target.functionArn],
      }),
    );
    // GetAccountSettings has no resource-level permission.
    handler.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadAccountLimits', actions: ['lambda:GetAccountSettings'], resources: ['*'] }));
    if (handler.role)
      Validations.of(handler.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'lambda:GetAccountSettings (the account concurrency quota) has no resource-level permission; the concurrency actions are on the target function only.',
      });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: handler.functionArn,
      resourceType: 'Custom::ReservedConcurrency',
      properties: { FunctionName: props.target.functionName, Wanted: String(props.wanted) },
    });
    new CfnOutput(Stack.of(this), `${id}Reserved`, {
      value: this.resource.getAttString('Reserved'),
      description: `Concurrent executions reserved for ${props.target.node.id} (0: the account could not afford ${props.wanted}; raise the quota and deploy again)`,
    });
  }
}
