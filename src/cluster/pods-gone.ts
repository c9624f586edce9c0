// Waits, with a watch, until no pod matches a selector (used before MIGRATE_HISTORY: all pods stopped).
import type { Kube } from './kube.ts';
import { startResumableWatch, type ResumePolicy, type ResumableWatch } from './resumable-watch.ts';

export interface PodsGoneOptions {
  readonly namespace: string;
  readonly selector: string;
  readonly timeoutMs: number;
  readonly onProgress?: (remaining: number) => void;
  readonly signal?: AbortSignal;
  /** Error bounds and backoff of the watch (defaults in resumable-watch.ts). */
  readonly watchPolicy?: Partial<ResumePolicy>;
}

const nameOf = (o: Record<string, unknown>): string =>
  String((o.metadata as { name?: string } | undefined)?.name ?? '');

/**
 * Resolves with the number of pods left: 0 when they are gone, more when the time ran out or the signal
 * fired. Rejects only when the watch fails beyond its error bound.
 */
export async function waitForNoPods(
  kube: Pick<Kube, 'watch' | 'listForWatch'>,
  o: PodsGoneOptions,
): Promise<number> {
  const first = await firstList(kube, o);
  const names = new Set(first.items.map(nameOf));
  if (names.size === 0) return 0;
  o.onProgress?.(names.size);
  // The signal may have fired during the list: an abort listener added now would never run.
  if (o.signal?.aborted) return names.size;
  return new Promise<number>((resolve, reject) => {
    let done = false;
    const end = (): void => {
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      watch.stop();
    };
    const finish = (n: number): void => {
      if (done) return;
      end();
      resolve(n);
    };
    const onAbort = (): void => finish(names.size);
    const timer = setTimeout(() => finish(names.size), o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort);
    const watch: ResumableWatch = startResumableWatch({
      kube,
      kind: 'pods',
      namespace: o.namespace,
      selector: { labelSelector: o.selector },
      resourceVersion: first.resourceVersion,
      ...(o.watchPolicy ? { policy: o.watchPolicy } : {}),
      onList: (items) => {
        names.clear();
        for (const p of items) names.add(nameOf(p));
        o.onProgress?.(names.size);
        if (names.size === 0) finish(0);
      },
      onEvent: (type, object) => {
        const name = nameOf(object);
        if (type === 'DELETED') {
          names.delete(name);
          o.onProgress?.(names.size);
        } else if (type === 'ADDED') names.add(name);
        if (names.size === 0) finish(0);
      },
      onGiveUp: (err) => {
        if (done) return;
        end();
        reject(err);
      },
    });
  });
}

/** Attempts at the first list, 1 s apart and doubling: an API server restarting right then is waited for. */
const FIRST_LIST_ATTEMPTS = 6;

async function firstList(
  kube: Pick<Kube, 'listForWatch'>,
  o: PodsGoneOptions,
): Promise<{ items: Record<string, unknown>[]; resourceVersion: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await kube.listForWatch('pods', o.namespace, { labelSelector: o.selector });
    } catch (err) {
      if (attempt >= FIRST_LIST_ATTEMPTS || o.signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, 1000 * 2 ** (attempt - 1)));
    }
  }
}
