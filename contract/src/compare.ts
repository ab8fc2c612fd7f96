import { canonicalJson } from './canonical-json';
import type { CompareRule } from './requests';
import { sha256Hex } from './signing';

/**
 * Issue #19: the comparison hash of a result under a declared rule (`CompareRule`), the one the
 * agent signs as `compareSha256` and the controller checks against the bytes it holds. For
 * `canonicalJson`: parse the result as UTF-8 JSON, remove each member or array element the
 * `ignore` pointers name (a pointer that names nothing is skipped), and hash the canonical JSON of
 * the rest. Undefined when the result is not JSON: then the replica votes with its exact bytes.
 */
export function compareSha256(rule: CompareRule, result: Buffer): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(result.toString('utf8'));
  } catch {
    return undefined;
  }
  for (const pointer of rule.canonicalJson.ignore) value = removePointer(value, pointer);
  return sha256Hex(canonicalJson(value));
}

/** `value` without what `pointer` names (RFC 6901); the root pointer is not allowed by the schema. */
function removePointer(value: unknown, pointer: string): unknown {
  const path = pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  let parent: unknown = value;
  for (const token of path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return value;
    parent = Array.isArray(parent) ? parent[Number(token)] : (parent as Record<string, unknown>)[token];
  }
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) {
    if (/^(0|[1-9]\d*)$/.test(last) && Number(last) < parent.length) parent.splice(Number(last), 1);
  } else if (parent !== null && typeof parent === 'object' && Object.hasOwn(parent, last)) {
    delete (parent as Record<string, unknown>)[last];
  }
  return value;
}
