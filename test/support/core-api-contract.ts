// The project's own contract for MetaDefender Core's REST API: every endpoint the action's client calls or the
// test stand-in answers, with the request it takes and each answer it may give. Written for this project from
// the facts in OPSWAT's Core 5.6.1 OpenAPI description (paths, methods, header and query names, field names
// and types, status codes); the structure and the wording are ours. Newer Core versions add fields, so every
// object schema below leaves unknown members allowed.
//
// Schemas use the JSON Schema subset ajv understands (type, properties, required, items, enum, anyOf).

export type Schema = Record<string, unknown>;

/** How the `apikey` header is treated: never sent, accepted when given, or needed. */
export type KeyUse = 'none' | 'optional' | 'required';

export type Payload =
  | { readonly kind: 'none' }
  /** application/json with this schema. */
  | { readonly kind: 'json'; readonly schema: Schema }
  /** application/octet-stream, any bytes. */
  | { readonly kind: 'bytes' };

export interface HeaderRule {
  readonly required: boolean;
  readonly type: 'string' | 'integer';
}

export interface Endpoint {
  readonly method: 'GET' | 'POST';
  /** A path, or a template with `{name}` segments (e.g. `/file/{data_id}`). */
  readonly path: string;
  readonly apikey: KeyUse;
  /** Request headers besides `apikey` that the product defines for this call. */
  readonly headers: Readonly<Record<string, HeaderRule>>;
  readonly query: Readonly<Record<string, 'boolean' | 'integer' | 'string'>>;
  readonly request: Payload;
  /** Every status the product documents for this call, with the body it carries. */
  readonly answers: Readonly<Record<number, Payload>>;
}

const text = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const flag = { type: 'boolean' } as const;

/** `{"err": "..."}`, the product's usual error body. */
const errorBody: Payload = { kind: 'json', schema: { type: 'object', properties: { err: text } } };
/** The same with `err` present (logout documents it as required). */
const errorBodyWithErr: Payload = {
  kind: 'json',
  schema: { type: 'object', required: ['err'], properties: { err: text } },
};

/** Engine states the product reports in /stat/engines. */
export const ENGINE_STATE_VALUES = [
  'downloading',
  'downloaded',
  'staging',
  'production',
  'removed',
  'temporary failed',
  'permanently failed',
  'content invalid',
  'download failed',
] as const;

/**
 * Overall scan verdicts: the numeric code (`scan_all_result_i`) and its text (`scan_all_result_a`), in the
 * product's order. 0 is clean, 1 infected, 255 still in progress.
 */
export const SCAN_VERDICTS: readonly (readonly [number, string])[] = [
  [0, 'No Threat Detected'],
  [1, 'Infected'],
  [2, 'Suspicious'],
  [3, 'Failed'],
  [7, 'Whitelisted'],
  [8, 'Blacklisted'],
  [9, 'Exceeded Archive Depth'],
  [10, 'Not Scanned'],
  [12, 'Encrypted Archive'],
  [13, 'Exceeded Archive Size'],
  [14, 'Exceeded Archive File Number'],
  [15, 'Password Protected Document'],
  [16, 'Exceeded Archive Timeout'],
  [17, 'Mismatch'],
  [18, 'Potentially Vulnerable File'],
  [19, 'Cancelled'],
  [20, 'Sensitive Data Found'],
  [21, 'Yara Rule Matched'],
  [22, 'Potentially Unwanted'],
  [23, 'Unsupported File Type'],
  [255, 'In Progress'],
];

const readyzDetail: Schema = {
  type: 'object',
  properties: {
    database: { type: 'object', properties: { status: flag } },
    license: {
      type: 'object',
      properties: { status: { type: 'string', enum: ['expired', 'invalid', 'ok'] } },
    },
    scan_queue: {
      type: 'object',
      properties: { max_number_in_queue: int, number_in_queue: int, threshold: int, status: flag },
    },
    number_active_av_engines: { type: 'object', properties: { threshold: int, status: flag } },
    engines: {
      type: 'array',
      items: { type: 'object', properties: { engine_id: text, required: flag, status: flag } },
    },
  },
};

const engineList: Schema = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      eng_id: text,
      eng_name: text,
      eng_type: text,
      eng_ver: text,
      engine_type: { type: 'string', enum: ['av', 'archive', 'filetype'] },
      state: { type: 'string', enum: [...ENGINE_STATE_VALUES] },
      active: flag,
      def_time: text,
      download_progress: int,
      download_time: text,
    },
  },
};

const licenseInfo: Schema = {
  type: 'object',
  properties: {
    days_left: int,
    deployment: text,
    expiration: text,
    licensed_engines: { type: 'array', items: text },
    max_node_count: text,
    online_activated: flag,
    product_id: text,
    product_name: text,
  },
};

/** One engine's line in a scan report (`scan_results.scan_details.<engine name>`). */
const engineScan: Schema = {
  type: 'object',
  properties: {
    def_time: text,
    eng_id: text,
    location: text,
    scan_result_i: int,
    scan_time: int,
    threat_found: text,
    wait_time: int,
  },
};

