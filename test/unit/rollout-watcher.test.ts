// The rollout watcher over hours of silence, through errors, expiry, cancellation and timeout (fake timers,
// a fake Kube with only listForWatch and watch).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitForRollout, type WaitResult } from '../../src/cluster/rollout-watcher.ts';
import {
  connectionRefused,
  deployment,
  FakeWatchKube,
  pod,
  rolloutDone,
  rolloutInProgress,
  type Kind,
} from './support/fake-watch-kube.ts';

const HOUR = 3_600_000;
const base = { namespace: 'mdcore', deployment: 'md-core', selector: 'app=md-core' };

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Settles a promise's outcome without letting a rejection go unhandled while time is advanced. */
function track<T>(p: Promise<T>): { value?: T; error?: Error; settled: boolean } {
  const s: { value?: T; error?: Error; settled: boolean } = { settled: false };
  p.then(
    (v) => Object.assign(s, { value: v, settled: true }),
    (e: unknown) => Object.assign(s, { error: e as Error, settled: true }),
  );
  return s;
}

/** Closes every open watch as idle every 30-60 s (what client-node's 30 s inactivity abort and the server do). */
async function quietFor(f: FakeWatchKube, ms: number, s: { settled: boolean }): Promise<number> {
  const gaps = [30_000, 45_000, 60_000, 37_000];
  let t = 0;
  let closes = 0;
  for (let i = 0; t < ms && !s.settled; i++) {
    const gap = gaps[i % gaps.length] as number;
    await vi.advanceTimersByTimeAsync(gap);
    t += gap;
    if (i % 3 === 0) f.bookmark('pods');
    closes += f.open().length;
    f.closeIdle(undefined, i % 2 === 0 ? 'inactivity' : 'server');
  }
  await vi.advanceTimersByTimeAsync(2_000);
  return closes;
}

describe('waitForRollout: long quiet waits', () => {
  it('survives a 2-hour silent wait with idle closes every 30-60 s, then completes', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: 3 * HOUR }));
    await vi.advanceTimersByTimeAsync(10);
    expect(f.open()).toHaveLength(3);

    const closes = await quietFor(f, 2 * HOUR, s);
    expect(s.settled).toBe(false);
    expect(closes).toBeGreaterThan(400);
    // Every watch is open again, resumed from where it stopped (no relist needed).
    expect(f.open()).toHaveLength(3);
    expect(f.listCalls).toHaveLength(3);

    rolloutDone(f);
    await vi.advanceTimersByTimeAsync(10);
    expect(s.error).toBeUndefined();
    const r = s.value as WaitResult;
    expect(r.verdict.state).toBe('complete');
    expect(r.watchIdleResumes).toBe(closes);
    expect(r.watchErrorRestarts).toBe(0);
    expect(r.watchRelists).toBe(0);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(2 * HOUR);
  });

  it('resumes each watch from the last resourceVersion it saw, bookmarks included', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: HOUR }));
    await vi.advanceTimersByTimeAsync(10);
    f.bookmark('pods');
    const bookmarkRv = String(Number(f.nextRv()) - 1);
    f.closeIdle('pods');
    await vi.advanceTimersByTimeAsync(1_000);
    const last = f.watchCalls.filter((c) => c.kind === 'pods').at(-1);
    expect(last?.resourceVersion).toBe(bookmarkRv);
    // Bookmarks are asked for, and the server is asked to end each watch before the inactivity timeout.
    expect(f.open('pods')[0]?.query).toMatchObject({ allowWatchBookmarks: true, timeoutSeconds: '240' });
    expect(s.settled).toBe(false);
  });

  it('a server that closes every watch at once is not reconnected more than once a second', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: HOUR }));
    await vi.advanceTimersByTimeAsync(10);
    for (let i = 0; i < 600; i++) {
      f.closeIdle('pods', 'server');
      await vi.advanceTimersByTimeAsync(100);
    }
    // 60 s of instant closes: about 60 reconnects, not 600.
    const pods = f.watchCalls.filter((c) => c.kind === 'pods').length;
    expect(pods).toBeGreaterThan(40);
    expect(pods).toBeLessThanOrEqual(62);
    expect(s.settled).toBe(false);
  });
});

