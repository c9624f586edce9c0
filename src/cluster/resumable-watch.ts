// One watch of one kind that lasts as long as its owner needs: idle closes resume without limit from the last
// resourceVersion, an expired resourceVersion (410) relists, real errors back off and are bounded per window.
import type { Kube, WatchHandle } from './kube.ts';

export type WatchKind = 'deployments' | 'replicasets' | 'pods';

/** A list and the resourceVersion it was read at: where a watch of the same kind and selector can start. */
export interface Listed {
  readonly items: Record<string, unknown>[];
  readonly resourceVersion: string;
}

export interface WatchSelector {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

/** How a watch reconnected, for the run's report. */
export interface WatchCounters {
  /** Normal closes (the server's or the inactivity timeout's) resumed from the last resourceVersion. */
  idleResumes: number;
  /** Reconnects after a real error (connection refused or reset, 5xx, an ERROR event other than 410). */
  errorRestarts: number;
  /** Full relists after the resourceVersion expired (410 Gone). */
  relists: number;
}

export interface ResumePolicy {
  /** More errors than this within `errorWindowMs`, with no progress in between, end the watch. */
  readonly maxErrors: number;
  readonly errorWindowMs: number;
  /** First retry delay after an error; doubles per error without progress, up to `backoffMaxMs`. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Idle resumes are at least this far apart, so a server that closes every watch at once cannot spin us. */
  readonly minResumeIntervalMs: number;
  /** The server ends each watch after this long (a clean close, resumed as idle). */
  readonly serverTimeoutSeconds: number;
}

// A 20 s API server restart costs ~6 errors; ~4 minutes of nothing but errors on one kind ends the wait.
export const DEFAULT_RESUME_POLICY: ResumePolicy = {
  maxErrors: 12,
  errorWindowMs: 5 * 60_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  minResumeIntervalMs: 1_000,
  serverTimeoutSeconds: 240,
};

export interface ResumableWatchOptions {
  readonly kube: Pick<Kube, 'watch' | 'listForWatch'>;
  readonly kind: WatchKind;
  readonly namespace: string;
  readonly selector: WatchSelector;
  /** Where to start: the resourceVersion of the list the owner already holds. */
  readonly resourceVersion: string;
  readonly policy?: Partial<ResumePolicy>;
  /** A relist replaced everything the owner knew of this kind. */
  readonly onList: (items: Record<string, unknown>[]) => void;
  readonly onEvent: (type: string, object: Record<string, unknown>) => void;
  /** The error bound was exceeded; the watch has stopped. */
  readonly onGiveUp: (err: Error) => void;
}

export interface ResumableWatch {
  readonly counters: Readonly<WatchCounters>;
  stop(): void;
}

export function watchPath(kind: WatchKind, namespace: string): string {
  return kind === 'pods'
    ? `/api/v1/namespaces/${namespace}/pods`
    : `/apis/apps/v1/namespaces/${namespace}/${kind}`;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; status?: unknown; code?: unknown } | null | undefined;
  for (const v of [e?.statusCode, e?.status, e?.code]) if (typeof v === 'number') return v;
  return undefined;
}

/** A close that is not a fault: the server ended the watch, or nothing arrived within the inactivity timeout. */
function isIdleClose(err: unknown): boolean {
  if (err === null || err === undefined) return true;
  return (err as { name?: unknown }).name === 'TimeoutError';
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export function startResumableWatch(o: ResumableWatchOptions): ResumableWatch {
  const policy: ResumePolicy = { ...DEFAULT_RESUME_POLICY, ...o.policy };
  const counters: WatchCounters = { idleResumes: 0, errorRestarts: 0, relists: 0 };
  const path = watchPath(o.kind, o.namespace);
  let rv = o.resourceVersion;
  let stopped = false;
  let needRelist = rv === '';
  let handle: WatchHandle | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let errorTimes: number[] = [];
  let errorsSinceProgress = 0;

  const progress = (): void => {
    errorTimes = [];
    errorsSinceProgress = 0;
  };

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    retry = setTimeout(
      () => {
        retry = undefined;
        void (needRelist ? relist() : connect());
      },
      Math.max(0, delayMs),
    );
  };

  const stop = (): void => {
    stopped = true;
    if (retry !== undefined) clearTimeout(retry);
    retry = undefined;
    handle?.abort();
    handle = undefined;
  };

  const failed = (err: unknown): void => {
    if (stopped) return;
    counters.errorRestarts += 1;
    const now = Date.now();
    errorTimes = errorTimes.filter((t) => now - t < policy.errorWindowMs);
    errorTimes.push(now);
    if (errorTimes.length > policy.maxErrors) {
      stop();
      o.onGiveUp(
        new Error(
          `the watch on ${o.kind} in ${o.namespace} failed ${errorTimes.length} times within ` +
            `${Math.round(policy.errorWindowMs / 1000)} s without any progress; last error: ${describe(err)}`,
        ),
      );
      return;
    }
    errorsSinceProgress += 1;
    schedule(Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (errorsSinceProgress - 1)));
  };

  const relist = async (): Promise<void> => {
    if (stopped) return;
    let l: { items: Record<string, unknown>[]; resourceVersion: string };
    try {
      l = await o.kube.listForWatch(o.kind, o.namespace, o.selector);
    } catch (err) {
      failed(err);
      return;
    }
    if (stopped) return;
    needRelist = false;
    rv = l.resourceVersion;
    progress();
    o.onList(l.items);
    void connect();
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const openedAt = Date.now();
    let closed = false;
    let eventError: Error | undefined;
    const onClose = (err: unknown): void => {
      if (closed) return;
      closed = true;
      handle = undefined;
      if (stopped) return;
      if (needRelist || statusOf(err) === 410) {
        needRelist = true;
        counters.relists += 1;
        schedule(0);
      } else if (eventError === undefined && isIdleClose(err)) {
        counters.idleResumes += 1;
        schedule(policy.minResumeIntervalMs - (Date.now() - openedAt));
      } else {
        failed(eventError ?? err);
      }
    };
    try {
      const h = await o.kube.watch(
        path,
        {
          ...o.selector,
          resourceVersion: rv,
          allowWatchBookmarks: true,
          timeoutSeconds: String(policy.serverTimeoutSeconds),
        },
        (e) => {
          if (stopped || closed) return;
          if (e.type === 'ERROR') {
            // The server reports an expired resourceVersion (410) or another failure as an event, then closes.
            const status = e.object as { code?: unknown; message?: unknown };
            if (status.code === 410) needRelist = true;
            else eventError = new Error(`ERROR event ${String(status.code)}: ${String(status.message)}`);
            return;
          }
          const meta = e.object.metadata as { resourceVersion?: string } | undefined;
          if (meta?.resourceVersion) rv = meta.resourceVersion;
          progress();
          if (e.type !== 'BOOKMARK') o.onEvent(e.type, e.object);
        },
        onClose,
      );
      if (stopped || closed) h.abort();
      else handle = h;
    } catch (err) {
      onClose(err);
    }
  };

  // Start on a later tick, so no callback runs before the owner holds the returned handle.
  void Promise.resolve().then(() => (needRelist ? relist() : connect()));
  return { counters, stop };
}
