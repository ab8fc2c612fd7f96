import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ENV, TABLES, type Access, type IndexSchema, type TableName } from '../../lambdas/handlers/manifest';

/**
 * The DynamoDB actions of each access level: what the stores in lambdas/adapters call (a
 * transaction is authorised item by item, as PutItem / UpdateItem / DeleteItem / ConditionCheckItem).
 * No Scan, no DescribeTable, no table management; test/cdk/data-tables.test.ts fails if an
 * adapter starts using a command these do not cover.
 */
export const TABLE_ACTIONS: Readonly<Record<Access, readonly string[]>> = {
  R: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
  RW: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:ConditionCheckItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
  ],
};
/** The actions allowed on a table's indexes, named one by one (no `index/*`). */
export const INDEX_ACTIONS: readonly string[] = ['dynamodb:Query'];

/** One table's key schema, in the manifest's shape. */
export type TableSchema = (typeof TABLES)[TableName];

export interface DataTablesProps {
  /**
   * Key schemas, TTL attributes, streams and GSIs.
   * @default the manifest's TABLES
   */
  readonly schemas?: Record<TableName, TableSchema>;
  /**
   * Customer-managed KMS key for all tables. Grants through `bindTable` then include the key.
   * @default - the AWS-managed key (aws/dynamodb): no key policy to run, no extra cost
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the tables when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Refuse DeleteTable while protection is on.
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * What a table stream carries, for tables whose schema asks for one.
   * @default dynamodb.StreamViewType.NEW_IMAGE (the outbox consumer needs the new entry only)
   */
  readonly streamViewType?: dynamodb.StreamViewType;
  /**
   * Keep each table's `retired` indexes (the first of the two deploys that upgrade a stack from
   * before they were replaced: README, "Upgrading"). Nothing reads them, and no function is granted them.
   * @default false
   */
  readonly keepRetiredIndexes?: boolean;
}

/** An index's projection: every attribute (the schema names none), the keys only (an empty list), or the keys and those named. */
function projectionOf(index: IndexSchema): Pick<dynamodb.GlobalSecondaryIndexProps, 'projectionType' | 'nonKeyAttributes'> {
  if (index.projection === undefined) return { projectionType: dynamodb.ProjectionType.ALL };
  if (index.projection.length === 0) return { projectionType: dynamodb.ProjectionType.KEYS_ONLY };
  return { projectionType: dynamodb.ProjectionType.INCLUDE, nonKeyAttributes: [...index.projection] };
}

/**
 * The controller's DynamoDB tables, one per manifest entry: on-demand billing, point-in-time
 * recovery, encryption at rest, TTL and streams where the schema says, and the GSIs with the
 * manifest's projections (every attribute unless it names some: the stores read whole items from
 * those, and read the items behind the keys of the others). Every key attribute is a string, as
 * the stores in lambdas/adapters write them.
 */
export class DataTables extends Construct {
  private readonly tables: Record<TableName, dynamodb.Table>;

  constructor(scope: Construct, id: string, props: DataTablesProps = {}) {
    super(scope, id);
    const schemas = props.schemas ?? TABLES;
    const str = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });
    const entries = (Object.keys(schemas) as TableName[]).map((name) => {
      const schema = schemas[name];
      const table = new dynamodb.Table(this, pascal(name), {
        partitionKey: str(schema.pk),
        sortKey: schema.sk ? str(schema.sk) : undefined,
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
        encryptionKey: props.encryptionKey,
        timeToLiveAttribute: schema.ttl,
        stream: schema.stream ? (props.streamViewType ?? dynamodb.StreamViewType.NEW_IMAGE) : undefined,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        deletionProtection: props.deletionProtection ?? false,
      });
      for (const gsi of [...schema.gsis, ...(props.keepRetiredIndexes ? (schema.retired ?? []) : [])]) {
        table.addGlobalSecondaryIndex({
          indexName: gsi.name,
          partitionKey: str(gsi.pk),
          sortKey: gsi.sk ? str(gsi.sk) : undefined,
          ...projectionOf(gsi),
        });
      }
      return [name, table] as const;
    });
    this.tables = Object.fromEntries(entries) as Record<TableName, dynamodb.Table>;
    this.schemas = schemas;
    this.encryptionKey = props.encryptionKey;
  }

  private readonly schemas: Record<TableName, TableSchema>;
  private readonly encryptionKey?: kms.IKey;

  /** The table for a manifest name. */
  table(name: TableName): dynamodb.Table {
    return this.tables[name];
  }

  /** All tables, by manifest name. */
  all(): Readonly<Record<TableName, dynamodb.Table>> {
    return this.tables;
  }

  /**
   * Gives `fn` access to one table in one call: sets the manifest's environment variable to the
   * table name and grants `TABLE_ACTIONS[access]` on the table, plus Query on each of its indexes
   * by name. Nothing else: no scans, no table management, no streams. With a customer-managed key,
   * also the key use the access level needs.
   */
  bindTable(fn: lambda.Function, name: TableName, access: Access): void {
    const table = this.tables[name];
    fn.addEnvironment(ENV.tables[name], table.tableName);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...TABLE_ACTIONS[access]], resources: [table.tableArn] }));
    const indexes = this.schemas[name].gsis.map((gsi) => `${table.tableArn}/index/${gsi.name}`);
    if (indexes.length > 0) fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...INDEX_ACTIONS], resources: indexes }));
    if (this.encryptionKey) {
      if (access === 'RW') this.encryptionKey.grantEncryptDecrypt(fn);
      else this.encryptionKey.grantDecrypt(fn);
    }
  }

  /** `bindTable` for every entry of a manifest `tables` map. */
  bindTables(fn: lambda.Function, access: Partial<Record<TableName, Access>>): void {
    for (const [name, level] of Object.entries(access) as [TableName, Access][]) this.bindTable(fn, name, level);
  }
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