describe('waitForRollout: errors', () => {
  it('backs off on errors and gives up only after too many within the window, naming the kind', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: 2 * HOUR }));
    await vi.advanceTimersByTimeAsync(10);
    f.failConnect.pods = connectionRefused;
    f.breakWatches('pods');
    await vi.advanceTimersByTimeAsync(60_000);
    // Backoff 1, 2, 4, 8, 16, 30 s: a handful of attempts in the first minute, not a tight loop.
    const firstMinute = f.watchCalls.filter((c) => c.kind === 'pods').length - 1;
    expect(firstMinute).toBeGreaterThanOrEqual(4);
    expect(firstMinute).toBeLessThanOrEqual(7);
    expect(s.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(s.error?.message).toMatch(/watch on pods in mdcore failed 13 times within 300 s/);
    expect(s.error?.message).toContain('fetch failed');
    const gaveUpAfter = (f.watchCalls.at(-1)?.at ?? 0) - Date.parse('2026-12-01T00:00:00Z');
    expect(gaveUpAfter).toBeGreaterThan(3 * 60_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts errors per kind and forgets them on progress', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: 5 * HOUR }));
    await vi.advanceTimersByTimeAsync(10);
    const kinds: Kind[] = ['deployments', 'replicasets', 'pods'];
    // 6 rounds x 10 errors on each of the three watches: 180 errors, never more than 10 in a row on one.
    for (let round = 0; round < 6; round++) {
      for (const k of kinds) f.failConnect[k] = connectionRefused;
      f.breakWatches();
      await vi.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000 + 8_000 + 16_000 + 4 * 30_000 + 500);
      expect(s.settled).toBe(false);
      for (const k of kinds) delete f.failConnect[k];
      await vi.advanceTimersByTimeAsync(30_000);
      expect(f.open()).toHaveLength(3);
      for (const k of kinds) f.bookmark(k);
    }
    rolloutDone(f);
    await vi.advanceTimersByTimeAsync(10);
    expect(s.error).toBeUndefined();
    expect(s.value?.verdict.state).toBe('complete');
    expect(s.value?.watchErrorRestarts).toBe(180);
    expect(s.value?.watchIdleResumes).toBe(0);
  });

  it('relists after 410 Gone and starts the next watch from the new list', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: HOUR }));
    await vi.advanceTimersByTimeAsync(10);
    // The pod turned Ready while the watch could not see it; only the relist shows it.
    const watches = f.open('pods');
    f.objects.pods.set('md-core-new-a', {
      ...(pod('md-core-new-a', { ready: true }) as Record<string, unknown>),
    });
    f.objects.deployments.set('md-core', deployment({ ready: 1 }) as Record<string, unknown>);
    f.expire('pods');
    expect(watches[0]?.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(10);
    expect(f.listCalls.filter((c) => c.kind === 'pods')).toHaveLength(2);
    f.expire('deployments');
    await vi.advanceTimersByTimeAsync(10);
    expect(s.value?.verdict.state).toBe('complete');
    expect(s.value?.watchRelists).toBe(2);
    expect(s.value?.watchErrorRestarts).toBe(0);
  });

  it('waits for an API server that is away at the first list, and then completes', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    f.failList.deployments = connectionRefused;
    f.failList.pods = connectionRefused;
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: HOUR }));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(s.settled).toBe(false);
    delete f.failList.deployments;
    delete f.failList.pods;
    await vi.advanceTimersByTimeAsync(16_000);
    expect(f.open()).toHaveLength(3);
    rolloutDone(f);
    await vi.advanceTimersByTimeAsync(10);
    expect(s.error).toBeUndefined();
    expect(s.value?.verdict.state).toBe('complete');
    expect(s.value?.watchErrorRestarts).toBe(10);
  });

  it('a failing relist is an error with backoff, then the relist is tried again', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: HOUR }));
    await vi.advanceTimersByTimeAsync(10);
    f.failList.pods = connectionRefused;
    f.expire('pods');
    await vi.advanceTimersByTimeAsync(10_000);
    delete f.failList.pods;
    await vi.advanceTimersByTimeAsync(8_000);
    expect(f.open('pods')).toHaveLength(1);
    rolloutDone(f);
    await vi.advanceTimersByTimeAsync(10);
    expect(s.value?.verdict.state).toBe('complete');
    expect(s.value?.watchRelists).toBe(1);
    expect(s.value?.watchErrorRestarts).toBeGreaterThanOrEqual(3);
  });
});

