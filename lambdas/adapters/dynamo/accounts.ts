import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { conflict } from '../../core/errors';
import type { TokenRecord, User } from '../../core/model';
import type { AccountStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure, TableNames } from './common';

/** Users and tokens. Email uniqueness is enforced by a sentinel item written in the same transaction. */
export class DynamoAccountStore implements AccountStore {
  constructor(private readonly tables: Pick<TableNames, 'users' | 'tokens'>) {}

  async createUser(user: User): Promise<void> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tables.users,
                Item: { userId: `email#${user.email}`, owner: user.userId },
                ConditionExpression: 'attribute_not_exists(userId)',
              },
            },
            { Put: { TableName: this.tables.users, Item: user, ConditionExpression: 'attribute_not_exists(userId)' } },
          ],
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw conflict(`an account with email ${user.email} already exists`);
      throw err;
    }
  }

  async getUser(userId: string): Promise<User | undefined> {
    if (userId.startsWith('email#')) return undefined;
    const out = await dynamo.send(new GetCommand({ TableName: this.tables.users, Key: { userId } }));
    return out.Item as User | undefined;
  }

  async findUserByEmail(email: string): Promise<User | undefined> {
    const sentinel = await dynamo.send(new GetCommand({ TableName: this.tables.users, Key: { userId: `email#${email}` } }));
    const owner = sentinel.Item?.owner as string | undefined;
    return owner ? this.getUser(owner) : undefined;
  }

  async putToken(token: TokenRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.tables.tokens, Item: token, ConditionExpression: 'attribute_not_exists(tokenHash)' }));
  }

  async getToken(tokenHash: string): Promise<TokenRecord | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.tables.tokens, Key: { tokenHash } }));
    return out.Item as TokenRecord | undefined;
  }
}
