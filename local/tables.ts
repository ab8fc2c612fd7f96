import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient, type Projection, ResourceInUseException, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { IndexSchema, TABLES, TableName } from '../lambdas/handlers/manifest';

/**
 * Creates the manifest's tables in DynamoDB Local (same key schemas and indexes as the CDK
 * stack builds in AWS) and the result bucket in the S3 emulator. Idempotent.
 */
export async function createTables(endpoint: string, names: Record<TableName, string>): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: process.env.AWS_REGION ?? 'us-east-1' });
  for (const [table, spec] of Object.entries(TABLES) as [TableName, (typeof TABLES)[TableName]][]) {
    const attributes = new Set<string>([spec.pk, ...(spec.sk ? [spec.sk] : []), ...spec.gsis.flatMap((g) => [g.pk, ...(g.sk ? [g.sk] : [])])]);
    try {
      await client.send(
        new CreateTableCommand({
          TableName: names[table],
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
          KeySchema: [{ AttributeName: spec.pk, KeyType: 'HASH' }, ...(spec.sk ? [{ AttributeName: spec.sk, KeyType: 'RANGE' as const }] : [])],
          GlobalSecondaryIndexes: spec.gsis.length
            ? spec.gsis.map((g) => ({
                IndexName: g.name,
                KeySchema: [{ AttributeName: g.pk, KeyType: 'HASH' as const }, ...(g.sk ? [{ AttributeName: g.sk, KeyType: 'RANGE' as const }] : [])],
                Projection: projectionOf(g),
              }))
            : undefined,
        }),
      );
      if (spec.ttl)
        await client.send(new UpdateTimeToLiveCommand({ TableName: names[table], TimeToLiveSpecification: { AttributeName: spec.ttl, Enabled: true } }));
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  client.destroy();
}

/** An index's projection as DynamoDB takes it: every attribute, or the keys and the ones named. */
function projectionOf(index: IndexSchema): Projection {
  if (index.projection === undefined) return { ProjectionType: 'ALL' };
  return index.projection.length === 0 ? { ProjectionType: 'KEYS_ONLY' } : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] };
}

export async function createBucket(endpoint: string, bucket: string): Promise<void> {
  const s3 = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  } finally {
    s3.destroy();
  }
}
