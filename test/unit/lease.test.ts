// The Deployment's Lease: the pure decision (free / ours / held / expired), acquire and release against a fake
// API server with resourceVersion preconditions, and the renewal loop under fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  acquireLease,
  describeLease,
  holderIdentity,
  LEASE_DURATION_SECONDS,
  LeaseHeldError,
  LeaseLostError,
  leaseName,
  leaseState,
  microTime,
  releaseLease,
  RENEW_INTERVAL_MS,
  SAFETY_MARGIN_MS,
  type LeaseApi,
  type LeaseObject,
} from '../../src/cluster/lease.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { describeAccess, requiredAccess } from '../../src/steps/preflight.ts';

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** An API server holding Leases with the semantics the holder relies on: resourceVersion and uid preconditions. */
class FakeLeases implements LeaseApi {
  store = new Map<string, LeaseObject>();
  private rv = 100;
  private uid = 0;
  calls: string[] = [];
  /** Makes the next calls of a kind fail (status) or never answer (0). */
  failing: { kind: 'read' | 'create' | 'replace' | 'delete'; status: number; times: number }[] = [];

  private key(ns: string, name: string): string {
    return `${ns}/${name}`;
  }

  private async fault(kind: 'read' | 'create' | 'replace' | 'delete'): Promise<void> {
    this.calls.push(kind);
    const f = this.failing.find((x) => x.kind === kind && x.times > 0);
    if (!f) return;
    f.times--;
    if (f.status === 0) await new Promise<never>(() => undefined);
    throw new HttpError(f.status, `HTTP ${f.status}`);
  }

  async readLease(ns: string, name: string): Promise<LeaseObject | undefined> {
    await this.fault('read');
    const l = this.store.get(this.key(ns, name));
    return l ? structuredClone(l) : undefined;
  }

  async createLease(ns: string, lease: LeaseObject): Promise<LeaseObject> {
    await this.fault('create');
    const name = lease.metadata?.name ?? '';
    if (this.store.has(this.key(ns, name))) throw new HttpError(409, 'AlreadyExists');
    const stored: LeaseObject = {
      ...structuredClone(lease),
      metadata: {
        ...lease.metadata,
        uid: `uid-${++this.uid}`,
        resourceVersion: String(++this.rv),
        creationTimestamp: new Date().toISOString(),
      },
    };
    this.store.set(this.key(ns, name), stored);
    return structuredClone(stored);
  }

  async replaceLease(ns: string, name: string, lease: LeaseObject): Promise<LeaseObject> {
    await this.fault('replace');
    return this.write(ns, name, lease);
  }

  /** The server side of a replace, also used by "another run" in tests. */
  write(ns: string, name: string, lease: LeaseObject): LeaseObject {
    const cur = this.store.get(this.key(ns, name));
    if (!cur) throw new HttpError(404, 'NotFound');
    if (lease.metadata?.resourceVersion !== cur.metadata?.resourceVersion)
      throw new HttpError(409, 'Conflict');
    const stored: LeaseObject = {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, uid: cur.metadata?.uid, resourceVersion: String(++this.rv) },
    };
    this.store.set(this.key(ns, name), stored);
    return structuredClone(stored);
  }

  async deleteLease(ns: string, name: string, pre: { uid: string; resourceVersion: string }): Promise<void> {
    await this.fault('delete');
    const cur = this.store.get(this.key(ns, name));
    if (!cur) return;
    if (cur.metadata?.uid !== pre.uid || cur.metadata?.resourceVersion !== pre.resourceVersion) {
      throw new HttpError(409, 'Precondition failed');
    }
    this.store.delete(this.key(ns, name));
  }

  get(name: string, ns = 'ns'): LeaseObject | undefined {
    return this.store.get(this.key(ns, name));
  }

  /** Another run's Lease, as it would have written it at `renewMs`. */
  seed(name: string, holder: string, renewMs: number, ns = 'ns'): void {
    this.store.set(this.key(ns, name), {
      metadata: { name, namespace: ns, uid: `uid-${++this.uid}`, resourceVersion: String(++this.rv) },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: LEASE_DURATION_SECONDS,
        acquireTime: microTime(renewMs - 600_000),
        renewTime: microTime(renewMs),
        leaseTransitions: 3,
      },
    });
  }
}

const NAME = leaseName('md-core');
const OTHER = 'https://github.example/acme/infra/actions/runs/77/attempts/1';
const ME = 'https://github.example/acme/ops/actions/runs/42/attempts/2';
const T0 = Date.parse('2026-12-02T04:00:00.000Z');

