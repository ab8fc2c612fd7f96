import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/** Name prefix a developer's result-bucket role must have (contract/src/requests.ts#ResultRoleArn). */
export const DEVELOPER_RESULT_ROLE_PREFIX = 'chainfaas-results';

/**
 * Lets `fn` assume developers' result-bucket roles (`chainfaas-results*` in any account), to presign
 * into buckets developers name for their functions. The roles are the developers' own, in their
 * accounts, so their ARNs cannot be known at deploy time; the name prefix bounds which roles, the
 * developer's trust policy (external id = their user id) bounds who, and the session policy the
 * controller attaches (lambdas/core/session-policies.ts) bounds what: `results/` of one bucket.
 */
export function grantDeveloperBucketRoles(fn: lambda.Function): void {
  const resource = `arn:${Stack.of(fn).partition}:iam::*:role/${DEVELOPER_RESULT_ROLE_PREFIX}*`;
  fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'AssumeDeveloperResultRoles', actions: ['sts:AssumeRole'], resources: [resource] }));
  if (fn.role) {
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/${DEVELOPER_RESULT_ROLE_PREFIX}*]`,
      reason:
        "Developers' result-bucket roles live in their own accounts and are named at run time; each trust policy requires the developer's user id as external id, and the session policy narrows the session to results/ of one bucket.",
    });
  }
}
