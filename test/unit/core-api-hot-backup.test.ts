// Unit tests of the REST client's hot-backup calls (register, remove, activate, licence info) against the
// stand-in's licence model, one instance addressed as /i/<pod>.
import { afterEach, describe, expect, it } from 'vitest';
import { HOT_BACKUP_PATHS, MdCoreApiError, MdCoreClient } from '../../src/core-api/client.ts';
import { startStandin, type PodSighting, type Standin } from '../support/mdcore-standin.ts';
import { RecordingReporter } from '../support/recording-reporter.ts';

const KEY = 'unit-licence-key-7f3a';

const open: Standin[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function start(pods: PodSighting[], activations = 1): Promise<Standin> {
  const s = await startStandin({
    licence: { activations, key: KEY, pods: () => Promise.resolve(pods), pollMs: 60_000 },
  });
  open.push(s);
  await s.syncPods();
  return s;
}

/** `apiKey` null: a client without credentials. */
function client(s: Standin, pod: string, apiKey: string | null = s.state.apiKey) {
  const reporter = new RecordingReporter();
  const c = new MdCoreClient({
    baseUrl: `${s.url}/i/${pod}`,
    ...(apiKey !== null ? { apiKey } : {}),
    reporter,
    retries: 2,
    retryDelayMs: 5,
    timeoutMs: 5_000,
  });
  return { c, reporter };
}

/** The MdCoreApiError a call fails with. */
async function failure(p: Promise<unknown>): Promise<MdCoreApiError> {
  const e: unknown = await p.then(
    () => new Error('the call succeeded'),
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(MdCoreApiError);
  return e as MdCoreApiError;
}

describe('MdCoreClient hot-backup calls', () => {
  it('registers a backup with the key in the JSON body only; the licence then shows days_left', async () => {
    const s = await start([{ name: 'green-1', selfActivates: false }]);
    const { c, reporter } = client(s, 'green-1');
    expect((await c.license()).days_left).toBeUndefined();
    await c.registerBackup(KEY, 'green-1 (blue-green-hot-backup)');
    expect(s.licence!.state('green-1')).toBe('backup');
    expect((await c.license()).days_left).toBe(365);
    const sent = s.requests.find((r) => r.method === 'POST' && r.path === HOT_BACKUP_PATHS.backup)!;
    expect(JSON.parse(sent.body.toString('utf8'))).toEqual({
      activationKey: KEY,
      quantity: 1,
      comment: 'green-1 (blue-green-hot-backup)',
    });
    expect(sent.headers['content-type']).toBe('application/json');
    expect(reporter.secrets).toContain(KEY);
    expect(reporter.text()).not.toContain(KEY);
  });

  it('removes a backup (DELETE), then activates it once a slot is free', async () => {
    const s = await start([{ name: 'green-1', selfActivates: false }]);
    const { c } = client(s, 'green-1');
    await c.registerBackup(KEY, 'g');
    await c.removeBackup();
    expect(s.licence!.state('green-1')).toBe('unlicensed');
    await c.activate(KEY, 'g');
    expect(s.licence!.state('green-1')).toBe('active');
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toContain(`DELETE ${HOT_BACKUP_PATHS.backup}`);
  });

  it('an activation above the count fails once (never retried), with Core’s reason and without the key', async () => {
    const s = await start([
      { name: 'blue-1', selfActivates: true },
      { name: 'green-1', selfActivates: false },
    ]);
    const { c, reporter } = client(s, 'green-1');
    const e = await failure(c.activate(KEY, 'g'));
    expect(e).toMatchObject({ kind: 'http', status: 500, attempts: 1 });
    expect(e.message).toContain('in use');
    expect(e.message).not.toContain(KEY);
    expect(reporter.text()).not.toContain(KEY);
    expect(s.requests.filter((r) => r.path === HOT_BACKUP_PATHS.activation)).toHaveLength(1);
    expect(s.licence!.peakActive).toBe(1);
  });

  it('activating a registered backup is refused (Core’s documented error), the state is unchanged', async () => {
    const s = await start([{ name: 'green-1', selfActivates: false }], 2);
    const { c } = client(s, 'green-1');
    await c.registerBackup(KEY, 'g');
    const e = await failure(c.activate(KEY, 'g'));
    expect(e).toMatchObject({ status: 400 });
    expect(s.licence!.state('green-1')).toBe('backup');
  });

  it('a wrong path (a Core that does not know the guessed call) is an HTTP error, not a silent success', async () => {
    const s = await start([{ name: 'green-1', selfActivates: false }]);
    s.state.faults.push({ path: HOT_BACKUP_PATHS.backup, method: 'POST', status: 404, err: 'Not found' });
    const { c } = client(s, 'green-1');
    const e = await failure(c.registerBackup(KEY, 'g'));
    expect(e).toMatchObject({ kind: 'http', status: 404, method: 'POST', path: HOT_BACKUP_PATHS.backup });
    expect(s.licence!.state('green-1')).toBe('unlicensed');
  });

  it('needs authentication and a key before sending anything', async () => {
    const s = await start([]);
    const { c } = client(s, 'green-1', null);
    expect(await failure(c.registerBackup(KEY, 'g'))).toMatchObject({ kind: 'auth', attempts: 0 });
    expect(await failure(c.removeBackup())).toMatchObject({ kind: 'auth', attempts: 0 });
    const { c: keyed } = client(s, 'green-1');
    expect((await failure(keyed.activate('', 'g'))).message).toContain('needs the licence key');
    expect(s.requests).toHaveLength(0);
  });
});
