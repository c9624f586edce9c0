// Unit tests of the MD Core REST client against the stand-in server.
import { afterEach, describe, expect, it } from 'vitest';
import { MdCoreApiError, MdCoreClient, type MdCoreClientOptions } from '../../src/core-api/client.ts';
import { startStandin, type Standin, type StandinOptions } from '../support/mdcore-standin.ts';
import { RecordingReporter } from '../support/recording-reporter.ts';

const USER = 'admin';
const PASSWORD = 'unit-user-password-1';
const EXPORT_PASSWORD = 'unit-export-password-2';

const open: Standin[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function start(options: StandinOptions = {}): Promise<Standin> {
  const s = await startStandin({ users: { [USER]: PASSWORD }, ...options });
  open.push(s);
  return s;
}

function client(
  s: Standin,
  extra: Partial<MdCoreClientOptions> = {},
): { c: MdCoreClient; reporter: RecordingReporter } {
  const reporter = new RecordingReporter();
  const c = new MdCoreClient({
    baseUrl: s.url,
    apiKey: s.state.apiKey,
    reporter,
    retries: 2,
    retryDelayMs: 5,
    timeoutMs: 5_000,
    ...extra,
  });
  return { c, reporter };
}

async function failure(p: Promise<unknown>): Promise<MdCoreApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MdCoreApiError) return e;
    throw e;
  }
  throw new Error('expected an MdCoreApiError, the call succeeded');
}

const count = (s: Standin, path: string): number => s.requests.filter((r) => r.path === path).length;

describe('MdCoreClient: answers', () => {
  it('reads version, readiness, engines and license', async () => {
    const s = await start({ version: '5.20.0', licenseDaysLeft: 42 });
    const { c } = client(s);
    expect(await c.version()).toEqual({ product_id: 'MSCL', version: '5.20.0' });
    expect(await c.readyz()).toEqual({ ok: true, status: 200, body: {} });
    const verbose = await c.readyz(true);
    expect(verbose.ok).toBe(true);
    expect(verbose.body).toMatchObject({ database: { status: true }, license: { status: 'ok' } });
    const engines = await c.engines();
    expect(engines.map((e) => [e.eng_id, e.state, e.active])).toEqual([
      ['clamav_1_linux', 'production', true],
      ['filetype_1_linux', 'production', true],
    ]);
    expect((await c.license()).days_left).toBe(42);
  });

  it('reports an unhealthy Core (503) as not ok without throwing', async () => {
    const s = await start({ ready: false });
    const { c } = client(s);
    expect(await c.readyz(true)).toEqual({ ok: false, status: 503, body: null });
    expect(count(s, '/readyz')).toBe(1);
    s.state.ready = true;
    expect((await c.readyz()).ok).toBe(true);
  });

  it('logs in, uses the session as apikey, logs out', async () => {
    const s = await start();
    const { c, reporter } = client(s, { apiKey: undefined });
    expect(c.authenticated).toBe(false);
    await c.login(USER, PASSWORD);
    expect(c.authenticated).toBe(true);
    const [session] = [...s.state.sessions];
    expect(session).toBeDefined();
    expect(reporter.secrets).toContain(PASSWORD);
    expect(reporter.secrets).toContain(session);
    await c.license();
    expect(s.requests.at(-1)?.headers['apikey']).toBe(session);
    await c.logout();
    expect(s.requests.at(-1)?.path).toBe('/logout');
    expect(s.requests.at(-1)?.headers['apikey']).toBe(session);
    expect(s.state.sessions.size).toBe(0);
    expect(c.authenticated).toBe(false);
    // No credentials left: calls needing them fail before sending anything.
    const sent = s.requests.length;
    const e = await failure(c.license());
    expect(e.kind).toBe('auth');
    expect(e.attempts).toBe(0);
    expect(s.requests.length).toBe(sent);
    await c.logout(); // nothing to log out: no request
    expect(s.requests.length).toBe(sent);
  });

  it('a wrong login is an error carrying the product text, sent once', async () => {
    const s = await start();
    const { c } = client(s, { apiKey: undefined });
    const e = await failure(c.login(USER, 'not-the-password'));
    expect(e).toMatchObject({
      kind: 'http',
      status: 403,
      err: 'Failed to login',
      method: 'POST',
      path: '/login',
    });
    expect(e.message).toContain('Failed to login');
    expect(e.message).not.toContain('not-the-password');
    expect(count(s, '/login')).toBe(1);
  });
});

