// A stand-in for MetaDefender Core's REST API (as the Core 5.6.1 OpenAPI spec describes it) for tests: the real
// image cannot run here. Listens on 127.0.0.1 on a random port; the test that starts it must close() it.
//
// Answers /login, /logout, /readyz, /version, /admin/export/v2, /admin/import/v2, /stat/engines,
// /admin/license, POST /file and GET /file/{data_id} (a scan: the EICAR test file is infected, anything else
// clean, after `scanPolls` answers in progress). Everything it answers is mutable through `state` (the knobs), and every request it receives
// is kept in `requests` with its headers, body bytes and the answer it got, so tests can assert what arrived.
//
// Choices where the spec is silent (kept in one place so they are easy to revisit):
// - Missing or unknown `apikey` on an endpoint where the spec requires it: 403 {"err":"Access denied"} (the
//   spec's Error403; it declares no 401 anywhere). On endpoints where apikey is optional (/version,
//   /stat/engines) the key is not checked, as the spec declares no error answer for them.
// - POST /logout with a valid key that is not a session (the admin API key): 400 {"err":"Logout error"}.
// - GET /readyz answers 503 with no content (the spec declares none); 200 with {} unless ?verbose=true, then
//   with the detailed readyz object.
// - 304 from import carries no content (HTTP forbids it, whatever the spec's schema says).
// - GET /file/{data_id} of an unknown id: 404 {"err":"Not found"} (the spec declares only 200 and 500).
// - POST /file with an apikey header that is not a valid key or session: 403 (the spec's Error403); without one,
//   the scan is accepted (the key is optional there). A `callbackurl` that is not an http(s) URL: 400.
// - Instances (licence model, only when `licence` is given): every route above is also served under
//   `/i/<pod>/...` for the instance named by the pod, and there the stand-in keeps each instance's licence state
//   (see ./standin-licence.ts and docs/hot-backup.md): POST /i/<pod>/admin/license/backup registers a hot backup,
//   DELETE the same path removes it, POST /i/<pod>/admin/license/activation activates (JSON body with
//   `activationKey`; refused on a backup and above the licensed count), GET /i/<pod>/admin/license shows the
//   licence only when the instance holds one, and POST /i/<pod>/file is refused (403) unless it is active. The
//   paths of the backup calls are the project's reading of OPSWAT's docs, not confirmed; so are the answers.
//   The instances' shared knobs (version, readiness, engines, configuration) are the one `state`.
// - The export archive is the stand-in's own format (AES-256-GCM over the configuration JSON, key derived from
//   the export password), so an import with the wrong password or of foreign bytes fails with 400 as Core
//   would; the stand-in can import archives made by another stand-in instance (e.g. before an "upgrade").
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  randomUUID,
  scryptSync,
} from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isEicarTestFile } from '../../src/core-api/smoke-files.ts';
import { StandinLicence, type PodSighting } from './standin-licence.ts';

export {
  StandinLicence,
  type InstanceState,
  type LicenceEvent,
  type PodSighting,
} from './standin-licence.ts';

export interface StandinEngine {
  eng_id: string;
  eng_name: string;
  eng_type?: string;
  eng_ver?: string;
  engine_type?: 'av' | 'archive' | 'filetype';
  state: string;
  active: boolean;
  def_time?: string;
  download_progress?: number;
  download_time?: string;
  [field: string]: unknown;
}

export interface StandinLicense {
  days_left: number;
  deployment?: string;
  expiration?: string;
  licensed_engines?: string[];
  licensed_to?: string;
  max_node_count?: string;
  online_activated?: boolean;
  product_id?: string;
  product_name?: string;
  [field: string]: unknown;
}

/** What POST /admin/import/v2 answers: 'auto' decodes the archive (see the header comment). */
export type StandinImportAnswer =
  | 'auto'
  | { status: 200; result?: string }
  | { status: 304 }
  | { status: 400; err: string; err_details?: unknown };

/**
 * A failure injected into the next `times` matching requests (default 1), checked in order before the normal
 * handling. After `delayMs` (0 by default, at most 60 s; cut short by close()) it resets the connection
 * (`reset`), or answers `status` with {"err": err} (no body without `err`) and `headers`, or, with neither,
 * lets the request be handled normally (pure latency).
 */
