/**
 * Deterministic JSON: object keys sorted, no whitespace, `undefined` members dropped. Every value
 * the chaincode writes to world state or returns goes through this, so that all endorsing peers
 * produce byte-identical write sets. The wire contract re-exports this one (contract/src/canonical-json.ts),
 * so the bytes it signs are the bytes the chaincode verifies; the chaincode imports nothing from the controller.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    // No prototype: an own `__proto__` member (JSON.parse makes one) stays a member instead of
    // setting the prototype, so it cannot be dropped from the bytes that are signed.
    const sorted: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) sorted[key] = sortKeys(member);
    }
    return sorted;
  }
  return value;
}
