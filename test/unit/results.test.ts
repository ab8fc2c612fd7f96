import type { Deps } from '../../lambdas/core/use-cases/context';
import { resultLocation } from '../../lambdas/core/use-cases/results';
import { DomainError } from '../../lambdas/core/errors';

/** Where a function's results go: the checks made when it is registered, in AWS and in local mode. */
const deps = (resultRoleRequired: boolean) => ({ config: { scheduling: { resultRoleRequired } } }) as unknown as Deps;
const role = 'arn:aws:iam::123456789012:role/chainfaas-results-w';

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err.field;
    throw err;
  }
  return undefined;
};

test('no bucket: the platform bucket, nothing recorded', () => {
  expect(resultLocation(deps(true), {})).toEqual({});
});

test('in AWS a bucket needs the role the controller assumes; with it both are kept', () => {
  expect(fieldOf(() => resultLocation(deps(true), { resultBucket: 'ada-results' }))).toBe('resultRoleArn');
  expect(resultLocation(deps(true), { resultBucket: 'ada-results', resultRoleArn: role })).toEqual({ resultBucket: 'ada-results', resultRoleArn: role });
});

test('locally (no STS) a bucket alone is enough; a role without its bucket is refused everywhere', () => {
  expect(resultLocation(deps(false), { resultBucket: 'ada-results' })).toEqual({ resultBucket: 'ada-results', resultRoleArn: undefined });
  expect(fieldOf(() => resultLocation(deps(false), { resultRoleArn: role }))).toBe('resultBucket');
  expect(fieldOf(() => resultLocation(deps(true), { resultRoleArn: role }))).toBe('resultBucket');
});
