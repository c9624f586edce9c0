// Waits for a Deployment rollout with watches (Deployment, its ReplicaSets, its pods), not a polling loop.
// A dropped watch resumes from the last resourceVersion it saw; only an expired one (410) relists.
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Kube, WatchHandle } from './kube.ts';
import { podStates, rolloutVerdict, type PodState, type RolloutVerdict } from './verdict.ts';

export interface WaitOptions {
  readonly namespace: string;
  readonly deployment: string;
  /** Label selector of the Deployment's pods (from spec.selector.matchLabels). */
  readonly selector: string;
  readonly timeoutMs: number;
  /** Called when the ready count or the state changes. */
  readonly onProgress?: (verdict: RolloutVerdict, pods: readonly PodState[]) => void;
  readonly signal?: AbortSignal;
  /** Upper bound on watch restarts, so a flapping connection cannot loop forever. */
  readonly maxRestarts?: number;
}

export interface WaitResult {
  readonly verdict: RolloutVerdict;
  readonly pods: readonly PodState[];
  readonly deployment: V1Deployment | undefined;
  readonly watchRestarts: number;
  readonly elapsedMs: number;
}

type Kind = 'deployments' | 'replicasets' | 'pods';

interface Store {
  rv: string;
  items: Map<string, Record<string, unknown>>;
  handle: WatchHandle | undefined;
}

const nameOf = (o: Record<string, unknown>): string =>
  String((o.metadata as { name?: string } | undefined)?.name ?? '');

export function waitForRollout(kube: Kube, options: WaitOptions): Promise<WaitResult> {
  const started = Date.now();
  const maxRestarts = options.maxRestarts ?? 100;
  const stores: Record<Kind, Store> = {
    deployments: { rv: '', items: new Map(), handle: undefined },
    replicasets: { rv: '', items: new Map(), handle: undefined },
    pods: { rv: '', items: new Map(), handle: undefined },
  };
  const selectors: Record<Kind, { labelSelector?: string; fieldSelector?: string }> = {
    deployments: { fieldSelector: `metadata.name=${options.deployment}` },
    replicasets: { labelSelector: options.selector },
    pods: { labelSelector: options.selector },
  };
  const paths: Record<Kind, string> = {
    deployments: `/apis/apps/v1/namespaces/${options.namespace}/deployments`,
    replicasets: `/apis/apps/v1/namespaces/${options.namespace}/replicasets`,
    pods: `/api/v1/namespaces/${options.namespace}/pods`,
  };

  return new Promise<WaitResult>((resolve, reject) => {
    let finished = false;
    let restarts = 0;
    let lastKey = '';

    const snapshot = (): { dep: V1Deployment | undefined; rs: V1ReplicaSet[]; pods: V1Pod[] } => ({
      dep: stores.deployments.items.get(options.deployment) as V1Deployment | undefined,
      rs: [...stores.replicasets.items.values()] as V1ReplicaSet[],
      pods: [...stores.pods.items.values()] as V1Pod[],
    });

    const finish = (verdict: RolloutVerdict | undefined, error?: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const s of Object.values(stores)) s.handle?.abort();
      if (error !== undefined) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      const { dep, rs, pods } = snapshot();
      resolve({
        verdict: verdict ?? { state: 'progressing', ready: 0, desired: 0, message: 'unknown' },
        pods: dep ? podStates({ deployment: dep, replicaSets: rs, pods }) : [],
        deployment: dep,
        watchRestarts: restarts,
        elapsedMs: Date.now() - started,
      });
    };

    const evaluate = (): void => {
      if (finished) return;
      const { dep, rs, pods } = snapshot();
      if (!dep) {
        finish(
          undefined,
          new Error(`Deployment ${options.namespace}/${options.deployment} disappeared during the rollout`),
        );
        return;
      }
      const verdict = rolloutVerdict({ deployment: dep, replicaSets: rs, pods });
      const states = podStates({ deployment: dep, replicaSets: rs, pods });
      const key = `${verdict.state}:${verdict.ready}/${verdict.desired}:${verdict.message}`;
      if (key !== lastKey) {
        lastKey = key;
        options.onProgress?.(verdict, states);
      }
      if (verdict.state !== 'progressing') finish(verdict);
    };

    const onAbort = (): void => finish(undefined, new Error('the wait was cancelled'));

    const list = async (kind: Kind): Promise<void> => {
      const l = await kube.listForWatch(kind, options.namespace, selectors[kind]);
      const s = stores[kind];
      s.items = new Map(l.items.map((o) => [nameOf(o), o]));
      s.rv = l.resourceVersion;
    };

    const startWatch = async (kind: Kind): Promise<void> => {
      if (finished) return;
      const s = stores[kind];
      const handle = await kube.watch(
        paths[kind],
        { ...selectors[kind], resourceVersion: s.rv, allowWatchBookmarks: true },
        (e) => {
          if (finished) return;
          const meta = e.object.metadata as { resourceVersion?: string } | undefined;
          if (e.type === 'ERROR') {
            // A 410 Gone arrives as an ERROR event: the resourceVersion is too old, relist.
            s.rv = '';
            return;
          }
          if (meta?.resourceVersion) s.rv = meta.resourceVersion;
          if (e.type === 'BOOKMARK') return;
          if (e.type === 'DELETED') s.items.delete(nameOf(e.object));
          else s.items.set(nameOf(e.object), e.object);
          evaluate();
        },
        (err) => {
          if (finished) return;
          restarts += 1;
          if (restarts > maxRestarts) {
            finish(
              undefined,
              new Error(`the watch on ${kind} was dropped ${restarts} times; giving up (${String(err)})`),
            );
            return;
          }
          // Resume where it stopped; relist only when the resourceVersion is gone. Back off a little.
          const delay = Math.min(2000, 100 * restarts);
          setTimeout(() => {
            void (async () => {
              try {
                if (!s.rv) {
                  await list(kind);
                  evaluate();
                }
                await startWatch(kind);
              } catch (e) {
                // The API may be briefly unavailable: count it as another drop.
                s.handle = undefined;
                if (!finished && restarts <= maxRestarts) {
                  restarts += 1;
                  setTimeout(() => void startWatch(kind).catch((x: unknown) => finish(undefined, x)), delay);
                } else finish(undefined, e);
              }
            })();
          }, delay);
        },
      );
      if (finished) handle.abort();
      else s.handle = handle;
    };

    const timer = setTimeout(() => {
      const { dep, rs, pods } = snapshot();
      const v = dep ? rolloutVerdict({ deployment: dep, replicaSets: rs, pods }) : undefined;
      const ready = v?.ready ?? 0;
      const desired = v?.desired ?? 0;
      finish({
        state: 'failed',
        reason: 'Timeout',
        message: `readiness did not arrive within ${Math.round(options.timeoutMs / 1000)} s (${v?.message ?? 'no status'})`,
        pod: undefined,
        ready,
        desired,
      });
    }, options.timeoutMs);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort);

    void (async () => {
      try {
        const kinds: Kind[] = ['deployments', 'replicasets', 'pods'];
        for (const k of kinds) await list(k);
        evaluate();
        for (const k of kinds) await startWatch(k);
      } catch (err) {
        finish(undefined, err);
      }
    })();
  });
}
