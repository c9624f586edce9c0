// A person edits what the run changed while it runs: the rollback keeps their edit and says so instead of
// overwriting it; a run that finds the Deployment edited after preflight stops before its first change.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runUpgrade } from '../../src/engine/run.ts';
import { formatInputErrors, parseInputs } from '../../src/plan/inputs.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';
import { tagFor } from './cluster/stages.ts';
import { e2eCluster, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { configMapsData, deploymentView, IMAGE, installFixture, runAction } from './support/action.ts';
import { useNamespaces } from './support/namespaces.ts';

const namespace = useNamespaces();

interface Cm {
  metadata: { name: string; finalizers?: string[] };
  data?: Record<string, string>;
}

describe('edits by someone else during a run', () => {
  it('a ConfigMap key changed by a person during the wait is left as they set it; the rest is restored', async () => {
    const ns = await namespace('edit-configmap');
    await installFixture(ns, { replicas: 1 });
    const before = await configMapsData(ns);
    const running = runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'never-ready'),
      method: 'kubectl',
      timeout: '25s',
    });
    // The run writes its variables into the chart's ConfigMap before the image change; edit one of them then.
    const written = await waitFor(
      'the variables written',
      async () => {
        const cms = await kubectlJson<{ items: Cm[] }>(['get', 'configmaps', '-n', ns, '-o', 'json']);
        return cms.items.find((c) => c.data?.UPGRADE_DB === 'true')?.metadata.name;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await kubectl([
      'patch',
      'configmap',
      written,
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"data":{"UPGRADE_DB":"set-by-a-person"},"metadata":{"finalizers":["example.com/keep"]}}',
    ]);
    const run = await running;
    // The Deployment is rolled back; the ConfigMap key is not overwritten, and the run says a person must look.
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.rollbackFailed).toBe(true);
    expect(run.outcome.error).toContain(`ConfigMap ${written}: changed by someone else`);
    expect(run.outcome.error).toContain('set-by-a-person');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
    const cm = await kubectlJson<Cm>(['get', 'configmap', written, '-n', ns, '-o', 'json']);
    expect(cm.metadata.finalizers).toEqual(['example.com/keep']);
    // Every other ConfigMap, and every other key of this one, is as before the run.
    const now = await configMapsData(ns);
    for (const [name, data] of Object.entries(before)) {
      if (name !== written) expect(now[name], name).toBe(data);
    }
    const { UPGRADE_DB: theirs, ...rest } = cm.data ?? {};
    const { UPGRADE_DB: was, ...restBefore } = JSON.parse(before[written] ?? '{}') as Record<string, string>;
    expect([theirs, was]).toEqual(['set-by-a-person', 'false']);
    expect(rest).toEqual(restBefore);
    await kubectl([
      'patch',
      'configmap',
      written,
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
  });

  it('a run whose Deployment was edited after preflight stops before changing it', async () => {
    const ns = await namespace('edit-deployment');
    await installFixture(ns, { replicas: 2 });
    // A person's edit lands exactly between preflight and the first change: when the engine opens the
    // scale-down step's log group, the edit is made, before the step runs.
    class EditingReporter extends MemoryReporter {
      override async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
        if (name.includes('stop every md-core pod')) {
          await kubectl([
            'patch',
            'deployment',
            'md-core',
            '-n',
            ns,
            '--type=merge',
            '-p',
            '{"spec":{"minReadySeconds":1}}',
          ]);
        }
        return super.group(name, fn);
      }
    }
    const c = e2eCluster();
    const parsed = parseInputs({
      kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'migrate-history': 'true',
      'db-free-space': '1Gi',
      'migration-timeout': '2h',
    });
    if (!parsed.ok) throw new Error(formatInputErrors(parsed.errors));
    const outcome = await runUpgrade(parsed.plan, {
      reporter: new EditingReporter(),
      tools: { kubectl: async () => c.kubectl, helm: async () => c.helm3 },
    });
    expect(outcome.result).toBe('failed');
    expect(outcome.error).toContain('changed by someone else');
    const d = await kubectlJson<{ spec: { replicas: number; minReadySeconds: number } }>([
      'get',
      'deployment',
      'md-core',
      '-n',
      ns,
      '-o',
      'json',
    ]);
    expect(d.spec.minReadySeconds).toBe(1);
    expect(d.spec.replicas).toBe(2);
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
  });
});
