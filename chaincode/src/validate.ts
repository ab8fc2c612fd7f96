/**
 * Checks for chaincode arguments. Everything a transaction receives is a string from a client;
 * these turn it into typed values or throw an error that names the field.
 */

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const REFERENCE = /^[A-Za-z0-9_.:@-]{1,128}$/;
const SHA256 = /^[a-f0-9]{64}$/;

/** An identifier: 1-64 characters of A-Z, a-z, 0-9, _ or - (safe inside composite keys). */
export function requireId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !ID.test(value)) throw new Error(`${field} must be 1-64 characters of A-Z, a-z, 0-9, _ or -`);
  return value;
}

/** A payment reference: 1-128 characters of A-Z, a-z, 0-9 and _ . : @ -. */
export function requireReference(field: string, value: unknown): string {
  if (typeof value !== 'string' || !REFERENCE.test(value)) throw new Error(`${field} must be 1-128 characters of A-Z, a-z, 0-9, _ . : @ or -`);
  return value;
}

export function requireSha256(field: string, value: unknown): string {
  if (typeof value !== 'string' || !SHA256.test(value)) throw new Error(`${field} must be 64 lowercase hex digits`);
  return value;
}

/** A non-empty string of at most `max` characters. */
export function requireText(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new Error(`${field} must be a string of 1-${max} characters`);
  return value;
}

/** An integer in [min, MAX_SAFE_INTEGER]. */
/** An ISO 8601 UTC instant as `Date#toISOString` writes it (what the controller sends). */
export function requireInstant(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new Error(`${field} must be an ISO 8601 UTC instant`);
  }
  return value;
}

export function requireInteger(field: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new Error(`${field} must be an integer >= ${min}`);
  return value;
}

/** A finite number greater than `above` (or >= 0 when `above` is undefined). */
export function requireNumber(field: string, value: unknown, above?: number): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && (above === undefined ? value >= 0 : value > above);
  if (!ok) throw new Error(`${field} must be a finite number ${above === undefined ? '>= 0' : `> ${above}`}`);
  return value as number;
}

/** An integer argument sent as its decimal string (Fabric passes every argument as a string). */
export function parseIntegerArg(field: string, value: string, min = 0): number {
  if (!/^-?\d{1,16}$/.test(value)) throw new Error(`${field} must be an integer, got ${JSON.stringify(value.slice(0, 40))}`);
  return requireInteger(field, Number(value), min);
}

/** Parses a JSON argument that must be an object. */
export function parseObjectArg(field: string, json: string): Record<string, unknown> {
  const value = parseJsonArg(field, json);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${field} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** Parses a JSON argument of any shape, with an error that names the argument. */
export function parseJsonArg(field: string, json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    throw new Error(`${field} is not valid JSON`);
  }
}

/** Reads `field` of `obj` as a nested object. */
export function requireObject(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${field} must be an object`);
  return value as Record<string, unknown>;
}
