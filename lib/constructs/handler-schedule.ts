import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface HandlerScheduleProps {
  /** The Lambda to run. */
  readonly handler: lambda.IFunction;
  /** EventBridge schedule expression, e.g. `rate(1 minute)` (the manifest's `schedule`). */
  readonly expression: string;
  /**
   * Retries of a failed run before EventBridge drops it (the next scheduled run comes anyway).
   * @default 0
   */
  readonly retryAttempts?: number;
}

/**
 * Runs a handler on a schedule (the reaper: leases and waiting deadlines). The handler must be
 * idempotent: a run that overlaps or repeats another changes nothing twice (conditional writes).
 */
export class HandlerSchedule extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: HandlerScheduleProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Rule', {
      description: `Runs ${props.handler.node.path} on ${props.expression}`,
      schedule: events.Schedule.expression(props.expression),
    });
    this.rule.addTarget(new targets.LambdaFunction(props.handler, { retryAttempts: props.retryAttempts ?? 0 }));
  }
}