describe('MdCoreClient: export and import', () => {
  it('exports, then imports into a Core that lost its configuration (200), then again (304)', async () => {
    const before = await start({ config: { workflows: ['Skip images'], users: ['admin', 'ops'] } });
    const after = await start({ version: '5.20.0', config: {} });
    const zip = await client(before).c.exportConfig(EXPORT_PASSWORD);
    expect(zip.length).toBeGreaterThan(0);
    const { c } = client(after);
    expect(await c.importConfig(zip, EXPORT_PASSWORD)).toEqual({
      status: 200,
      result: 'Successfully imported',
    });
    expect(after.state.config).toEqual({ workflows: ['Skip images'], users: ['admin', 'ops'] });
    expect(await c.importConfig(zip, EXPORT_PASSWORD)).toEqual({ status: 304 });
    expect(after.state.importsApplied).toBe(1);
  });

  it('an import rejected with 400 carries err and err_details', async () => {
    const s = await start();
    const errDetails = {
      errors: [
        {
          error: 'The value out of range. Accepted values: min = 1, max = 50',
          key: 'scan.filescan.check_av_engine.av_engine_number',
          value: -1,
        },
      ],
      name: 'MetaDefender Vault',
    };
    s.state.importAnswer = { status: 400, err: 'Invalid item for type: rule', err_details: errDetails };
    const e = await failure(client(s).c.importConfig(Buffer.from('archive'), EXPORT_PASSWORD));
    expect(e).toMatchObject({ kind: 'http', status: 400, err: 'Invalid item for type: rule', attempts: 1 });
    expect(e.err_details).toEqual(errDetails);
    expect(e.message).toContain('Invalid item for type: rule');
    expect(e.message).toContain('scan.filescan.check_av_engine.av_engine_number: The value out of range');
  });

  it('an import with the wrong password fails with the product text', async () => {
    const s = await start();
    const { c } = client(s);
    const zip = await c.exportConfig(EXPORT_PASSWORD);
    const e = await failure(c.importConfig(zip, 'another-password-3'));
    expect(e.status).toBe(400);
    expect(e.err).toMatch(/wrong password/);
    expect(e.message).not.toContain('another-password-3');
  });

  it('an export failure carries the product err text', async () => {
    const s = await start({ exportFailure: { status: 400, err: 'Unable to export new configuration' } });
    const e = await failure(client(s).c.exportConfig(EXPORT_PASSWORD));
    expect(e).toMatchObject({ kind: 'http', status: 400, err: 'Unable to export new configuration' });
    expect(e.message).toBe('MD Core GET /admin/export/v2: HTTP 400: Unable to export new configuration');
    expect(count(s, '/admin/export/v2')).toBe(1);
  });

  it('an export answered with JSON instead of an archive is a protocol error', async () => {
    const s = await start({ faults: [{ path: '/admin/export/v2', status: 200, err: 'surprise' }] });
    const e = await failure(client(s).c.exportConfig(EXPORT_PASSWORD));
    expect(e.kind).toBe('protocol');
  });

  it('a /version answer without version is a protocol error', async () => {
    const s = await start({ faults: [{ path: '/version', status: 200, err: 'no version here' }] });
    expect((await failure(client(s).c.version())).kind).toBe('protocol');
  });
});

