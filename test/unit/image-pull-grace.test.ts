// Transient image-pull errors: classification by the waiting message, the grace in the pure verdict, and the
// watcher's timer that ends the grace without a new event (fake timers).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitForRollout } from '../../src/cluster/rollout-watcher.ts';
import {
  classifyPullError,
  podStates,
  rolloutVerdict,
  trackPullProblems,
  type PullProblem,
} from '../../src/cluster/verdict.ts';
import {
  deployment,
  FakeWatchKube,
  pod,
  replicaSet,
  rolloutDone,
  rolloutInProgress,
} from './support/fake-watch-kube.ts';

describe('classifyPullError', () => {
  it.each([
    'failed to pull and unpack image "docker.io/opswat/x:1": failed to resolve reference: docker.io/opswat/x:1: not found',
    'rpc error: code = NotFound desc = failed to pull image: manifest unknown: manifest unknown',
    'failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
    'Error response from daemon: pull access denied for x, repository does not exist or may require docker login',
    'couldn\'t parse image reference "Opswat/X:1": invalid reference format: repository name must be lowercase',
    'Back-off pulling image "x": ErrImagePull: invalid image name "x::1"',
    'toomanyrequests: unauthorized: authentication required',
  ])('permanent: %s', (message) => {
    expect(classifyPullError(message)).toBe('permanent');
  });

  it.each([
    'toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading',
    'failed to copy: httpReadSeeker: failed open: unexpected status code https://r/v2/x/manifests/1: 429 Too Many Requests - Server message: rate limit exceeded',
    'failed to do request: Head "https://registry/v2/x/manifests/1": dial tcp 10.0.0.1:443: i/o timeout',
    'read tcp 10.0.0.2:5000->10.0.0.1:443: read: connection reset by peer',
    'dial tcp 127.0.0.1:5000: connect: connection refused',
    'Get "https://registry/v2/": net/http: TLS handshake timeout',
    'received unexpected HTTP status: 503 Service Unavailable',
    'unexpected status code 502 Bad Gateway',
    'failed to fetch manifest: unexpected status: 500 Internal Server Error',
    'context deadline exceeded',
  ])('transient: %s', (message) => {
    expect(classifyPullError(message)).toBe('transient');
  });

  it.each(['Back-off pulling image "opswat/x:1"', '', undefined])('unknown: %s', (message) => {
    expect(classifyPullError(message)).toBe('unknown');
  });

  it('does not take a 5xx-looking tag for a server error', () => {
    expect(classifyPullError('Back-off pulling image "opswat/x:503"')).toBe('unknown');
  });
});

const RATE_LIMIT = 'toomanyrequests: You have reached your pull rate limit';
const sets = [replicaSet('md-core-new', '2')];
const pulling = (message: string, reason = 'ErrImagePull') =>
  pod('md-core-new-a', { waiting: { reason, message } });

describe('trackPullProblems', () => {
  const states = (message: string, reason?: string) =>
    podStates({ deployment: deployment({ ready: 0 }), replicaSets: sets, pods: [pulling(message, reason)] });

  it('keeps the first-seen time while the transient failure lasts, also through a bare back-off message', () => {
    const a = trackPullProblems(new Map(), states(RATE_LIMIT), 1_000);
    expect(a.get('md-core-new-a')).toEqual({ since: 1_000, message: RATE_LIMIT });
    const b = trackPullProblems(a, states('Back-off pulling image "x"', 'ImagePullBackOff'), 5_000);
    expect(b.get('md-core-new-a')).toEqual({ since: 1_000, message: RATE_LIMIT });
  });

  it('drops a pod whose pull got through or turned permanent, and ignores unknown causes never seen transient', () => {
    const a = trackPullProblems(new Map(), states(RATE_LIMIT), 1_000);
    const running = podStates({
      deployment: deployment({ ready: 0 }),
      replicaSets: sets,
      pods: [pod('md-core-new-a')],
    });
    expect(trackPullProblems(a, running, 2_000).size).toBe(0);
    expect(trackPullProblems(a, states('manifest unknown'), 2_000).size).toBe(0);
    expect(trackPullProblems(new Map(), states('Back-off pulling image "x"'), 2_000).size).toBe(0);
  });
});

