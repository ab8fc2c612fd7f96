import { CreateTableCommand, DynamoDBClient, PutItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { startDynamoDbLocal, type RunningService } from '../../local/services';
import { wireCounter, type WireCounter } from '../../local/wire-count';

/**
 * The cost benchmark's counter in front of DynamoDB Local bills what the service would bill. DynamoDB
 * Local answers a transaction's units per table as if it held one item (2 for one, two or four
 * small items alike); the service bills two units per item, so the counter multiplies.
 */
let dynamo: RunningService;
let counter: WireCounter;
let client: DynamoDBClient;
const table = 'local-units';

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  counter = wireCounter();
  const endpoint = await counter.wrap('dynamodb', dynamo.endpoint);
  client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await client.send(new CreateTableCommand({ TableName: table, AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
  for (const projection of ['ALL', 'INCLUDE'] as const) {
    await client.send(
      new CreateTableCommand({
        TableName: `local-indexed${projection}`,
        AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }, { AttributeName: 'kind', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: [
          {
            IndexName: 'kinds',
            KeySchema: [{ AttributeName: 'kind', KeyType: 'HASH' }],
            Projection: projection === 'ALL' ? { ProjectionType: 'ALL' } : { ProjectionType: 'INCLUDE', NonKeyAttributes: ['amount'] },
          },
        ],
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await counter?.stop();
  await dynamo?.stop();
});

test('a put is one unit; a transaction of n small items on one table is 2n units, by table too', async () => {
  const last = () => counter.exchanges[counter.exchanges.length - 1];
  await client.send(new PutItemCommand({ TableName: table, Item: { k: { S: 'single' } } }));
  expect(last()).toMatchObject({ operation: 'PutItem', writeUnits: 1, unitsBy: { units: 1 } });
  for (const n of [1, 2, 4]) {
    await client.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: n }, (_, i) => ({ Put: { TableName: table, Item: { k: { S: `tx${n}-${i}` } } } })) }));
    expect(last()).toMatchObject({ operation: 'TransactWriteItems', writeUnits: 2 * n, unitsBy: { units: 2 * n } });
  }
}, 60_000);

test("a transaction of an account update and a hold: 2 units each in the table, 2 in the index per item written there (every attribute: both; keys and the hold's: the hold)", async () => {
  const last = () => counter.exchanges[counter.exchanges.length - 1];
  for (const [projection, indexUnits] of [['ALL', 4], ['INCLUDE', 2]] as const) {
    const t = `local-indexed${projection}`;
    await client.send(new PutItemCommand({ TableName: t, Item: { k: { S: 'acct' }, kind: { S: 'account' }, available: { N: '100' } } }));
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Update: { TableName: t, Key: { k: { S: 'acct' } }, UpdateExpression: 'SET available = available - :h', ExpressionAttributeValues: { ':h': { N: '5' } } } },
          { Put: { TableName: t, Item: { k: { S: 'hold#1' }, kind: { S: 'hold' }, amount: { N: '5' } } } },
        ],
      }),
    );
    expect(last()).toMatchObject({ writeUnits: 4 + indexUnits, unitsBy: { [`indexed${projection}`]: 4, [`indexed${projection}/kinds`]: indexUnits } });
  }
}, 60_000);
