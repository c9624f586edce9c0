import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { rolloutVerdict } from '../../src/cluster/verdict.ts';

const uid = 'dep-uid';
function dep(
  over: {
    gen?: number;
    observed?: number;
    replicas?: number;
    updated?: number;
    available?: number;
    total?: number;
    rev?: string;
    conditions?: object[];
  } = {},
): V1Deployment {
  return {
    metadata: {
      name: 'md-core',
      uid,
      generation: over.gen ?? 2,
      annotations: { 'deployment.kubernetes.io/revision': over.rev ?? '2' },
    },
    spec: { replicas: over.replicas ?? 2, selector: { matchLabels: { app: 'md-core' } }, template: {} },
    status: {
      observedGeneration: over.observed ?? 2,
      updatedReplicas: over.updated ?? 2,
      availableReplicas: over.available ?? 2,
      replicas: over.total ?? 2,
      conditions: over.conditions as V1Deployment['status'] extends { conditions?: infer C } ? C : never,
    },
  };
}
function rs(name: string, rev: string): V1ReplicaSet {
  return {
    metadata: {
      name,
      annotations: { 'deployment.kubernetes.io/revision': rev },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'md-core', uid }],
    },
  };
}
function pod(
  name: string,
  rsName: string,
  o: { ready?: boolean; waiting?: string; restarts?: number } = {},
): V1Pod {
  return {
    metadata: {
      name,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, uid: rsName }],
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
      containerStatuses: [
        {
          name: 'md-core',
          image: 'x',
          imageID: '',
          ready: o.ready !== false,
          restartCount: o.restarts ?? 0,
          ...(o.waiting ? { state: { waiting: { reason: o.waiting, message: 'details' } } } : {}),
        },
      ],
    },
  };
}
const sets = [rs('old', '1'), rs('new', '2')];

describe('rolloutVerdict', () => {
  it('is complete when every counter agrees and no old pod remains', () => {
    const v = rolloutVerdict({
      deployment: dep(),
      replicaSets: sets,
      pods: [pod('a', 'new'), pod('b', 'new')],
    });
    expect(v).toMatchObject({ state: 'complete', ready: 2, desired: 2 });
  });

  it('is progressing while an old pod remains', () => {
    const v = rolloutVerdict({
      deployment: dep(),
      replicaSets: sets,
      pods: [pod('a', 'new'), pod('b', 'new'), pod('c', 'old')],
    });
    expect(v.state).toBe('progressing');
    expect(v.message).toContain('1 old pod');
  });

  it('is progressing until the controller observed the new generation', () => {
    const v = rolloutVerdict({
      deployment: dep({ gen: 3, observed: 2 }),
      replicaSets: sets,
      pods: [pod('a', 'new'), pod('b', 'new')],
    });
    expect(v).toMatchObject({ state: 'progressing', ready: 0 });
    expect(v.message).toContain('controller');
  });

  it('is progressing with "1/2 ready" while a pod is not ready', () => {
    const v = rolloutVerdict({
      deployment: dep({ available: 1 }),
      replicaSets: sets,
      pods: [pod('a', 'new'), pod('b', 'new', { ready: false })],
    });
    expect(v).toMatchObject({ state: 'progressing', ready: 1, desired: 2 });
    expect(v.message).toContain('1/2 ready');
  });

  it.each([
    'CrashLoopBackOff',
    'ImagePullBackOff',
    'ErrImagePull',
    'InvalidImageName',
    'CreateContainerConfigError',
  ])('fails fast on %s in a new pod', (reason) => {
    const v = rolloutVerdict({
      deployment: dep({ available: 0 }),
      replicaSets: sets,
      pods: [pod('a', 'new', { ready: false, waiting: reason })],
    });
    expect(v).toMatchObject({ state: 'failed', reason, pod: 'a' });
  });

  it('ignores a fatal reason in an old pod', () => {
    const v = rolloutVerdict({
      deployment: dep({ available: 1 }),
      replicaSets: sets,
      pods: [pod('a', 'new'), pod('c', 'old', { waiting: 'CrashLoopBackOff' })],
    });
    expect(v.state).toBe('progressing');
  });

  it('fails on ProgressDeadlineExceeded', () => {
    const v = rolloutVerdict({
      deployment: dep({
        available: 0,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'took too long',
          },
        ],
      }),
      replicaSets: sets,
      pods: [],
    });
    expect(v).toMatchObject({ state: 'failed', reason: 'ProgressDeadlineExceeded' });
  });
});
