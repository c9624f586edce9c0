// Waits for a Deployment rollout with watches (Deployment, its ReplicaSets, its pods), not a polling loop.
// Each watch resumes by itself (resumable-watch.ts); this module keeps the objects, the transient pull problems
// and the verdict, and ends the wait on a verdict, the timeout, the abort signal or a watch that gave up.
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Kube } from './kube.ts';
import {
  startResumableWatch,
  type Listed,
  type ResumePolicy,
  type ResumableWatch,
  type WatchKind,
} from './resumable-watch.ts';
import {
  podStates,
  rolloutVerdict,
  trackPullProblems,
  type PodState,
  type PullProblem,
  type RolloutVerdict,
} from './verdict.ts';

export interface WaitOptions {
  readonly namespace: string;
  readonly deployment: string;
  /** Label selector of the Deployment's pods (from spec.selector.matchLabels). */
  readonly selector: string;
  readonly timeoutMs: number;
  /** Called when the ready count or the state changes. */
  readonly onProgress?: (verdict: RolloutVerdict, pods: readonly PodState[]) => void;
  readonly signal?: AbortSignal;
  /** How long a transient image-pull failure may last before the verdict fails (default 0: at once). */
  readonly imagePullGraceMs?: number;
  /** Error bounds and backoff of the watches (defaults in resumable-watch.ts). */
  readonly watchPolicy?: Partial<ResumePolicy>;
  /**
   * Lists already read (same namespace and selectors as the watches): each of these kinds is watched from its
   * resourceVersion instead of being listed again. The Deployment's must have been read after the change (a
   * watch from an older point would replay to it, but until then the old, complete state is what it holds).
   */
  readonly start?: Partial<Record<WatchKind, Listed>>;
}

export interface WaitResult {
  readonly verdict: RolloutVerdict;
  readonly pods: readonly PodState[];
  readonly deployment: V1Deployment | undefined;
  /** Watches resumed after a normal close (server timeout, inactivity): expected on long waits. */
  readonly watchIdleResumes: number;
  /** Watches restarted after a real error (API server unreachable, 5xx, ...). */
  readonly watchErrorRestarts: number;
  /** Full relists after an expired resourceVersion (410). */
  readonly watchRelists: number;
  readonly elapsedMs: number;
}

const KINDS: readonly WatchKind[] = ['deployments', 'replicasets', 'pods'];

const nameOf = (o: Record<string, unknown>): string =>
  String((o.metadata as { name?: string } | undefined)?.name ?? '');

