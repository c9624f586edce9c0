// REST client for MetaDefender Core (API as in the Core 5.6.1 OpenAPI spec) on Node's global fetch, or on a
// transport given to it (the API server's service proxy, cluster/service-proxy.ts, adds the cluster's credentials).
//
// Every request has its own timeout. Only idempotent requests (GETs) are sent again, and only after a network
// error, a timeout or a 5xx answer, a bounded number of times with exponential backoff; POSTs (login, logout,
// import) are sent once. Redirects are never followed: the `apikey` and `password` headers must not travel to
// another host. Every failure is an MdCoreApiError whose text never holds the API key, the session id or a
// password: all of them are registered with the reporter and scrubbed from every text the client builds.
import type { Reporter } from '../report/reporter.ts';
import { MdCoreApiError, type MdCoreErrorKind } from './errors.ts';
import type {
  EngineStatus,
  ImportResult,
  LicenseInfo,
  ReadyzResult,
  ScanReport,
  VersionInfo,
} from './types.ts';

export { MdCoreApiError, type MdCoreErrorKind } from './errors.ts';
export * from './types.ts';

export interface MdCoreClientOptions {
  /** e.g. `http://md-core.mdcore.svc:8008`; no user/password, query or fragment. */
  baseUrl: string;
  /** Admin API key (Secret `mdcore-api-key`), sent as header `apikey`. */
  apiKey?: string;
  /** Per-request timeout (connect, headers and body), default 30 s. */
  timeoutMs?: number;
  /** Extra attempts for idempotent requests, default 2 (so at most 3 requests), at most 10. */
  retries?: number;
  /** First backoff delay, doubled on each retry and capped at 15 s; default 1 s. */
  retryDelayMs?: number;
  /** Cancels whatever the client is doing (requests and backoff waits). */
  signal?: AbortSignal;
  /** How requests travel; default Node's fetch. */
  transport?: HttpTransport;
  reporter: Reporter;
}

/** One request as the client sends it. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array<ArrayBuffer> | string;
  /** Ends the request (timeout or cancel) at any point, the answer's body included. */
  readonly signal: AbortSignal;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/**
 * Sends one request and reads the whole answer; never follows a redirect. When no answer arrives it throws an
 * error whose `cause` is the low-level one (its `code`, e.g. ECONNREFUSED, is reported).
 */
export type HttpTransport = (url: string, request: HttpRequest) => Promise<HttpAnswer>;

