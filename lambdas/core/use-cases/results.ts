import { invalid } from '../errors';
import type { FunctionRecord, JobRecord } from '../model';
import type { ResultStorage } from '../ports';
import type { Deps } from './context';

/**
 * Where a job's result and log live: the platform's bucket, or a bucket the developer named for the
 * function (reached through the role they granted, with their user id as external id). Objects
 * under `results/` of the platform's bucket expire after 7 days (lib/constructs/result-bucket.ts,
 * `resultRetentionDays`); a developer's bucket keeps them as its own lifecycle rules say.
 */
export async function resultStorageFor(deps: Deps, job: Pick<JobRecord, 'resultBucket' | 'resultRoleArn' | 'developerId'>): Promise<ResultStorage> {
  if (!job.resultBucket) return deps.storage;
  if (!deps.developerBuckets) throw new Error(`job results go to bucket ${job.resultBucket}, but this controller has no access to developer buckets`);
  return deps.developerBuckets.open({ bucket: job.resultBucket, roleArn: job.resultRoleArn, externalId: job.developerId });
}

/** Checks a function's result bucket settings at registration; returns what the record keeps. */
export function resultLocation(
  deps: Deps,
  req: { resultBucket?: string; resultRoleArn?: string },
): Pick<FunctionRecord, 'resultBucket' | 'resultRoleArn'> {
  if (req.resultRoleArn !== undefined && req.resultBucket === undefined) throw invalid('resultBucket', 'resultBucket: a resultRoleArn needs the bucket it grants');
  if (req.resultBucket === undefined) return {};
  if (req.resultRoleArn === undefined && deps.config.scheduling.resultRoleRequired) {
    throw invalid(
      'resultRoleArn',
      'resultRoleArn: a result bucket of yours needs a role the controller may assume (named chainfaas-results..., trusting the controller with your user id as external id)',
    );
  }
  return { resultBucket: req.resultBucket, resultRoleArn: req.resultRoleArn };
}