export function waitForRollout(kube: Kube, options: WaitOptions): Promise<WaitResult> {
  const started = Date.now();
  const items: Record<WatchKind, Map<string, Record<string, unknown>>> = {
    deployments: new Map(),
    replicasets: new Map(),
    pods: new Map(),
  };
  const selectors: Record<WatchKind, { labelSelector?: string; fieldSelector?: string }> = {
    deployments: { fieldSelector: `metadata.name=${options.deployment}` },
    replicasets: { labelSelector: options.selector },
    pods: { labelSelector: options.selector },
  };
  const graceMs = options.imagePullGraceMs ?? 0;

  return new Promise<WaitResult>((resolve, reject) => {
    let finished = false;
    let allListed = false;
    let lastKey = '';
    let transientPulls: ReadonlyMap<string, PullProblem> = new Map();
    let recheck: { at: number; timer: ReturnType<typeof setTimeout> } | undefined;
    const watches: ResumableWatch[] = [];

    const snapshot = (): { dep: V1Deployment | undefined; rs: V1ReplicaSet[]; pods: V1Pod[] } => ({
      dep: items.deployments.get(options.deployment) as V1Deployment | undefined,
      rs: [...items.replicasets.values()] as V1ReplicaSet[],
      pods: [...items.pods.values()] as V1Pod[],
    });

    const verdictNow = (): RolloutVerdict | undefined => {
      const { dep, rs, pods } = snapshot();
      if (!dep) return undefined;
      const now = Date.now();
      transientPulls = trackPullProblems(
        transientPulls,
        podStates({ deployment: dep, replicaSets: rs, pods }),
        now,
      );
      return rolloutVerdict({
        deployment: dep,
        replicaSets: rs,
        pods,
        now,
        imagePullGraceMs: graceMs,
        transientPulls,
      });
    };

    const sum = (k: 'idleResumes' | 'errorRestarts' | 'relists'): number =>
      watches.reduce((n, w) => n + w.counters[k], 0);

    const finish = (verdict: RolloutVerdict | undefined, error?: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (recheck) clearTimeout(recheck.timer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const w of watches) w.stop();
      if (error !== undefined) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      const { dep, rs, pods } = snapshot();
      resolve({
        verdict: verdict ?? { state: 'progressing', ready: 0, desired: 0, message: 'unknown' },
        pods: dep ? podStates({ deployment: dep, replicaSets: rs, pods }) : [],
        deployment: dep,
        watchIdleResumes: sum('idleResumes'),
        watchErrorRestarts: sum('errorRestarts'),
        watchRelists: sum('relists'),
        elapsedMs: Date.now() - started,
      });
    };

    const evaluate = (): void => {
      if (finished || !allListed) return;
      const verdict = verdictNow();
      if (!verdict) {
        finish(
          undefined,
          new Error(`Deployment ${options.namespace}/${options.deployment} disappeared during the rollout`),
        );
        return;
      }
      const { dep, rs, pods } = snapshot();
      const key = `${verdict.state}:${verdict.ready}/${verdict.desired}:${verdict.message}`;
      if (key !== lastKey) {
        lastKey = key;
        options.onProgress?.(verdict, dep ? podStates({ deployment: dep, replicaSets: rs, pods }) : []);
      }
      if (verdict.state !== 'progressing') {
        finish(verdict);
        return;
      }
      // A grace period ends by the clock alone: look again then, even if no object changes.
      const at = verdict.recheckAt;
      if (at !== undefined && recheck?.at !== at) {
        if (recheck) clearTimeout(recheck.timer);
        recheck = {
          at,
          timer: setTimeout(
            () => {
              recheck = undefined;
              evaluate();
            },
            Math.max(0, at - Date.now()),
          ),
        };
      } else if (at === undefined && recheck) {
        clearTimeout(recheck.timer);
        recheck = undefined;
      }
    };

    const onAbort = (): void => finish(undefined, new Error('the wait was cancelled'));

    const timer = setTimeout(() => {
      const v = verdictNow();
      finish({
        state: 'failed',
        reason: 'Timeout',
        message: `readiness did not arrive within ${Math.round(options.timeoutMs / 1000)} s (${v?.message ?? 'no status'})`,
        pod: undefined,
        ready: v?.ready ?? 0,
        desired: v?.desired ?? 0,
      });
    }, options.timeoutMs);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort);

    // Each watch lists first unless its list was given (retried like any watch error, so an API server that
    // is away just then is waited for); the verdict needs all three lists.
    const listed = new Set<WatchKind>();
    for (const k of KINDS) {
      const given = options.start?.[k];
      if (given) {
        items[k] = new Map(given.items.map((o) => [nameOf(o), o]));
        listed.add(k);
      }
    }
    allListed = listed.size === KINDS.length;
    for (const k of KINDS) {
      watches.push(
        startResumableWatch({
          kube,
          kind: k,
          namespace: options.namespace,
          selector: selectors[k],
          resourceVersion: options.start?.[k]?.resourceVersion ?? '',
          ...(options.watchPolicy ? { policy: options.watchPolicy } : {}),
          onList: (list) => {
            items[k] = new Map(list.map((o) => [nameOf(o), o]));
            listed.add(k);
            allListed = listed.size === KINDS.length;
            evaluate();
          },
          onEvent: (type, object) => {
            if (type === 'DELETED') items[k].delete(nameOf(object));
            else items[k].set(nameOf(object), object);
            evaluate();
          },
          onGiveUp: (err) => finish(undefined, err),
        }),
      );
    }
    evaluate();
  });
}
