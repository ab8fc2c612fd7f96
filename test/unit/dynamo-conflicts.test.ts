import { CreateTableCommand, DynamoDBClient, TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CONFLICT_ATTEMPTS, conflictRetry, isConflictOnly } from '../../lambdas/adapters/dynamo/conflicts';
import { startDynamoDbLocal, type RunningService } from '../../local/services';

/**
 * DynamoDB refuses a write that meets another one in flight on the same item, when either is part
 * of a transaction; the controller's client sends such a write again (lambdas/adapters/dynamo/conflicts.ts).
 * DynamoDB Local applies one request at a time and never refuses so, so the refusal is injected
 * here, at the wire's end of the client's middleware, in place of the request it refuses (nothing
 * of it reaches DynamoDB Local, as nothing of a refused write is applied by the service); every
 * write that gets through is DynamoDB Local's.
 */
let dynamo: RunningService;
const table = 'conflicts';

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  await base().send(
    new CreateTableCommand({ TableName: table, AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }),
  );
}, 120_000);

afterAll(async () => {
  await dynamo?.stop();
});

const base = () => new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

/** A document client with the retry, whose next `refusals` requests named `command` are refused with `error()` before reaching DynamoDB Local. */
function client(command: string, refusals: number, error: () => Error) {
  const raw = base();
  raw.middlewareStack.use(conflictRetry({ sleep: async () => undefined }));
  let left = refusals;
  const sent: string[] = [];
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName as string);
      if (context.commandName === command && left > 0) {
        left--;
        throw error();
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'refuseLikeTheService' },
  );
  return { doc: DynamoDBDocumentClient.from(raw), sent };
}

const cancelled = (...codes: string[]) => () =>
  new TransactionCanceledException({ message: `Transaction cancelled [${codes.join(', ')}]`, $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });
const conflict = () => new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata: {} });

const counter = async (doc: DynamoDBDocumentClient, k: string) => ((await doc.send(new GetCommand({ TableName: table, Key: { k }, ConsistentRead: true }))).Item?.n as number | undefined) ?? 0;

test('a transaction cancelled only by conflicts is sent again, and applied once', async () => {
  const { doc, sent } = client('TransactWriteItemsCommand', 2, cancelled('None', 'TransactionConflict'));
  await doc.send(
    new TransactWriteCommand({
      TransactItems: [
        { Update: { TableName: table, Key: { k: 'account-1' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } } },
        { Put: { TableName: table, Item: { k: 'job-1' }, ConditionExpression: 'attribute_not_exists(k)' } },
      ],
    }),
  );
  expect(sent.filter((c) => c === 'TransactWriteItemsCommand')).toHaveLength(3);
  expect(await counter(doc, 'account-1')).toBe(1);
});

test('a single write refused by a transaction in flight on its item is sent again', async () => {
  const { doc, sent } = client('UpdateItemCommand', 1, conflict);
  await doc.send(new UpdateCommand({ TableName: table, Key: { k: 'provider-1' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } }));
  expect(sent.filter((c) => c === 'UpdateItemCommand')).toHaveLength(2);
  expect(await counter(doc, 'provider-1')).toBe(1);
});

test('a failed condition is never retried, even beside a conflict: the caller reads it', async () => {
  const { doc, sent } = client('TransactWriteItemsCommand', 1, cancelled('ConditionalCheckFailed', 'TransactionConflict'));
  await expect(doc.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: table, Item: { k: 'job-2' } } }] }))).rejects.toMatchObject({
    name: 'TransactionCanceledException',
  });
  expect(sent.filter((c) => c === 'TransactWriteItemsCommand')).toHaveLength(1);
  // And a real one from DynamoDB Local, through the same client.
  await doc.send(new PutCommand({ TableName: table, Item: { k: 'job-3' } }));
  await expect(doc.send(new PutCommand({ TableName: table, Item: { k: 'job-3' }, ConditionExpression: 'attribute_not_exists(k)' }))).rejects.toMatchObject({
    name: 'ConditionalCheckFailedException',
  });
});

test(`conflicts past ${CONFLICT_ATTEMPTS} attempts reach the caller, and nothing was written`, async () => {
  const { doc, sent } = client('TransactWriteItemsCommand', CONFLICT_ATTEMPTS, cancelled('TransactionConflict'));
  await expect(
    doc.send(new TransactWriteCommand({ TransactItems: [{ Update: { TableName: table, Key: { k: 'account-2' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } } }] })),
  ).rejects.toMatchObject({ name: 'TransactionCanceledException' });
  expect(sent.filter((c) => c === 'TransactWriteItemsCommand')).toHaveLength(CONFLICT_ATTEMPTS);
  expect(await counter(doc, 'account-2')).toBe(0);
});

test('what counts as a conflict only', () => {
  expect(isConflictOnly(conflict())).toBe(true);
  expect(isConflictOnly(cancelled('None', 'TransactionConflict')())).toBe(true);
  expect(isConflictOnly(cancelled('None', 'None')())).toBe(false);
  expect(isConflictOnly(cancelled('TransactionConflict', 'ValidationError')())).toBe(false);
  expect(isConflictOnly(new Error('TransactionConflict'))).toBe(false);
});

test("the controller's own DynamoDB client carries the retry", async () => {
  const { dynamo: controllerClient } = await import('../../lambdas/adapters/clients');
  expect(controllerClient.middlewareStack.identify().join('\n')).toMatch(/chainfaasConflictRetry/);
});