/** The default transport: Node's global fetch. */
export const fetchTransport: HttpTransport = async (url, request) => {
  const res = await fetch(url, {
    method: request.method,
    headers: request.headers,
    ...(request.body !== undefined ? { body: request.body } : {}),
    signal: request.signal,
    redirect: 'manual',
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
};

export interface CallOptions {
  /** Overrides the client's per-request timeout for this call (exports and imports of big configurations). */
  timeoutMs?: number;
}

type Auth = 'none' | 'optional' | 'required';

interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  auth: Auth;
  headers?: Record<string, string>;
  body?: Uint8Array<ArrayBuffer> | string;
  /** May be sent again after a network error, a timeout or a 5xx answer. */
  idempotent: boolean;
  /** Statuses handed back to the caller; any other status is an error. */
  accept: readonly number[];
  timeoutMs?: number;
}

type Answer = HttpAnswer;

/**
 * Licence paths of the hot-backup hand-over. `activation` is in OPSWAT's API reference; `backup` (register with
 * POST, remove with DELETE) is the project's reading of the hot-backup page, whose reference links name the
 * operations but not their paths: see docs/hot-backup.md for how a wrong guess is caught before blue is touched.
 */
export const HOT_BACKUP_PATHS = {
  backup: '/admin/license/backup',
  activation: '/admin/license/activation',
} as const;

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 2;
const MAX_RETRIES = 10;
const DEFAULT_RETRY_DELAY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 15_000;
const DETAIL_CHARS = 300;

export class MdCoreClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly transport: HttpTransport;
  private readonly reporter: Reporter;
  private readonly secrets = new Set<string>();
  private session: string | undefined;

  constructor(options: MdCoreClientOptions) {
    this.reporter = options.reporter;
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      // Not repeated: a malformed URL may still hold a password.
      throw new Error('MD Core base URL is not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`MD Core base URL must be http or https, not ${url.protocol}`);
    }
    if (url.username || url.password) {
      throw new Error('MD Core base URL must not contain a user or password; give an API key instead');
    }
    if (url.search || url.hash) throw new Error('MD Core base URL must not have a query or fragment');
    this.baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs');
    this.retries = Math.min(MAX_RETRIES, nonNegativeInt(options.retries, DEFAULT_RETRIES, 'retries'));
    this.retryDelayMs = Math.min(
      MAX_RETRY_DELAY_MS,
      nonNegativeInt(options.retryDelayMs, DEFAULT_RETRY_DELAY_MS, 'retryDelayMs'),
    );
    this.signal = options.signal;
    this.transport = options.transport ?? fetchTransport;
    if (options.apiKey !== undefined && options.apiKey !== '') {
      this.addSecret(options.apiKey);
      this.apiKey = options.apiKey;
    }
  }

  /** True when requests needing authentication can be sent (an API key was given or login() succeeded). */
  get authenticated(): boolean {
    return this.credential() !== undefined;
  }

  /** POST /login; the session id it returns is used as `apikey` from then on (until logout()). */
  async login(user: string, password: string): Promise<void> {
    this.addSecret(password);
    const answer = await this.send({
      method: 'POST',
      path: '/login',
      auth: 'none',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user, password }),
      idempotent: false,
      accept: [200],
    });
    const parsed = parseJson(answer.body);
    const sessionId = isRecord(parsed) ? parsed['session_id'] : undefined;
    if (typeof sessionId !== 'string' || sessionId === '') {
      throw this.protocolError('POST', '/login', 'the answer has no session_id');
    }
    this.addSecret(sessionId);
    this.session = sessionId;
  }

  /** POST /logout for the session login() opened; does nothing when there is none. */
  async logout(): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    try {
      await this.send({
        method: 'POST',
        path: '/logout',
        auth: 'required',
        idempotent: false,
        accept: [200],
      });
    } finally {
      // A failed logout (expired session) leaves nothing worth keeping either.
      this.session = undefined;
    }
  }

  /** GET /readyz (no authentication). 200 is ok, 503 not ok; neither throws. */
  async readyz(verbose = false): Promise<ReadyzResult> {
    const answer = await this.send({
      method: 'GET',
      path: '/readyz',
      ...(verbose ? { query: { verbose: 'true' } } : {}),
      auth: 'none',
      idempotent: true,
      accept: [200, 503],
    });
    return { ok: answer.status === 200, status: answer.status, body: parseJson(answer.body) ?? null };
  }

  /** GET /version: what really runs. */
  async version(): Promise<VersionInfo> {
    const body = await this.getJson('/version', 'optional');
    const version = isRecord(body) ? body['version'] : undefined;
    if (!isRecord(body) || typeof version !== 'string' || version === '') {
      throw this.protocolError('GET', '/version', 'the answer has no version');
    }
    const productId = body['product_id'];
    return { product_id: typeof productId === 'string' ? productId : undefined, version };
  }

  /** GET /admin/export/v2: the configuration as an archive encrypted with `password`. */
  async exportConfig(password: string, options: CallOptions = {}): Promise<Buffer> {
    if (password === '')
      throw this.localError('GET', '/admin/export/v2', 'needs a non-empty export password');
    this.addSecret(password);
    const answer = await this.send({
      method: 'GET',
      path: '/admin/export/v2',
      auth: 'required',
      headers: { password },
      idempotent: true,
      accept: [200],
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    const type = answer.headers.get('content-type') ?? '';
    if (/^application\/json\b/i.test(type)) {
      throw this.protocolError('GET', '/admin/export/v2', `expected an archive, got ${type}`);
    }
    if (answer.body.length === 0) throw this.protocolError('GET', '/admin/export/v2', 'the archive is empty');
    return answer.body;
  }

  /**
   * POST /admin/import/v2 with an archive from exportConfig(). Never retried. 200 and 304 (nothing changed) are
   * success; 400 throws an MdCoreApiError carrying the product's `err` and `err_details`.
   */
  async importConfig(zip: Buffer, password: string, options: CallOptions = {}): Promise<ImportResult> {
    if (zip.length === 0)
      throw this.localError('POST', '/admin/import/v2', 'refuses to import an empty archive');
    if (password !== '') this.addSecret(password);
    const answer = await this.send({
      method: 'POST',
      path: '/admin/import/v2',
      auth: 'required',
      headers: { 'content-type': 'application/octet-stream', ...(password !== '' ? { password } : {}) },
      body: new Uint8Array(zip),
      idempotent: false,
      accept: [200, 304],
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    if (answer.status === 304) return { status: 304 };
    const parsed = parseJson(answer.body);
    const result = isRecord(parsed) && typeof parsed['result'] === 'string' ? parsed['result'] : undefined;
    return result === undefined ? { status: 200 } : { status: 200, result: this.scrub(result) };
  }

  /** GET /stat/engines. */
  async engines(): Promise<EngineStatus[]> {
    const body = await this.getJson('/stat/engines', 'optional');
    if (!Array.isArray(body) || !body.every(isRecord)) {
      throw this.protocolError('GET', '/stat/engines', 'the answer is not an array of engines');
    }
    return body as EngineStatus[];
  }

  /** GET /admin/license. */
  async license(): Promise<LicenseInfo> {
    const body = await this.getJson('/admin/license', 'required');
    if (!isRecord(body)) throw this.protocolError('GET', '/admin/license', 'the answer is not an object');
    if (body['days_left'] !== undefined && typeof body['days_left'] !== 'number') {
      throw this.protocolError('GET', '/admin/license', 'days_left is not a number');
    }
    return body as LicenseInfo;
  }

  /**
   * Registers this instance as a hot backup ("Setup hot-backup instance", Core 5.0.0+): it then holds no licence
   * activation, may deploy engines and import settings, and refuses scans. The path and the body are the
   * project's reading of OPSWAT's docs (docs/hot-backup.md), so a caller confirms the outcome with license()
   * before relying on it. Sent once; the key travels in the body only.
   */
  async registerBackup(activationKey: string, comment: string): Promise<void> {
    await this.licenceCall('POST', HOT_BACKUP_PATHS.backup, activationKey, comment);
  }

  /** Unregisters this hot-backup instance ("Remove a backup instance"); it is then unlicensed. Sent once. */
  async removeBackup(): Promise<void> {
    await this.send({
      method: 'DELETE',
      path: HOT_BACKUP_PATHS.backup,
      auth: 'required',
      idempotent: false,
      accept: [200, 204],
    });
  }

  /**
   * POST /admin/license/activation: online activation of this instance with the licence key (one node). Core
   * refuses it on a registered backup (remove the backup first) and when the key has no activation left.
   */
  async activate(activationKey: string, comment: string): Promise<void> {
    await this.licenceCall('POST', HOT_BACKUP_PATHS.activation, activationKey, comment);
  }

  /**
   * POST /file: submits bytes for an asynchronous scan and returns the data_id to ask about. Sent once (a
   * repeated submission would start a second scan).
   */
  async submitFile(bytes: Buffer, filename: string, options: CallOptions = {}): Promise<string> {
    if (bytes.length === 0) throw this.localError('POST', '/file', 'refuses to submit an empty file');
    const answer = await this.send({
      method: 'POST',
      path: '/file',
      auth: 'optional',
      headers: { 'content-type': 'application/octet-stream', filename },
      body: new Uint8Array(bytes),
      idempotent: false,
      accept: [200],
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    const parsed = parseJson(answer.body);
    const dataId = isRecord(parsed) ? parsed['data_id'] : undefined;
    if (typeof dataId !== 'string' || dataId === '') {
      throw this.protocolError('POST', '/file', 'the answer has no data_id');
    }
    return dataId;
  }

  /** GET /file/{data_id}: the scan report so far (scan_results.progress_percentage reaches 100 when done). */
  async scanReport(dataId: string): Promise<ScanReport> {
    if (dataId === '') throw this.localError('GET', '/file/{data_id}', 'needs a data_id');
    const path = `/file/${encodeURIComponent(dataId)}`;
    const body = await this.getJson(path, 'optional');
    if (!isRecord(body)) throw this.protocolError('GET', path, 'the answer is not an object');
    const results = body['scan_results'];
    if (results !== undefined && !isRecord(results)) {
      throw this.protocolError('GET', path, 'scan_results is not an object');
    }
    return body as ScanReport;
  }

  // ---------------------------------------------------------------------------------------------------------

  private async licenceCall(
    method: 'POST',
    path: string,
    activationKey: string,
    comment: string,
  ): Promise<void> {
    if (activationKey === '') throw this.localError(method, path, 'needs the licence key');
    this.addSecret(activationKey);
    await this.send({
      method,
      path,
      auth: 'required',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ activationKey, quantity: 1, comment }),
      idempotent: false,
      accept: [200],
    });
  }

  private async getJson(path: string, auth: Auth): Promise<unknown> {
    const answer = await this.send({ method: 'GET', path, auth, idempotent: true, accept: [200] });
    const parsed = parseJson(answer.body);
    if (parsed === undefined) throw this.protocolError('GET', path, 'the answer is not JSON');
    return parsed;
  }

  private credential(): string | undefined {
    return this.session ?? this.apiKey;
  }

  private addSecret(value: string): void {
    if (value === '') return;
    this.secrets.add(value);
    this.reporter.secret(value);
  }

  /** Removes every secret the client knows (whatever its length), then whatever the reporter masks. */
  private scrub(text: string): string {
    let out = text;
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
    return this.reporter.mask(out);
  }

  private scrubDeep(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.scrub(value);
    if (depth > 20 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.scrubDeep(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.scrubDeep(v, depth + 1);
    return out;
  }

  private localError(method: string, path: string, what: string): MdCoreApiError {
    return new MdCoreApiError(`MD Core ${method} ${path} ${what}`, {
      kind: 'protocol',
      method,
      path,
      attempts: 0,
    });
  }

  private protocolError(method: string, path: string, what: string): MdCoreApiError {
    return new MdCoreApiError(this.scrub(`MD Core ${method} ${path}: unexpected answer: ${what}`), {
      kind: 'protocol',
      method,
      path,
      attempts: 1,
    });
  }

  private async send(call: Call): Promise<Answer> {
    const { method, path } = call;
    const headers: Record<string, string> = { ...call.headers };
    if (call.auth !== 'none') {
      const key = this.credential();
      if (key !== undefined) headers['apikey'] = key;
      else if (call.auth === 'required') {
        throw new MdCoreApiError(
          `MD Core ${method} ${path} needs authentication: give an API key or call login() first`,
          { kind: 'auth', method, path, attempts: 0 },
        );
      }
    }
    const query = call.query ? `?${new URLSearchParams(call.query).toString()}` : '';
    const url = `${this.baseUrl}${path}${query}`;
    const timeoutMs = positive(call.timeoutMs, this.timeoutMs, 'timeoutMs');
    const maxAttempts = call.idempotent ? this.retries + 1 : 1;

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      this.throwIfAborted(method, path, attempt - 1);
      const started = Date.now();
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = this.signal ? AbortSignal.any([timeout, this.signal]) : timeout;
      let failure: { kind: MdCoreErrorKind; text: string; code?: string } | undefined;
      let answer: Answer | undefined;
      try {
        answer = await this.transport(url, {
          method,
          headers,
          ...(call.body !== undefined ? { body: call.body } : {}),
          signal,
        });
      } catch (e) {
        if (this.signal?.aborted) this.throwIfAborted(method, path, attempt);
        if (timeout.aborted) {
          failure = { kind: 'timeout', text: `no complete answer within ${timeoutMs} ms`, code: 'TIMEOUT' };
        } else {
          const code = causeCode(e);
          failure = { kind: 'network', text: `no answer: ${causeText(e)}`, ...(code ? { code } : {}) };
        }
      }
      const elapsed = Date.now() - started;

      if (answer) {
        this.reporter.debug(
          this.scrub(`MD Core ${method} ${path}${query} -> ${answer.status} (${elapsed} ms)`),
        );
        if (call.accept.includes(answer.status)) return answer;
        const { err, err_details, detail } = this.errorBody(answer.body);
        const retryable = call.idempotent && answer.status >= 500 && attempt < maxAttempts;
        if (retryable) {
          const wait = this.backoff(attempt, answer.headers.get('retry-after'));
          this.reporter.info(
            this.scrub(
              `MD Core ${method} ${path}: HTTP ${answer.status}${err ? ` (${err})` : ''}; ` +
                `retry ${attempt} of ${maxAttempts - 1} in ${wait} ms`,
            ),
          );
          await this.sleep(wait, method, path, attempt);
          continue;
        }
        const what = err ?? detail;
        const details = summarizeDetails(err_details);
        const message =
          `MD Core ${method} ${path}: HTTP ${answer.status}${what ? `: ${what}` : ''}` +
          `${details ? ` [${details}]` : ''}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`;
        throw new MdCoreApiError(this.scrub(message), {
          kind: 'http',
          method,
          path,
          attempts: attempt,
          status: answer.status,
          ...(err !== undefined ? { err } : {}),
          ...(err_details !== undefined ? { err_details } : {}),
        });
      }

      const f = failure ?? { kind: 'network' as const, text: 'no answer' };
      this.reporter.debug(this.scrub(`MD Core ${method} ${path}${query}: ${f.text} (${elapsed} ms)`));
      if (call.idempotent && attempt < maxAttempts) {
        const wait = this.backoff(attempt, null);
        this.reporter.info(
          this.scrub(
            `MD Core ${method} ${path}: ${f.text}; retry ${attempt} of ${maxAttempts - 1} in ${wait} ms`,
          ),
        );
        await this.sleep(wait, method, path, attempt);
        continue;
      }
      const unknownOutcome =
        !call.idempotent && f.kind === 'timeout'
          ? '; the server may still have carried out the request: check before sending it again'
          : '';
      throw new MdCoreApiError(
        this.scrub(
          `MD Core ${method} ${path}: ${f.text}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}${unknownOutcome}`,
        ),
        { kind: f.kind, method, path, attempts: attempt, ...(f.code ? { code: f.code } : {}) },
      );
    }
    // The loop always returns or throws on its last attempt.
    throw new MdCoreApiError(`MD Core ${method} ${path}: no attempt made`, {
      kind: 'network',
      method,
      path,
      attempts: 0,
    });
  }

  /** The product's error answer: `{"err": ..., "err_details": ...}`, possibly JSON inside a JSON string. */
  private errorBody(body: Buffer): { err?: string; err_details?: unknown; detail?: string } {
    let parsed = parseJson(body);
    if (typeof parsed === 'string') parsed = parseJson(Buffer.from(parsed)) ?? parsed;
    if (isRecord(parsed)) {
      const out: { err?: string; err_details?: unknown; detail?: string } = {};
      if (typeof parsed['err'] === 'string') out.err = this.scrub(parsed['err']);
      if (parsed['err_details'] !== undefined) out.err_details = this.scrubDeep(parsed['err_details']);
      if (out.err === undefined) out.detail = this.scrub(oneLine(JSON.stringify(parsed)));
      return out;
    }
    const text = oneLine(body.toString('utf8'));
    return text ? { detail: this.scrub(text) } : {};
  }

  private backoff(attempt: number, retryAfter: string | null): number {
    const exponential = Math.min(MAX_RETRY_DELAY_MS, this.retryDelayMs * 2 ** (attempt - 1));
    const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
    if (seconds === undefined) return exponential;
    return Math.min(MAX_RETRY_DELAY_MS, Math.max(exponential, seconds * 1000));
  }

  private throwIfAborted(method: string, path: string, attempts: number): void {
    if (this.signal?.aborted) {
      throw new MdCoreApiError(`MD Core ${method} ${path}: cancelled`, {
        kind: 'aborted',
        method,
        path,
        attempts,
      });
    }
  }

  private async sleep(ms: number, method: string, path: string, attempts: number): Promise<void> {
    if (ms > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.signal?.addEventListener('abort', done, { once: true });
      });
    }
    this.throwIfAborted(method, path, attempts);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`MD Core client: ${name} must be a positive number`);
  return value;
}

function nonNegativeInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`MD Core client: ${name} must be an integer >= 0`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > DETAIL_CHARS ? `${flat.slice(0, DETAIL_CHARS)}...` : flat;
}

/** `key: error` for the first few entries of an import's err_details.errors. */
function summarizeDetails(details: unknown): string {
  if (!isRecord(details)) return '';
  const errors = Array.isArray(details['errors']) ? details['errors'] : [];
  const parts = errors.slice(0, 5).map((e) => {
    if (!isRecord(e)) return oneLine(JSON.stringify(e));
    const key = typeof e['key'] === 'string' ? `${e['key']}: ` : '';
    return `${key}${typeof e['error'] === 'string' ? e['error'] : oneLine(JSON.stringify(e))}`;
  });
  if (errors.length > 5) parts.push(`and ${errors.length - 5} more`);
  const name = typeof details['name'] === 'string' ? `${details['name']}: ` : '';
  return parts.length ? oneLine(`${name}${parts.join('; ')}`) : '';
}

function causeCode(e: unknown): string | undefined {
  const cause = e instanceof Error ? (e.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function causeText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause;
  if (cause instanceof Error && cause.message) return oneLine(cause.message);
  const code = causeCode(e);
  return oneLine(code ? `${e.message} (${code})` : e.message);
}
