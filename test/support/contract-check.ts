// Checks HTTP requests and responses against the project's MD Core API contract (core-api-contract.ts) with
// real JSON Schema validation (ajv). Unknown extra fields pass, as newer Core versions add some. Each check
// returns a list of problems; empty means the message keeps to the contract.
import { Ajv, type ValidateFunction } from 'ajv';
import { CORE_API_CONTRACT, type Endpoint, type Payload, type Schema } from './core-api-contract.ts';

export interface HttpMessage {
  status?: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface ContractRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Headers any HTTP client sends on its own; every other header sent must be one the endpoint defines. */
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

const MEDIA: Record<Payload['kind'], string | undefined> = {
  none: undefined,
  json: 'application/json',
  bytes: 'application/octet-stream',
};

export class CoreApiContract {
  readonly endpoints: readonly Endpoint[];
  private readonly ajv = new Ajv({ strict: true, allErrors: true, strictTypes: false });
  private readonly compiled = new Map<Schema, ValidateFunction>();

  constructor(endpoints: readonly Endpoint[] = CORE_API_CONTRACT) {
    this.endpoints = endpoints;
  }

  /** The endpoint for a concrete path (templates such as /file/{data_id} match one segment), if any. */
  endpoint(method: string, path: string): Endpoint | undefined {
    const m = method.toUpperCase();
    return this.endpoints.find((e) => e.method === m && templateMatches(e.path, path));
  }

  /** Statuses the contract allows for a call, as strings. */
  statuses(method: string, path: string): string[] {
    const e = this.endpoint(method, path);
    return e ? Object.keys(e.answers) : [];
  }

  checkResponse(method: string, path: string, res: HttpMessage): string[] {
    const where = `${method} ${path} -> ${res.status}`;
    const e = this.endpoint(method, path);
    if (!e) return [`${where}: the contract has no such endpoint`];
    const payload = e.answers[res.status ?? -1];
    if (!payload) return [`${where}: status not allowed by the contract`];
    return this.checkPayload(where, payload, res.headers['content-type'], res.body);
  }

  checkRequest(req: ContractRequest): string[] {
    const where = `${req.method} ${req.path}`;
    const e = this.endpoint(req.method, req.path);
    if (!e) return [`${where}: the contract has no such endpoint`];
    const problems: string[] = [];
    const header = (name: string): string | undefined => {
      const raw = req.headers[name];
      return Array.isArray(raw) ? raw.join(',') : raw;
    };
    const key = header('apikey');
    if (e.apikey === 'none' && key !== undefined)
      problems.push(`${where}: sends apikey, which it takes none of`);
    if (e.apikey === 'required' && !key) problems.push(`${where}: required header apikey missing`);
    for (const [name, rule] of Object.entries(e.headers)) {
      const value = header(name);
      if (value === undefined || value === '') {
        if (rule.required) problems.push(`${where}: required header ${name} missing`);
      } else if (rule.type === 'integer' && !/^-?\d+$/.test(value)) {
        problems.push(`${where}: header ${name} must be an integer`);
      }
    }
    for (const name of Object.keys(req.headers).map((h) => h.toLowerCase())) {
      if (name === 'apikey' || TRANSPORT_HEADERS.has(name) || name in e.headers) continue;
      problems.push(`${where}: header ${name} is not one the contract defines`);
    }
    for (const [name, value] of Object.entries(req.query)) {
      const type = e.query[name];
      if (type === undefined) problems.push(`${where}: query parameter ${name} is not defined`);
      else if (type === 'boolean' && value !== 'true' && value !== 'false')
        problems.push(`${where}: query parameter ${name} must be true or false`);
      else if (type === 'integer' && !/^-?\d+$/.test(value))
        problems.push(`${where}: query parameter ${name} must be an integer`);
    }
    if (e.request.kind === 'none') {
      if (req.body.length > 0) problems.push(`${where}: takes no request body but one was sent`);
      return problems;
    }
    if (req.body.length === 0) problems.push(`${where}: empty request body`);
    problems.push(...this.checkPayload(`${where} request`, e.request, req.headers['content-type'], req.body));
    return problems;
  }

  private checkPayload(
    where: string,
    payload: Payload,
    contentType: string | string[] | undefined,
    body: Buffer,
  ): string[] {
    if (payload.kind === 'none') {
      return body.length === 0 ? [] : [`${where}: the contract allows no body but one was sent`];
    }
    const expected = MEDIA[payload.kind];
    const type = mediaType(contentType);
    if (type !== expected) return [`${where}: content type ${type ?? '(none)'} is not ${expected}`];
    if (payload.kind === 'bytes') return [];
    const raw = body.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return [`${where}: body is not JSON: ${raw.slice(0, 80)}`];
    }
    return this.validate(where, payload.schema, value);
  }

  private validate(where: string, schema: Schema, value: unknown): string[] {
    let fn = this.compiled.get(schema);
    if (!fn) {
      fn = this.ajv.compile(schema);
      this.compiled.set(schema, fn);
    }
    if (fn(value)) return [];
    return (fn.errors ?? []).map(
      (e) => `${where}: ${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`,
    );
  }
}

function templateMatches(template: string, path: string): boolean {
  const t = template.split('/');
  const p = path.split('/');
  return t.length === p.length && t.every((seg, i) => (/^\{.+\}$/.test(seg) ? p[i] !== '' : seg === p[i]));
}

function mediaType(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  return h?.split(';')[0]?.trim().toLowerCase() || undefined;
}
