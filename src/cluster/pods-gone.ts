// Waits, with a watch, until no pod matches a selector (used before MIGRATE_HISTORY: all pods stopped).
import type { Kube } from './kube.ts';

export interface PodsGoneOptions {
  readonly namespace: string;
  readonly selector: string;
  readonly timeoutMs: number;
  readonly onProgress?: (remaining: number) => void;
  readonly signal?: AbortSignal;
}

/** Resolves with the number of pods left: 0 when they are gone, more when the time ran out. */
export async function waitForNoPods(kube: Kube, o: PodsGoneOptions): Promise<number> {
  const first = await kube.listForWatch('pods', o.namespace, { labelSelector: o.selector });
  const names = new Set(first.items.map((p) => String((p.metadata as { name?: string }).name)));
  if (names.size === 0) return 0;
  o.onProgress?.(names.size);
  return new Promise<number>((resolve, reject) => {
    let done = false;
    let restarts = 0;
    let handle: { abort(): void } | undefined;
    const finish = (n: number): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      handle?.abort();
      resolve(n);
    };
    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      handle?.abort();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const timer = setTimeout(() => finish(names.size), o.timeoutMs);
    o.signal?.addEventListener('abort', () => finish(names.size));
    const start = (resourceVersion: string): void => {
      kube
        .watch(
          `/api/v1/namespaces/${o.namespace}/pods`,
          { labelSelector: o.selector, resourceVersion },
          (e) => {
            const name = String((e.object.metadata as { name?: string } | undefined)?.name);
            if (e.type === 'DELETED') {
              names.delete(name);
              o.onProgress?.(names.size);
            } else if (e.type === 'ADDED') names.add(name);
            if (names.size === 0) finish(0);
          },
          () => {
            // A dropped watch: list again and resume from there (bounded).
            if (done) return;
            restarts += 1;
            if (restarts > 20) return fail(new Error('the pod watch was dropped 20 times'));
            kube
              .listForWatch('pods', o.namespace, { labelSelector: o.selector })
              .then((l) => {
                names.clear();
                for (const p of l.items) names.add(String((p.metadata as { name?: string }).name));
                if (names.size === 0) finish(0);
                else start(l.resourceVersion);
              })
              .catch(fail);
          },
        )
        .then((h) => {
          handle = h;
          if (done) h.abort();
        })
        .catch(fail);
    };
    start(first.resourceVersion);
  });
}
