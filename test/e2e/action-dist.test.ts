// dist/index.js and dist/post.js run as GitHub runs them: inputs from INPUT_* variables, outputs, summary and
// state through the runner's files, cancellation by signal followed by the post step.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import { tagFor } from './cluster/stages.ts';
import {
  e2eCluster,
  freshNamespace,
  kubectl,
  kubectlJson,
  waitFor,
  type Namespace,
} from './cluster/context.ts';
import { configMapsData, deploymentView, IMAGE, installFixture } from './support/action.ts';
import { useDistRunner } from './support/dist-runner.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
const { runner, start } = useDistRunner();

async function namespace(prefix: string): Promise<string> {
  const ns: Namespace = await freshNamespace(prefix);
  cleanups.push(() => ns.cleanup());
  return ns.name;
}

describe('dist/index.js as GitHub runs it', () => {
  it('upgrades, writes every output and the job summary, and masks the kubeconfig credentials', async () => {
    const ns = await namespace('dist-happy');
    await installFixture(ns);
    const kubeconfig = embeddedKubeconfig(e2eCluster().kubeconfig);
    const r = runner({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      kubeconfig,
      'kubectl-version': '1.36.3',
    });
    const p = start('index.js', r.env);
    expect(await p.code, p.output()).toBe(0);
    const out = r.outputs();
    expect(out).toMatchObject({
      result: 'upgraded',
      'previous-image': `${IMAGE}:5.19.0`,
      'new-image': `${IMAGE}:5.20.0`,
      'rolled-back': 'false',
      'db-name': 'metadefender_core',
      method: 'kubectl',
      'previous-revision': '1',
      revision: '2',
    });
    expect(Number(out['duration-seconds'])).toBeGreaterThanOrEqual(0);
    expect(out['kubectl-path']).toContain('kubectl');
    expect(r.summary()).toContain('MetaDefender Core upgrade: ✅ Upgraded');
    // Every credential in the kubeconfig is registered for masking and appears nowhere in what the step wrote.
    const kc = parse(kubeconfig) as { users: { user: Record<string, string> }[] };
    const key = kc.users[0]?.user['client-key-data'] ?? '';
    expect(key.length).toBeGreaterThan(20);
    expect(p.output()).toContain(`::add-mask::${key}`);
    // ::add-mask:: commands are consumed by the runner, never shown; everything else is what a reader sees.
    const shown = p
      .output()
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    const written = shown + r.summary() + JSON.stringify(out);
    expect(written).not.toContain(key);
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.20.0`);
  });

  it('fails with one error annotation per run and rolls back a broken tag', async () => {
    const ns = await namespace('dist-broken');
    await installFixture(ns);
    const r = runner({
      namespace: ns,
      tag: tagFor('5.20.0', 'pullfail'),
      method: 'kubectl',
      kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
      'kubectl-version': '1.36.3',
    });
    const p = start('index.js', r.env);
    expect(await p.code).toBe(1);
    expect(r.outputs()).toMatchObject({
      result: 'rolled-back',
      'rolled-back': 'true',
      'running-image': `${IMAGE}:5.19.0`,
    });
    const errors = p
      .output()
      .split('\n')
      .filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('it was rolled back to');
    expect(r.summary()).toContain('Failed and rolled back');
  });

  it('after a cancelled job (signal, then killed), the post step puts the Deployment back', async () => {
    const ns = await namespace('dist-cancel');
    await installFixture(ns, { replicas: 2 });
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const kubeconfig = embeddedKubeconfig(e2eCluster().kubeconfig);
    const inputs = {
      namespace: ns,
      tag: tagFor('5.20.0', 'slow', 300),
      method: 'kubectl',
      kubeconfig,
      'kubectl-version': '1.36.3',
      timeout: '10m',
    };
    const r = runner(inputs);
    const main = start('index.js', r.env);
    // Wait until the image was changed and the wait is under way, then cancel as the runner does.
    await waitFor(
      'the new revision',
      async () => ((await deploymentView(ns)).image.endsWith('-slow-300s') ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 250,
      },
    );
    await waitFor(
      'the wait step',
      async () => (main.output().includes('Wait for readiness') ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    main.kill('SIGINT');
    // The runner kills a step that does not stop in time: do the same at once, before the main step can clean up.
    main.kill('SIGKILL');
    await main.code;
    expect((await deploymentView(ns)).image).toContain('-slow-300s');

    const state = r.state();
    expect(state.journal).toBeTruthy();
    const postEnv: NodeJS.ProcessEnv = { ...r.env, STATE_journal: state.journal };
    const post = start('post.js', postEnv);
    expect(await post.code, post.output()).toBe(0);
    expect(post.output()).toContain('rolled back');
    const after = await deploymentView(ns);
    expect(after.image).toBe(before.image);
    expect(await configMapsData(ns)).toEqual(cm);
    // A second post step (or a re-run) finds nothing to do.
    const again = start('post.js', postEnv);
    expect(await again.code).toBe(0);
    expect(again.output()).not.toContain('::error');
  });

  it('when the main step rolled back on SIGINT and was killed before finishing, the post step completes it', async () => {
    const ns = await namespace('dist-cancel-race');
    await installFixture(ns, { replicas: 1 });
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const r = runner({
      namespace: ns,
      tag: tagFor('5.20.0', 'slow', 300),
      method: 'kubectl',
      kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
      'kubectl-version': '1.36.3',
      timeout: '10m',
    });
    const main = start('index.js', r.env);
    await waitFor(
      'the wait step',
      async () => (main.output().includes('Wait for readiness') ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
    main.kill('SIGINT');
    // This time the main step gets to roll back by itself (undo renumbers the old revision)...
    expect(await main.code).toBe(1);
    expect(main.output()).toContain('received SIGINT');
    expect((await deploymentView(ns)).image).toBe(before.image);
    // ...but pretend it was killed right after the undo: the journal still says "waiting", and a ConfigMap
    // is still changed. The post step must not try the undo again (the revision number is gone) and must
    // still restore the ConfigMap.
    const journalPath = r.state().journal ?? '';
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { phase: string };
    journal.phase = 'waiting';
    writeFileSync(journalPath, JSON.stringify(journal));
    await kubectl([
      'patch',
      'configmap',
      'mdcore-config',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"data":{"UPGRADE_DB":"true"}}',
    ]);
    const post = start('post.js', { ...r.env, STATE_journal: journalPath });
    expect(await post.code, post.output()).toBe(0);
    expect(post.output()).toContain('already runs');
    expect((await deploymentView(ns)).image).toBe(before.image);
    expect(await configMapsData(ns)).toEqual(cm);
  });

  it('a job cancelled in the middle of a MIGRATE_HISTORY migration leaves the Deployment as it was before', async () => {
    const ns = await namespace('dist-cancel-migrate');
    await installFixture(ns, { replicas: 2 });
    const specOf = async (): Promise<unknown> => {
      const d = (await kubectlJson(['get', 'deployment', 'md-core', '-n', ns])) as {
        spec: {
          replicas: number;
          progressDeadlineSeconds: number;
          strategy: unknown;
          template: { spec: { containers: unknown[] } };
        };
      };
      return {
        replicas: d.spec.replicas,
        deadline: d.spec.progressDeadlineSeconds,
        strategy: d.spec.strategy,
        containers: d.spec.template.spec.containers,
      };
    };
    const before = await specOf();
    const cm = await configMapsData(ns);
    const r = runner({
      namespace: ns,
      tag: tagFor('5.20.0', 'slow', 300),
      method: 'kubectl',
      kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
      'kubectl-version': '1.36.3',
      'migrate-history': 'true',
      'db-free-space': 'skip',
      'migration-timeout': '30m',
    });
    const main = start('index.js', r.env);
    await waitFor(
      'the migration wait',
      async () => (main.output().includes('Wait for readiness') ? true : undefined),
      {
        timeoutMs: 90_000,
        intervalMs: 100,
      },
    );
    main.kill('SIGINT');
    main.kill('SIGKILL');
    await main.code;
    const post = start('post.js', { ...r.env, STATE_journal: r.state().journal ?? '' });
    expect(await post.code, post.output()).toBe(0);
    expect(await specOf()).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
  });
});