describe('rolloutVerdict with an image-pull grace', () => {
  const input = (
    message: string,
    tracked: ReadonlyMap<string, PullProblem>,
    now: number,
    graceMs: number,
  ) => ({
    deployment: deployment({ ready: 0 }),
    replicaSets: sets,
    pods: [pulling(message)],
    now,
    imagePullGraceMs: graceMs,
    transientPulls: tracked,
  });
  const since = new Map([['md-core-new-a', { since: 10_000, message: RATE_LIMIT }]]);

  it('keeps a transient pull failure progressing within the grace and says when to look again', () => {
    const v = rolloutVerdict(input(RATE_LIMIT, since, 100_000, 120_000));
    expect(v).toMatchObject({ state: 'progressing', recheckAt: 130_000 });
    expect(v.message).toContain('image pull failing transiently');
    expect(v.message).toContain('toomanyrequests');
  });

  it('fails once the grace is over, saying how long it lasted', () => {
    const v = rolloutVerdict(input(RATE_LIMIT, since, 130_000, 120_000));
    expect(v).toMatchObject({ state: 'failed', reason: 'ErrImagePull', pod: 'md-core-new-a' });
    expect(v.message).toContain('for 120 s, longer than the image-pull grace of 120 s');
  });

  it('fails at once with grace 0, and for a permanent cause whatever the grace', () => {
    expect(rolloutVerdict(input(RATE_LIMIT, since, 11_000, 0)).state).toBe('failed');
    expect(rolloutVerdict(input('manifest unknown', new Map(), 11_000, 120_000)).state).toBe('failed');
  });

  it('still fails at once on a crash loop in another pod', () => {
    const v = rolloutVerdict({
      ...input(RATE_LIMIT, since, 20_000, 120_000),
      pods: [pulling(RATE_LIMIT), pod('md-core-new-b', { waiting: { reason: 'CrashLoopBackOff' } })],
    });
    expect(v).toMatchObject({ state: 'failed', reason: 'CrashLoopBackOff', pod: 'md-core-new-b' });
  });
});

describe('waitForRollout with an image-pull grace', () => {
  const base = { namespace: 'mdcore', deployment: 'md-core', selector: 'app=md-core', timeoutMs: 3_600_000 };
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-12-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function rateLimited(): FakeWatchKube {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    f.put('pods', pulling(RATE_LIMIT) as Record<string, unknown>);
    return f;
  }

  it('succeeds when the rate limit ends within the grace', async () => {
    const f = rateLimited();
    const p = waitForRollout(f.kube, { ...base, imagePullGraceMs: 120_000 });
    await vi.advanceTimersByTimeAsync(30_000);
    f.put('pods', pulling('Back-off pulling image "x"', 'ImagePullBackOff') as Record<string, unknown>);
    await vi.advanceTimersByTimeAsync(60_000);
    rolloutDone(f);
    const r = await p;
    expect(r.verdict.state).toBe('complete');
  });

  it('fails when the grace ends, by its timer, with no new event', async () => {
    const f = rateLimited();
    let result: Awaited<ReturnType<typeof waitForRollout>> | undefined;
    void waitForRollout(f.kube, { ...base, imagePullGraceMs: 120_000 }).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(119_000);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_500);
    expect(result?.verdict).toMatchObject({ state: 'failed', reason: 'ErrImagePull' });
    expect(result?.verdict.message).toContain('longer than the image-pull grace of 120 s');
    expect(result?.elapsedMs).toBeGreaterThanOrEqual(120_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails a permanent pull error at once', async () => {
    const f = new FakeWatchKube();
    rolloutInProgress(f);
    f.put('pods', pulling('manifest unknown') as Record<string, unknown>);
    const p = waitForRollout(f.kube, { ...base, imagePullGraceMs: 120_000 });
    await vi.advanceTimersByTimeAsync(10);
    const r = await p;
    expect(r.verdict).toMatchObject({ state: 'failed', reason: 'ErrImagePull' });
    expect(r.elapsedMs).toBeLessThan(1_000);
  });
});
