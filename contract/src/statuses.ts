/**
 * A job's statuses, with no dependency at all: the portal's bundle imports these values without
 * pulling zod in (answers.ts builds `JobStatus` from them).
 */
export const JOB_STATUSES = ['QUEUED', 'ASSIGNED', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** A job in one of these has ended: nothing about it changes any more. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
