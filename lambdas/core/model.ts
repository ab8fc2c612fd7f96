import type { Resources, Role } from './schemas';

/** Records the controller keeps in its read/write store (DynamoDB in AWS and in local mode). */

export interface User {
  userId: string;
  email: string;
  roles: Role[];
  /** `scrypt$N$r$p$salt$hash`, see passwords.ts */
  passwordHash: string;
  createdAt: string;
}

export interface TokenRecord {
  /** SHA-256 of the bearer token; the token itself is shown once and never stored. */
  tokenHash: string;
  userId: string;
  kind: 'session' | 'api';
  createdAt: string;
  /** epoch seconds (DynamoDB TTL) */
  expiresAt: number;
}

export interface FunctionRecord {
  functionId: string;
  ownerId: string;
  name: string;
  version: number;
  image: string;
  resources: Resources;
  protocol: 'stdio' | 'http';
  mode: 'sync' | 'async';
  network: 'none' | 'egress';
  maxPrice?: number;
  env: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export type JobStatus = 'QUEUED' | 'ASSIGNED' | 'SUCCEEDED' | 'FAILED';
export const TERMINAL: readonly JobStatus[] = ['SUCCEEDED', 'FAILED'];

export interface JobRecord {
  jobId: string;
  functionId: string;
  functionVersion: number;
  developerId: string;
  status: JobStatus;
  attempt: number;
  image: string;
  resources: Resources;
  protocol: 'stdio' | 'http';
  network: 'none' | 'egress';
  /** Base64 of the input when small enough to keep on the record until the job is dispatched. */
  inputBase64: string;
  resultKey: string;
  logKey: string;
  maxCost: number;
  billingVersion: number;
  createdAt: string;
  /** Present only while QUEUED: the sparse `waiting` index lists jobs waiting for capacity. */
  waitingShard?: string;
  providerId?: string;
  assignedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  runtimeMs?: number;
  exitCode?: number | null;
  reason?: string;
  resultSha256?: string;
  resultSize?: number;
  /** Set from the ledger's settlement (read model): micro-credits charged, whether it was paid. */
  cost?: number;
  paid?: boolean;
  unpaidReason?: string;
}

export interface ProviderRecord {
  providerId: string;
  ownerId: string;
  name: string;
  /** Capacity in integer millicores and MB, so conditional writes compare integers. */
  capacityVcpuMilli: number;
  capacityMemoryMb: number;
  reservedVcpuMilli: number;
  reservedMemoryMb: number;
  publicKeyPem: string;
  queueUrl: string;
  lastHeartbeatAt: string;
  cachedImages: string[];
  warmFunctions: string[];
  draining: boolean;
  createdAt: string;
  /** Always '1': the `online` index lists every provider for the scheduler. */
  onlineShard: string;
}
