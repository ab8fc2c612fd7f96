/**
 * A small JSON Schema validator for the subset lambdas/openapi/document.ts uses (type, enum,
 * const, properties, required, additionalProperties, items, min/max, pattern, format date-time /
 * uri / email, $ref into components, oneOf/anyOf), and the lookup of an operation by method and
 * concrete path. The tests use it to check real responses against the document; there is no
 * validator package in the project and the document needs no more than this.
 */

type Schema = Record<string, unknown>;
export interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>>;
  components: { schemas: Record<string, Schema> };
}

export interface Violation {
  path: string;
  message: string;
}

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

const FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)),
  uri: (s) => {
    try {
      return Boolean(new URL(s).protocol);
    } catch {
      return false;
    }
  },
  email: (s) => /^[^@\s]+@[^@\s]+$/.test(s),
};

/** Validates `value` against `schema`; returns every violation found (empty: valid). */
export function validate(doc: OpenApiDocument, schema: Schema, value: unknown, at = '$'): Violation[] {
  const out: Violation[] = [];
  const fail = (message: string, where = at) => out.push({ path: where, message });
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = doc.components.schemas[name];
    if (!target) return [{ path: at, message: `unknown $ref ${schema.$ref}` }];
    return validate(doc, target, value, at);
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = schema[key] as Schema[] | undefined;
    if (!options) continue;
    const passing = options.filter((s) => validate(doc, s, value, at).length === 0).length;
    if (key === 'oneOf' ? passing !== 1 : passing === 0) fail(`matches ${passing} of the ${key} schemas`);
  }
  if (schema.const !== undefined && value !== schema.const) fail(`must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) fail(`${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const actual = typeOf(value);
    const ok = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
    if (!ok) {
      fail(`is ${actual}, expected ${allowed.join(' or ')}`);
      return out;
    }
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) fail(`shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) fail(`longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) fail(`does not match ${schema.pattern}`);
    const format = schema.format as string | undefined;
    if (format && FORMATS[format] && !FORMATS[format](value)) fail(`is not a ${format}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`above ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) fail(`not above ${schema.exclusiveMinimum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail(`fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) fail(`more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((item, i) => out.push(...validate(doc, schema.items as Schema, item, `${at}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) if (!(name in record)) fail(`missing required property ${name}`);
    for (const [name, v] of Object.entries(record)) {
      if (properties[name]) out.push(...validate(doc, properties[name] as Schema, v, `${at}.${name}`));
      else if (schema.additionalProperties === false) fail(`has undocumented property ${name}`, `${at}.${name}`);
      else if (typeof schema.additionalProperties === 'object') out.push(...validate(doc, schema.additionalProperties as Schema, v, `${at}.${name}`));
    }
    if (typeof schema.maxProperties === 'number' && Object.keys(record).length > schema.maxProperties) fail(`more than ${schema.maxProperties} properties`);
  }
  return out;
}

/** The documented route template (e.g. `/jobs/{jobId}`) a concrete path matches, if any. */
export function matchPath(doc: OpenApiDocument, concrete: string): string | undefined {
  const pathname = concrete.split('?')[0] as string;
  const candidates = Object.keys(doc.paths).filter((template) =>
    new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathname),
  );
  // A literal segment beats a parameter (`/jobs/x/cancel` before `/jobs/{jobId}`-like clashes).
  return candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))[0];
}

/**
 * Checks one real response against the document: the route and method must be documented, the
 * status must be documented (or fall under `default`), and a JSON body must match its schema.
 */
export function checkResponse(doc: OpenApiDocument, method: string, concretePath: string, status: number, body: unknown): Violation[] {
  const template = matchPath(doc, concretePath);
  if (!template) return [{ path: concretePath, message: 'no documented path matches' }];
  const op = doc.paths[template]?.[method.toLowerCase()];
  if (!op) return [{ path: concretePath, message: `${method} is not documented on ${template}` }];
  const response = op.responses[String(status)] ?? op.responses.default;
  if (!response) return [{ path: concretePath, message: `status ${status} is not documented for ${method} ${template}` }];
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return body === undefined || body === '' ? [] : [{ path: concretePath, message: `${method} ${template} ${status} documents no body, got one` }];
  return validate(doc, schema, body).map((v) => ({ path: `${method} ${template} ${status} ${v.path}`, message: v.message }));
}
