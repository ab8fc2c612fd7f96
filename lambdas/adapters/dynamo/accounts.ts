import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { conflict } from '../../core/errors';
import type { CredentialEntry, TokenRecord, User } from '../../core/model';
import type { AccountStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure, TableNames } from './common';

/** Key of a user's credential directory in the tokens table (a token hash is hex, so never collides). */
const directoryKey = (userId: string) => `dir#${userId}`;

/** The users-table item that records the platform's one operator claim (never a user id: those are `usr_…`). */
const OPERATOR_CLAIM_KEY = 'operator#claim';

/**
 * Users and tokens. Email uniqueness is enforced by a sentinel item written in the same transaction.
 *
 * Listed credentials (API tokens, invoke keys) have two items in the tokens table: the lookup item
 * keyed by the secret's SHA-256 (what authentication reads), and an entry in the owner's directory
 * item `dir#<userId>` (a map from credential id to its public description). Both are written and
 * deleted in one transaction, and the directory's size is capped by the same condition, so listing
 * is one consistent read and needs no index. Session tokens are not listed (they expire by TTL).
 */
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

  async claimOperator(userId: string, claimedAt: string): Promise<boolean> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tables.users,
                Item: { userId: OPERATOR_CLAIM_KEY, claimedBy: userId, claimedAt },
                ConditionExpression: 'attribute_not_exists(userId)',
              },
            },
            {
              Update: {
                TableName: this.tables.users,
                Key: { userId },
                UpdateExpression: 'SET #operator = :true',
                ConditionExpression: 'attribute_exists(userId)',
                ExpressionAttributeNames: { '#operator': 'operator' },
                ExpressionAttributeValues: { ':true': true },
              },
            },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async getUser(userId: string): Promise<User | undefined> {
    if (userId.startsWith('email#') || userId === OPERATOR_CLAIM_KEY) return undefined;
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
    if (!/^[a-f0-9]{64}$/.test(tokenHash)) return undefined;
    const out = await dynamo.send(new GetCommand({ TableName: this.tables.tokens, Key: { tokenHash } }));
    return out.Item as TokenRecord | undefined;
  }

  async createCredential(token: TokenRecord, entry: CredentialEntry, maxEntries: number): Promise<void> {
    const dir = directoryKey(token.userId);
    // The directory item must exist before a nested path can be set in it; creating it is idempotent.
    try {
      await dynamo.send(
        new PutCommand({ TableName: this.tables.tokens, Item: { tokenHash: dir, entries: {} }, ConditionExpression: 'attribute_not_exists(tokenHash)' }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tables.tokens, Item: token, ConditionExpression: 'attribute_not_exists(tokenHash)' } },
            {
              Update: {
                TableName: this.tables.tokens,
                Key: { tokenHash: dir },
                UpdateExpression: 'SET entries.#id = :entry',
                ConditionExpression: 'size(entries) < :max AND attribute_not_exists(entries.#id)',
                ExpressionAttributeNames: { '#id': entry.tokenId },
                ExpressionAttributeValues: { ':entry': entry, ':max': maxEntries },
              },
            },
          ],
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw conflict(`the account already has ${maxEntries} API tokens and invoke keys: revoke some first`, { limit: maxEntries });
      throw err;
    }
  }

  async listCredentials(userId: string): Promise<CredentialEntry[]> {
    const out = await dynamo.send(new GetCommand({ TableName: this.tables.tokens, Key: { tokenHash: directoryKey(userId) }, ConsistentRead: true }));
    const entries = Object.values((out.Item?.entries ?? {}) as Record<string, CredentialEntry>);
    return entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.tokenId.localeCompare(b.tokenId));
  }

  async revokeCredential(userId: string, entry: CredentialEntry): Promise<boolean> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tables.tokens,
                Key: { tokenHash: directoryKey(userId) },
                UpdateExpression: 'REMOVE entries.#id',
                ConditionExpression: 'attribute_exists(entries.#id)',
                ExpressionAttributeNames: { '#id': entry.tokenId },
              },
            },
            // The lookup item may already be gone (expired and removed by TTL): delete it only if it is this user's.
            {
              Delete: {
                TableName: this.tables.tokens,
                Key: { tokenHash: entry.tokenHash },
                ConditionExpression: 'attribute_not_exists(tokenHash) OR userId = :u',
                ExpressionAttributeValues: { ':u': userId },
              },
            },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }
}
