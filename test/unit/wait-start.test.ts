// What the wait after the change watches from instead of listing again (strategies/parts.ts listsSoFar).
import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RunContext } from '../../src/engine/context.ts';
import { listsSoFar } from '../../src/strategies/parts.ts';

const lists = {
  replicasets: { items: [{ metadata: { name: 'md-core-3' } }], resourceVersion: '100' },
  pods: { items: [{ metadata: { name: 'md-core-3-a' } }], resourceVersion: '101' },
};
const target = { namespace: 'mdcore', deployment: 'md-core', container: 'md-core', selector: 'app=md-core' };

function ctx(t: Partial<typeof target> = {}): Pick<RunContext, 'state' | 'target'> {
  return {
    state: {
      deployment: { metadata: { namespace: 'mdcore', name: 'md-core', resourceVersion: '90' } },
      selector: 'app=md-core',
      lists,
    },
    target: { ...target, ...t },
  } as unknown as Pick<RunContext, 'state' | 'target'>;
}

const changed: V1Deployment = { metadata: { name: 'md-core', resourceVersion: '120', generation: 4 } };

describe('listsSoFar', () => {
  it("preflight's ReplicaSets and pods, and the Deployment read after the change at its resourceVersion", () => {
    expect(listsSoFar(ctx(), changed)).toEqual({
      ...lists,
      deployments: { items: [changed], resourceVersion: '120' },
    });
  });

  it('never the Deployment preflight read (before the change): without a read after it, it is listed', () => {
    expect(listsSoFar(ctx(), undefined)).toEqual(lists);
  });

  it.each<[string, Partial<typeof target>]>([
    ['another Deployment (green)', { deployment: 'md-core-green' }],
    ['another namespace', { namespace: 'staging' }],
  ])('nothing for %s', (_what, t) => {
    expect(
      listsSoFar(ctx(t), { metadata: { ...changed.metadata, name: t.deployment ?? 'md-core' } }),
    ).toEqual({});
  });

  it('no pod or ReplicaSet list when the wait selects pods differently', () => {
    expect(listsSoFar(ctx({ selector: 'app=md-core,color=green' }), changed)).toEqual({
      deployments: { items: [changed], resourceVersion: '120' },
    });
  });
});
