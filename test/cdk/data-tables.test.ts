import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnResource, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ENV, TABLES, type TableName } from '../../lambdas/handlers/manifest';
import { DataTables, INDEX_ACTIONS, TABLE_ACTIONS } from '../../lib/constructs/data-tables';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { projectRoot } from '../../lib/project-root';
import { actionsOf, statementsOfRole, testStack } from './helpers';

const ENTRY = 'test/cdk/fixtures/echo-handler.ts';
const TABLE_NAMES = Object.keys(TABLES) as TableName[];

describe('DataTables', () => {
  let stack: Stack;
  let tables: DataTables;
  let template: Template;
  let reader: PlatformFunction;
  let writer: PlatformFunction;
  beforeAll(() => {
    stack = testStack();
    tables = new DataTables(stack, 'Tables');
    reader = new PlatformFunction(stack, 'Reader', { entry: ENTRY });
    writer = new PlatformFunction(stack, 'Writer', { entry: ENTRY });
    tables.bindTable(reader, 'jobs', 'R');
    tables.bindTables(writer, { jobs: 'RW', tokens: 'R' });
    template = Template.fromStack(stack);
  });
  const tableId = (name: TableName): string => stack.getLogicalId(tables.table(name).node.defaultChild as CfnResource);
  const props = (name: TableName): Record<string, any> => template.toJSON().Resources[tableId(name)].Properties;
  const statements = (fn: PlatformFunction) => statementsOfRole(template, stack.getLogicalId((fn.role as iam.Role).node.defaultChild as CfnResource));

  test('one table per manifest entry, on demand, with PITR and encryption at rest', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', TABLE_NAMES.length);
    for (const name of TABLE_NAMES) {
      expect(props(name)).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
      expect(template.toJSON().Resources[tableId(name)].DeletionPolicy).toBe('Retain');
    }
  });

  test.each(TABLE_NAMES)('%s: key schema, TTL, stream and GSIs follow the manifest', (name) => {
    const schema = TABLES[name];
    const p = props(name);
    expect(p.KeySchema).toEqual([{ AttributeName: schema.pk, KeyType: 'HASH' }, ...(schema.sk ? [{ AttributeName: schema.sk, KeyType: 'RANGE' }] : [])]);
    expect(p.TimeToLiveSpecification).toEqual(schema.ttl ? { AttributeName: schema.ttl, Enabled: true } : undefined);
    expect(p.StreamSpecification).toEqual(schema.stream ? { StreamViewType: 'NEW_IMAGE' } : undefined);
    expect((p.GlobalSecondaryIndexes ?? []).map((g: any) => ({ name: g.IndexName, keys: g.KeySchema, projection: g.Projection }))).toEqual(
      schema.gsis.map((g) => ({
        name: g.name,
        keys: [{ AttributeName: g.pk, KeyType: 'HASH' }, ...(g.sk ? [{ AttributeName: g.sk, KeyType: 'RANGE' }] : [])],
        projection:
          g.projection === undefined
            ? { ProjectionType: 'ALL' }
            : g.projection.length === 0
              ? { ProjectionType: 'KEYS_ONLY' }
              : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...g.projection] },
      })),
    );
    for (const attribute of p.AttributeDefinitions) expect(attribute.AttributeType).toBe('S');
  });

  test("an index a release replaced is gone, and kept only for an upgrade's first deploy (keepRetiredIndexes), where no function is granted it", () => {
    const retired = TABLE_NAMES.flatMap((name) => (TABLES[name].retired ?? []).map((index) => ({ name, index: index.name })));
    expect(retired).toContainEqual({ name: 'balances', index: 'byKind' });
    const indexesOf = (t: Template, table: DataTables, name: TableName) => {
      const id = table.table(name).stack.getLogicalId(table.table(name).node.defaultChild as CfnResource);
      return ((t.toJSON().Resources[id].Properties.GlobalSecondaryIndexes ?? []) as { IndexName: string }[]).map((g) => g.IndexName);
    };
    const upgrade = testStack();
    const kept = new DataTables(upgrade, 'Tables', { keepRetiredIndexes: true });
    const fn = new PlatformFunction(upgrade, 'Fn', { entry: ENTRY });
    kept.bindTable(fn, 'balances', 'RW');
    const upgraded = Template.fromStack(upgrade);
    for (const { name, index } of retired) {
      expect(indexesOf(template, tables, name)).not.toContain(index);
      // The upgrade's first deploy: each table adds its new index and keeps the old (one index added per table and update).
      expect(indexesOf(upgraded, kept, name)).toEqual([...TABLES[name].gsis.map((g) => g.name), index]);
    }
    expect(JSON.stringify(statementsOfRole(upgraded, upgrade.getLogicalId((fn.role as iam.Role).node.defaultChild as CfnResource)))).not.toContain('/index/byKind');
  });

  test('bindTable sets the manifest environment variable to the table name', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.tables.jobs]: { Ref: tableId('jobs') }, [ENV.tables.tokens]: { Ref: tableId('tokens') } }) },
    });
  });

  test("'R' grants reads on the table and Query on each named index, and no write", () => {
    const s = statements(reader);
    const onTable = s.find((x) => JSON.stringify(x.Resource) === JSON.stringify({ 'Fn::GetAtt': [tableId('jobs'), 'Arn'] }))!;
    expect(actionsOf(onTable).sort()).toEqual([...TABLE_ACTIONS.R].sort());
    const onIndexes = s.find((x) => JSON.stringify(x.Resource).includes('/index/'))!;
    expect(actionsOf(onIndexes)).toEqual([...INDEX_ACTIONS]);
    expect(JSON.stringify(onIndexes.Resource)).not.toContain('/index/*');
    for (const gsi of TABLES.jobs.gsis) expect(JSON.stringify(onIndexes.Resource)).toContain(`/index/${gsi.name}`);
    expect(s.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:') && /Put|Update|Delete|BatchWrite/.test(a))).toEqual([]);
  });

  test("'RW' adds put/update/delete/batch-write on that table only", () => {
    const s = statements(writer);
    const jobs = s.find((x) => JSON.stringify(x.Resource) === JSON.stringify({ 'Fn::GetAtt': [tableId('jobs'), 'Arn'] }))!;
    const tokens = s.find((x) => JSON.stringify(x.Resource) === JSON.stringify({ 'Fn::GetAtt': [tableId('tokens'), 'Arn'] }))!;
    expect(actionsOf(jobs)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']));
    expect(actionsOf(tokens).sort()).toEqual([...TABLE_ACTIONS.R].sort());
    // tokens has no GSI, so no index statement names it.
    expect(s.some((x) => JSON.stringify(x.Resource).includes(tableId('tokens')) && JSON.stringify(x.Resource).includes('/index/'))).toBe(false);
  });

  test('no binder grants table management, scans or stream access', () => {
    const all = [...statements(reader), ...statements(writer)].flatMap(actionsOf);
    for (const forbidden of ['dynamodb:Scan', 'dynamodb:DeleteTable', 'dynamodb:UpdateTable', 'dynamodb:GetRecords', 'dynamodb:*'])
      expect(all).not.toContain(forbidden);
  });

  test('a customer-managed key encrypts every table and bindTable grants its use', () => {
    const s = testStack();
    const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
    const t = new DataTables(s, 'Tables', { encryptionKey: key });
    const fn = new PlatformFunction(s, 'Fn', { entry: ENTRY });
    t.bindTable(fn, 'users', 'R');
    const tpl = Template.fromStack(s);
    const keyId = s.getLogicalId(key.node.defaultChild as CfnResource);
    tpl.allResourcesProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
    });
    const granted = statementsOfRole(tpl, s.getLogicalId((fn.role as iam.Role).node.defaultChild as CfnResource)).filter((x) =>
      JSON.stringify(x.Resource).includes(keyId),
    );
    expect(granted.flatMap(actionsOf)).toContain('kms:Decrypt');
    expect(granted.flatMap(actionsOf)).not.toContain('kms:Encrypt');
  });
});