describe('MdCoreClient: retries, timeouts, redirects', () => {
  it('retries an idempotent request a bounded number of times on 503, then fails with the last answer', async () => {
    const s = await start({ faults: [{ path: '/version', status: 503, err: 'Service busy', times: 50 }] });
    const { c, reporter } = client(s, { retries: 3 });
    const e = await failure(c.version());
    expect(e).toMatchObject({ kind: 'http', status: 503, err: 'Service busy', attempts: 4 });
    expect(count(s, '/version')).toBe(4);
    expect(reporter.lines.filter((l) => l.text.includes('retry')).map((l) => l.text)).toHaveLength(3);
  });

  it('recovers when a retry succeeds', async () => {
    const s = await start({ faults: [{ path: '/stat/engines', status: 500, err: 'oops', times: 1 }] });
    expect(await client(s).c.engines()).toHaveLength(2);
    expect(count(s, '/stat/engines')).toBe(2);
  });

  it('retries network errors (connection reset) for GETs, bounded', async () => {
    const s = await start({ faults: [{ path: '/admin/license', reset: true, times: 10 }] });
    const e = await failure(client(s, { retries: 2 }).c.license());
    expect(e.kind).toBe('network');
    expect(e.attempts).toBe(3);
    expect(count(s, '/admin/license')).toBe(3);
  });

  it('reports a refused connection as a network error', async () => {
    const s = await start();
    const url = s.url;
    await s.close();
    const reporter = new RecordingReporter();
    const c = new MdCoreClient({ baseUrl: url, reporter, retries: 1, retryDelayMs: 1 });
    const e = await failure(c.readyz());
    expect(e).toMatchObject({ kind: 'network', attempts: 2, code: 'ECONNREFUSED' });
  });

  it('never retries an import: not on 503, not on a reset connection', async () => {
    const s = await start({ faults: [{ path: '/admin/import/v2', status: 503, err: 'busy', times: 5 }] });
    const { c } = client(s, { retries: 5 });
    const e = await failure(c.importConfig(Buffer.from('zip'), EXPORT_PASSWORD));
    expect(e).toMatchObject({ status: 503, attempts: 1 });
    expect(count(s, '/admin/import/v2')).toBe(1);

    s.state.faults = [{ path: '/admin/import/v2', reset: true, times: 5 }];
    const n = await failure(c.importConfig(Buffer.from('zip'), EXPORT_PASSWORD));
    expect(n).toMatchObject({ kind: 'network', attempts: 1 });
    expect(count(s, '/admin/import/v2')).toBe(2);
  });

  it('never retries login and logout', async () => {
    const s = await start({ faults: [{ path: '/login', status: 503, times: 1 }] });
    const { c } = client(s, { apiKey: undefined, retries: 5 });
    expect((await failure(c.login(USER, PASSWORD))).status).toBe(503);
    expect(count(s, '/login')).toBe(1);
    await c.login(USER, PASSWORD);
    s.state.faults = [{ path: '/logout', status: 500, err: 'x', times: 5 }];
    expect((await failure(c.logout())).status).toBe(500);
    expect(count(s, '/logout')).toBe(1);
  });

  it('does not retry 4xx answers', async () => {
    const s = await start();
    const { c } = client(s, { apiKey: 'wrong-api-key-4', retries: 5 });
    const e = await failure(c.exportConfig(EXPORT_PASSWORD));
    expect(e).toMatchObject({ kind: 'http', status: 403, err: 'Access denied', attempts: 1 });
    expect(count(s, '/admin/export/v2')).toBe(1);
  });

  it('times out a request that gets no answer, and retries it only as often as allowed', async () => {
    const s = await start({ faults: [{ path: '/version', delayMs: 10_000, times: 2 }] });
    const { c } = client(s, { timeoutMs: 150, retries: 1 });
    const started = Date.now();
    const e = await failure(c.version());
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(e).toMatchObject({ kind: 'timeout', attempts: 2 });
    expect(e.message).toContain('within 150 ms');
    expect(count(s, '/version')).toBe(2);
  });

  it('a per-call timeout overrides the client one; an import timeout says its outcome is unknown', async () => {
    const s = await start({ faults: [{ path: '/admin/import/v2', delayMs: 10_000 }] });
    const { c } = client(s, { timeoutMs: 5_000 });
    const started = Date.now();
    const e = await failure(c.importConfig(Buffer.from('zip'), EXPORT_PASSWORD, { timeoutMs: 150 }));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(e).toMatchObject({ kind: 'timeout', attempts: 1 });
    expect(e.message).toMatch(/may still have carried out/);
  });

  it('a slow answer within the timeout succeeds', async () => {
    const s = await start({ faults: [{ path: '/version', delayMs: 100 }] });
    expect((await client(s, { timeoutMs: 3_000 }).c.version()).version).toBe('5.19.0');
  });

  it('stops at once when the caller aborts', async () => {
    const s = await start({ faults: [{ path: '/version', delayMs: 10_000 }] });
    const ac = new AbortController();
    const { c } = client(s, { signal: ac.signal, timeoutMs: 5_000 });
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    const e = await failure(c.version());
    expect(e.kind).toBe('aborted');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(count(s, '/version')).toBe(1);
  });

  it('does not follow redirects (the apikey must not travel elsewhere)', async () => {
    const elsewhere = await start();
    const s = await start({
      faults: [
        { path: '/admin/license', status: 307, headers: { location: `${elsewhere.url}/admin/license` } },
      ],
    });
    const e = await failure(client(s).c.license());
    expect(e).toMatchObject({ kind: 'http', status: 307 });
    expect(elsewhere.requests).toHaveLength(0);
  });
});

