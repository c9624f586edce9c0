// Unit tests of the stand-in's licence model (the record e2e tests trust instead of the action's own counts),
// the pure model and its REST face under /i/<pod>/.
import { afterEach, describe, expect, it } from 'vitest';
import { startStandin, type PodSighting, type Standin } from '../support/mdcore-standin.ts';
import { StandinLicence } from '../support/standin-licence.ts';

const KEY = 'unit-activation-key-1';

describe('StandinLicence (pure model)', () => {
  it('pods with the key self-activate up to the licensed count; the next one stays unlicensed and is recorded', () => {
    const m = new StandinLicence(2, KEY);
    m.sync([pod('blue-a'), pod('blue-b'), pod('blue-c')]);
    expect(m.inState('active')).toEqual(['blue-a', 'blue-b']);
    expect(m.state('blue-c')).toBe('unlicensed');
    expect(m.refusals).toEqual([{ instance: 'blue-c', err: expect.stringContaining('all 2 activation') }]);
    expect(m.peakActive).toBe(2);
  });

  it('a pod without the key starts unlicensed; registering it as backup uses no activation', () => {
    const m = new StandinLicence(1, KEY);
    m.sync([pod('blue-a'), pod('green-a', false)]);
    expect(m.registerBackup('green-a', KEY)).toBeUndefined();
    expect(m.state('green-a')).toBe('backup');
    expect(m.active).toBe(1);
    expect(m.showsLicence('green-a')).toBe(true);
  });

  it('refuses: a wrong key, registering an active instance, activating a backup, activating above the count', () => {
    const m = new StandinLicence(1, KEY);
    m.sync([pod('blue-a'), pod('green-a', false)]);
    expect(m.registerBackup('green-a', 'wrong')).toMatchObject({ status: 400 });
    expect(m.registerBackup('blue-a', KEY)).toMatchObject({ status: 400 });
    expect(m.registerBackup('green-a', KEY)).toBeUndefined();
    expect(m.activate('green-a', KEY)).toMatchObject({ status: 400, err: expect.stringContaining('backup') });
    expect(m.removeBackup('green-a')).toBeUndefined();
    expect(m.activate('green-a', KEY)).toMatchObject({ status: 500, err: expect.stringContaining('in use') });
    expect(m.state('green-a')).toBe('unlicensed');
    expect(m.peakActive).toBe(1);
  });

  it('a stopped pod releases its activation, so a green instance can take it (the hand-over)', () => {
    const m = new StandinLicence(1, KEY);
    m.sync([pod('blue-a'), pod('green-a', false)]);
    m.registerBackup('green-a', KEY);
    m.sync([pod('green-a', false)]);
    expect(m.active).toBe(0);
    expect(m.removeBackup('green-a')).toBeUndefined();
    expect(m.showsLicence('green-a')).toBe(false);
    expect(m.activate('green-a', KEY)).toBeUndefined();
    expect(m.state('green-a')).toBe('active');
    expect(m.peakActive).toBe(1);
    expect(m.events.map((e) => [e.instance, e.to, e.active])).toEqual([
      ['blue-a', 'unlicensed', 0],
      ['blue-a', 'active', 1],
      ['green-a', 'unlicensed', 1],
      ['green-a', 'backup', 1],
      ['blue-a', 'absent', 0],
      ['green-a', 'unlicensed', 0],
      ['green-a', 'active', 1],
    ]);
  });

  it('only an active instance scans', () => {
    const m = new StandinLicence(2, KEY);
    m.sync([pod('a'), pod('b', false), pod('c', false)]);
    m.registerBackup('b', KEY);
    expect(m.scanRefusal('a')).toBeUndefined();
    expect(m.scanRefusal('b')).toEqual({ status: 403, err: 'Scanning is not allowed on a backup instance' });
    expect(m.scanRefusal('c')).toMatchObject({ status: 403 });
  });

  it('a backup may be made to hide its licence (a Core that answers GET /admin/license differently)', () => {
    const m = new StandinLicence(1, KEY);
    m.registerBackup('g', KEY);
    m.backupShowsLicence = false;
    expect(m.showsLicence('g')).toBe(false);
  });

  it('refuses a licensed count that is not a whole number', () => {
    expect(() => new StandinLicence(1.5, KEY)).toThrow(/whole number/);
  });
});

