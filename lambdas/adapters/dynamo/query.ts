import { BatchGetCommand, type BatchGetCommandOutput, paginateQuery, type QueryCommandInput, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../clients';

/**
 * Paginated queries, for every store that reads more than one page: the SDK's own paginator
 * (`paginateQuery`) follows `LastEvaluatedKey`; no store writes that loop itself.
 */

/** The pages of `input`, one request each, starting after `startKey` when given; `pageSize` is each request's `Limit`. */
export function queryPages(input: QueryCommandInput, options: { pageSize?: number; startKey?: Record<string, unknown> } = {}): AsyncIterable<QueryCommandOutput> {
  // The paginator writes its position into the input it is given: give it a copy.
  return paginateQuery({ client: dynamo, pageSize: options.pageSize, startingToken: options.startKey }, { ...input });
}

/** Every item `input` finds, page after page, in the order DynamoDB returns them; at most `max` (pages of at most 1,000 then). */
export async function queryAll<T>(input: QueryCommandInput, max?: number): Promise<T[]> {
  const items: T[] = [];
  for await (const page of queryPages(input, { pageSize: max === undefined ? undefined : Math.min(1000, max) })) {
    for (const item of page.Items ?? []) {
      items.push(item as T);
      if (items.length === max) return items;
    }
  }
  return items;
}

/** DynamoDB's limit of keys in one BatchGetItem. */
const BATCH_GET_KEYS = 100;

/**
 * The items of `table` at `keys`, read consistently (a missing one is left out), in batches of
 * 100, unprocessed keys asked again: what a query of an index that holds only keys reads next.
 */
export async function getItems<T>(table: string, keys: Record<string, unknown>[]): Promise<T[]> {
  const items: T[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
    let batch: Record<string, unknown>[] | undefined = keys.slice(i, i + BATCH_GET_KEYS);
    while (batch && batch.length > 0) {
      const out: BatchGetCommandOutput = await dynamo.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: batch, ConsistentRead: true } } }));
      items.push(...((out.Responses?.[table] ?? []) as T[]));
      batch = out.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return items;
}
