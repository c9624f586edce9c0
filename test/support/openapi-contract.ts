// Checks HTTP requests and responses against the MD Core OpenAPI 3.0 spec in shared/reference, with real JSON
// Schema validation (ajv). Unknown extra fields are allowed (OpenAPI's default additionalProperties), as newer
// Core versions add fields. Each check returns a list of problems; empty means the message follows the spec.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

export const SPEC_PATH = fileURLToPath(
  new URL('../../../shared/reference/mdcore-core-api-5.6.1.openapi.json', import.meta.url),
);

type Json = Record<string, unknown>;

export interface HttpMessage {
  status?: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SpecRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Headers any HTTP client sends on its own; every other header we send must be declared by the operation. */
const TRANSPORT_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'content-type',
  'transfer-encoding',
  'accept',
  'accept-encoding',
  'accept-language',
  'user-agent',
  'sec-fetch-mode',
]);

const MAX_REF_DEPTH = 40;

export class OpenApiContract {
  readonly spec: Json;
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(specPath = SPEC_PATH) {
    this.spec = JSON.parse(readFileSync(specPath, 'utf8')) as Json;
    // strict: unknown keywords or formats in a schema we compile are errors, not silently ignored.
    this.ajv = new Ajv({ strict: true, allErrors: true, strictTypes: false });
    const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
    addFormats(this.ajv);
    this.ajv.addKeyword('example');
    // The spec's `format: json`: a string holding a JSON text.
    this.ajv.addFormat('json', {
      type: 'string',
      validate: (s: string) => {
        try {
          JSON.parse(s);
          return true;
        } catch {
          return false;
        }
      },
    });
  }

  /** The operation object, or undefined when the spec has no such path + method. */
  operation(method: string, path: string): Json | undefined {
    const item = (this.spec['paths'] as Json)[path] as Json | undefined;
    const op = item?.[method.toLowerCase()];
    return isJson(op) ? op : undefined;
  }

  /** Declared response statuses of an operation. */
  statuses(method: string, path: string): string[] {
    const op = this.operation(method, path);
    return op ? Object.keys(op['responses'] as Json) : [];
  }

  /** Follows a local `$ref` ("#/components/..."). */
  deref(value: unknown): unknown {
    let v = value;
    for (let i = 0; i < MAX_REF_DEPTH && isJson(v) && typeof v['$ref'] === 'string'; i++) {
      v = this.pointer(v['$ref']);
    }
    return v;
  }

  checkResponse(method: string, path: string, res: HttpMessage): string[] {
    const where = `${method} ${path} -> ${res.status}`;
    const op = this.operation(method, path);
    if (!op) return [`${where}: the spec has no such operation`];
    const declared = this.deref((op['responses'] as Json)[String(res.status)]);
    if (!isJson(declared)) return [`${where}: status not declared by the spec`];
    const content = declared['content'] as Json | undefined;
    if (!content || res.status === 304) {
      // No content declared, or 304 (HTTP forbids content there whatever the schema says).
      return res.body.length === 0 ? [] : [`${where}: the spec declares no content but a body was sent`];
    }
    const type = mediaType(res.headers['content-type']);
    if (!type || !(type in content)) {
      return [`${where}: content type ${type ?? '(none)'} is not one of ${Object.keys(content).join(', ')}`];
    }
    const media = content[type] as Json;
    return this.checkBody(where, type, media['schema'], res.body, `response ${path} ${method} ${res.status}`);
  }

