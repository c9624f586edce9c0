// Contract tests against the project's own MD Core API contract (test/support/core-api-contract.ts, facts from
// OPSWAT's Core 5.6.1 API description):
// (a) every answer of the stand-in, for each implemented path, method and status, keeps to the contract's
//     content type and schema;
// (b) every request the client sends uses an endpoint of the contract, only the headers it defines, and a body
//     matching its schema.
import { afterEach, describe, expect, it } from 'vitest';
import { MdCoreClient } from '../../src/core-api/client.ts';
import { cleanTestFile, eicarTestFile } from '../../src/core-api/smoke-files.ts';
import { ENGINE_STATES } from '../../src/core-api/types.ts';
import { CoreApiContract } from '../support/contract-check.ts';
import { ENGINE_STATE_VALUES } from '../support/core-api-contract.ts';
import { startStandin, type Standin, type StandinState } from '../support/mdcore-standin.ts';
import { RecordingReporter } from '../support/recording-reporter.ts';

const IMPLEMENTED: readonly [string, string][] = [
  ['POST', '/login'],
  ['POST', '/logout'],
  ['GET', '/readyz'],
  ['GET', '/version'],
  ['GET', '/admin/export/v2'],
  ['POST', '/admin/import/v2'],
  ['GET', '/stat/engines'],
  ['GET', '/admin/license'],
  ['POST', '/file'],
  ['GET', '/file/{data_id}'],
];

const USER = 'admin';
const PASSWORD = 'contract-user-password';
const EXPORT_PASSWORD = 'contract-export-password';

const contract = new CoreApiContract();
let standin: Standin | undefined;

afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

async function start(): Promise<Standin> {
  standin = await startStandin({ users: { [USER]: PASSWORD } });
  return standin;
}

interface Send {
  method: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body as a stream: chunked, without Content-Length. */
  chunked?: boolean;
}

function bodyOf(req: Send): RequestInit {
  if (req.body === undefined) return {};
  const bytes = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  if (!req.chunked) return { body: new Uint8Array(bytes) };
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(bytes));
      c.close();
    },
  });
  return { body: stream, duplex: 'half' } as RequestInit;
}

