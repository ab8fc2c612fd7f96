/**
 * The ONE price table bench/cost.ts multiplies the counted requests by: AWS list prices in
 * us-east-1, on-demand, without free tiers or volume discounts (the first tier of each). Each row
 * names its source page and the date its figure was read. Change a price here and nowhere else.
 */
export interface Price {
  usd: number;
  per: string;
  source: string;
  /** When the figure was taken from the source. */
  asOf: string;
  note?: string;
}

export const PRICES = {
  dynamoWriteUnit: {
    usd: 0.625 / 1e6,
    per: 'write request unit (1 KB; a transactional write is 2 per KB)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    asOf: '2024-11-01 (the on-demand price cut; unchanged as read 2026-12-04)',
  },
  dynamoReadUnit: {
    usd: 0.125 / 1e6,
    per: 'read request unit (a strongly consistent read of 4 KB; eventually consistent 0.5; transactional 2)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    asOf: '2024-11-01 (the on-demand price cut; unchanged as read 2026-12-04)',
  },
  sqsRequest: {
    usd: 0.4 / 1e6,
    per: 'request (standard queue; each 64 KB chunk of a payload is one)',
    source: 'https://aws.amazon.com/sqs/pricing/',
    asOf: '2026-12-04',
  },
  s3Put: { usd: 0.005 / 1000, per: 'PUT, COPY, POST or LIST request (S3 Standard)', source: 'https://aws.amazon.com/s3/pricing/', asOf: '2026-12-04' },
  s3Get: { usd: 0.0004 / 1000, per: 'GET, HEAD or other request (S3 Standard)', source: 'https://aws.amazon.com/s3/pricing/', asOf: '2026-12-04' },
  lambdaRequest: { usd: 0.2 / 1e6, per: 'invocation', source: 'https://aws.amazon.com/lambda/pricing/', asOf: '2026-12-04' },
  lambdaGbSecondArm: {
    usd: 0.0000133334,
    per: 'GB-second, arm64 (lib/constructs/platform-function.ts: ARM_64), first tier',
    source: 'https://aws.amazon.com/lambda/pricing/',
    asOf: '2026-12-04',
  },
  apiGatewayHttpRequest: {
    usd: 1.0 / 1e6,
    per: 'HTTP API request (first 300 million a month)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    asOf: '2026-12-04',
  },
  secretsManagerCall: { usd: 0.05 / 10_000, per: 'API call', source: 'https://aws.amazon.com/secrets-manager/pricing/', asOf: '2026-12-04' },
  kmsRequest: { usd: 0.03 / 10_000, per: 'request (symmetric)', source: 'https://aws.amazon.com/kms/pricing/', asOf: '2026-12-04' },
} satisfies Record<string, Price>;
