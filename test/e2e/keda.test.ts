// KEDA on the real embedded cluster: ScaledObjects (a bare CRD, no KEDA operator) that scale md-core are paused
// while a run changes it, seen by the test during the wait, and put back exactly afterwards: after a rolling
// update (helm route), a blue-green switch (retargeted to green) and a blue-green hand-over (helm route: left
// on the chart's Deployment), after failed runs, with `rollback: none`, with README's Role (and without its
// KEDA rule: refused), and by the post step after the main step was killed. The CRD lives only while this
// file runs, so no other file sees it; without it the run says KEDA is not installed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import { e2eCluster, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { installFixture, runAction, type ActionRun } from './support/action.ts';
import { useBundleOfSources, useDistRunner } from './support/dist-runner.ts';
import { useNamespaces } from './support/namespaces.ts';
import { plainMdCore } from './support/plain-deployment.ts';
import { bindReadmeRole, readmeRole, SA, tokenKubeconfig } from './support/service-account.ts';

const namespace = useNamespaces();
const CRD_FILE = fileURLToPath(new URL('./cluster/keda-crd.yaml', import.meta.url));
const CRD = 'scaledobjects.keda.sh';
const PAUSED_REPLICAS = 'autoscaling.keda.sh/paused-replicas';
const LICENSE = 'TEST-LICENSE-0000-1111';

interface ScaledObjectView {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> };
  spec: { scaleTargetRef: { name: string; kind?: string }; minReplicaCount?: number };
}

/** A ScaledObject as KEDA's users write one (the operator is absent, so only the action ever changes it). */
async function scaledObject(
  ns: string,
  name: string,
  target: string,
  annotations: Record<string, string> = {},
): Promise<void> {
  const doc = {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name, namespace: ns, annotations },
    spec: {
      scaleTargetRef: { name: target, kind: 'Deployment' },
      minReplicaCount: 1,
      maxReplicaCount: 4,
      triggers: [{ type: 'cpu', metricType: 'Utilization', metadata: { value: '70' } }],
    },
  };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(doc) });
}

const readSo = (ns: string, name: string): Promise<ScaledObjectView> =>
  kubectlJson<ScaledObjectView>(['get', CRD, name, '-n', ns]);

/** Runs the action and, while it runs, waits for the ScaledObject to carry the pause (what the test saw). */
async function runWatchingPause(
  ns: string,
  name: string,
  inputs: Record<string, string>,
): Promise<{ run: ActionRun; seen: string }> {
  const running = runAction(inputs);
  const seen = await waitFor(
    `${PAUSED_REPLICAS} on ScaledObject ${name} during the run`,
    async () => (await readSo(ns, name)).metadata.annotations?.[PAUSED_REPLICAS],
    { timeoutMs: 60_000, intervalMs: 200 },
  ).catch(async (err: unknown) => {
    await running;
    throw err;
  });
  return { run: await running, seen };
}

/**
 * A run whose new version never gets ready, on one replica: paused at "1" while it waits, rolled back, and the
 * ScaledObject afterwards exactly as before, still on md-core.
 */
async function failedRunPutsBack(
  ns: string,
  inputs: Record<string, string>,
  result: 'rolled-back' | 'failed' = 'rolled-back',
): Promise<ActionRun> {
  await scaledObject(ns, 'md-core', 'md-core', { team: 'scan' });
  const before = await readSo(ns, 'md-core');
  const { run, seen } = await runWatchingPause(ns, 'md-core', {
    namespace: ns,
    tag: tagFor('5.20.0', 'never-ready'),
    ...inputs,
  });
  expect(seen).toBe('1');
  expect(run.outcome.result, run.outcome.error).toBe(result);
  const after = await readSo(ns, 'md-core');
  expect(after.metadata.annotations).toEqual(before.metadata.annotations);
  expect(after.spec.scaleTargetRef.name).toBe('md-core');
  return run;
}