/**
 * Guard against drift between the grants and the code: every DynamoDB command the adapters send
 * must map to actions the access levels allow. A new command (say a Scan) fails here, before it
 * fails with AccessDenied in AWS (DynamoDB Local does not check IAM).
 */
describe('TABLE_ACTIONS cover what lambdas/adapters sends', () => {
  const COMMAND_ACTIONS: Record<string, string[]> = {
    GetCommand: ['dynamodb:GetItem'],
    GetItemCommand: ['dynamodb:GetItem'],
    BatchGetCommand: ['dynamodb:BatchGetItem'],
    BatchGetItemCommand: ['dynamodb:BatchGetItem'],
    QueryCommand: ['dynamodb:Query'],
    PutCommand: ['dynamodb:PutItem'],
    PutItemCommand: ['dynamodb:PutItem'],
    UpdateCommand: ['dynamodb:UpdateItem'],
    UpdateItemCommand: ['dynamodb:UpdateItem'],
    DeleteCommand: ['dynamodb:DeleteItem'],
    DeleteItemCommand: ['dynamodb:DeleteItem'],
    BatchWriteCommand: ['dynamodb:BatchWriteItem'],
    BatchWriteItemCommand: ['dynamodb:BatchWriteItem'],
    TransactWriteCommand: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
    TransactWriteItemsCommand: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
    TransactGetCommand: ['dynamodb:GetItem'],
    TransactGetItemsCommand: ['dynamodb:GetItem'],
  };

  test('every DynamoDB command used by the adapters is allowed by RW', () => {
    const dir = join(projectRoot(), 'lambdas', 'adapters');
    const sources = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .filter((src) => /from '@aws-sdk\/(lib-dynamodb|client-dynamodb)'/.test(src));
    const used = new Set(sources.flatMap((src) => [...src.matchAll(/new (\w+Command)\(/g)].map((m) => m[1])).filter((c) => c !== 'DynamoDBClient'));
    const unknown = [...used].filter((c) => !(c in COMMAND_ACTIONS));
    expect(unknown).toEqual([]);
    const needed = new Set([...used].flatMap((c) => COMMAND_ACTIONS[c]));
    expect([...needed].filter((a) => !TABLE_ACTIONS.RW.includes(a))).toEqual([]);
  });
});
