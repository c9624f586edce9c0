// Transient image-pull errors on the real cluster: a registry rate limit (KWOK stage -pullratelimit) that ends
// within image-pull-grace lets the upgrade finish; one that outlasts it fails the upgrade, and only after it.
import { describe, expect, it } from 'vitest';
import { useNamespaces } from './support/namespaces.ts';
import { RATE_LIMIT_MESSAGE, tagFor } from './cluster/stages.ts';
import { deploymentView, IMAGE, installFixture, runAction } from './support/action.ts';

const namespace = useNamespaces();

describe('image-pull-grace', () => {
  it('rides out a rate limit that ends within the grace', async () => {
    const ns = await namespace('pull-grace-ok');
    await installFixture(ns);
    const tag = tagFor('5.20.0', 'pullratelimit', 20);
    const run = await runAction({ namespace: ns, tag, method: 'kubectl', 'image-pull-grace': '90' });
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    // The wait saw the rate limit and kept going.
    const wait = run.outcome.steps.find((s) => s.id === 'wait');
    expect(wait?.details.join('\n')).toContain('image pull failing transiently');
    expect(wait?.details.join('\n')).toContain('toomanyrequests');
    expect((wait?.endedAt ?? 0) - (wait?.startedAt ?? 0)).toBeGreaterThan(15_000);
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:${tag}`);
  });

  it('fails a rate limit that outlasts the grace only after the grace, and rolls back', async () => {
    const ns = await namespace('pull-grace-over');
    await installFixture(ns);
    const before = await deploymentView(ns);
    const run = await runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'pullratelimit', 600),
      method: 'kubectl',
      'image-pull-grace': '20',
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('longer than the image-pull grace of 20 s');
    expect(run.outcome.error).toContain(RATE_LIMIT_MESSAGE);
    const wait = run.outcome.steps.find((s) => s.id === 'wait');
    expect((wait?.endedAt ?? 0) - (wait?.startedAt ?? 0)).toBeGreaterThanOrEqual(20_000);
    expect((await deploymentView(ns)).image).toBe(before.image);
  });
});