async function send(s: Standin, req: Send): Promise<number> {
  const res = await fetch(`${s.url}${req.path}${req.query ?? ''}`, {
    method: req.method,
    ...(req.headers ? { headers: req.headers } : {}),
    ...bodyOf(req),
    signal: AbortSignal.timeout(5_000),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Submits bytes and returns the data_id (requests cleared afterwards). */
async function submitted(s: Standin, bytes: Buffer): Promise<string> {
  const res = await fetch(`${s.url}/file`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', filename: 'sample.bin' },
    body: new Uint8Array(bytes),
    signal: AbortSignal.timeout(5_000),
  });
  const { data_id } = (await res.json()) as { data_id: string };
  s.requests.length = 0;
  return data_id;
}

const octet = { 'content-type': 'application/octet-stream' };

async function session(s: Standin): Promise<string> {
  const res = await fetch(`${s.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: USER, password: PASSWORD }),
    signal: AbortSignal.timeout(5_000),
  });
  return ((await res.json()) as { session_id: string }).session_id;
}

async function archive(s: Standin): Promise<Buffer> {
  const res = await fetch(`${s.url}/admin/export/v2`, {
    headers: { apikey: s.state.apiKey, password: EXPORT_PASSWORD },
    signal: AbortSignal.timeout(5_000),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  s.requests.length = 0;
  return bytes;
}

interface Case {
  name: string;
  status: number;
  /** Prepares the state and returns the request to send. */
  make: (s: Standin, state: StandinState) => Promise<Send> | Send;
}

const key = (s: Standin): Record<string, string> => ({ apikey: s.state.apiKey });

const CASES: Case[] = [
  {
    name: 'login ok',
    status: 200,
    make: () => ({
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: USER, password: PASSWORD }),
    }),
  },
  {
    name: 'login with a wrong password',
    status: 403,
    make: () => ({
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: USER, password: 'wrong' }),
    }),
  },
  {
    name: 'logout of a session',
    status: 200,
    make: async (s) => ({ method: 'POST', path: '/logout', headers: { apikey: await session(s) } }),
  },
  {
    name: 'logout with the admin API key',
    status: 400,
    make: (s) => ({ method: 'POST', path: '/logout', headers: key(s) }),
  },
  {
    name: 'logout of an unknown session',
    status: 403,
    make: () => ({ method: 'POST', path: '/logout', headers: { apikey: 'no-such-session' } }),
  },
  { name: 'readyz healthy', status: 200, make: () => ({ method: 'GET', path: '/readyz' }) },
  {
    name: 'readyz healthy, verbose',
    status: 200,
    make: () => ({ method: 'GET', path: '/readyz', query: '?verbose=true' }),
  },
  {
    name: 'readyz unhealthy',
    status: 503,
    make: (_s, state) => {
      state.ready = false;
      return { method: 'GET', path: '/readyz', query: '?verbose=true' };
    },
  },
  { name: 'version without a key', status: 200, make: () => ({ method: 'GET', path: '/version' }) },
  {
    name: 'version with a session',
    status: 200,
    make: async (s) => ({ method: 'GET', path: '/version', headers: { apikey: await session(s) } }),
  },
  {
    name: 'export',
    status: 200,
    make: (s) => ({
      method: 'GET',
      path: '/admin/export/v2',
      headers: { ...key(s), password: EXPORT_PASSWORD },
    }),
  },
  {
    name: 'export of given bytes',
    status: 200,
    make: (s, state) => {
      state.exportBytes = Buffer.from([0x50, 0x4b, 3, 4, 0, 0xff]);
      return { method: 'GET', path: '/admin/export/v2', headers: { ...key(s), password: EXPORT_PASSWORD } };
    },
  },
  {
    name: 'export without the password header',
    status: 400,
    make: (s) => ({ method: 'GET', path: '/admin/export/v2', headers: key(s) }),
  },
  {
    name: 'export without a key',
    status: 403,
    make: () => ({ method: 'GET', path: '/admin/export/v2', headers: { password: EXPORT_PASSWORD } }),
  },
  {
    name: 'export refused (no rights)',
    status: 405,
    make: (s, state) => {
      state.exportFailure = { status: 405, err: 'Access denied' };
      return { method: 'GET', path: '/admin/export/v2', headers: { ...key(s), password: EXPORT_PASSWORD } };
    },
  },
  {
    name: 'import of a changed configuration',
    status: 200,
    make: async (s, state) => {
      const body = await archive(s);
      state.config = { workflows: [] };
      return {
        method: 'POST',
        path: '/admin/import/v2',
        headers: { ...key(s), password: EXPORT_PASSWORD, 'content-type': 'application/octet-stream' },
        body,
      };
    },
  },
  {
    name: 'import of the same configuration',
    status: 304,
    make: async (s) => ({
      method: 'POST',
      path: '/admin/import/v2',
      headers: { ...key(s), password: EXPORT_PASSWORD, 'content-type': 'application/octet-stream' },
      body: await archive(s),
    }),
  },
  {
    name: 'import with a wrong password',
    status: 400,
    make: async (s) => ({
      method: 'POST',
      path: '/admin/import/v2',
      headers: { ...key(s), password: 'wrong-password', 'content-type': 'application/octet-stream' },
      body: await archive(s),
    }),
  },
  {
    name: 'import rejected with err_details',
    status: 400,
    make: (s, state) => {
      state.importAnswer = {
        status: 400,
        err: 'Invalid item for type: rule',
        err_details: {
          errors: [
            {
              error: 'The value out of range. Accepted values: min = 1, max = 50',
              key: 'scan.filescan.check_av_engine.av_engine_number',
              value: -1,
            },
          ],
          name: 'MetaDefender Vault',
        },
      };
      return {
        method: 'POST',
        path: '/admin/import/v2',
        headers: { ...key(s), password: EXPORT_PASSWORD, 'content-type': 'application/octet-stream' },
        body: Buffer.from('PK\u0003\u0004 not really'),
      };
    },
  },
  {
    name: 'import without a key',
    status: 403,
    make: () => ({
      method: 'POST',
      path: '/admin/import/v2',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from('x'),
    }),
  },
  {
    name: 'import refused (no rights)',
    status: 405,
    make: (s, state) => {
      state.faults.push({ path: '/admin/import/v2', status: 405, err: 'Access denied' });
      return {
        method: 'POST',
        path: '/admin/import/v2',
        headers: { ...key(s), 'content-type': 'application/octet-stream' },
        body: Buffer.from('x'),
      };
    },
  },
  {
    name: 'engines in every state the spec lists',
    status: 200,
    make: (_s, state) => {
      state.engines = ENGINE_STATES.map((st, i) => ({
        eng_id: `engine_${i}`,
        eng_name: `Engine ${i}`,
        engine_type: 'av',
        state: st,
        active: st === 'production',
        download_progress: 100,
      }));
      return { method: 'GET', path: '/stat/engines' };
    },
  },
  { name: 'license', status: 200, make: (s) => ({ method: 'GET', path: '/admin/license', headers: key(s) }) },
  {
    name: 'license expired',
    status: 200,
    make: (s, state) => {
      state.license.days_left = 0;
      return { method: 'GET', path: '/admin/license', headers: key(s) };
    },
  },
  {
    name: 'license with a wrong key',
    status: 403,
    make: () => ({ method: 'GET', path: '/admin/license', headers: { apikey: 'wrong-key' } }),
  },
  {
    name: 'scan submission',
    status: 200,
    make: () => ({
      method: 'POST',
      path: '/file',
      headers: { ...octet, filename: 'clean.txt' },
      body: cleanTestFile('contract'),
    }),
  },
  {
    name: 'scan submission with a valid key and a callback URL',
    status: 200,
    make: (s) => ({
      method: 'POST',
      path: '/file',
      headers: { ...octet, ...key(s), callbackurl: 'http://127.0.0.1:9/done' },
      body: eicarTestFile(),
    }),
  },
  {
    name: 'scan submission with an invalid callback URL',
    status: 400,
    make: () => ({
      method: 'POST',
      path: '/file',
      headers: { ...octet, callbackurl: 'not a url' },
      body: cleanTestFile('contract'),
    }),
  },
  {
    name: 'scan submission with a wrong key',
    status: 403,
    make: () => ({
      method: 'POST',
      path: '/file',
      headers: { ...octet, apikey: 'wrong-key' },
      body: cleanTestFile('contract'),
    }),
  },
  {
    name: 'scan submission without Content-Length (chunked)',
    status: 411,
    make: () => ({
      method: 'POST',
      path: '/file',
      headers: octet,
      body: cleanTestFile('contract'),
      chunked: true,
    }),
  },
  {
    name: 'scan submission of an empty file',
    status: 422,
    make: () => ({ method: 'POST', path: '/file', headers: octet, body: '' }),
  },
  {
    name: 'scan submission with a full queue',
    status: 503,
    make: (_s, state) => {
      state.scanQueueFull = true;
      return { method: 'POST', path: '/file', headers: octet, body: cleanTestFile('contract') };
    },
  },
  {
    name: 'scan report in progress',
    status: 200,
    make: async (s, state) => {
      state.scanPolls = 3;
      return { method: 'GET', path: `/file/${await submitted(s, eicarTestFile())}` };
    },
  },
  {
    name: 'scan report: EICAR infected',
    status: 200,
    make: async (s, state) => {
      state.scanPolls = 0;
      return { method: 'GET', path: `/file/${await submitted(s, eicarTestFile())}`, headers: key(s) };
    },
  },
  {
    name: 'scan report: clean file, paged',
    status: 200,
    make: async (s, state) => {
      state.scanPolls = 0;
      return {
        method: 'GET',
        path: `/file/${await submitted(s, cleanTestFile('contract'))}`,
        query: '?first=0&size=50',
      };
    },
  },
  // Internal errors (injected) for every operation that declares a 500.
  ...IMPLEMENTED.filter(([method, path]) => contract.statuses(method, path).includes('500')).map(
    ([method, template]): Case => ({
      name: `${method} ${template} internal error`,
      status: 500,
      make: (s, state) => {
        const path = template.replace('{data_id}', 'a1b2c3');
        state.faults.push({ path, method, status: 500, err: 'Unexpected event on server' });
        return { method, path, headers: key(s) };
      },
    }),
  ),
];

/** `METHOD /template STATUS` of a recorded request, as the contract names it. */
function seenKey(r: { method: string; path: string; response?: { status: number } }): string {
  const template = contract.endpoint(r.method, r.path)?.path ?? r.path;
  return `${r.method} ${template} ${r.response?.status}`;
}

describe('stand-in answers as the spec says', () => {
  it.each(CASES)('$name -> $status', async (c) => {
    const s = await start();
    const req = await c.make(s, s.state);
    s.requests.length = 0;
    expect(await send(s, req)).toBe(c.status);
    expect(s.requests).toHaveLength(1);
    const [rec] = s.requests;
    expect(rec?.response?.status).toBe(c.status);
    const res = rec!.response!;
    expect(contract.checkResponse(req.method, req.path, res)).toEqual([]);
    if (res.status === 400 && req.path === '/admin/import/v2') {
      // The spec types this body as a JSON text; its example is {"err", "err_details"}: check that shape too.
      const parsed = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
      expect(typeof parsed['err']).toBe('string');
    }
  });

  it('the cases cover every status the spec declares for the implemented operations', async () => {
    // Coverage is taken from what the stand-in really answered, not from the cases' names.
    const seen = new Set<string>();
    for (const c of CASES) {
      const s = await start();
      const req = await c.make(s, s.state);
      s.requests.length = 0;
      await send(s, req);
      for (const r of s.requests) seen.add(seenKey(r));
      await s.close();
      standin = undefined;
    }
    const declared = IMPLEMENTED.flatMap(([m, p]) => contract.statuses(m, p).map((st) => `${m} ${p} ${st}`));
    expect(declared.length).toBeGreaterThan(30);
    expect(declared.filter((d) => !seen.has(d))).toEqual([]);
    expect([...seen].filter((d) => !declared.includes(d))).toEqual([]);
  }, 60_000);

  it('the response check rejects answers that break the spec', () => {
    const j = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
    const ct = { 'content-type': 'application/json' };
    // login without session_id (required), wrong types, undeclared statuses, wrong content types, bodies where
    // none is allowed.
    expect(
      contract.checkResponse('POST', '/login', { status: 200, headers: ct, body: j({ x: 1 }) }),
    ).not.toEqual([]);
    expect(
      contract.checkResponse('GET', '/version', { status: 200, headers: ct, body: j({ version: 5 }) }),
    ).not.toEqual([]);
    expect(
      contract.checkResponse('GET', '/stat/engines', {
        status: 200,
        headers: ct,
        body: j([{ state: 'sleepy' }]),
      }),
    ).not.toEqual([]);
    expect(
      contract.checkResponse('GET', '/admin/license', {
        status: 200,
        headers: ct,
        body: j({ days_left: 'many' }),
      }),
    ).not.toEqual([]);
    expect(
      contract.checkResponse('GET', '/admin/license', { status: 401, headers: ct, body: j({}) }),
    ).not.toEqual([]);
    expect(
      contract.checkResponse('GET', '/admin/export/v2', {
        status: 200,
        headers: ct,
        body: Buffer.from('PK'),
      }),
    ).not.toEqual([]);
    expect(contract.checkResponse('GET', '/readyz', { status: 503, headers: ct, body: j({}) })).not.toEqual(
      [],
    );
    expect(
      contract.checkResponse('POST', '/admin/import/v2', {
        status: 400,
        headers: ct,
        body: Buffer.from('{oops'),
      }),
    ).not.toEqual([]);
    expect(contract.checkResponse('GET', '/nowhere', { status: 200, headers: ct, body: j({}) })).not.toEqual(
      [],
    );
    // Scans: a submission answer without data_id, an unknown verdict code, a verdict text of the wrong type.
    expect(
      contract.checkResponse('POST', '/file', { status: 200, headers: ct, body: j({ id: 'x' }) }),
    ).not.toEqual([]);
    expect(
      contract.checkResponse('GET', '/file/abc', {
        status: 200,
        headers: ct,
        body: j({ scan_results: { scan_all_result_i: 42, progress_percentage: 100 } }),
      }),
    ).not.toEqual([]);
    expect(
      contract.checkResponse('GET', '/file/abc', {
        status: 200,
        headers: ct,
        body: j({ scan_results: { scan_all_result_a: 1 } }),
      }),
    ).not.toEqual([]);
    expect(contract.checkResponse('GET', '/file/abc', { status: 404, headers: ct, body: j({}) })).not.toEqual(
      [],
    );
    expect(contract.checkResponse('GET', '/file/', { status: 200, headers: ct, body: j({}) })).not.toEqual(
      [],
    );
    // ...and accepts unknown extra fields, as newer Core versions add some.
    expect(
      contract.checkResponse('GET', '/version', {
        status: 200,
        headers: ct,
        body: j({ product_id: 'MSCL', version: '5.20.0', build: 'x' }),
      }),
    ).toEqual([]);
  });
});

describe('client requests follow the spec', () => {
  it('every request of a full session (login, checks, export, import, logout) is declared by the spec', async () => {
    const s = await start();
    const reporter = new RecordingReporter();
    const client = new MdCoreClient({ baseUrl: s.url, reporter, retries: 0, timeoutMs: 5_000 });
    await client.login(USER, PASSWORD);
    expect((await client.readyz()).ok).toBe(true);
    expect((await client.readyz(true)).ok).toBe(true);
    expect((await client.version()).version).toBe(s.state.version);
    expect(await client.engines()).toHaveLength(2);
    expect((await client.license()).days_left).toBe(365);
    const zip = await client.exportConfig(EXPORT_PASSWORD);
    s.state.config = { workflows: ['changed'] };
    expect(await client.importConfig(zip, EXPORT_PASSWORD)).toEqual({
      status: 200,
      result: 'Successfully imported',
    });
    expect((await client.importConfig(zip, EXPORT_PASSWORD)).status).toBe(304);
    await client.logout();

    // An API-key client as well (no login).
    const keyed = new MdCoreClient({ baseUrl: s.url, apiKey: s.state.apiKey, reporter, retries: 0 });
    await keyed.version();
    await keyed.exportConfig(EXPORT_PASSWORD);
    await keyed.license();
    s.state.scanPolls = 1;
    const infected = await keyed.submitFile(eicarTestFile(), 'eicar.com');
    expect((await keyed.scanReport(infected)).scan_results?.scan_all_result_i).toBe(255);
    expect((await keyed.scanReport(infected)).scan_results).toMatchObject({
      progress_percentage: 100,
      scan_all_result_i: 1,
      scan_all_result_a: 'Infected',
    });
    const clean = await client.submitFile(cleanTestFile('contract'), 'clean.txt');
    await client.scanReport(clean);
    expect((await client.scanReport(clean)).scan_results?.scan_all_result_i).toBe(0);

    const sent = s.requests.map((r) => `${r.method} ${contract.endpoint(r.method, r.path)?.path ?? r.path}`);
    expect(new Set(sent)).toEqual(new Set(IMPLEMENTED.map(([m, p]) => `${m} ${p}`)));
    for (const r of s.requests) {
      expect(contract.checkRequest(r), `${r.method} ${r.path}`).toEqual([]);
      // Whatever the stand-in answered was also within the spec.
      expect(contract.checkResponse(r.method, r.path, r.response!), `${r.method} ${r.path}`).toEqual([]);
    }
    // The headers the spec declares, with the values they must carry.
    const byPath = (m: string, p: string) => s.requests.filter((r) => r.method === m && r.path === p);
    for (const r of byPath('GET', '/admin/export/v2')) {
      expect(r.headers['password']).toBe(EXPORT_PASSWORD);
      expect(typeof r.headers['apikey']).toBe('string');
    }
    const [imp] = byPath('POST', '/admin/import/v2');
    expect(imp?.headers['content-type']).toBe('application/octet-stream');
    expect(imp?.headers['password']).toBe(EXPORT_PASSWORD);
    expect(imp?.body.equals(zip)).toBe(true);
    const [login] = byPath('POST', '/login');
    expect(login?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(login!.body.toString('utf8'))).toEqual({ user: USER, password: PASSWORD });
    for (const r of byPath('GET', '/readyz')) expect(r.headers['apikey']).toBeUndefined();
    for (const r of byPath('POST', '/file')) {
      expect(r.headers['content-type']).toBe('application/octet-stream');
      expect(r.headers['content-length']).toBe(String(r.body.length));
      expect(typeof r.headers['filename']).toBe('string');
    }
    expect(byPath('GET', '/readyz').map((r) => r.query)).toEqual([{}, { verbose: 'true' }]);
  });

  it("the client's list of engine states is the contract's", () => {
    expect([...ENGINE_STATES]).toEqual([...ENGINE_STATE_VALUES]);
  });

  it('the request check rejects requests that break the spec', () => {
    expect(
      contract.checkRequest({
        method: 'POST',
        path: '/file',
        query: {},
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{}'),
      }),
    ).not.toEqual([]);
    expect(
      contract.checkRequest({
        method: 'GET',
        path: '/file/abc',
        query: { first: 'one' },
        headers: {},
        body: Buffer.alloc(0),
      }),
    ).not.toEqual([]);
    const base = { query: {}, headers: {}, body: Buffer.alloc(0) };
    const json = { 'content-type': 'application/json' };
    expect(contract.checkRequest({ ...base, method: 'GET', path: '/admin/export/v2' })).not.toEqual([]);
    expect(
      contract.checkRequest({ ...base, method: 'GET', path: '/admin/export/v2', headers: { apikey: 'k' } }),
    ).not.toEqual([]);
    expect(
      contract.checkRequest({
        ...base,
        method: 'POST',
        path: '/login',
        headers: json,
        body: Buffer.from(JSON.stringify({ user: 'admin' })),
      }),
    ).not.toEqual([]);
    expect(
      contract.checkRequest({
        ...base,
        method: 'POST',
        path: '/admin/import/v2',
        headers: { apikey: 'k', 'content-type': 'application/zip' },
        body: Buffer.from('PK'),
      }),
    ).not.toEqual([]);
    expect(
      contract.checkRequest({ ...base, method: 'GET', path: '/version', headers: { 'x-api-key': 'k' } }),
    ).not.toEqual([]);
    expect(
      contract.checkRequest({ ...base, method: 'GET', path: '/readyz', query: { verbose: 'yes' } }),
    ).not.toEqual([]);
    expect(contract.checkRequest({ ...base, method: 'DELETE', path: '/version' })).not.toEqual([]);
    expect(
      contract.checkRequest({ ...base, method: 'GET', path: '/version', body: Buffer.from('unexpected') }),
    ).not.toEqual([]);
    // A correct one passes.
    expect(
      contract.checkRequest({
        ...base,
        method: 'GET',
        path: '/admin/export/v2',
        headers: { apikey: 'k', password: 'p' },
      }),
    ).toEqual([]);
  });
});