  checkRequest(req: SpecRequest): string[] {
    const where = `${req.method} ${req.path}`;
    const op = this.operation(req.method, req.path);
    if (!op) return [`${where}: the spec has no such operation`];
    const problems: string[] = [];
    const params = ((op['parameters'] as unknown[] | undefined) ?? []).map((p) => this.deref(p) as Json);
    const headerParams = new Set<string>();
    for (const p of params) {
      const name = String(p['name']);
      const schema = p['schema'];
      if (p['in'] === 'header') {
        headerParams.add(name.toLowerCase());
        const raw = req.headers[name.toLowerCase()];
        const value = Array.isArray(raw) ? raw.join(',') : raw;
        if (value === undefined || value === '') {
          if (p['required'] === true) problems.push(`${where}: required header ${name} missing`);
          continue;
        }
        problems.push(...this.validate(`${where} header ${name}`, schema, value, `param ${where} ${name}`));
      } else if (p['in'] === 'query') {
        const value = req.query[name];
        if (value === undefined) {
          if (p['required'] === true) problems.push(`${where}: required query parameter ${name} missing`);
          continue;
        }
        problems.push(
          ...this.validate(`${where} query ${name}`, schema, coerce(value, schema), `param ${where} ${name}`),
        );
      }
    }
    const queryNames = new Set(params.filter((p) => p['in'] === 'query').map((p) => String(p['name'])));
    for (const q of Object.keys(req.query)) {
      if (!queryNames.has(q)) problems.push(`${where}: query parameter ${q} is not declared`);
    }
    for (const h of Object.keys(req.headers)) {
      const name = h.toLowerCase();
      if (!TRANSPORT_HEADERS.has(name) && !headerParams.has(name)) {
        problems.push(`${where}: header ${name} is not declared by the spec`);
      }
    }
    const requestBody = this.deref(op['requestBody']) as Json | undefined;
    if (!requestBody) {
      if (req.body.length > 0) problems.push(`${where}: the spec declares no request body but one was sent`);
      return problems;
    }
    const content = requestBody['content'] as Json;
    const type = mediaType(req.headers['content-type']);
    if (!type || !(type in content)) {
      problems.push(
        `${where}: request content type ${type ?? '(none)'} is not one of ${Object.keys(content)}`,
      );
      return problems;
    }
    if (req.body.length === 0) problems.push(`${where}: empty request body`);
    const media = content[type] as Json;
    problems.push(...this.checkBody(`${where} request`, type, media['schema'], req.body, `request ${where}`));
    return problems;
  }

  private checkBody(where: string, type: string, schemaRef: unknown, body: Buffer, key: string): string[] {
    const schema = this.deref(schemaRef);
    if (!isJson(schema)) return [`${where}: no schema in the spec`];
    if (type === 'application/json') {
      const text = body.toString('utf8');
      if (schema['type'] === 'string') {
        // A JSON body whose schema is a string (import/v2's 400: `type: string, format: json`): the spec
        // describes the JSON text itself, so the text is what is validated.
        return this.validate(where, schema, text, key);
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return [`${where}: body is not JSON: ${text.slice(0, 80)}`];
      }
      return this.validate(where, schema, value, key);
    }
    // Binary media types: the schema describes a (binary) string.
    return this.validate(where, schema, body.toString('latin1'), key);
  }

  private validate(where: string, schema: unknown, value: unknown, key: string): string[] {
    let fn = this.compiled.get(key);
    if (!fn) {
      fn = this.ajv.compile(this.inline(schema, 0) as Json);
      this.compiled.set(key, fn);
    }
    if (fn(value)) return [];
    return (fn.errors ?? []).map(
      (e) => `${where}: ${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`,
    );
  }

  /** A copy of a schema with every local $ref replaced by what it points to (the spec has no cycles here). */
  private inline(value: unknown, depth: number): unknown {
    if (depth > MAX_REF_DEPTH) throw new Error('schema nesting too deep (cyclic $ref?)');
    if (Array.isArray(value)) return value.map((v) => this.inline(v, depth + 1));
    if (!isJson(value)) return value;
    if (typeof value['$ref'] === 'string') return this.inline(this.pointer(value['$ref']), depth + 1);
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      // Documentation-only members: `example` values are kept as-is (not schemas, need no inlining).
      out[k] = k === 'example' ? v : this.inline(v, depth + 1);
    }
    return out;
  }

  private pointer(ref: string): unknown {
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
    let v: unknown = this.spec;
    for (const part of ref.slice(2).split('/')) {
      const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
      v = isJson(v) ? v[key] : undefined;
    }
    if (v === undefined) throw new Error(`dangling $ref ${ref}`);
    return v;
  }
}

function isJson(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mediaType(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  return h?.split(';')[0]?.trim().toLowerCase() || undefined;
}

function coerce(value: string, schema: unknown): unknown {
  const type = isJson(schema) ? schema['type'] : undefined;
  if (type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
  if (type === 'integer' || type === 'number') return value.trim() !== '' ? Number(value) : value;
  return value;
}
