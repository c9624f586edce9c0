// The kubectl route of the rolling update, end to end on the real embedded cluster.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useNamespaces } from './support/namespaces.ts';
import { parse, stringify } from 'yaml';
import { tagFor } from './cluster/stages.ts';
import { e2eCluster, kubectl } from './cluster/context.ts';
import {
  changeCauses,
  configMapsData,
  deploymentView,
  IMAGE,
  installFixture,
  podEnv,
  runAction,
} from './support/action.ts';

const namespace = useNamespaces();

const UPGRADE_VARS = ['UPGRADE_DB', 'MDCORE_UPGRADE_FROM_DB_NAME', 'MIGRATE_HISTORY', 'RETRY_UPGRADE'];

describe('rolling update with kubectl', () => {
  it('upgrades 1 replica: one new revision, variables reach the new pods, change-cause set', async () => {
    const ns = await namespace('kubectl-happy-1');
    await installFixture(ns, { replicas: 1 });
    const before = await deploymentView(ns);
    const cmBefore = await configMapsData(ns);

    const run = await runAction({ namespace: ns, tag: '5.20.0', method: 'kubectl', 'retry-upgrade': '5' });
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');

    const after = await deploymentView(ns);
    expect(after.image).toBe(`${IMAGE}:5.20.0`);
    expect(Number(after.revision)).toBe(Number(before.revision) + 1);
    expect(after.replicaSets).toBe(before.replicaSets + 1);
    expect(after.annotations['kubernetes.io/change-cause']).toContain(`${IMAGE}:5.19.0 → ${IMAGE}:5.20.0`);
    expect(run.outcome.previousRevision).toBe(before.revision);
    // The change-cause labels the new revision only, never the one that was current before.
    const causes = await changeCauses(ns);
    expect(causes[after.revision]).toContain('→');
    expect(causes[before.revision] ?? '').not.toContain('5.20.0');
    expect(run.outcome.revision).toBe(after.revision);

    // The chart's <release>-config is the last envFrom source: the value must be changed there, not only in mdcore-env.
    const env = await podEnv(ns, `${IMAGE}:5.20.0`, UPGRADE_VARS);
    expect(env).toEqual({
      UPGRADE_DB: 'true',
      MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core',
      MIGRATE_HISTORY: 'false',
      RETRY_UPGRADE: '5',
    });
    const cmAfter = await configMapsData(ns);
    expect(JSON.parse(cmAfter['mdcore-config'] ?? '{}')).toMatchObject({ UPGRADE_DB: 'true' });
    expect(cmBefore['mdcore-config']).not.toBe(cmAfter['mdcore-config']);

    // Recorded for the next run, and explained in the summary.
    expect(after.annotations['mdcore-upgrade-action/tag']).toBe('5.20.0');
    expect(after.annotations['mdcore-upgrade-action/db-name']).toBe('metadefender_core5200');
    expect(run.summary).toContain('ConfigMap `mdcore-config`');
    expect(run.summary).toContain('Upgraded');
    expect(run.reporter.text()).toContain('1/1 ready');
  });

  it('upgrades 5 replicas and reports progress as pods turn ready', async () => {
    const ns = await namespace('kubectl-happy-5');
    await installFixture(ns, { replicas: 5 });
    const run = await runAction({ namespace: ns, tag: '5.20.0', method: 'kubectl' });
    expect(run.outcome.result).toBe('upgraded');
    expect(run.reporter.text()).toContain('5/5 ready');
    const progress = run.reporter.lines.filter((l) => /^\d\/5 ready/.test(l.text)).map((l) => l.text);
    expect(progress.length).toBeGreaterThan(1);
    const view = await deploymentView(ns);
    expect(view.image).toBe(`${IMAGE}:5.20.0`);
    const pods = run.outcome.pods.filter((p) => p.ready);
    expect(pods).toHaveLength(5);
  });

  it('changes nothing when the tag already runs', async () => {
    const ns = await namespace('kubectl-unchanged');
    await installFixture(ns, { tag: '5.20.0' });
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', method: 'kubectl' });
    expect(run.outcome.result).toBe('unchanged');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
  });

  it('rolls a never-ready tag back at the timeout; ConfigMaps byte-for-byte as before', async () => {
    const ns = await namespace('kubectl-never-ready');
    await installFixture(ns, { replicas: 2 });
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const tag = tagFor('5.20.0', 'never-ready');
    const run = await runAction({ namespace: ns, tag, method: 'kubectl', timeout: '20s' });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.rolledBack).toBe(true);
    expect(run.outcome.error).toContain('Timeout');
    const after = await deploymentView(ns);
    expect(after.image).toBe(before.image);
    expect(await configMapsData(ns)).toEqual(cm);
    expect(run.summary).toContain('rolled back');
  });

  it('rolls a crash-looping tag back on the pod reason, not at the timeout', async () => {
    const ns = await namespace('kubectl-crashloop');
    await installFixture(ns);
    const before = await deploymentView(ns);
    const run = await runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'crashloop'),
      method: 'kubectl',
      timeout: '10m',
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('CrashLoopBackOff');
    expect(run.outcome.error).not.toContain('Timeout');
    expect((await deploymentView(ns)).image).toBe(before.image);
    expect(run.summary).toMatch(/CrashLoopBackOff/);
  });

  it('rolls an image pull failure back', async () => {
    const ns = await namespace('kubectl-pullfail');
    await installFixture(ns);
    const before = await deploymentView(ns);
    const run = await runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'pullfail'),
      method: 'kubectl',
      timeout: '10m',
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toMatch(/ErrImagePull|ImagePullBackOff/);
    expect((await deploymentView(ns)).image).toBe(before.image);
  });

  it.each([
    ['namespace', { namespace: 'no-such-namespace-x1' }, 'Namespace "no-such-namespace-x1" does not exist'],
    ['deployment', { deployment: 'md-core-missing' }, 'Deployment "md-core-missing" was not found'],
    ['container', { container: 'md-core-missing' }, 'has no container "md-core-missing" (it has: md-core)'],
  ])('refuses a missing %s with a clear error and changes nothing', async (_what, override, message) => {
    const ns = await namespace('kubectl-missing');
    await installFixture(ns);
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', method: 'kubectl', ...override });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain(message);
    expect(run.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
  });

  it('names the missing permission of a restricted ServiceAccount and changes nothing', async () => {
    const ns = await namespace('kubectl-rbac');
    await installFixture(ns);
    await kubectl(['create', 'serviceaccount', 'upgrader', '-n', ns]);
    await kubectl([
      'create',
      'role',
      'read-only',
      '-n',
      ns,
      '--verb=get,list,watch',
      '--resource=deployments,replicasets,pods,configmaps',
    ]);
    await kubectl([
      'create',
      'rolebinding',
      'upgrader-read',
      '-n',
      ns,
      '--role=read-only',
      `--serviceaccount=${ns}:upgrader`,
    ]);
    const token = (await kubectl(['create', 'token', 'upgrader', '-n', ns, '--duration=10m'])).stdout.trim();
    const kc = parse(readFileSync(e2eCluster().kubeconfig, 'utf8')) as {
      users: { name: string; user: Record<string, string> }[];
    };
    for (const u of kc.users) u.user = { token };
    const before = await deploymentView(ns);
    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      kubeconfig: stringify(kc),
    });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain('patch deployments.apps (md-core)');
    expect(run.outcome.error).toContain('patch configmaps');
    expect(run.outcome.error).not.toContain('get deployments.apps');
    expect(run.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await deploymentView(ns)).toEqual(before);
    // The token is a secret from the kubeconfig input: it never reaches what the run wrote.
    expect(run.everything).not.toContain(token);
  });

  it('refuses while another rollout is in progress', async () => {
    const ns = await namespace('kubectl-in-progress');
    await installFixture(ns);
    await kubectl([
      'set',
      'image',
      'deployment/md-core',
      `md-core=${IMAGE}:${tagFor('5.19.1', 'slow', 120)}`,
      '-n',
      ns,
    ]);
    const before = await deploymentView(ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', method: 'kubectl' });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain('Another rollout of Deployment "md-core" is in progress');
    expect(await deploymentView(ns)).toEqual(before);
  });
});
