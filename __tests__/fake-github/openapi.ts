// GitHub's official OpenAPI description (npm @octokit/openapi), turned into validators: every
// request the fake receives and every response it sends is checked against the operation's
// schemas, so the fake cannot drift into accepting what GitHub would reject.
//
// OpenAPI 3.0 schema objects are close to JSON Schema draft 7 but not equal: `nullable`
// (which Ajv understands), `discriminator`, `example`, `x-*` and `readOnly` (which strict mode
// would refuse) are tolerated by running Ajv non-strict; formats come from ajv-formats.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = Record<string, unknown>;

export interface Operation {
  method: string;
  template: string;
  operationId: string;
  /** matches a concrete path; groups are the path parameters in order */
  pattern: RegExp;
  paramNames: string[];
  spec: Json;
}

export interface Spec {
  operations: Operation[];
  /** GitHub's error body, for statuses an operation does not declare */
  basicError: object;
}

let cached: Spec | undefined;

export function loadSpec(): Spec {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('@octokit/openapi/package.json'));
  const doc = JSON.parse(readFileSync(path.join(dir, 'generated', 'api.github.com.deref.json'), 'utf8')) as {
    paths: Record<string, Record<string, Json>>;
  };
  nullableEnums(doc);
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const method of ['get', 'post', 'patch', 'put', 'delete']) {
      const op = item[method];
      if (!op) continue;
      const paramNames: string[] = [];
      const source = template
        .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        .replace(/\{([^}]+)\}/g, (_m, name: string) => {
          paramNames.push(name);
          return '([^/]+)';
        });
      operations.push({
        method: method.toUpperCase(),
        template,
        operationId: String(op.operationId),
        pattern: new RegExp(`^${source}$`),
        paramNames,
        spec: op,
      });
    }
  }
  // literal segments beat parameters: /issues/comments/{id} before /issues/{issue_number}/...
  const literal = (o: Operation) => o.template.split('/').filter((s) => !s.startsWith('{')).length;
  operations.sort((a, b) => literal(b) - literal(a));
  // the dereferenced file has no components: take GitHub's "Basic Error" from an operation
  const forbidden = (doc.paths['/user']?.get?.responses as Record<string, Json>)['403'] as {
    content: Record<string, { schema: object }>;
  };
  const basicError = forbidden.content['application/json']!.schema;
  cached = { operations, basicError };
  return cached;
}

/**
 * OpenAPI 3.0 lets `nullable: true` admit null past an `enum` that does not list it; JSON
 * Schema (and Ajv) want null in the enum. Rewrites the document in place, once.
 */
function nullableEnums(node: unknown, seen = new Set<object>()): void {
  if (node === null || typeof node !== 'object' || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const n of node) nullableEnums(n, seen);
    return;
  }
  const o = node as Json;
  if (o.nullable === true && Array.isArray(o.enum) && !o.enum.includes(null)) o.enum = [...o.enum, null];
  for (const v of Object.values(o)) nullableEnums(v, seen);
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true, validateSchema: false }));
const coercing = addFormats(
  new Ajv({ strict: false, allErrors: true, validateSchema: false, coerceTypes: true }),
);
const compiled = new WeakMap<object, ValidateFunction>();
const compiledCoercing = new WeakMap<object, ValidateFunction>();

function validator(schema: object, coerce = false): ValidateFunction {
  const cache = coerce ? compiledCoercing : compiled;
  let v = cache.get(schema);
  if (!v) {
    v = (coerce ? coercing : ajv).compile(schema);
    cache.set(schema, v);
  }
  return v;
}

/** Error texts, empty when valid. */
export function validate(schema: object, data: unknown, coerce = false): string[] {
  const v = validator(schema, coerce);
  if (v(data)) return [];
  return (v.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

export function match(
  spec: Spec,
  method: string,
  pathname: string,
): { op: Operation; params: Record<string, string> } | undefined {
  for (const op of spec.operations) {
    if (op.method !== method) continue;
    const m = op.pattern.exec(pathname);
    if (!m) continue;
    const params = Object.fromEntries(op.paramNames.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? '')]));
    return { op, params };
  }
  return undefined;
}

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: object;
}

/** Path and query parameters and the JSON body against the operation. */
export function validateRequest(
  op: Operation,
  params: Record<string, string>,
  query: URLSearchParams,
  body: unknown,
): string[] {
  const problems: string[] = [];
  const declared = (op.spec.parameters ?? []) as Parameter[];
  for (const p of declared) {
    const raw = p.in === 'path' ? params[p.name] : p.in === 'query' ? query.get(p.name) : undefined;
    if (raw === undefined || raw === null) {
      if (p.required) problems.push(`missing ${p.in} parameter ${p.name}`);
      continue;
    }
    if (p.schema) {
      // parameters arrive as text: coerce to the declared type, then validate
      const holder = { v: raw };
      problems.push(
        ...validate({ type: 'object', properties: { v: p.schema } }, holder, true).map(
          (e) => `${p.in} ${p.name}: ${e}`,
        ),
      );
    }
  }
  for (const name of query.keys()) {
    if (!declared.some((p) => p.in === 'query' && p.name === name))
      problems.push(`unknown query parameter ${name}`);
  }
  const rb = op.spec.requestBody as
    { required?: boolean; content?: Record<string, { schema: object }> } | undefined;
  const schema = rb?.content?.['application/json']?.schema;
  if (schema) {
    if (body === undefined) {
      if (rb?.required) problems.push('missing request body');
    } else problems.push(...validate(schema, body).map((e) => `body ${e}`));
  } else if (body !== undefined && op.method !== 'GET') {
    problems.push('body sent to an operation that takes none');
  }
  return problems;
}

/** The response schema for a status; undeclared error statuses use GitHub's basic-error. */
export function responseSchema(spec: Spec, op: Operation, status: number): object | undefined {
  const responses = op.spec.responses as Record<string, { content?: Record<string, { schema: object }> }>;
  const declared = responses[String(status)];
  if (declared) return declared.content?.['application/json']?.schema;
  if (status >= 400) return spec.basicError;
  return undefined;
}

/** A documented example response of the operation, deep-copied, to start canned data from. */
export function example(op: Operation, status: number, name?: string): Json {
  const responses = op.spec.responses as Record<
    string,
    { content?: Record<string, { examples?: Record<string, { value: Json }> }> }
  >;
  const examples = responses[String(status)]?.content?.['application/json']?.examples ?? {};
  const chosen = name ? examples[name] : Object.values(examples)[0];
  if (!chosen) throw new Error(`no example for ${op.operationId} ${status}`);
  return structuredClone(chosen.value);
}