describe('stand-in REST under /i/<pod>/', () => {
  const open: Standin[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  async function start(pods: () => Promise<PodSighting[]>, activations = 1): Promise<Standin> {
    const s = await startStandin({ licence: { activations, key: KEY, pods, pollMs: 50 } });
    open.push(s);
    return s;
  }

  async function call(
    s: Standin,
    instance: string,
    method: string,
    path: string,
    body?: unknown,
    apiKey: string | null = s.state.apiKey,
  ): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = {};
    if (apiKey !== null) headers['apikey'] = apiKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${s.url}/i/${instance}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as unknown) : null };
  }

  it('register, licence check, remove, activate: answers and the model agree', async () => {
    let pods = [pod('blue-a'), pod('green-a', false)];
    const s = await start(() => Promise.resolve(pods));
    await s.syncPods();
    const m = s.licence!;
    expect((await call(s, 'green-a', 'GET', '/admin/license')).json).toEqual({
      deployment_id: expect.stringMatching(/^MSCL[0-9A-F]{32}$/),
    });
    expect(
      await call(s, 'green-a', 'POST', '/admin/license/backup', { activationKey: KEY, quantity: 1 }),
    ).toEqual({ status: 200, json: { success: true } });
    expect((await call(s, 'green-a', 'GET', '/admin/license')).json).toMatchObject({ days_left: 365 });
    expect(
      await call(s, 'green-a', 'POST', '/admin/license/activation', { activationKey: KEY }),
    ).toMatchObject({
      status: 400,
    });
    expect((await call(s, 'green-a', 'DELETE', '/admin/license/backup')).status).toBe(200);
    expect(
      await call(s, 'green-a', 'POST', '/admin/license/activation', { activationKey: KEY }),
    ).toMatchObject({
      status: 500,
      json: { err: expect.stringContaining('in use') },
    });
    pods = [pod('green-a', false)];
    await s.syncPods();
    expect(
      (await call(s, 'green-a', 'POST', '/admin/license/activation', { activationKey: KEY })).status,
    ).toBe(200);
    expect(m.inState('active')).toEqual(['green-a']);
    expect(m.peakActive).toBe(1);
    const recorded = s.requests.filter((r) => r.instance === 'green-a').map((r) => `${r.method} ${r.path}`);
    expect(recorded).toContain('DELETE /admin/license/backup');
  });

  it('the licence calls need the API key; a bad body is a refused key', async () => {
    const s = await start(() => Promise.resolve([]));
    expect(await call(s, 'g', 'POST', '/admin/license/backup', { activationKey: KEY }, null)).toEqual({
      status: 403,
      json: { err: 'Access denied' },
    });
    expect((await call(s, 'g', 'POST', '/admin/license/backup', 'not json')).status).toBe(400);
    expect(s.licence!.inState('backup')).toEqual([]);
  });

  it('a scan on a backup is refused; on an active instance it is accepted', async () => {
    const s = await start(() => Promise.resolve([pod('a'), pod('b', false)]));
    await s.syncPods();
    await call(s, 'b', 'POST', '/admin/license/backup', { activationKey: KEY });
    const scan = (instance: string) =>
      fetch(`${s.url}/i/${instance}/file`, { method: 'POST', body: 'hello', headers: { filename: 'x.txt' } });
    const refused = await scan('b');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ err: 'Scanning is not allowed on a backup instance' });
    const accepted = await scan('a');
    expect(accepted.status).toBe(200);
  });

  it('the shared routes answer under an instance too (version, readyz)', async () => {
    const s = await start(() => Promise.resolve([]));
    expect((await call(s, 'x', 'GET', '/version')).json).toEqual({ product_id: 'MSCL', version: '5.19.0' });
    expect((await call(s, 'x', 'GET', '/readyz')).status).toBe(200);
  });

  it('polls the pod lister by itself: a deleted pod releases its activation without any REST call', async () => {
    let pods = [pod('blue-a')];
    const s = await start(() => Promise.resolve(pods));
    const m = s.licence!;
    await until(() => m.active === 1);
    pods = [];
    await until(() => m.active === 0);
    expect(m.events.at(-1)).toMatchObject({ instance: 'blue-a', to: 'absent', why: 'pod stopped' });
  });

  it('keeps pod-list failures for the test and carries on polling', async () => {
    let fail = true;
    const s = await start(() =>
      fail ? Promise.reject(new Error('api server away')) : Promise.resolve([pod('a')]),
    );
    await until(() => s.syncErrors.length > 0);
    fail = false;
    await until(() => s.licence!.active === 1);
    expect(s.syncErrors[0]).toBe('api server away');
  });

  it('a fault can be aimed at one instance', async () => {
    const s = await startStandin({
      licence: { activations: 1, key: KEY },
      faults: [
        { path: '/admin/license/backup', method: 'POST', instance: 'g2', status: 404, err: 'Not found' },
      ],
    });
    open.push(s);
    expect((await call(s, 'g1', 'POST', '/admin/license/backup', { activationKey: KEY })).status).toBe(200);
    expect((await call(s, 'g2', 'POST', '/admin/license/backup', { activationKey: KEY })).status).toBe(404);
    expect(s.licence!.inState('backup')).toEqual(['g1']);
  });
});

function pod(name: string, selfActivates = true): PodSighting {
  return { name, selfActivates };
}

/** Waits for a condition the stand-in's own polling brings about: at most 100 checks, 20 ms apart. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached within 100 checks');
}
