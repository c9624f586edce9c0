import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Kube } from '../../src/cluster/kube.ts';
import type { StepHandle } from '../../src/engine/timeline.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { preflight, PreflightError, revisionHistoryProblem } from '../../src/steps/preflight.ts';

function plan(inputs: Record<string, string> = {}): Plan {
  const r = parseInputs({ namespace: 'mdcore', tag: '5.21.0', ...inputs }, { files: false });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
}

function deployment(revisionHistoryLimit: number | undefined, helmRelease?: string): V1Deployment {
  return {
    metadata: {
      name: 'md-core',
      uid: 'dep-uid',
      generation: 3,
      annotations: {
        'deployment.kubernetes.io/revision': '3',
        ...(helmRelease ? { 'meta.helm.sh/release-name': helmRelease } : {}),
      },
    },
    spec: {
      replicas: 1,
      ...(revisionHistoryLimit === undefined ? {} : { revisionHistoryLimit }),
      selector: { matchLabels: { app: 'md-core' } },
      template: {
        metadata: { labels: { app: 'md-core' } },
        spec: { containers: [{ name: 'md-core', image: 'opswat/metadefendercore-debian:5.20.0' }] },
      },
    },
    status: {
      observedGeneration: 3,
      replicas: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
      readyReplicas: 1,
    },
  };
}

const replicaSet: V1ReplicaSet = {
  metadata: {
    name: 'md-core-3',
    annotations: { 'deployment.kubernetes.io/revision': '3' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'md-core', uid: 'dep-uid' }],
  },
};
const readyPod: V1Pod = {
  metadata: {
    name: 'md-core-3-a',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'md-core-3', uid: 'rs-uid' }],
  },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [{ name: 'md-core', image: 'x', imageID: '', ready: true, restartCount: 0 }],
  },
};

/** A cluster holding one healthy Deployment with one ready pod; `calls` records what was asked, in order. */
function fakeKube(
  dep: V1Deployment | undefined,
  o: { namespaceExists?: boolean; calls?: string[] } = {},
): Kube {
  const calls = o.calls ?? [];
  return {
    namespaceExists: async () => (calls.push('namespace'), o.namespaceExists ?? true),
    getDeployment: async () => (calls.push('deployment'), dep),
    missingPermissions: async () => [],
    servesApi: async () => false,
    listForWatch: async (kind: string) => {
      calls.push(`list ${kind}`);
      const items = kind === 'pods' ? [readyPod] : [replicaSet];
      return { items, resourceVersion: kind === 'pods' ? '200' : '100' };
    },
    getConfigMap: async () => undefined,
  } as unknown as Kube;
}

describe('preflight: reads', () => {
  it('reads the namespace only when the Deployment is not found, and names the namespace when it is missing', async () => {
    const calls: string[] = [];
    const err = await preflight(
      fakeKube(undefined, { namespaceExists: false, calls }),
      plan(),
      recordingStep(),
    ).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as Error).message).toContain('Namespace "mdcore" does not exist');
    expect(calls).toEqual(['deployment', 'namespace']);
  });

  it('names the Deployment when the namespace exists but the Deployment does not', async () => {
    const calls: string[] = [];
    const err = await preflight(fakeKube(undefined, { calls }), plan(), recordingStep()).catch(
      (e: unknown) => e as Error,
    );
    expect((err as Error).message).toContain('Deployment "md-core" was not found in namespace "mdcore"');
    expect(calls).toEqual(['deployment', 'namespace']);
  });

  it('a found Deployment costs no namespace read; its ReplicaSets and pods are kept with their resourceVersions', async () => {
    const calls: string[] = [];
    const state = await preflight(fakeKube(deployment(10), { calls }), plan(), recordingStep());
    expect(calls).not.toContain('namespace');
    expect(state.lists?.replicasets).toEqual({ items: [replicaSet], resourceVersion: '100' });
    expect(state.lists?.pods).toEqual({ items: [readyPod], resourceVersion: '200' });
  });
});

function recordingStep(): StepHandle & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, detail: () => undefined, warn: (t) => warnings.push(t) };
}

describe('preflight: revisionHistoryLimit 0', () => {
  it('refuses on the kubectl route when the rollback would be rollout undo, naming the field and the fixes', async () => {
    const step = recordingStep();
    const err = await preflight(fakeKube(deployment(0)), plan(), step).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    const msg = (err as Error).message;
    expect(msg).toContain('spec.revisionHistoryLimit: 0');
    expect(msg).toContain('revisionHistoryLimit to 2 or more');
    expect(msg).toContain("'rollback: none'");
    expect(msg).toContain('kubectl patch deployment md-core -n mdcore');
    expect(msg).toContain('Nothing in the cluster was changed');
  });

  it('refuses an explicit rollout-undo on a helm release too, and offers helm-rollback', () => {
    const r = revisionHistoryProblem(plan({ rollback: 'rollout-undo' }), deployment(0, 'mdcore'), 'mdcore');
    expect(r && 'refuse' in r && r.refuse).toContain("'rollback: helm-rollback'");
  });

  it.each([
    ['rollback none on the kubectl route', { rollback: 'none' }, undefined],
    ['helm rollback (auto on a helm release)', {}, 'mdcore'],
    ['helm-rollback asked on the helm route', { method: 'helm', rollback: 'helm-rollback' }, undefined],
  ])('only warns with %s', async (_name, inputs, release) => {
    const step = recordingStep();
    await preflight(fakeKube(deployment(0, release)), plan(inputs), step);
    expect(step.warnings.join('\n')).toContain('spec.revisionHistoryLimit: 0');
    expect(step.warnings.join('\n')).toContain('`kubectl rollout undo` is impossible after this run');
  });

  it.each([undefined, 1, 10])('says nothing for revisionHistoryLimit %s', async (limit) => {
    const step = recordingStep();
    const state = await preflight(fakeKube(deployment(limit)), plan(), step);
    expect(state.image).toBe('opswat/metadefendercore-debian:5.20.0');
    expect(step.warnings).toEqual([]);
  });
});
