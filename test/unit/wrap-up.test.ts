// The wrap-up after a verified upgrade is bookkeeping: a failure there is retried, then only warned, and never
// throws (a throw would roll a verified upgrade back).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunContext } from '../../src/engine/context.ts';
import type { Facts } from '../../src/engine/step.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { recordUpgrade, restoreProgressDeadline } from '../../src/strategies/parts.ts';
import { journalFixture } from '../support/journal-fixture.ts';

function context(kube: Partial<RunContext['kube']>, fields: Record<string, unknown> = {}): RunContext {
  const p = parseInputs({ namespace: 'mdcore', tag: '5.20.0' });
  if (!p.ok) throw new Error('inputs');
  return {
    plan: p.plan,
    target: { namespace: 'mdcore', deployment: 'md-core', container: 'md-core', selector: 'app=md-core' },
    now: () => 0,
    kube,
    journal: { data: journalFixture({ deploymentFields: fields }), update: () => undefined },
  } as unknown as RunContext;
}

const facts = { db: { name: 'metadefender_core', reason: 'test' } } as unknown as Facts;

function handle(): { detail: (t: string) => void; warn: (t: string) => void; warnings: string[] } {
  const warnings: string[] = [];
  return { detail: () => undefined, warn: (t) => warnings.push(t), warnings };
}

describe('wrap-up steps', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('recording on the Deployment: a passing failure is retried and succeeds quietly', async () => {
    let calls = 0;
    const annotateDeployment = vi.fn(async () => {
      calls += 1;
      if (calls < 3) throw new Error('etcdserver: request timed out');
      return {};
    });
    const h = handle();
    const done = recordUpgrade(facts).run(context({ annotateDeployment } as never), h);
    await vi.runAllTimersAsync();
    await done;
    expect(annotateDeployment).toHaveBeenCalledTimes(3);
    expect(h.warnings).toEqual([]);
  });

  it('recording on the Deployment: a lasting failure is warned after three tries, never thrown', async () => {
    const annotateDeployment = vi.fn(async () => {
      throw new Error('connection refused');
    });
    const h = handle();
    const done = recordUpgrade(facts).run(context({ annotateDeployment } as never), h);
    await vi.runAllTimersAsync();
    await expect(done).resolves.toBeUndefined();
    expect(annotateDeployment).toHaveBeenCalledTimes(3);
    expect(h.warnings[0]).toContain('the upgrade is done, but recording it on the Deployment failed');
  });

  it('restoring progressDeadlineSeconds: a lasting failure is warned with the command to run, never thrown', async () => {
    const patchDeployment = vi.fn(async () => {
      throw new Error('the server is currently unable to handle the request');
    });
    const h = handle();
    const done = restoreProgressDeadline().run(
      context({ patchDeployment, getDeployment: vi.fn() } as never, { progressDeadlineSeconds: 600 }),
      h,
    );
    await vi.runAllTimersAsync();
    await expect(done).resolves.toBeUndefined();
    expect(patchDeployment).toHaveBeenCalledTimes(3);
    expect(h.warnings[0]).toContain('kubectl patch deployment/md-core -n mdcore');
  });

  it('a raised progressDeadlineSeconds goes back in the patch that records the upgrade: one request, no re-read', async () => {
    const patchDeployment = vi.fn(async () => ({ metadata: { generation: 7 } }));
    const annotateDeployment = vi.fn();
    const getDeployment = vi.fn();
    const ctx = context({ patchDeployment, annotateDeployment, getDeployment } as never, {
      progressDeadlineSeconds: null,
    });
    const update = vi.fn();
    Object.assign(ctx.journal, { update });
    const details: string[] = [];
    const h = { ...handle(), detail: (t: string) => details.push(t) };
    await recordUpgrade(facts).run(ctx, h);
    await restoreProgressDeadline().run(ctx, h);
    expect(patchDeployment).toHaveBeenCalledTimes(1);
    expect(patchDeployment).toHaveBeenCalledWith('mdcore', 'md-core', {
      metadata: { annotations: expect.objectContaining({ 'mdcore-upgrade-action/tag': '5.20.0' }) },
      spec: { progressDeadlineSeconds: null },
    });
    expect(annotateDeployment).not.toHaveBeenCalled();
    expect(getDeployment).not.toHaveBeenCalled();
    // The generation of the run's own spec change, from the patch's answer.
    expect(update).toHaveBeenCalledWith({ knownGeneration: 7 });
    expect(details.join('\n')).toContain('progressDeadlineSeconds back to the default (600 s)');
    expect(h.warnings).toEqual([]);
  });

  it('when that patch fails for good, the record is warned and the restore tries on its own', async () => {
    let calls = 0;
    const patchDeployment = vi.fn(async () => {
      calls += 1;
      if (calls <= 3) throw new Error('connection refused');
      return { metadata: { generation: 8 } };
    });
    const ctx = context({ patchDeployment } as never, { progressDeadlineSeconds: 300 });
    const update = vi.fn();
    Object.assign(ctx.journal, { update });
    const h = handle();
    const record = recordUpgrade(facts).run(ctx, h);
    await vi.runAllTimersAsync();
    await record;
    await restoreProgressDeadline().run(ctx, h);
    expect(patchDeployment).toHaveBeenCalledTimes(4);
    expect(patchDeployment).toHaveBeenLastCalledWith('mdcore', 'md-core', {
      spec: { progressDeadlineSeconds: 300 },
    });
    expect(update).toHaveBeenCalledWith({ knownGeneration: 8 });
    expect(h.warnings).toHaveLength(1);
    expect(h.warnings[0]).toContain('recording it on the Deployment failed');
  });

  it('recording on another Deployment than the one whose deadline was raised (green) only annotates', async () => {
    const patchDeployment = vi.fn();
    const annotateDeployment = vi.fn(async () => ({}));
    const ctx = context({ patchDeployment, annotateDeployment } as never, { progressDeadlineSeconds: 600 });
    Object.assign(ctx, { target: { ...ctx.target, deployment: 'md-core-green' } });
    await recordUpgrade(facts).run(ctx, handle());
    expect(annotateDeployment).toHaveBeenCalledWith('mdcore', 'md-core-green', expect.any(Object));
    expect(patchDeployment).not.toHaveBeenCalled();
  });
});