export interface StandinFault {
  /** The path without any `/i/<pod>` prefix. */
  path: string;
  /** Only requests to this instance (`/i/<pod>/...`); any request when unset. */
  instance?: string;
  method?: string;
  times?: number;
  delayMs?: number;
  reset?: boolean;
  status?: number;
  err?: string;
  headers?: Record<string, string>;
}

/** One submission to POST /file. */
export interface StandinScan {
  dataId: string;
  filename: string | undefined;
  bytes: Buffer;
  /** GET /file/{data_id} answers so far. */
  polls: number;
}

/** The knobs. Tests may change any of them between (or during) requests. */
export interface StandinState {
  /** The admin API key (Secret mdcore-api-key). */
  apiKey: string;
  /** user name -> password, for POST /login. */
  users: Record<string, string>;
  /** Session ids handed out by /login and not logged out. */
  sessions: Set<string>;
  productId: string;
  version: string;
  /** /readyz: 200 when true, 503 when false. */
  ready: boolean;
  engines: StandinEngine[];
  license: StandinLicense;
  /** The configuration export archives carry and import replaces. */
  config: Record<string, unknown>;
  /** When set, GET /admin/export/v2 answers these bytes instead of an archive of `config`. */
  exportBytes: Buffer | null;
  /** When set, GET /admin/export/v2 fails with this status and {"err": err}. */
  exportFailure: { status: number; err: string } | null;
  importAnswer: StandinImportAnswer;
  faults: StandinFault[];
  /** Number of imports that replaced `config`. */
  importsApplied: number;
  /** Submissions by data_id. */
  scans: Map<string, StandinScan>;
  /** How many GET /file/{data_id} answers say "in progress" before the verdict. */
  scanPolls: number;
  /** When set, every finished scan reports this scan_all_result_i (e.g. 0 to model engines that miss EICAR). */
  scanVerdict: number | null;
  /** POST /file answers 503 (scan queue full). */
  scanQueueFull: boolean;
}

export interface StandinOptions {
  apiKey?: string;
  users?: Record<string, string>;
  productId?: string;
  version?: string;
  ready?: boolean;
  engines?: StandinEngine[];
  /** Shortcut for license.days_left. */
  licenseDaysLeft?: number;
  license?: Partial<StandinLicense>;
  config?: Record<string, unknown>;
  exportBytes?: Buffer | null;
  exportFailure?: { status: number; err: string } | null;
  importAnswer?: StandinImportAnswer;
  faults?: StandinFault[];
  scanPolls?: number;
  scanVerdict?: number | null;
  /** Request bodies above this are refused with 413; default 64 MiB. */
  maxBodyBytes?: number;
  /** Turns the licence model on (routes under `/i/<pod>/`). */
  licence?: StandinLicenceOptions;
}

export interface StandinLicenceOptions {
  /** Licensed activations. */
  activations: number;
  /** The activation key instances accept. */
  key: string;
  /**
   * The pods running now (e.g. read from the cluster); polled every `pollMs` (default 250 ms, at least 50) until
   * close(), so a stopped pod releases its activation without the action saying so.
   */
  pods?: () => Promise<PodSighting[]>;
  pollMs?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query and without any `/i/<pod>` prefix. */
  path: string;
  /** The instance addressed with `/i/<pod>/...`, if any. */
  instance?: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** What the stand-in answered; undefined when the connection was reset or closed first. */
  response?: { status: number; headers: Record<string, string>; body: Buffer };
}

export interface Standin {
  url: string;
  port: number;
  state: StandinState;
  requests: RecordedRequest[];
  /** The licence model, when `licence` was given. */
  licence: StandinLicence | null;
  /** Reads the pods once now (when `licence.pods` was given) and brings the licence model in line. */
  syncPods(): Promise<void>;
  /** Failures of the background pod polling (at most 100 kept). */
  syncErrors: readonly string[];
  close(): Promise<void>;
}

export const DEFAULT_ENGINES: readonly StandinEngine[] = [
  {
    eng_id: 'clamav_1_linux',
    eng_name: 'ClamAV',
    eng_type: 'Bundled engine',
    eng_ver: '1.0.0-10',
    engine_type: 'av',
    state: 'production',
    active: true,
    def_time: '2026-07-01T02:37:05.000Z',
    download_progress: 100,
    download_time: '2026-07-01T08:17:22.810Z',
  },
  {
    eng_id: 'filetype_1_linux',
    eng_name: 'File type analysis',
    eng_type: 'Bundled engine',
    eng_ver: '7.4.0-1',
    engine_type: 'filetype',
    state: 'production',
    active: true,
    def_time: '2026-07-01T02:37:05.000Z',
    download_progress: 100,
    download_time: '2026-07-01T08:17:22.810Z',
  },
];