describe('lease name and holder identity', () => {
  it('names the Lease after the Deployment', () => {
    expect(leaseName('md-core')).toBe('mdcore-upgrade-md-core');
  });

  it('shortens a long name with a hash to a valid object name, distinct per Deployment', () => {
    const a = leaseName(`${'a'.repeat(240)}-x`);
    const b = leaseName(`${'a'.repeat(240)}-y`);
    for (const n of [a, b]) {
      expect(n.length).toBeLessThanOrEqual(253);
      expect(n).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect(n.startsWith('mdcore-upgrade-aaa')).toBe(true);
    }
    expect(a).not.toBe(b);
    expect(leaseName(`${'a'.repeat(240)}-x`)).toBe(a);
    // A cut that would end on a dash or dot leaves neither before the hash.
    const dotted = leaseName(`${'b'.repeat(226)}.${'c'.repeat(30)}`);
    expect(dotted).toMatch(/b-[0-9a-f]{10}$/);
  });

  it('is the workflow run with its attempt on GitHub, user@host (pid) in a terminal', () => {
    const local = { user: 'ana', host: 'laptop', pid: 4242 };
    expect(
      holderIdentity(
        {
          GITHUB_SERVER_URL: 'https://github.example',
          GITHUB_REPOSITORY: 'acme/ops',
          GITHUB_RUN_ID: '42',
          GITHUB_RUN_ATTEMPT: '2',
        },
        local,
      ),
    ).toBe(ME);
    expect(
      holderIdentity(
        { GITHUB_SERVER_URL: 'https://github.example', GITHUB_REPOSITORY: 'acme/ops', GITHUB_RUN_ID: '42' },
        local,
      ),
    ).toBe('https://github.example/acme/ops/actions/runs/42');
    expect(holderIdentity({}, local)).toBe('ana@laptop (pid 4242)');
  });

  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(Date.parse('2026-12-02T04:00:01.234Z'))).toBe('2026-12-02T04:00:01.234000Z');
  });
});

describe('leaseState (pure decision)', () => {
  const lease = (spec: LeaseObject['spec'], created?: string): LeaseObject => ({
    metadata: { name: NAME, ...(created ? { creationTimestamp: created } : {}) },
    spec,
  });

  it('is free without a Lease or without a holder', () => {
    expect(leaseState(undefined, { holder: ME }, T0).kind).toBe('free');
    expect(leaseState(lease({ holderIdentity: '' }), { holder: ME }, T0).kind).toBe('free');
  });

  it('is ours only with our holder AND our acquireTime (any spelling of the same instant)', () => {
    const acquired = '2026-12-02T03:59:00.500000Z';
    const l = lease({ holderIdentity: ME, acquireTime: acquired, renewTime: microTime(T0) });
    expect(leaseState(l, { holder: ME, acquireTime: '2026-12-02T03:59:00.500Z' }, T0).kind).toBe('ours');
    expect(
      leaseState(l, { holder: ME, acquireTime: new Date(acquired).toISOString() }, T0 + 10 * 3600_000).kind,
    ).toBe('ours');
    // Same identity, another hold (a second job of the same workflow run): someone else.
    expect(leaseState(l, { holder: ME }, T0).kind).toBe('held');
    expect(leaseState(l, { holder: ME, acquireTime: '2026-12-02T03:59:01.000000Z' }, T0).kind).toBe('held');
  });

  it('is held until renewTime + leaseDurationSeconds, expired from then on', () => {
    const l = lease({
      holderIdentity: OTHER,
      acquireTime: microTime(T0 - 3600_000),
      renewTime: microTime(T0),
      leaseDurationSeconds: 60,
    });
    const held = leaseState(l, { holder: ME }, T0 + 59_999);
    expect(held).toEqual({
      kind: 'held',
      holder: OTHER,
      acquiredAt: T0 - 3600_000,
      renewedAt: T0,
      expiresAt: T0 + 60_000,
    });
    expect(leaseState(l, { holder: ME }, T0 + 60_000).kind).toBe('expired');
  });

  it('falls back to acquireTime, then creation, then the default duration', () => {
    expect(
      leaseState(lease({ holderIdentity: OTHER, acquireTime: microTime(T0) }), { holder: ME }, T0 + 119_000),
    ).toMatchObject({ kind: 'held', expiresAt: T0 + LEASE_DURATION_SECONDS * 1000 });
    expect(
      leaseState(lease({ holderIdentity: OTHER }, new Date(T0).toISOString()), { holder: ME }, T0 + 121_000)
        .kind,
    ).toBe('expired');
  });
});

