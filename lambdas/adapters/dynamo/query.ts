import { paginateQuery, type QueryCommandInput, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
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