const KNOWN_PATHS = new Set([
  '/login',
  '/logout',
  '/readyz',
  '/version',
  '/admin/export/v2',
  '/admin/import/v2',
  '/stat/engines',
  '/admin/license',
  '/file',
  '/admin/license/backup',
  '/admin/license/activation',
]);
const INSTANCE_PATH = /^\/i\/([^/]+)(\/.*)$/;
/** scan_all_result_i -> scan_all_result_a for the verdicts the stand-in gives. */
const VERDICT_TEXT: Record<number, string> = {
  0: 'No Threat Detected',
  1: 'Infected',
  2: 'Suspicious',
  3: 'Failed',
  10: 'Not Scanned',
  255: 'In Progress',
};
const MAX_FAULT_DELAY_MS = 60_000;
const ARCHIVE_MAGIC = Buffer.from('MDCORE-STANDIN-ARCHIVE-1\n', 'utf8');

export async function startStandin(options: StandinOptions = {}): Promise<Standin> {
  const state: StandinState = {
    apiKey: options.apiKey ?? `standin-key-${randomUUID()}`,
    users: { ...(options.users ?? { admin: 'admin-password-standin' }) },
    sessions: new Set(),
    productId: options.productId ?? 'MSCL',
    version: options.version ?? '5.19.0',
    ready: options.ready ?? true,
    engines: structuredClone([...(options.engines ?? DEFAULT_ENGINES)]),
    license: {
      days_left: 365,
      deployment: 'MSCL00000000000000000000000000000000',
      expiration: '07/01/2027',
      licensed_engines: ['*'],
      licensed_to: 'Stand-in, Inc.',
      max_node_count: '10',
      online_activated: true,
      product_id: 'MSCL-4-unlimited',
      product_name: 'Metadefender Core 5 Linux',
      ...options.license,
      ...(options.licenseDaysLeft !== undefined ? { days_left: options.licenseDaysLeft } : {}),
    },
    config: structuredClone(
      options.config ?? { workflows: ['File process'], users: ['admin'], settings: {} },
    ),
    exportBytes: options.exportBytes ?? null,
    exportFailure: options.exportFailure ?? null,
    importAnswer: options.importAnswer ?? 'auto',
    faults: [...(options.faults ?? [])],
    importsApplied: 0,
    scans: new Map(),
    scanPolls: options.scanPolls ?? 1,
    scanVerdict: options.scanVerdict ?? null,
    scanQueueFull: false,
  };
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const licence = options.licence
    ? new StandinLicence(options.licence.activations, options.licence.key)
    : null;
  const requests: RecordedRequest[] = [];
  /** Pending fault delays: close() ends them all at once. */
  const waits = new Set<() => void>();
  const sockets = new Set<Socket>();
  let closing = false;

  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (closing) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        waits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(ms, MAX_FAULT_DELAY_MS));
      waits.add(done);
    });

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return void res.destroy();
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ err: `stand-in failure: ${e instanceof Error ? e.message : String(e)}` }));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function record(
    rec: RecordedRequest,
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: Buffer,
  ) {
    rec.response = { status, headers, body };
    res.writeHead(status, headers);
    res.end(body.length > 0 ? body : undefined);
  }

  function json(res: ServerResponse, status: number, value: unknown, rec: RecordedRequest): void {
    record(
      rec,
      res,
      status,
      { 'content-type': 'application/json' },
      Buffer.from(JSON.stringify(value), 'utf8'),
    );
  }

  async function readBody(req: IncomingMessage): Promise<Buffer | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes) return null;
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const body = await readBody(req);
    const inst = licence ? INSTANCE_PATH.exec(url.pathname) : null;
    const rec: RecordedRequest = {
      method,
      path: inst ? (inst[2] ?? '/') : url.pathname,
      ...(inst ? { instance: decodeURIComponent(inst[1] ?? '') } : {}),
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body: body ?? Buffer.alloc(0),
    };
    requests.push(rec);
    if (body === null) return json(res, 413, { err: 'Request body too large' }, rec);

    const fault = state.faults.find(
      (f) =>
        f.path === rec.path &&
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.instance === undefined || f.instance === rec.instance),
    );
    if (fault) {
      const left = (fault.times ?? 1) - 1;
      if (left <= 0) state.faults.splice(state.faults.indexOf(fault), 1);
      else fault.times = left;
      if (fault.delayMs) await wait(fault.delayMs);
      if (closing || res.destroyed) return;
      if (fault.reset) {
        req.socket.destroy();
        return;
      }
      if (fault.status !== undefined) {
        const headers: Record<string, string> = { ...fault.headers };
        if (fault.err === undefined) return record(rec, res, fault.status, headers, Buffer.alloc(0));
        headers['content-type'] = 'application/json';
        return record(rec, res, fault.status, headers, Buffer.from(JSON.stringify({ err: fault.err })));
      }
    }

    const route = `${method} ${rec.path}`;
    if (licence && rec.instance !== undefined) {
      const answered = instanceRoute(licence, rec.instance, route, rec, res);
      if (answered) return;
    }
    switch (route) {
      case 'POST /login':
        return login(rec, res);
      case 'POST /logout':
        return logout(rec, res);
      case 'GET /readyz':
        return readyz(rec, res);
      case 'GET /version':
        return json(res, 200, { product_id: state.productId, version: state.version }, rec);
      case 'GET /admin/export/v2':
        return exportV2(rec, res);
      case 'POST /admin/import/v2':
        return importV2(rec, res);
      case 'GET /stat/engines':
        return json(res, 200, state.engines, rec);
      case 'GET /admin/license':
        if (!authorizedHeaders(rec.headers)) return json(res, 403, { err: 'Access denied' }, rec);
        return json(res, 200, state.license, rec);
      case 'POST /file':
        return submitFile(rec, res);
      default:
        if (method === 'GET' && /^\/file\/[^/]+$/.test(rec.path)) return fileResult(rec, res);
        if (KNOWN_PATHS.has(rec.path)) return json(res, 405, { err: 'Method not allowed' }, rec);
        return json(res, 404, { err: 'Not found' }, rec);
    }
  }

  /** The licence-aware routes of one instance; false hands the request to the shared routes. */
  function instanceRoute(
    model: StandinLicence,
    instance: string,
    route: string,
    rec: RecordedRequest,
    res: ServerResponse,
  ): boolean {
    const refuse = (r: { status: number; err: string }): void => json(res, r.status, { err: r.err }, rec);
    const answer = (r: { status: number; err: string } | undefined): true => {
      if (r) refuse(r);
      else json(res, 200, { success: true }, rec);
      return true;
    };
    const needsAuth = route !== 'POST /file' && rec.path.startsWith('/admin/license');
    if (needsAuth && !authorizedHeaders(rec.headers)) {
      json(res, 403, { err: 'Access denied' }, rec);
      return true;
    }
    switch (route) {
      case 'GET /admin/license':
        if (model.showsLicence(instance)) json(res, 200, state.license, rec);
        else json(res, 200, { deployment_id: deploymentId(instance) }, rec);
        return true;
      case 'POST /admin/license/backup':
        return answer(model.registerBackup(instance, activationKeyOf(rec.body)));
      case 'DELETE /admin/license/backup':
        return answer(model.removeBackup(instance));
      case 'POST /admin/license/activation':
        return answer(model.activate(instance, activationKeyOf(rec.body)));
      case 'POST /file': {
        const r = model.scanRefusal(instance);
        if (r) refuse(r);
        return r !== undefined;
      }
      default:
        return false;
    }
  }

  function login(rec: RecordedRequest, res: ServerResponse): void {
    let user: unknown;
    let password: unknown;
    try {
      ({ user, password } = JSON.parse(rec.body.toString('utf8')) as { user?: unknown; password?: unknown });
    } catch {
      return json(res, 403, { err: 'Failed to login' }, rec);
    }
    if (typeof user !== 'string' || typeof password !== 'string' || state.users[user] !== password) {
      return json(res, 403, { err: 'Failed to login' }, rec);
    }
    const sessionId = randomBytes(16).toString('hex');
    state.sessions.add(sessionId);
    json(res, 200, { session_id: sessionId, 'oms-csrf-token': randomBytes(32).toString('base64') }, rec);
  }

  function logout(rec: RecordedRequest, res: ServerResponse): void {
    const key = rec.headers['apikey'];
    if (typeof key === 'string' && state.sessions.delete(key)) {
      return json(res, 200, { response: 'Logout success' }, rec);
    }
    if (key === state.apiKey) return json(res, 400, { err: 'Logout error' }, rec);
    json(res, 403, { err: 'Access denied' }, rec);
  }

  function readyz(rec: RecordedRequest, res: ServerResponse): void {
    if (!state.ready) return record(rec, res, 503, {}, Buffer.alloc(0));
    if (rec.query['verbose'] !== 'true') return json(res, 200, {}, rec);
    const av = state.engines.filter((e) => e.engine_type === 'av');
    json(
      res,
      200,
      {
        database: { status: true },
        license: { status: state.license.days_left > 0 ? 'ok' : 'expired' },
        scan_queue: { max_number_in_queue: 1500, number_in_queue: 0, threshold: 80, status: true },
        number_active_av_engines: {
          threshold: 1,
          status: av.some((e) => e.active && e.state === 'production'),
        },
        engines: state.engines.map((e) => ({
          engine_id: e.eng_id,
          required: false,
          status: e.active && e.state === 'production',
        })),
      },
      rec,
    );
  }

  function exportV2(rec: RecordedRequest, res: ServerResponse): void {
    const reqHeaders = rec.headers;
    if (!authorizedHeaders(reqHeaders)) return json(res, 403, { err: 'Access denied' }, rec);
    const password = reqHeaders['password'];
    if (typeof password !== 'string' || password === '') {
      return json(res, 400, { err: 'Unable to export new configuration' }, rec);
    }
    if (state.exportFailure)
      return json(res, state.exportFailure.status, { err: state.exportFailure.err }, rec);
    const bytes = state.exportBytes ?? encodeStandinArchive(state.config, password);
    record(rec, res, 200, { 'content-type': 'application/octet-stream' }, bytes);
  }

  function importV2(rec: RecordedRequest, res: ServerResponse): void {
    if (!authorizedHeaders(rec.headers)) return json(res, 403, { err: 'Access denied' }, rec);
    const answer = state.importAnswer;
    if (answer !== 'auto') {
      if (answer.status === 304) return record(rec, res, 304, {}, Buffer.alloc(0));
      if (answer.status === 200)
        return json(res, 200, { result: answer.result ?? 'Successfully imported' }, rec);
      return json(
        res,
        400,
        { err: answer.err, ...(answer.err_details !== undefined ? { err_details: answer.err_details } : {}) },
        rec,
      );
    }
    const password = rec.headers['password'];
    const decoded = decodeStandinArchive(rec.body, typeof password === 'string' ? password : '');
    if (!decoded.ok) return json(res, 400, { err: decoded.err }, rec);
    if (canonicalJson(decoded.config) === canonicalJson(state.config)) {
      return record(rec, res, 304, {}, Buffer.alloc(0));
    }
    state.config = decoded.config;
    state.importsApplied++;
    json(res, 200, { result: 'Successfully imported' }, rec);
  }

  function submitFile(rec: RecordedRequest, res: ServerResponse): void {
    if (rec.headers['apikey'] !== undefined && !authorizedHeaders(rec.headers)) {
      return json(res, 403, { err: 'Access denied' }, rec);
    }
    const callback = rec.headers['callbackurl'];
    if (typeof callback === 'string' && !/^https?:\/\/[^\s/]+/.test(callback)) {
      return json(res, 400, { err: 'The callback URL is not valid' }, rec);
    }
    if (rec.headers['content-length'] === undefined) {
      return json(res, 411, { err: 'The Content-Length header is missing' }, rec);
    }
    if (rec.body.length === 0) return json(res, 422, { err: 'The file is empty' }, rec);
    if (state.scanQueueFull) return json(res, 503, { err: 'The scan queue is full' }, rec);
    const dataId = randomBytes(16).toString('hex');
    const filename = rec.headers['filename'];
    state.scans.set(dataId, {
      dataId,
      filename: typeof filename === 'string' ? filename : undefined,
      bytes: rec.body,
      polls: 0,
    });
    json(res, 200, { data_id: dataId }, rec);
  }

  function fileResult(rec: RecordedRequest, res: ServerResponse): void {
    const dataId = decodeURIComponent(rec.path.slice('/file/'.length));
    const scan = state.scans.get(dataId);
    if (!scan) return json(res, 404, { err: 'Not found' }, rec);
    scan.polls++;
    const done = scan.polls > state.scanPolls;
    const verdict = !done ? 255 : (state.scanVerdict ?? (isEicarTestFile(scan.bytes) ? 1 : 0));
    const progress = done ? 100 : Math.min(99, Math.round((scan.polls / (state.scanPolls + 1)) * 100));
    const infected = verdict === 1;
    json(
      res,
      200,
      {
        data_id: dataId,
        file_info: {
          display_name: scan.filename ?? dataId,
          file_size: scan.bytes.length,
          sha256: createHash('sha256').update(scan.bytes).digest('hex'),
        },
        process_info: {
          progress_percentage: progress,
          result: !done ? 'Processing' : infected ? 'Blocked' : 'Allowed',
          ...(done && infected ? { blocked_reason: 'Infected' } : {}),
          profile: 'File process',
        },
        scan_results: {
          data_id: dataId,
          progress_percentage: progress,
          scan_all_result_i: verdict,
          scan_all_result_a: VERDICT_TEXT[verdict] ?? 'Failed',
          total_avs: 1,
          ...(done
            ? {
                scan_details: {
                  ClamAV: {
                    eng_id: 'clamav_1_linux',
                    scan_result_i: verdict,
                    threat_found: infected ? 'Eicar-Signature' : '',
                    scan_time: 3,
                  },
                },
              }
            : {}),
        },
      },
      rec,
    );
  }

  function authorizedHeaders(headers: IncomingHttpHeaders): boolean {
    const key = headers['apikey'];
    return typeof key === 'string' && key !== '' && (key === state.apiKey || state.sessions.has(key));
  }

  const lister = options.licence?.pods;
  const pollMs = Math.max(50, options.licence?.pollMs ?? 250);
  let pollTimer: NodeJS.Timeout | undefined;
  /** Pod-list failures while polling (the cluster may be slow); kept for tests to look at. */
  const syncErrors: string[] = [];
  const syncPods = async (): Promise<void> => {
    if (!licence || !lister) return;
    licence.sync(await lister());
  };
  const poll = (): void => {
    if (closing) return;
    syncPods()
      .catch((e: unknown) => {
        if (syncErrors.length < 100) syncErrors.push(e instanceof Error ? e.message : String(e));
      })
      .finally(() => {
        if (!closing) pollTimer = setTimeout(poll, pollMs);
      });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  if (lister) poll();

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    state,
    requests,
    licence,
    syncPods,
    syncErrors,
    close: async () => {
      if (closing) return;
      closing = true;
      clearTimeout(pollTimer);
      for (const done of [...waits]) done();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** JSON with object keys sorted, to compare configurations. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function archiveKey(password: string, salt: Buffer): Buffer {
  return scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 });
}

