// waitForNoPods over long quiet stops, a cancel that races the first list, and a failing watch (fake timers).
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitForNoPods } from '../../src/cluster/pods-gone.ts';
import { connectionRefused, FakeWatchKube, pod } from './support/fake-watch-kube.ts';

const base = { namespace: 'mdcore', selector: 'app=md-core' };

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

function track<T>(p: Promise<T>): { value?: T; error?: Error; settled: boolean } {
  const s: { value?: T; error?: Error; settled: boolean } = { settled: false };
  p.then(
    (v) => Object.assign(s, { value: v, settled: true }),
    (e: unknown) => Object.assign(s, { error: e as Error, settled: true }),
  );
  return s;
}

function twoPods(): FakeWatchKube {
  const f = new FakeWatchKube();
  f.put('pods', pod('md-core-a', { rs: 'md-core-old' }) as Record<string, unknown>, 'ADDED');
  f.put('pods', pod('md-core-b', { rs: 'md-core-old' }) as Record<string, unknown>, 'ADDED');
  return f;
}

describe('waitForNoPods', () => {
  it('keeps waiting through 40 minutes of idle closes, then sees the pods go', async () => {
    const f = twoPods();
    const s = track(waitForNoPods(f.kube, { ...base, timeoutMs: 60 * 60_000 }));
    await vi.advanceTimersByTimeAsync(10);
    for (let i = 0; i < 80; i++) {
      await vi.advanceTimersByTimeAsync(30_000);
      f.closeIdle('pods');
    }
    await vi.advanceTimersByTimeAsync(10);
    expect(s.settled).toBe(false);
    f.remove('pods', 'md-core-a');
    f.remove('pods', 'md-core-b');
    await vi.advanceTimersByTimeAsync(10);
    expect(s.error).toBeUndefined();
    expect(s.value).toBe(0);
    // Resumed from the last resourceVersion each time: one list only.
    expect(f.listCalls).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('returns at once when the signal fired during the first list, and keeps no listener', async () => {
    const f = twoPods();
    const ac = new AbortController();
    const list = f.listForWatch.bind(f);
    f.listForWatch = async (kind) => {
      const l = await list(kind);
      ac.abort();
      return l;
    };
    const s = track(waitForNoPods(f.kube, { ...base, timeoutMs: 15 * 60_000, signal: ac.signal }));
    await vi.advanceTimersByTimeAsync(10);
    expect(s.value).toBe(2);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(f.watchCalls).toHaveLength(0);
  });

  it('removes its abort listener when the pods are gone', async () => {
    const f = twoPods();
    const ac = new AbortController();
    const s = track(waitForNoPods(f.kube, { ...base, timeoutMs: 15 * 60_000, signal: ac.signal }));
    await vi.advanceTimersByTimeAsync(10);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    f.remove('pods', 'md-core-a');
    f.remove('pods', 'md-core-b');
    await vi.advanceTimersByTimeAsync(10);
    expect(s.value).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('resumes an idle close without a list, relists only after 410', async () => {
    const f = twoPods();
    const s = track(waitForNoPods(f.kube, { ...base, timeoutMs: 15 * 60_000 }));
    await vi.advanceTimersByTimeAsync(10);
    f.bookmark('pods');
    f.closeIdle('pods', 'server');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(f.listCalls).toHaveLength(1);
    expect(f.open('pods')).toHaveLength(1);
    f.objects.pods.clear();
    f.expire('pods');
    await vi.advanceTimersByTimeAsync(10);
    expect(s.value).toBe(0);
    expect(f.listCalls).toHaveLength(2);
  });

  it('gives up on a watch that only fails, with backoff, after the error bound', async () => {
    const f = twoPods();
    const s = track(waitForNoPods(f.kube, { ...base, timeoutMs: 60 * 60_000 }));
    await vi.advanceTimersByTimeAsync(10);
    f.failConnect.pods = connectionRefused;
    f.breakWatches('pods');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(f.watchCalls.length).toBeLessThanOrEqual(7);
    expect(s.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(s.error?.message).toMatch(/watch on pods in mdcore failed 13 times/);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits for an API server that is away at the first list (bounded), then sees the pods go', async () => {
    const f = twoPods();
    let failures = 2;
    f.failList.pods = () => {
      failures -= 1;
      if (failures <= 0) delete f.failList.pods;
      return connectionRefused();
    };
    const s = track(waitForNoPods(f.kube, { ...base, timeoutMs: 10 * 60_000 }));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(s.settled).toBe(false);
    expect(f.listCalls).toHaveLength(3);
    f.remove('pods', 'md-core-a');
    f.remove('pods', 'md-core-b');
    await vi.advanceTimersByTimeAsync(10);
    expect(s.value).toBe(0);
  });

  it('gives up on the first list after a bounded number of attempts', async () => {
    const f = twoPods();
    f.failList.pods = connectionRefused;
    const s = track(waitForNoPods(f.kube, { ...base, timeoutMs: 10 * 60_000 }));
    await vi.advanceTimersByTimeAsync(120_000);
    expect(s.error).toBeDefined();
    expect(f.listCalls).toHaveLength(6);
  });
});