const served = async (): Promise<boolean> =>
  (await kubectl(['get', '--raw', '/apis/keda.sh/v1alpha1'], { allowFailure: true })).code === 0;

/** Waits until the API server serves ScaledObjects (`want`) or no longer does. */
const awaitServed = (want: boolean): Promise<boolean> =>
  waitFor(
    `keda.sh/v1alpha1 ${want ? 'served' : 'gone'}`,
    async () => ((await served()) === want ? true : undefined),
    {
      timeoutMs: 30_000,
      intervalMs: 250,
    },
  );

describe('KEDA not installed', () => {
  it('preflight says so in one line and the plan has no KEDA step', async () => {
    expect(await served()).toBe(false);
    const ns = await namespace('keda-none');
    await installFixture(ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', 'license-key': LICENSE, 'dry-run': 'true' });
    expect(run.outcome.result, run.outcome.error).toBe('dry-run');
    expect(run.everything).toContain(
      'KEDA is not installed (no keda.sh/v1alpha1 API): no ScaledObject to pause',
    );
    expect(run.outcome.steps.map((s) => s.id)).not.toContain('keda');
  });
});

describe('with the ScaledObject CRD', () => {
  beforeAll(async () => {
    await kubectl(['apply', '-f', CRD_FILE]);
    await kubectl(['wait', '--for=condition=Established', `crd/${CRD}`, '--timeout=60s'], {
      timeoutMs: 70_000,
    });
    await awaitServed(true);
  });
  afterAll(async () => {
    // Later files must find no KEDA: a Role without its rule would be refused there.
    await kubectl(['delete', '-f', CRD_FILE, '--ignore-not-found', '--wait=true', '--timeout=60s'], {
      timeoutMs: 70_000,
    });
    await awaitServed(false);
  });

  it('rolling update (helm route): paused at the current count during the run, put back exactly after', async () => {
    const ns = await namespace('keda-ru');
    await installFixture(ns, { replicas: 2 });
    // Ours to pause (its own annotations kept), one paused by someone already, one scaling something else.
    await scaledObject(ns, 'md-core', 'md-core', { 'autoscaling.keda.sh/paused': 'false', team: 'scan' });
    await scaledObject(ns, 'held', 'md-core', { [PAUSED_REPLICAS]: '5' });
    await scaledObject(ns, 'db', 'postgres-core');
    const before = await Promise.all(['md-core', 'held', 'db'].map((n) => readSo(ns, n)));

    const { run, seen } = await runWatchingPause(ns, 'md-core', {
      namespace: ns,
      tag: tagFor('5.20.0', 'slow', 8),
      'license-key': LICENSE,
    });
    expect(seen).toBe('2');
    expect(run.outcome.result, run.outcome.error).toBe('upgraded');
    const [ours, held, db] = await Promise.all(['md-core', 'held', 'db'].map((n) => readSo(ns, n)));
    expect(ours?.metadata.annotations).toEqual(before[0]?.metadata.annotations);
    expect(ours?.spec.scaleTargetRef).toEqual({ name: 'md-core', kind: 'Deployment' });
    expect(held?.metadata.resourceVersion).toBe(before[1]?.metadata.resourceVersion);
    expect(db?.metadata.resourceVersion).toBe(before[2]?.metadata.resourceVersion);
    expect(run.everything).toContain(
      `ScaledObject md-core (scales md-core): paused for the run with ${PAUSED_REPLICAS}="2"`,
    );
    expect(run.everything).toContain('ScaledObject held (scales md-core) is paused already');
    expect(run.everything).toContain('ScaledObject md-core: restored');
    const ids = run.outcome.steps.map((s) => s.id);
    expect(ids.indexOf('keda-pause')).toBeLessThan(ids.indexOf('apply'));
    expect(ids.at(-1)).toBe('keda-restore');
  });

  it('rolling update that fails: rolled back with helm, then KEDA put back', async () => {
    const ns = await namespace('keda-ru-fail');
    await installFixture(ns);
    const run = await failedRunPutsBack(ns, { 'license-key': LICENSE, timeout: '15s' });
    // Put back once the chart is back: the rollback's last detail.
    const rollback = run.outcome.steps.find((s) => s.id === 'rollback');
    expect(rollback?.details.at(-1)).toContain('ScaledObject md-core: restored');
  });

  /**
   * A blue-green run on md-core at 2 replicas whose ScaledObject `md-core` the test saw paused at "2"; it
   * succeeded and paused before green was created. The ScaledObject before and after.
   */
  async function blueGreenPaused(
    ns: string,
    inputs: Record<string, string>,
  ): Promise<{ run: ActionRun; before: ScaledObjectView; after: ScaledObjectView }> {
    await scaledObject(ns, 'md-core', 'md-core', { team: 'scan' });
    const before = await readSo(ns, 'md-core');
    const { run, seen } = await runWatchingPause(ns, 'md-core', {
      namespace: ns,
      tag: tagFor('5.20.0', 'slow', 8),
      strategy: 'blue-green',
      'scale-down-delay': '1',
      ...inputs,
    });
    expect(seen).toBe('2');
    expect(run.outcome.result, run.outcome.error).toBe('upgraded');
    const ids = run.outcome.steps.map((s) => s.id);
    expect(ids.indexOf('keda-pause')).toBeLessThan(ids.indexOf('create-green'));
    return { run, before, after: await readSo(ns, 'md-core') };
  }

  it('blue-green: paused before green exists, then resumed on green (blue is at 0)', async () => {
    const ns = await namespace('keda-bg');
    await plainMdCore(ns, 2);
    const { run, before, after } = await blueGreenPaused(ns, {});
    expect(after.metadata.annotations).toEqual(before.metadata.annotations);
    expect(after.spec.scaleTargetRef).toEqual({ name: 'md-core-green', kind: 'Deployment' });
    expect(run.everything).toContain('now scales Deployment md-core-green (was md-core, left at 0 replicas)');
  });

  it('blue-green whose green never gets ready: green removed, KEDA put back on blue', async () => {
    const ns = await namespace('keda-bg-fail');
    await plainMdCore(ns, 1);
    const run = await failedRunPutsBack(ns, { strategy: 'blue-green', timeout: '12s' });
    expect(run.everything).toContain('Deployment md-core-green deleted');
  });

  it("blue-green's hand-over (helm route): paused during the run, then put back on the chart's Deployment", async () => {
    const ns = await namespace('keda-bgh');
    await installFixture(ns, { chartVersion: '5.20.0', tag: '5.19.0', licenseKey: LICENSE, replicas: 2 });
    const { run, before, after } = await blueGreenPaused(ns, { 'license-key': LICENSE });
    expect(run.outcome.method).toBe('helm');
    // The chart's Deployment serves again after the hand-over: KEDA stays on it, exactly as it was.
    expect(after.metadata.annotations).toEqual(before.metadata.annotations);
    expect(after.spec.scaleTargetRef).toEqual({ name: 'md-core', kind: 'Deployment' });
    expect(run.everything).not.toContain('now scales Deployment md-core-green');
    expect(run.outcome.steps.at(-1)?.id).toBe('keda-restore');
  });

  it('rollback: none leaves the failed upgrade for a person, but not the pause', async () => {
    const ns = await namespace('keda-leave');
    await plainMdCore(ns, 1);
    const run = await failedRunPutsBack(
      ns,
      { strategy: 'blue-green', timeout: '12s', rollback: 'none' },
      'failed',
    );
    // Green is left (the manual steps say how to remove it); KEDA's commands are not among them any more.
    expect(run.outcome.manualSteps.join('\n')).toContain('kubectl delete deployment md-core-green');
    expect(run.outcome.manualSteps.join('\n')).not.toContain('scaledobject');
    expect(run.outcome.steps.find((s) => s.id === 'keda-restore')?.status).toBe('ok');
  });

  it("README's Role: without the KEDA rule preflight names what is missing; with it the run pauses and puts back", async () => {
    const ns = await namespace('keda-rbac');
    await plainMdCore(ns, 1);
    await scaledObject(ns, 'md-core', 'md-core');
    const before = await readSo(ns, 'md-core');
    await bindReadmeRole(ns, 'kubectl', ['blue-green']);
    const kubeconfig = await tokenKubeconfig(ns);
    const inputs = {
      namespace: ns,
      tag: '5.20.0',
      strategy: 'blue-green',
      'scale-down-delay': '0',
      kubeconfig,
    };

    const refused = await runAction(inputs);
    expect(refused.outcome.result).toBe('failed');
    expect(refused.outcome.error).toContain('lacks 2 permission(s)');
    expect(refused.outcome.error).toContain('  - list scaledobjects.keda.sh');
    expect(refused.outcome.error).toContain('  - patch scaledobjects.keda.sh');
    expect(refused.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await readSo(ns, 'md-core')).toEqual(before);

    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(readmeRole('kubectl', ns, ['blue-green', 'keda']).role),
    });
    const as = `--as=system:serviceaccount:${ns}:${SA}`;
    await waitFor(
      'the KEDA rule in force',
      async () => {
        const r = await kubectl(['auth', 'can-i', 'patch', CRD, '-n', ns, as], { allowFailure: true });
        return r.stdout.trim() === 'yes' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const ok = await runAction(inputs);
    expect(ok.outcome.result, ok.outcome.error).toBe('upgraded');
    expect(ok.everything).toContain(
      `ScaledObject md-core (scales md-core): paused for the run with ${PAUSED_REPLICAS}="1"`,
    );
    const after = await readSo(ns, 'md-core');
    expect(after.metadata.annotations ?? {}).toEqual(before.metadata.annotations ?? {});
    expect(after.spec.scaleTargetRef.name).toBe('md-core-green');
  });

  describe('main step killed (dist), then its post step', () => {
    const dist = useDistRunner();
    useBundleOfSources();

    it('killed while green is awaited: the post step removes green and puts KEDA back', async () => {
      const ns = await namespace('keda-kill');
      await plainMdCore(ns, 1);
      await scaledObject(ns, 'md-core', 'md-core', { team: 'scan' });
      const before = await readSo(ns, 'md-core');
      const r = dist.runner({
        namespace: ns,
        tag: tagFor('5.20.0', 'slow', 300),
        strategy: 'blue-green',
        timeout: '10m',
        kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
        'kubectl-version': '1.36.3',
      });
      const main = dist.start('index.js', r.env, 300_000);
      await waitFor(
        'green awaited with KEDA paused',
        async () =>
          main.output().includes('Service md-core-green-preview created') &&
          (await readSo(ns, 'md-core')).metadata.annotations?.[PAUSED_REPLICAS] === '1'
            ? true
            : undefined,
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      // A runner that dies: no clean-up of its own, the post step has only the journal.
      main.kill('SIGKILL');
      await main.code;
      expect((await readSo(ns, 'md-core')).metadata.annotations?.[PAUSED_REPLICAS]).toBe('1');
      const post = dist.post(r);
      expect(await post.code, post.output()).toBe(0);
      const after = await readSo(ns, 'md-core');
      expect(after.metadata.annotations).toEqual(before.metadata.annotations);
      expect(after.spec.scaleTargetRef.name).toBe('md-core');
      const deployments = await kubectlJson<{ items: { metadata: { name: string } }[] }>([
        'get',
        'deployments',
        '-n',
        ns,
      ]);
      expect(deployments.items.map((d) => d.metadata.name)).toEqual(['md-core']);
    });
  });
});