/** The stand-in's export archive: magic, salt, iv, GCM tag, then the encrypted configuration JSON. */
export function encodeStandinArchive(config: Record<string, unknown>, password: string): Buffer {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', archiveKey(password, salt), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(config), 'utf8'), cipher.final()]);
  return Buffer.concat([ARCHIVE_MAGIC, salt, iv, cipher.getAuthTag(), data]);
}

export function decodeStandinArchive(
  bytes: Buffer,
  password: string,
): { ok: true; config: Record<string, unknown> } | { ok: false; err: string } {
  const head = ARCHIVE_MAGIC.length;
  if (bytes.length < head + 44 || !bytes.subarray(0, head).equals(ARCHIVE_MAGIC)) {
    return { ok: false, err: 'Invalid configuration file' };
  }
  const salt = bytes.subarray(head, head + 16);
  const iv = bytes.subarray(head + 16, head + 28);
  const tag = bytes.subarray(head + 28, head + 44);
  try {
    const decipher = createDecipheriv('aes-256-gcm', archiveKey(password, salt), iv);
    decipher.setAuthTag(tag);
    const text = Buffer.concat([decipher.update(bytes.subarray(head + 44)), decipher.final()]).toString(
      'utf8',
    );
    const config = JSON.parse(text) as unknown;
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      return { ok: false, err: 'Invalid configuration file' };
    }
    return { ok: true, config: config as Record<string, unknown> };
  } catch {
    return { ok: false, err: 'Failed to decrypt the configuration: wrong password' };
  }
}

/** The `activationKey` of a JSON request body, or undefined. */
function activationKeyOf(body: Buffer): unknown {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return parsed !== null && typeof parsed === 'object'
      ? (parsed as Record<string, unknown>)['activationKey']
      : undefined;
  } catch {
    return undefined;
  }
}

/** A stable deployment id per instance (Core shows one even without a licence). */
function deploymentId(instance: string): string {
  return `MSCL${createHash('sha256').update(instance).digest('hex').slice(0, 32).toUpperCase()}`;
}
