// A stand-in for Kube with only what the watchers use (listForWatch, watch), driven by the test: it holds the
// objects of each kind, streams changes to the open watches, and closes or fails watches on request.
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Kube } from '../../../src/cluster/kube.ts';

export type Kind = 'deployments' | 'replicasets' | 'pods';

export interface OpenWatch {
  kind: Kind;
  query: Record<string, string | boolean>;
  onEvent: (e: { type: string; object: Record<string, unknown> }) => void;
  done: (err: unknown) => void;
  closed: boolean;
  aborted: boolean;
}

export function kindOfPath(path: string): Kind {
  if (path.endsWith('/pods')) return 'pods';
  if (path.endsWith('/replicasets')) return 'replicasets';
  if (path.endsWith('/deployments')) return 'deployments';
  throw new Error(`unexpected watch path ${path}`);
}

export class FakeWatchKube {
  private rv = 100;
  readonly objects: Record<Kind, Map<string, Record<string, unknown>>> = {
    deployments: new Map(),
    replicasets: new Map(),
    pods: new Map(),
  };
  readonly watches: OpenWatch[] = [];
  readonly listCalls: { kind: Kind; at: number }[] = [];
  readonly watchCalls: { kind: Kind; at: number; resourceVersion: string }[] = [];
  /** When set for a kind, a new watch of that kind fails at once with what this returns. */
  failConnect: Partial<Record<Kind, () => unknown>> = {};
  /** When set for a kind, a list of that kind fails with what this returns. */
  failList: Partial<Record<Kind, () => unknown>> = {};

  /** The fake as the watchers' parameter type (they use only listForWatch and watch). */
  get kube(): Kube {
    return this as unknown as Kube;
  }

  nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  open(kind?: Kind): OpenWatch[] {
    return this.watches.filter((w) => !w.closed && (kind === undefined || w.kind === kind));
  }

  /** Stores an object (a new resourceVersion) and streams it to open watches of its kind. */
  put(kind: Kind, object: Record<string, unknown>, type: 'ADDED' | 'MODIFIED' = 'MODIFIED'): void {
    const meta = (object.metadata ?? {}) as Record<string, unknown>;
    const o = { ...object, metadata: { ...meta, resourceVersion: this.nextRv() } };
    this.objects[kind].set(String(meta.name), o);
    for (const w of this.open(kind)) w.onEvent({ type, object: o });
  }

  remove(kind: Kind, name: string): void {
    const o = this.objects[kind].get(name);
    if (!o) return;
    this.objects[kind].delete(name);
    const meta = o.metadata as Record<string, unknown>;
    const gone = { ...o, metadata: { ...meta, resourceVersion: this.nextRv() } };
    for (const w of this.open(kind)) w.onEvent({ type: 'DELETED', object: gone });
  }

  bookmark(kind: Kind): void {
    const object = { metadata: { resourceVersion: this.nextRv() } };
    for (const w of this.open(kind)) w.onEvent({ type: 'BOOKMARK', object });
  }

  /** Closes open watches the way client-node does: err null (server close) or a TimeoutError (inactivity). */
  closeIdle(kind?: Kind, how: 'server' | 'inactivity' = 'inactivity'): void {
    for (const w of this.open(kind)) {
      w.closed = true;
      w.done(
        how === 'server'
          ? null
          : new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      );
    }
  }

  /** A 410 Gone ERROR event followed by the server's close. */
  expire(kind: Kind): void {
    for (const w of this.open(kind)) {
      w.onEvent({
        type: 'ERROR',
        object: { kind: 'Status', code: 410, message: 'too old resource version' },
      });
      w.closed = true;
      w.done(null);
    }
  }

  /** Drops open watches with a network error (what an API server restart looks like). */
  breakWatches(kind?: Kind): void {
    for (const w of this.open(kind)) {
      w.closed = true;
      w.done(Object.assign(new TypeError('terminated'), { cause: new Error('other side closed') }));
    }
  }

  async listForWatch(kind: Kind): Promise<{ items: Record<string, unknown>[]; resourceVersion: string }> {
    this.listCalls.push({ kind, at: Date.now() });
    const fail = this.failList[kind];
    if (fail) throw fail();
    return { items: [...this.objects[kind].values()], resourceVersion: String(this.rv) };
  }

  async watch(
    path: string,
    query: Record<string, string | boolean>,
    onEvent: OpenWatch['onEvent'],
    done: OpenWatch['done'],
  ): Promise<{ abort(): void }> {
    const kind = kindOfPath(path);
    this.watchCalls.push({ kind, at: Date.now(), resourceVersion: String(query.resourceVersion ?? '') });
    const w: OpenWatch = { kind, query, onEvent, done, closed: false, aborted: false };
    this.watches.push(w);
    const fail = this.failConnect[kind];
    if (fail) {
      w.closed = true;
      done(fail());
    }
    return {
      abort: () => {
        w.aborted = true;
        if (w.closed) return;
        w.closed = true;
        done(new DOMException('This operation was aborted', 'AbortError'));
      },
    };
  }
}

export const connectionRefused = (): Error =>
  Object.assign(new TypeError('fetch failed'), {
    cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  });

// ---- md-core shaped objects ---------------------------------------------------------------------------------

const UID = 'dep-uid';

export function deployment(o: { ready: number; replicas?: number; generation?: number }): V1Deployment {
  const replicas = o.replicas ?? 1;
  return {
    metadata: {
      name: 'md-core',
      uid: UID,
      generation: o.generation ?? 2,
      annotations: { 'deployment.kubernetes.io/revision': '2' },
    },
    spec: { replicas, selector: { matchLabels: { app: 'md-core' } }, template: {} },
    status: {
      observedGeneration: o.generation ?? 2,
      replicas,
      updatedReplicas: replicas,
      availableReplicas: o.ready,
      readyReplicas: o.ready,
    },
  };
}

export function replicaSet(name: string, revision: string): V1ReplicaSet {
  return {
    metadata: {
      name,
      annotations: { 'deployment.kubernetes.io/revision': revision },
      labels: { app: 'md-core' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'md-core', uid: UID }],
    },
  };
}

export function pod(
  name: string,
  o: { ready?: boolean; waiting?: { reason: string; message?: string }; rs?: string } = {},
): V1Pod {
  const ready = o.ready ?? false;
  return {
    metadata: {
      name,
      labels: { app: 'md-core' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.rs ?? 'md-core-new', uid: 'rs' },
      ],
    },
    status: {
      phase: o.waiting ? 'Pending' : 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [
        {
          name: 'md-core',
          image: 'opswat/metadefendercore-debian:5.20.0',
          imageID: '',
          ready,
          restartCount: 0,
          state: o.waiting ? { waiting: o.waiting } : { running: {} },
        },
      ],
    },
  };
}

/** A rollout in progress: revision 2's ReplicaSet and one unready pod of it. */
export function rolloutInProgress(f: FakeWatchKube): void {
  f.put('deployments', deployment({ ready: 0 }) as Record<string, unknown>, 'ADDED');
  f.put('replicasets', replicaSet('md-core-new', '2') as Record<string, unknown>, 'ADDED');
  f.put('pods', pod('md-core-new-a') as Record<string, unknown>, 'ADDED');
}

/** The same rollout finished: the pod Ready, the Deployment available. */
export function rolloutDone(f: FakeWatchKube): void {
  f.put('pods', pod('md-core-new-a', { ready: true }) as Record<string, unknown>);
  f.put('deployments', deployment({ ready: 1 }) as Record<string, unknown>);
}