describe('acquire and release', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('creates the Lease with holder, duration and times, and deletes it on release', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    expect(hold.how).toBe('created');
    expect(api.get(NAME)?.spec).toEqual({
      holderIdentity: ME,
      leaseDurationSeconds: 120,
      acquireTime: '2026-12-02T04:00:00.000000Z',
      renewTime: '2026-12-02T04:00:00.000000Z',
      leaseTransitions: 0,
    });
    expect(api.get(NAME)?.metadata?.labels).toEqual({
      'app.kubernetes.io/managed-by': 'mdcore-upgrade-action',
    });
    expect(hold.ref).toEqual({
      namespace: 'ns',
      name: NAME,
      holder: ME,
      acquireTime: '2026-12-02T04:00:00.000000Z',
    });
    expect(await hold.release()).toEqual({ released: true });
    expect(api.get(NAME)).toBeUndefined();
    // Released: no renewal runs any more.
    const calls = api.calls.length;
    await vi.advanceTimersByTimeAsync(10 * RENEW_INTERVAL_MS);
    expect(api.calls.length).toBe(calls);
  });

  it('refuses a Lease held by another run, naming the holder, since when, expiry and how to clear it', async () => {
    const api = new FakeLeases();
    api.seed(NAME, OTHER, T0 - 20_000);
    const before = structuredClone(api.get(NAME));
    const err = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LeaseHeldError);
    const msg = (err as Error).message;
    expect(msg).toContain(`held by ${OTHER}`);
    expect(msg).toContain('since 2026-12-02T03:49:40Z');
    expect(msg).toContain('expires at 2026-12-02T04:01:40Z');
    expect(msg).toContain(`kubectl delete lease ${NAME} -n ns`);
    expect(msg).toContain(`kubectl get lease ${NAME} -n ns -o yaml`);
    expect(msg).toContain('This run changed nothing');
    expect(api.get(NAME)).toEqual(before);
    expect(api.calls).toEqual(['read']);
  });

  it('refuses another hold by the same holder identity (two jobs of one workflow run)', async () => {
    const api = new FakeLeases();
    api.seed(NAME, ME, T0 - 1000);
    await expect(acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME })).rejects.toThrow(
      LeaseHeldError,
    );
  });

  it('takes over an expired Lease with a precondition on its resourceVersion', async () => {
    const api = new FakeLeases();
    api.seed(NAME, OTHER, T0 - 121_000);
    const rvBefore = api.get(NAME)?.metadata?.resourceVersion;
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    expect(hold.how).toBe('took-over-expired');
    expect(hold.previousHolder).toBe(OTHER);
    const l = api.get(NAME);
    expect(l?.metadata?.resourceVersion).not.toBe(rvBefore);
    expect(l?.spec).toMatchObject({
      holderIdentity: ME,
      leaseTransitions: 4,
      acquireTime: microTime(T0),
      renewTime: microTime(T0),
    });
    hold.stop();
  });

  it('loses a takeover race: the other run wrote first (409), so this run refuses and names it', async () => {
    const api = new FakeLeases();
    api.seed(NAME, 'old-run', T0 - 300_000);
    const realReplace = api.replaceLease.bind(api);
    let raced = false;
    api.replaceLease = async (ns, name, body) => {
      if (!raced) {
        raced = true;
        // The other run takes the expired Lease between our read and our write.
        const cur = api.get(NAME) as LeaseObject;
        api.write('ns', NAME, {
          ...cur,
          spec: { ...cur.spec, holderIdentity: OTHER, acquireTime: microTime(T0), renewTime: microTime(T0) },
        });
      }
      return realReplace(ns, name, body);
    };
    const err = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LeaseHeldError);
    expect((err as LeaseHeldError).holder).toBe(OTHER);
    expect(api.get(NAME)?.spec?.holderIdentity).toBe(OTHER);
  });

  it('loses a creation race: the Lease appeared between read and create', async () => {
    const api = new FakeLeases();
    const realCreate = api.createLease.bind(api);
    api.createLease = async (ns, lease) => {
      api.seed(NAME, OTHER, Date.now());
      return realCreate(ns, lease);
    };
    await expect(acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME })).rejects.toThrow(
      `held by ${OTHER}`,
    );
  });

  it('takes a released Lease (no holder) and resumes its own recorded hold, keeping acquireTime', async () => {
    const api = new FakeLeases();
    api.seed(NAME, '', T0 - 1000);
    const first = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    expect(first.how).toBe('took-over-released');
    first.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    const resumed = await acquireLease(api, {
      namespace: 'ns',
      deployment: 'md-core',
      holder: ME,
      resume: first.ref.acquireTime,
    });
    expect(resumed.how).toBe('resumed');
    expect(resumed.ref.acquireTime).toBe(first.ref.acquireTime);
    expect(api.get(NAME)?.spec?.renewTime).toBe(microTime(T0 + 60_000));
    expect(api.get(NAME)?.spec?.leaseTransitions).toBe(4);
    expect(await resumed.release()).toEqual({ released: true });
  });

  it('releases only a Lease that is still ours', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    hold.stop();
    await vi.advanceTimersByTimeAsync(200_000);
    // Expired meanwhile and taken over by another run.
    const cur = api.get(NAME) as LeaseObject;
    api.write('ns', NAME, {
      ...cur,
      spec: { ...cur.spec, holderIdentity: OTHER, acquireTime: microTime(Date.now()) },
    });
    const r = await releaseLease(api, hold.ref);
    expect(r).toEqual({ released: false, why: `the Lease is now held by ${OTHER}; left as it is` });
    expect(api.get(NAME)?.spec?.holderIdentity).toBe(OTHER);
    expect(await releaseLease(api, { ...hold.ref, name: 'nothing-here' })).toEqual({
      released: false,
      why: 'the Lease no longer exists',
    });
  });

  it('release re-reads after a precondition conflict and never throws', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    api.failing.push({ kind: 'delete', status: 409, times: 1 });
    expect(await hold.release()).toEqual({ released: true });
    expect(api.calls.filter((c) => c === 'delete')).toHaveLength(2);

    const again = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    api.failing.push({ kind: 'read', status: 503, times: 1 });
    const r = await again.release();
    expect(r.released).toBe(false);
    expect(r.released ? '' : r.why).toContain('HTTP 503');
    expect(r.released ? '' : r.why).toContain('expires by itself');
  });

  it('describes the Lease for a dry run', async () => {
    const api = new FakeLeases();
    expect((await describeLease(api, 'ns', 'md-core')).held).toBe(false);
    api.seed(NAME, OTHER, T0 - 10_000);
    const d = await describeLease(api, 'ns', 'md-core');
    expect(d.held).toBe(true);
    expect(d.text).toContain(`held by ${OTHER}`);
    expect(d.text).toContain('would be refused');
    await vi.advanceTimersByTimeAsync(120_000);
    expect(await describeLease(api, 'ns', 'md-core')).toMatchObject({ held: false });
    expect((await describeLease(api, 'ns', 'md-core')).text).toContain('expired');
  });
});

