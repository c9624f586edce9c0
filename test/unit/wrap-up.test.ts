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
});
