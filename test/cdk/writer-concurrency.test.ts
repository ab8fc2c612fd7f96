import { applyReservedConcurrency, MIN_UNRESERVED, type ConcurrencyApi } from '../../lib/handlers/writer-concurrency';
import { synthControllerStack, statementsOfRole, actionsOf } from './helpers';

/**
 * Issue #20, item 3: `ledgerWriterConcurrency` never fails a deploy. The decision runs against a
 * model of Lambda's account concurrency (there is no Lambda emulator here): Lambda refuses a
 * reservation that leaves fewer than 10 executions unreserved.
 */
class Account implements ConcurrencyApi {
  reserved = new Map<string, number>();
  calls: string[] = [];
  constructor(private readonly limit: number) {}
  private unreserved(): number {
    return this.limit - [...this.reserved.values()].reduce((a, b) => a + b, 0);
  }
  async read(fn: string) {
    return { unreserved: this.unreserved(), reservedHere: this.reserved.get(fn) ?? 0 };
  }
  async reserve(fn: string, n: number) {
    this.calls.push(`reserve ${n}`);
    // What Lambda does: refuse a reservation that leaves fewer than 10 unreserved.
    if (this.unreserved() + (this.reserved.get(fn) ?? 0) - n < MIN_UNRESERVED) throw new Error('InvalidParameterValueException: below the minimum unreserved');
    this.reserved.set(fn, n);
  }
  async unreserve(fn: string) {
    this.calls.push('unreserve');
    this.reserved.delete(fn);
  }
}

describe('the ledger writer reserves concurrency only where the account can afford it', () => {
  test('a new account (quota 10): nothing reserved, no failing call, the deploy goes on', async () => {
    const account = new Account(10);
    await expect(applyReservedConcurrency(account, 'writer', 1)).resolves.toBe(0);
    expect(account.calls).toEqual([]);
  });

  test('an account with the usual quota (1000): 1 reserved', async () => {
    const account = new Account(1000);
    await expect(applyReservedConcurrency(account, 'writer', 1)).resolves.toBe(1);
    expect(account.reserved.get('writer')).toBe(1);
  });

  test('just enough (11): reserved; the same again changes nothing', async () => {
    const account = new Account(11);
    expect(await applyReservedConcurrency(account, 'writer', 1)).toBe(1);
    expect(await applyReservedConcurrency(account, 'writer', 1)).toBe(1);
    expect(account.calls).toEqual(['reserve 1']);
  });

  test('0 asked: a reservation made before is released', async () => {
    const account = new Account(1000);
    await applyReservedConcurrency(account, 'writer', 1);
    expect(await applyReservedConcurrency(account, 'writer', 0)).toBe(0);
    expect(account.reserved.has('writer')).toBe(false);
  });

  test('the stack reserves through the custom resource, whose role may touch only the writer (and read the account limits)', () => {
    const { template, stack } = synthControllerStack();
    expect(stack.writerConcurrency).toBeDefined();
    const roleId = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith('LedgerWriterConcurrencyHandler'))!;
    const lambdaStatements = statementsOfRole(template, roleId).filter((s) => actionsOf(s).some((a) => a.startsWith('lambda:')));
    const writerArn = { 'Fn::GetAtt': [stack.getLogicalId(stack.functions.ledgerWriter.node.defaultChild as never), 'Arn'] };
    expect(lambdaStatements.map((s) => ({ actions: [...actionsOf(s)].sort(), resource: s.Resource }))).toEqual([
      { actions: ['lambda:DeleteFunctionConcurrency', 'lambda:GetFunctionConcurrency', 'lambda:PutFunctionConcurrency'], resource: writerArn },
      { actions: ['lambda:GetAccountSettings'], resource: '*' },
    ]);
    template.hasOutput('LedgerWriterConcurrencyReserved', {});
  });
});
