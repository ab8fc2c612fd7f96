/**
 * A function's input schema (issue #23): the subset of JSON Schema (draft 2020-12) the platform
 * accepts, written once. Zod-free, so the portal's bundle builds its test-invoke form from the same
 * definition. The controller checks a JSON `input` against it with ajv (lambdas/core/input-validation.ts);
 * this module only says whether a schema stays within the subset.
 *
 * The subset: `type` (one of object, array, string, number, integer, boolean, null), `properties`,
 * `required`, `additionalProperties` (a boolean), `items` (one schema), `enum`, `const`, `minimum`,
 * `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `minItems`,
 * `maxItems`, and the annotations `title`, `description`, `default`, `$schema` (ignored).
 * Left out on purpose: `pattern`/`patternProperties` (a regular expression of the developer's
 * run on every caller's input invites catastrophic backtracking), `$ref`/`$defs` (no remote or
 * recursive schemas), `format`, combinators (`anyOf`, `oneOf`, `allOf`, `not`, `if`): a form
 * cannot be drawn from them. At most MAX_INPUT_SCHEMA_BYTES of JSON and MAX_INPUT_SCHEMA_DEPTH
 * levels of nesting.
 */

export const MAX_INPUT_SCHEMA_BYTES = 16 * 1024;
export const MAX_INPUT_SCHEMA_DEPTH = 8;

export const INPUT_SCHEMA_TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'] as const;
export type InputSchemaType = (typeof INPUT_SCHEMA_TYPES)[number];

/** One node of an input schema (the subset above). */
export interface InputSchemaNode {
  $schema?: string;
  type?: InputSchemaType;
  title?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, InputSchemaNode>;
  required?: string[];
  additionalProperties?: boolean;
  items?: InputSchemaNode;
  enum?: (string | number | boolean | null)[];
  const?: string | number | boolean | null;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

type Path = (string | number)[];
export interface SchemaProblem {
  /** Where in the schema, from its root (e.g. `['properties', 'n', 'pattern']`). */
  path: Path;
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems'] as const;
const BOUNDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const;
const TEXTS = ['title', 'description'] as const;
const KNOWN = new Set<string>([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'default',
  ...COUNTS,
  ...BOUNDS,
  ...TEXTS,
]);

/** The first way `schema` leaves the subset, or undefined when it is within it. */
export function inputSchemaProblem(schema: unknown): SchemaProblem | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(schema);
  } catch {
    return { path: [], message: 'must be JSON' };
  }
  if (json === undefined) return { path: [], message: 'must be a JSON Schema object' };
  if (new TextEncoder().encode(json).length > MAX_INPUT_SCHEMA_BYTES) return { path: [], message: `must be at most ${MAX_INPUT_SCHEMA_BYTES} bytes of JSON` };
  return nodeProblem(schema, [], 0);
}

function nodeProblem(node: unknown, path: Path, depth: number): SchemaProblem | undefined {
  if (!isObject(node)) return { path, message: 'must be a JSON Schema object' };
  if (depth > MAX_INPUT_SCHEMA_DEPTH) return { path, message: `nests deeper than ${MAX_INPUT_SCHEMA_DEPTH} levels` };
  for (const [key, value] of Object.entries(node)) {
    const at = [...path, key];
    if (key === '$schema') {
      if (typeof value !== 'string') return { path: at, message: 'must be a string' };
      continue;
    }
    if (!KNOWN.has(key)) {
      return { path: at, message: `is not in the supported JSON Schema subset (type, properties, required, additionalProperties, items, enum, const, bounds, lengths, title, description, default)` };
    }
    const problem = keywordProblem(key, value, at, depth);
    if (problem) return problem;
  }
  return undefined;
}

function keywordProblem(key: string, value: unknown, at: Path, depth: number): SchemaProblem | undefined {
  switch (key) {
    case 'type':
      return typeof value === 'string' && (INPUT_SCHEMA_TYPES as readonly string[]).includes(value)
        ? undefined
        : { path: at, message: `must be one of ${INPUT_SCHEMA_TYPES.join(', ')}` };
    case 'properties': {
      if (!isObject(value)) return { path: at, message: 'must be an object of schemas' };
      for (const [name, sub] of Object.entries(value)) {
        const problem = nodeProblem(sub, [...at, name], depth + 1);
        if (problem) return problem;
      }
      return undefined;
    }
    case 'items':
      return nodeProblem(value, at, depth + 1);
    case 'required':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') && new Set(value).size === value.length
        ? undefined
        : { path: at, message: 'must be an array of distinct property names' };
    case 'additionalProperties':
      return typeof value === 'boolean' ? undefined : { path: at, message: 'must be true or false' };
    case 'enum':
      return Array.isArray(value) && value.length >= 1 && value.length <= 100 && value.every(isScalar)
        ? undefined
        : { path: at, message: 'must be an array of 1-100 strings, numbers, booleans or null' };
    case 'const':
      return isScalar(value) ? undefined : { path: at, message: 'must be a string, number, boolean or null' };
    case 'title':
    case 'description':
      return typeof value === 'string' && value.length <= 1000 ? undefined : { path: at, message: 'must be a string of at most 1000 characters' };
    case 'default':
      return undefined;
    default:
      if ((COUNTS as readonly string[]).includes(key)) {
        return Number.isSafeInteger(value) && (value as number) >= 0 ? undefined : { path: at, message: 'must be an integer >= 0' };
      }
      return typeof value === 'number' && Number.isFinite(value) ? undefined : { path: at, message: 'must be a number' };
  }
}

/** The OpenAPI component that describes one node of the subset (openapi.ts adds it; recursive through `$ref`). */
export const INPUT_SCHEMA_COMPONENT = 'InputSchemaNode';

/** The subset above as JSON Schema (draft 2020-12), for the OpenAPI document; `ref` points at itself. */
export function inputSchemaJsonSchema(ref: string): Record<string, unknown> {
  const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
  const text = { type: 'string', maxLength: 1000 };
  const scalar = { type: ['string', 'number', 'boolean', 'null'] };
  return {
    type: 'object',
    description: 'one node of a JSON Schema within the supported subset',
    properties: {
      $schema: { type: 'string' },
      type: { enum: [...INPUT_SCHEMA_TYPES] },
      title: text,
      description: text,
      default: {},
      properties: { type: 'object', additionalProperties: { $ref: ref } },
      required: { type: 'array', items: { type: 'string' }, uniqueItems: true },
      additionalProperties: { type: 'boolean' },
      items: { $ref: ref },
      enum: { type: 'array', items: scalar, minItems: 1, maxItems: 100 },
      const: scalar,
      minimum: { type: 'number' },
      maximum: { type: 'number' },
      exclusiveMinimum: { type: 'number' },
      exclusiveMaximum: { type: 'number' },
      minLength: count,
      maxLength: count,
      minItems: count,
      maxItems: count,
    },
    additionalProperties: false,
  };
}
