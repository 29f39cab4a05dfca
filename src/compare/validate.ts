// JSON-schema validation whose errors name the file and the field the way a person would
// write it — `cases["decode/M1/H4096/r16"].base_gflops.median: must be number` — because the
// files it checks (baselines, rules) are edited and reviewed by hand.

import { Ajv, type ErrorObject, type SchemaObject } from 'ajv';
import { InputError } from '../errors.js';

const ajv = new Ajv({ allErrors: false, strict: true });

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** JSON pointer ("/cases/decode~1M1/base_gflops") → field path (`cases["decode/M1"].base_gflops`). */
export function fieldPath(segments: readonly string[]): string {
  let out = '';
  for (const seg of segments) {
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out.length === 0 ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The one error a person should fix first, with the field it is about. */
function describe(err: ErrorObject): { field: string; detail: string } {
  const segments = pointerSegments(err.instancePath);
  const params = err.params as Record<string, unknown>;
  if (err.propertyName !== undefined) {
    // a key that fails `propertyNames` (e.g. an unknown lane): name the key itself
    const allowed = Array.isArray(params.allowedValues)
      ? `; allowed: ${(params.allowedValues as unknown[]).join(', ')}`
      : '';
    return { field: fieldPath([...segments, err.propertyName]), detail: `is not an allowed name${allowed}` };
  }
  if (err.keyword === 'required') {
    return { field: fieldPath([...segments, String(params.missingProperty)]), detail: 'is required' };
  }
  if (err.keyword === 'additionalProperties') {
    return { field: fieldPath([...segments, String(params.additionalProperty)]), detail: 'unknown field' };
  }
  if (err.keyword === 'enum') {
    const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
    return { field: fieldPath(segments), detail: `must be one of ${allowed}` };
  }
  return { field: fieldPath(segments), detail: err.message ?? 'is invalid' };
}

export type Validator<T> = (data: unknown, file: string) => T;

/** Compiles a schema once; the returned function throws an InputError naming file and field. */
export function makeValidator<T>(schema: SchemaObject): Validator<T> {
  const validate = ajv.compile(schema);
  return (data, file) => {
    if (validate(data)) return data as T;
    const first = validate.errors?.[0];
    if (!first) throw new InputError('does not match its schema', { file });
    const { field, detail } = describe(first);
    throw new InputError(detail, { file, field: field.length > 0 ? field : undefined });
  };
}
