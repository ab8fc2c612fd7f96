import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as Unit } from '@aws-lambda-powertools/metrics/types';
import type { JobOutcome, Telemetry } from '../core/ports';
import { ENV } from '../handlers/manifest';

/**
 * The controller's one logger and its metrics, through Powertools for AWS Lambda: every log line
 * of lambdas/ goes through `logger` (structured JSON with the service name, cold start and, inside
 * a handler wrapped by `withLambdaContext`, the Lambda request id); every metric through `count` /
 * `telemetry` as CloudWatch Embedded Metric Format lines on stdout, which CloudWatch Logs turns into
 * metrics (no PutMetricData, so no IAM permission beyond the log group's).
 *
 * Settings come from the environment (manifest `ENV.powertools`, read by Powertools itself): the
 * service name, the metrics namespace, the log level, and `POWERTOOLS_METRICS_DISABLED`, which the
 * local platform sets so `npm start` and the tests print no EMF unless asked to.
 *
 * Each metric is emitted at once as its own EMF line (`singleMetric`) rather than buffered until the
 * invocation ends: each carries its own dimensions (an EMF line has one dimension set), and the local
 * platform runs every handler in one process with concurrent requests, where a buffer shared across
 * requests would publish one request's metrics with another's.
 */

const SERVICE = process.env[ENV.powertools.serviceName] || 'chainfaas-controller';
const NAMESPACE = process.env[ENV.powertools.metricsNamespace] || 'ChainFaaS';

export const logger = new Logger({ serviceName: SERVICE });
const metrics = new Metrics({ serviceName: SERVICE, namespace: NAMESPACE });

/** The controller's metric names (namespace `POWERTOOLS_METRICS_NAMESPACE`, dimension `service` on each). */
export const METRIC = {
  /** Count: jobs written (QUEUED). */
  jobsCreated: 'JobsCreated',
  /** Count, dimension `outcome` (`succeeded`, `failed`, `cancelled`): jobs that reached a terminal status. */
  jobsFinished: 'JobsFinished',
  /** Count, dimension `code` (the problem's code, e.g. `invalid_request`, `no_capacity`, `too_many_requests`): 4xx/503 answers. */
  rejections: 'Rejections',
  /** Count, dimension `code`: run-time reports the controller refused (also counted in Rejections). */
  reportsRefused: 'ReportsRefused',
  /** Count: requests answered 500 (a bug; the log line has the stack). */
  serverErrors: 'ServerErrors',
  /** Milliseconds: from the controller accepting a job's report to the read model recording it paid. */
  settlementLag: 'SettlementLag',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Emits one metric now, as its own EMF line, with these dimensions besides `service`. */
export function count(name: MetricName, dimensions: Record<string, string> = {}, value = 1, unit: Unit = MetricUnit.Count): void {
  const single = metrics.singleMetric();
  for (const [key, dimension] of Object.entries(dimensions)) single.addDimension(key, dimension);
  single.addMetric(name, unit, value);
}

/** The core's Telemetry port over the logger and metrics above. */
export const telemetry: Telemetry = {
  jobCreated: () => count(METRIC.jobsCreated),
  jobFinished: (outcome: JobOutcome) => count(METRIC.jobsFinished, { outcome }),
  settlementLag: (ms: number) => count(METRIC.settlementLag, {}, ms, MetricUnit.Milliseconds),
  error: (message: string, attributes?: Record<string, unknown>) => logger.error(message, attributes ?? {}),
};

/**
 * The middy middleware that puts the Lambda context (request id, function name, cold start) on every
 * log line of the invocation. `resetKeys` drops keys a handler appended, so none leak into the next.
 */
export const withLambdaContext = () => injectLambdaContext(logger, { resetKeys: true });