/** GET /file/{data_id}: the parts of the analysis report the action reads, with their types. */
const analysisReport: Schema = {
  type: 'object',
  properties: {
    data_id: text,
    file_info: {
      type: 'object',
      properties: {
        display_name: text,
        file_size: int,
        file_type: text,
        md5: text,
        sha1: text,
        sha256: text,
      },
    },
    process_info: {
      type: 'object',
      properties: {
        blocked_reason: text,
        progress_percentage: int,
        processing_time: int,
        profile: text,
        result: text,
        user_agent: text,
        verdicts: { type: 'array', items: text },
      },
    },
    scan_results: {
      type: 'object',
      properties: {
        data_id: text,
        progress_percentage: int,
        scan_all_result_i: { type: 'integer', enum: SCAN_VERDICTS.map(([code]) => code) },
        scan_all_result_a: { type: 'string', enum: SCAN_VERDICTS.map(([, name]) => name) },
        start_time: text,
        total_avs: int,
        total_time: int,
        scan_details: { type: 'object', additionalProperties: engineScan },
      },
    },
  },
};

export const CORE_API_CONTRACT: readonly Endpoint[] = [
  {
    method: 'POST',
    path: '/login',
    apikey: 'none',
    headers: {},
    query: {},
    request: {
      kind: 'json',
      schema: { type: 'object', required: ['user', 'password'], properties: { user: text, password: text } },
    },
    answers: {
      200: {
        kind: 'json',
        schema: {
          type: 'object',
          required: ['session_id', 'oms-csrf-token'],
          properties: { session_id: text, 'oms-csrf-token': text },
        },
      },
      403: errorBody,
      500: errorBody,
    },
  },
  {
    method: 'POST',
    path: '/logout',
    apikey: 'required',
    headers: {},
    query: {},
    request: { kind: 'none' },
    answers: {
      200: {
        kind: 'json',
        schema: { type: 'object', required: ['response'], properties: { response: text } },
      },
      // 400: the key is valid but not a session (the admin API key); 403: unknown session.
      400: errorBodyWithErr,
      403: errorBodyWithErr,
      500: errorBody,
    },
  },
  {
    method: 'GET',
    path: '/readyz',
    apikey: 'none',
    headers: {},
    query: { verbose: 'boolean' },
    request: { kind: 'none' },
    // 503 (not ready) is documented without a body.
    answers: { 200: { kind: 'json', schema: readyzDetail }, 500: errorBody, 503: { kind: 'none' } },
  },
  {
    method: 'GET',
    path: '/version',
    apikey: 'optional',
    headers: {},
    query: {},
    request: { kind: 'none' },
    answers: {
      200: { kind: 'json', schema: { type: 'object', properties: { product_id: text, version: text } } },
      500: errorBody,
    },
  },
  {
    method: 'GET',
    path: '/admin/export/v2',
    apikey: 'required',
    // The archive's encryption password.
    headers: { password: { required: true, type: 'string' } },
    query: {},
    request: { kind: 'none' },
    answers: { 200: { kind: 'bytes' }, 400: errorBody, 403: errorBody, 405: errorBody, 500: errorBody },
  },
  {
    method: 'POST',
    path: '/admin/import/v2',
    apikey: 'required',
    headers: { password: { required: false, type: 'string' } },
    query: {},
    request: { kind: 'bytes' },
    answers: {
      200: { kind: 'json', schema: { type: 'object', properties: { result: text } } },
      // Nothing changed: success. HTTP gives a 304 no body, whatever the description says.
      304: { kind: 'none' },
      // The product describes this body as JSON text; its documented shape is {"err", "err_details"}.
      400: {
        kind: 'json',
        schema: {
          type: 'object',
          required: ['err'],
          properties: { err: text, err_details: { type: 'object' } },
        },
      },
      403: errorBody,
      405: errorBody,
      500: errorBody,
    },
  },
  {
    method: 'GET',
    path: '/stat/engines',
    apikey: 'optional',
    headers: {},
    query: {},
    request: { kind: 'none' },
    // The only documented answer.
    answers: { 200: { kind: 'json', schema: engineList } },
  },
  {
    method: 'GET',
    path: '/admin/license',
    apikey: 'required',
    headers: {},
    query: {},
    request: { kind: 'none' },
    answers: { 200: { kind: 'json', schema: licenseInfo }, 403: errorBody, 500: errorBody },
  },
  {
    method: 'POST',
    path: '/file',
    apikey: 'optional',
    // The file's name and the workflow rule to scan with; `user_agent` tags the submission; `callbackurl` asks
    // for the report to be posted there when done.
    headers: {
      filename: { required: false, type: 'string' },
      rule: { required: false, type: 'string' },
      user_agent: { required: false, type: 'string' },
      callbackurl: { required: false, type: 'string' },
    },
    query: {},
    request: { kind: 'bytes' },
    answers: {
      200: { kind: 'json', schema: { type: 'object', required: ['data_id'], properties: { data_id: text } } },
      // Invalid callback URL, a download link given together with a body, or the upload was rejected.
      400: errorBody,
      403: errorBody,
      // No Content-Length (chunked uploads are not supported).
      411: errorBody,
      // Empty body.
      422: errorBody,
      500: errorBody,
      // Scan queue full.
      503: errorBody,
    },
  },
  {
    method: 'GET',
    path: '/file/{data_id}',
    apikey: 'optional',
    headers: {},
    query: { first: 'integer', size: 'integer' },
    request: { kind: 'none' },
    // Asked again until scan_results.progress_percentage is 100.
    answers: { 200: { kind: 'json', schema: analysisReport }, 500: errorBody },
  },
];