describe('MdCoreClient: secrets', () => {
  it('registers every secret and keeps them out of errors and log lines, even when Core echoes them', async () => {
    const apiKey = 'unit-api-key-5f1c9a';
    const s = await start({ apiKey });
    const reporter = new RecordingReporter(); // masks nothing: the client must scrub by itself
    const c = new MdCoreClient({ baseUrl: s.url, apiKey, reporter, retries: 1, retryDelayMs: 1 });
    const errors: MdCoreApiError[] = [];
    const collect = async (p: Promise<unknown>): Promise<void> => {
      errors.push(await failure(p));
    };

    await c.login(USER, PASSWORD);
    const session = [...s.state.sessions][0]!;
    s.state.faults = [
      { path: '/admin/license', status: 500, err: `bad apikey ${session} / ${apiKey}`, times: 2 },
      { path: '/admin/export/v2', status: 400, err: `cannot encrypt with ${EXPORT_PASSWORD}` },
      { path: '/version', status: 503, err: `login ${USER}:${PASSWORD} expired`, times: 2 },
    ];
    s.state.importAnswer = {
      status: 400,
      err: `bad archive for ${EXPORT_PASSWORD}`,
      err_details: {
        errors: [{ key: 'users.admin.password', error: `rejected ${PASSWORD}`, value: PASSWORD }],
      },
    };
    await collect(c.license());
    await collect(c.exportConfig(EXPORT_PASSWORD));
    await collect(c.version());
    await collect(c.importConfig(Buffer.from('zip'), EXPORT_PASSWORD));
    await collect(c.login(USER, `${PASSWORD}-wrong`));
    expect(errors).toHaveLength(5);

    const secrets = [apiKey, PASSWORD, EXPORT_PASSWORD, session];
    for (const secret of secrets) expect(reporter.secrets).toContain(secret);
    const texts = [
      ...errors.flatMap((e) => [
        e.message,
        e.err ?? '',
        JSON.stringify(e.err_details ?? null),
        String(e.stack),
      ]),
      reporter.text(),
    ];
    // The echoes really happened (the test would prove nothing otherwise) and were scrubbed.
    expect(errors[0]?.err).toBe('bad apikey *** / ***');
    expect(reporter.text()).toContain('retry 1 of 1');
    for (const secret of secrets) {
      for (const t of texts) expect(t.includes(secret), `secret leaked into: ${t.slice(0, 200)}`).toBe(false);
    }
  });

  it('rejects a base URL with credentials without repeating them', () => {
    const reporter = new RecordingReporter();
    const thrown = (baseUrl: string): string => {
      try {
        new MdCoreClient({ baseUrl, reporter });
      } catch (e) {
        return String(e);
      }
      return 'no error';
    };
    const wellFormed = thrown('http://admin:s3cret-pw@127.0.0.1:1/');
    expect(wellFormed).toMatch(/must not contain a user or password/);
    expect(wellFormed).not.toContain('s3cret-pw');
    const malformed = thrown('http://admin:s3cret-pw@[bad');
    expect(malformed).toMatch(/not a URL/);
    expect(malformed).not.toContain('s3cret-pw');
  });

  it('validates its options', () => {
    const reporter = new RecordingReporter();
    expect(() => new MdCoreClient({ baseUrl: 'not a url', reporter })).toThrow(/not a URL/);
    expect(() => new MdCoreClient({ baseUrl: 'ftp://x', reporter })).toThrow(/http or https/);
    expect(() => new MdCoreClient({ baseUrl: 'http://x', reporter, retries: -1 })).toThrow(/retries/);
    expect(() => new MdCoreClient({ baseUrl: 'http://x', reporter, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(new MdCoreClient({ baseUrl: 'http://x:8008//', reporter }).baseUrl).toBe('http://x:8008');
  });
});