describe('renewal (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds through a 2-hour run: renewed every 30 s, never lost, renewTime always recent', async () => {
    const api = new FakeLeases();
    const lost = vi.fn();
    const hold = await acquireLease(api, {
      namespace: 'ns',
      deployment: 'md-core',
      holder: ME,
      onLost: lost,
    });
    for (let minute = 1; minute <= 120; minute++) {
      await vi.advanceTimersByTimeAsync(60_000);
      const renewed = Date.parse(String(api.get(NAME)?.spec?.renewTime));
      // Another run looking now would find it held.
      expect(Date.now() - renewed).toBeLessThanOrEqual(RENEW_INTERVAL_MS);
      expect(leaseState(api.get(NAME), { holder: OTHER }, Date.now()).kind).toBe('held');
    }
    expect(hold.renewals).toBe(240);
    expect(hold.signal.aborted).toBe(false);
    expect(hold.lost).toBeUndefined();
    expect(lost).not.toHaveBeenCalled();
    expect(api.get(NAME)?.spec?.acquireTime).toBe(microTime(T0));
    expect(await hold.release()).toEqual({ released: true });
  });

  it('survives renewals failing for a minute, retrying every 10 s, and carries on renewing', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    await vi.advanceTimersByTimeAsync(RENEW_INTERVAL_MS);
    expect(hold.renewals).toBe(1);
    // The API server is unreachable for the next 6 attempts (30 s after the last renewal, then every 10 s).
    api.failing.push({ kind: 'replace', status: 503, times: 6 });
    await vi.advanceTimersByTimeAsync(RENEW_INTERVAL_MS + 5 * 10_000);
    expect(hold.renewals).toBe(1);
    expect(hold.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(hold.renewals).toBe(2);
    expect(Date.parse(String(api.get(NAME)?.spec?.renewTime))).toBe(Date.now());
    await vi.advanceTimersByTimeAsync(10 * RENEW_INTERVAL_MS);
    expect(hold.renewals).toBe(12);
    expect(hold.lost).toBeUndefined();
    hold.stop();
  });

  it('gives up before the Lease can expire when renewals keep failing, and aborts the run', async () => {
    const api = new FakeLeases();
    const lost = vi.fn();
    const hold = await acquireLease(api, {
      namespace: 'ns',
      deployment: 'md-core',
      holder: ME,
      onLost: lost,
    });
    api.failing.push({ kind: 'replace', status: 503, times: 1000 });
    const giveUpAt = LEASE_DURATION_SECONDS * 1000 - SAFETY_MARGIN_MS;
    await vi.advanceTimersByTimeAsync(giveUpAt - 1);
    expect(hold.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(hold.signal.aborted).toBe(true);
    expect(hold.signal.reason).toBeInstanceOf(LeaseLostError);
    expect(hold.lost).toMatch(/could not be renewed for 105 s \(\d+ failed attempt\(s\)\)/);
    expect(lost).toHaveBeenCalledTimes(1);
    // Still before anyone else may take it over.
    expect(leaseState(api.get(NAME), { holder: OTHER }, Date.now()).kind).toBe('held');
    // No more renewals once lost, and a lost hold is not deleted (it may be someone else's soon).
    const calls = api.calls.length;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(api.calls.length).toBe(calls);
    expect(await hold.release()).toMatchObject({ released: false });
    expect(api.get(NAME)).toBeDefined();
  });

  it('gives up in time even when renewal requests hang (each request is cut after 10 s)', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    api.failing.push({ kind: 'replace', status: 0, times: 1000 });
    await vi.advanceTimersByTimeAsync(LEASE_DURATION_SECONDS * 1000 - SAFETY_MARGIN_MS);
    expect(hold.signal.aborted).toBe(true);
    // 30 s wait, then attempts each cut after 10 s and retried 10 s later.
    expect(api.calls.filter((c) => c === 'replace').length).toBeGreaterThanOrEqual(3);
  });

  it('stops at once when another run took the Lease over, naming it', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    await vi.advanceTimersByTimeAsync(RENEW_INTERVAL_MS);
    const cur = api.get(NAME) as LeaseObject;
    api.write('ns', NAME, {
      ...cur,
      spec: { ...cur.spec, holderIdentity: OTHER, acquireTime: microTime(Date.now()) },
    });
    await vi.advanceTimersByTimeAsync(RENEW_INTERVAL_MS);
    expect(hold.signal.aborted).toBe(true);
    expect(hold.lost).toContain(`now held by ${OTHER}`);
    expect(api.get(NAME)?.spec?.holderIdentity).toBe(OTHER);
    expect(await hold.release()).toMatchObject({ released: false });
    expect(api.get(NAME)?.spec?.holderIdentity).toBe(OTHER);
  });

  it('stops when the Lease was deleted under it', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    api.store.clear();
    await vi.advanceTimersByTimeAsync(RENEW_INTERVAL_MS);
    expect(hold.lost).toContain('deleted or released');
  });

  it('is not fooled by its own renewal whose answer was lost (conflict, but still ours)', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, { namespace: 'ns', deployment: 'md-core', holder: ME });
    const realReplace = api.replaceLease.bind(api);
    let dropped = false;
    api.replaceLease = async (ns, name, body) => {
      const r = await realReplace(ns, name, body);
      if (!dropped) {
        dropped = true;
        throw new HttpError(500, 'connection reset');
      }
      return r;
    };
    await vi.advanceTimersByTimeAsync(RENEW_INTERVAL_MS);
    expect(hold.renewals).toBe(0);
    // The next renewal carries a stale resourceVersion: 409, re-read, still ours, renewed.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(hold.renewals).toBe(1);
    expect(hold.lost).toBeUndefined();
    hold.stop();
  });

  it('ends a hold that outlives the longest allowed run', async () => {
    const api = new FakeLeases();
    const hold = await acquireLease(api, {
      namespace: 'ns',
      deployment: 'md-core',
      holder: ME,
      maxHoldMs: 3600_000,
    });
    await vi.advanceTimersByTimeAsync(3600_000 + RENEW_INTERVAL_MS);
    expect(hold.lost).toContain('longest time');
    expect(hold.signal.aborted).toBe(true);
  });
});

describe('preflight permissions', () => {
  it("include get, create, update and delete of the Deployment's Lease", () => {
    const parsed = parseInputs({ namespace: 'ns', tag: '5.20.0', deployment: 'md-core' });
    if (!parsed.ok) throw new Error('inputs');
    const lines = requiredAccess(parsed.plan, []).map(describeAccess);
    expect(lines).toEqual(
      expect.arrayContaining([
        'get leases.coordination.k8s.io (mdcore-upgrade-md-core)',
        'create leases.coordination.k8s.io',
        'update leases.coordination.k8s.io (mdcore-upgrade-md-core)',
        'delete leases.coordination.k8s.io (mdcore-upgrade-md-core)',
      ]),
    );
  });
});
