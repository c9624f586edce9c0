// Real faults through dist/index.js and dist/post.js: a SIGTERM at every mutation boundary of a MIGRATE_HISTORY
// run, then the post step, leaves everything as it was; `rollback: none` is honoured by the main AND the post step.
// (Rehearsals through dist/: rehearsal-dist.test.ts.)
import { describe, expect, it } from 'vitest';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import { tagFor } from './cluster/stages.ts';
import { e2eCluster, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { configMapsData, deploymentView, IMAGE, installFixture } from './support/action.ts';
import { useDistRunner } from './support/dist-runner.ts';
import { useNamespaces } from './support/namespaces.ts';

const namespace = useNamespaces();
const dist = useDistRunner();

interface Spec {
  metadata: { annotations?: Record<string, string> };
  spec: {
    replicas: number;
    progressDeadlineSeconds: number;
    strategy: unknown;
    template: { spec: { containers: unknown[] } };
  };
}

/** Everything of the Deployment a run may touch: replicas, deadline, strategy, containers (image, env, probes). */
async function deploymentSpec(ns: string): Promise<unknown> {
  const d = await kubectlJson<Spec>(['get', 'deployment', 'md-core', '-n', ns, '-o', 'json']);
  return {
    replicas: d.spec.replicas,
    deadline: d.spec.progressDeadlineSeconds,
    strategy: d.spec.strategy,
    containers: d.spec.template.spec.containers,
  };
}

/** The points between mutations of a MIGRATE_HISTORY run on the kubectl route, as the main step logs them. */
const BOUNDARIES: { name: string; marker: string }[] = [
  { name: 'before the scale-down', marker: 'stop every md-core pod' },
  { name: 'at the scale-down command', marker: 'scale deployment/md-core --replicas=0' },
  { name: 'before the variables and the image', marker: 'Write the variables and change the image' },
  { name: 'at the image change', marker: 'patch deployment/md-core' },
  { name: 'in the migration wait', marker: 'Wait for readiness' },
];

describe('SIGTERM at each mutation boundary of a MIGRATE_HISTORY run, then the post step', () => {
  for (const b of BOUNDARIES) {
    it(`${b.name}: Deployment, ConfigMaps, replicas, probes and deadline exactly as before`, async () => {
      const ns = await namespace('sigterm');
      await installFixture(ns, { replicas: 2 });
      const before = await deploymentSpec(ns);
      const cms = await configMapsData(ns);
      const r = dist.runner({
        namespace: ns,
        tag: tagFor('5.20.0', 'slow', 300),
        method: 'kubectl',
        kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
        'kubectl-version': '1.36.3',
        'migrate-history': 'true',
        'db-free-space': 'skip',
        'migration-timeout': '30m',
      });
      const main = dist.start('index.js', r.env);
      await waitFor(b.name, async () => (main.output().includes(b.marker) ? true : undefined), {
        timeoutMs: 90_000,
        intervalMs: 20,
      });
      main.kill('SIGTERM');
      const code = await main.code;
      expect(main.output()).toContain('received SIGTERM');
      expect(code).toBe(1);
      const post = dist.post(r);
      expect(await post.code, post.output()).toBe(0);
      expect(post.output()).not.toContain('::error');
      expect(await deploymentSpec(ns)).toEqual(before);
      expect(await configMapsData(ns)).toEqual(cms);
      // And it serves again: every replica of the previous version ready.
      const view = await deploymentView(ns);
      expect(view.image).toBe(`${IMAGE}:5.19.0`);
      await waitFor(
        'the previous version ready',
        async () => {
          const d = await kubectlJson<{ status: { readyReplicas?: number } }>([
            'get',
            'deployment',
            'md-core',
            '-n',
            ns,
            '-o',
            'json',
          ]);
          return d.status.readyReplicas === 2 ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    });
  }
});

describe('rollback: none through the main step and the post step', () => {
  it('the main step leaves the failed version, and the post step does not undo it', async () => {
    const ns = await namespace('rollback-none');
    await installFixture(ns, { replicas: 1 });
    const r = dist.runner({
      namespace: ns,
      tag: tagFor('5.20.0', 'crashloop'),
      method: 'kubectl',
      kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
      'kubectl-version': '1.36.3',
      rollback: 'none',
    });
    const main = dist.start('index.js', r.env);
    expect(await main.code, main.output()).toBe(1);
    expect(r.outputs()).toMatchObject({ result: 'failed', 'rolled-back': 'false' });
    const failed = (await deploymentView(ns)).image;
    expect(failed).toBe(`${IMAGE}:${tagFor('5.20.0', 'crashloop')}`);
    const post = dist.post(r);
    expect(await post.code, post.output()).toBe(0);
    expect(post.output()).not.toContain('rolled back');
    expect((await deploymentView(ns)).image).toBe(failed);
    // Nothing else was run by the post step: the rollout history has no revision after the failed one.
    const history = await kubectl(['rollout', 'history', 'deployment/md-core', '-n', ns]);
    expect(history.stdout.trim().split('\n').at(-1)).toMatch(/^2\s/);
  });

  it('a main step killed mid-wait: the post step leaves it too, and says how to undo it by hand', async () => {
    const ns = await namespace('rollback-none-killed');
    await installFixture(ns, { replicas: 1 });
    const r = dist.runner({
      namespace: ns,
      tag: tagFor('5.20.0', 'slow', 300),
      method: 'kubectl',
      kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
      'kubectl-version': '1.36.3',
      rollback: 'none',
      timeout: '10m',
    });
    const main = dist.start('index.js', r.env);
    await waitFor(
      'the wait step',
      async () => (main.output().includes('Wait for readiness') ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 50,
      },
    );
    main.kill('SIGKILL');
    await main.code;
    const slow = (await deploymentView(ns)).image;
    expect(slow).toBe(`${IMAGE}:${tagFor('5.20.0', 'slow', 300)}`);
    const post = dist.post(r);
    expect(await post.code, post.output()).toBe(0);
    expect(post.output()).toContain('Left as it is');
    expect(post.output()).toContain('kubectl rollout undo deployment/md-core');
    expect((await deploymentView(ns)).image).toBe(slow);
  });
});
