// MIGRATE_HISTORY pre-steps and rolling-update tuning, end to end on the real cluster (kubectl route).
import { describe, expect, it } from 'vitest';
import { useNamespaces } from './support/namespaces.ts';
import { tagFor } from './cluster/stages.ts';
import { kubectlJson } from './cluster/context.ts';
import { configMapsData, deploymentView, IMAGE, installFixture, runAction } from './support/action.ts';

const namespace = useNamespaces();

interface DeploymentSpec {
  spec: {
    replicas: number;
    progressDeadlineSeconds: number;
    strategy: { rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
    template: {
      spec: {
        containers: {
          name: string;
          image: string;
          livenessProbe?: object;
          startupProbe?: { failureThreshold: number; periodSeconds: number };
        }[];
      };
    };
  };
}
const spec = (ns: string): Promise<DeploymentSpec> =>
  kubectlJson<DeploymentSpec>(['get', 'deployment', 'md-core', '-n', ns, '-o', 'json']);

describe('rolling-update tuning', () => {
  it('applies max-surge / max-unavailable in the same change and warns about license activations', async () => {
    const ns = await namespace('rolling-surge');
    await installFixture(ns, { replicas: 3 });
    const before = await deploymentView(ns);
    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'max-surge': '1',
      'max-unavailable': '0',
    });
    expect(run.outcome.result).toBe('upgraded');
    const s = await spec(ns);
    expect(s.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(Number((await deploymentView(ns)).revision)).toBe(Number(before.revision) + 1);
    expect(run.reporter.lines.some((l) => l.level === 'warning' && l.text.includes('spare activation'))).toBe(
      true,
    );
  });

  it("warns that the chart's defaults mean downtime with one replica", async () => {
    const ns = await namespace('rolling-downtime');
    await installFixture(ns, { replicas: 1 });
    const run = await runAction({ namespace: ns, tag: '5.20.0', method: 'kubectl' });
    expect(run.outcome.result).toBe('upgraded');
    expect(
      run.reporter.lines.some((l) => l.level === 'warning' && l.text.includes('DOWN during the upgrade')),
    ).toBe(true);
  });

  it('refuses max-unavailable 0 on top of the chart maxSurge 0, changing nothing', async () => {
    const ns = await namespace('rolling-zero');
    await installFixture(ns, { replicas: 2 });
    const before = await deploymentView(ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', method: 'kubectl', 'max-unavailable': '0' });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain('both zero');
    expect(await deploymentView(ns)).toEqual(before);
  });
});

describe('MIGRATE_HISTORY', () => {
  it('runs the pre-steps in order; a migration longer than timeout succeeds; settings restored', async () => {
    const ns = await namespace('migrate-slow');
    await installFixture(ns, { replicas: 2 });
    const before = await spec(ns);
    const tag = tagFor('5.20.0', 'slow', 35);
    const run = await runAction({
      namespace: ns,
      tag,
      method: 'kubectl',
      'migrate-history': 'true',
      'db-free-space': 'skip',
      timeout: '15s',
      'migration-timeout': '3m',
    });
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    const ids = run.outcome.steps.map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining(['liveness', 'db-space', 'stop-pods', 'apply', 'wait']));
    expect(ids.indexOf('liveness')).toBeLessThan(ids.indexOf('db-space'));
    expect(ids.indexOf('db-space')).toBeLessThan(ids.indexOf('stop-pods'));
    expect(ids.indexOf('stop-pods')).toBeLessThan(ids.indexOf('apply'));
    expect(run.reporter.text()).toContain('all md-core pods stopped (was 2)');
    // The wait outlasted `timeout` (15 s): the slow migration was not cut short.
    const wait = run.outcome.steps.find((s) => s.id === 'wait');
    expect((wait?.endedAt ?? 0) - (wait?.startedAt ?? 0)).toBeGreaterThan(15_000);

    const after = await spec(ns);
    const c = after.spec.template.spec.containers.find((x) => x.name === 'md-core');
    expect(c?.image).toBe(`${IMAGE}:${tag}`);
    expect(after.spec.replicas).toBe(2);
    expect(c?.livenessProbe).toEqual(before.spec.template.spec.containers[0]?.livenessProbe);
    expect(
      (c?.startupProbe?.failureThreshold ?? 0) * (c?.startupProbe?.periodSeconds ?? 0),
    ).toBeGreaterThanOrEqual(180);
    expect(after.spec.progressDeadlineSeconds).toBe(before.spec.progressDeadlineSeconds);
    expect(
      run.reporter.lines.some((l) => l.level === 'warning' && l.text.includes("'db-free-space: skip'")),
    ).toBe(true);
  });

  it('rolls a migration that never completes back at migration-timeout; replicas and ConfigMaps restored', async () => {
    const ns = await namespace('migrate-never');
    await installFixture(ns, { replicas: 2 });
    const before = await spec(ns);
    const cm = await configMapsData(ns);
    const run = await runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'never-ready'),
      method: 'kubectl',
      'migrate-history': 'true',
      'db-free-space': '1Gi',
      timeout: '10s',
      'migration-timeout': '25s',
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('within 25 s');
    const after = await spec(ns);
    expect(after.spec.template.spec.containers[0]?.image).toBe(
      before.spec.template.spec.containers[0]?.image,
    );
    expect(after.spec.replicas).toBe(2);
    expect(after.spec.progressDeadlineSeconds).toBe(before.spec.progressDeadlineSeconds);
    expect(await configMapsData(ns)).toEqual(cm);
    expect(run.reporter.text()).toContain('was not verified');
  });

  it('refuses when free space cannot be measured and no need is stated, changing nothing', async () => {
    const ns = await namespace('migrate-space');
    await installFixture(ns);
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'migrate-history': 'true',
    });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain("Set 'db-free-space'");
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
  });
});
