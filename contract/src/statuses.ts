/**
 * A job's statuses, with no dependency at all: the portal's bundle imports these values without
 * pulling zod in (answers.ts builds `JobStatus` from them).
 */
export const JOB_STATUSES = ['QUEUED', 'ASSIGNED', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** A job in one of these has ended: nothing about it changes any more. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/**
 * What a placed job's provider says it is doing (issue #22), carried by its heartbeats: pulling the
 * image, running the function, uploading the result and log. Before the first heartbeat that
 * names it, a placed job has no phase.
 */
export const RUN_PHASES = ['pulling', 'running', 'uploading'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