describe('waitForRollout: the only ends without a verdict are the timeout and the signal', () => {
  it('times out with a Timeout verdict at the timeout, however many idle closes came before', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: 30 * 60_000 }));
    await vi.advanceTimersByTimeAsync(10);
    await quietFor(f, 29 * 60_000, s);
    expect(s.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(s.error).toBeUndefined();
    expect(s.value?.verdict).toMatchObject({ state: 'failed', reason: 'Timeout' });
    expect(s.value?.verdict.message).toContain('within 1800 s');
    expect(f.open()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops at once on abort, even during a backoff, and leaves no watch or timer behind', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const ac = new AbortController();
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: HOUR, signal: ac.signal }));
    await vi.advanceTimersByTimeAsync(10);
    f.failConnect.pods = connectionRefused;
    f.breakWatches('pods');
    await vi.advanceTimersByTimeAsync(1_500);
    const calls = f.watchCalls.length;
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.error?.message).toBe('the wait was cancelled');
    expect(f.open()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(f.watchCalls.length).toBe(calls);
  });
});

describe('waitForRollout: watching from lists already read', () => {
  it('lists nothing again: each watch starts at the resourceVersion of the list it was given', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const start = {
      deployments: await f.listForWatch('deployments'),
      replicasets: await f.listForWatch('replicasets'),
      pods: await f.listForWatch('pods'),
    };
    f.listCalls.length = 0;
    const progress: string[] = [];
    const s = track(
      waitForRollout(f.kube, {
        ...base,
        timeoutMs: HOUR,
        start,
        onProgress: (v) => progress.push(v.state),
      }),
    );
    await vi.advanceTimersByTimeAsync(10);
    expect(f.listCalls).toEqual([]);
    expect(f.watchCalls.map((w) => [w.kind, w.resourceVersion])).toEqual([
      ['deployments', start.deployments.resourceVersion],
      ['replicasets', start.replicasets.resourceVersion],
      ['pods', start.pods.resourceVersion],
    ]);
    // Judged from the given lists at once: in progress.
    expect(progress).toEqual(['progressing']);
    expect(s.settled).toBe(false);

    rolloutDone(f);
    await vi.advanceTimersByTimeAsync(10);
    expect((s.value as WaitResult).verdict.state).toBe('complete');
    expect(f.listCalls).toEqual([]);
  });

  it('lists only the kinds not given, and relists a given kind whose resourceVersion expired (410)', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    const pods = await f.listForWatch('pods');
    f.listCalls.length = 0;
    const s = track(waitForRollout(f.kube, { ...base, timeoutMs: HOUR, start: { pods } }));
    await vi.advanceTimersByTimeAsync(10);
    expect(f.listCalls.map((c) => c.kind).sort()).toEqual(['deployments', 'replicasets']);
    f.expire('pods');
    await vi.advanceTimersByTimeAsync(10);
    expect(f.listCalls.map((c) => c.kind)).toContain('pods');
    rolloutDone(f);
    await vi.advanceTimersByTimeAsync(10);
    const r = s.value as WaitResult;
    expect(r.verdict.state).toBe('complete');
    expect(r.watchRelists).toBe(1);
  });
});
