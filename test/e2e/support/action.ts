// Runs the action's engine against the suite's cluster, and installs the fixture release, for e2e tests.
import { readFileSync } from 'node:fs';
import { runUpgrade } from '../../../src/engine/run.ts';
import type { Outcome } from '../../../src/engine/outcome.ts';
import { parseInputs, formatInputErrors } from '../../../src/plan/inputs.ts';
import { MemoryReporter } from '../../../src/report/reporter.ts';
import { renderSummary } from '../../../src/report/summary.ts';
import { chartArgs, e2eCluster, helm, kubectl, kubectlJson } from '../cluster/context.ts';

export const IMAGE = 'opswat/metadefendercore-debian';

export interface ActionRun {
  outcome: Outcome;
  reporter: MemoryReporter;
  summary: string;
  /** Everything the run wrote: log lines and the summary. */
  everything: string;
}

/** Runs the engine in-process, like dist/index.js does, with the cluster's kubeconfig passed as input content. */
export async function runAction(
  inputs: Record<string, string>,
  opts: { signal?: AbortSignal; helmMajor?: 3 | 4 } = {},
): Promise<ActionRun> {
  const c = e2eCluster();
  const parsed = parseInputs({
    kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
    'kubectl-version': '1.36.3',
    ...inputs,
  });
  if (!parsed.ok) throw new Error(formatInputErrors(parsed.errors));
  const reporter = new MemoryReporter();
  const outcome = await runUpgrade(parsed.plan, {
    reporter,
    tools: { kubectl: async () => c.kubectl, helm: async () => (opts.helmMajor === 4 ? c.helm4 : c.helm3) },
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const summary = renderSummary(outcome);
  return { outcome, reporter, summary, everything: `${reporter.text()}\n${summary}` };
}

export interface FixtureOptions {
  chartVersion?: string;
  tag?: string;
  replicas?: number;
  helmMajor?: 3 | 4;
  release?: string;
  extraSet?: string[];
  /** mdcore_license_key given at install; null: none (the chart's placeholder is rendered). */
  licenseKey?: string | null;
}

/** Installs the fixture chart (or MDCORE_CHART) and waits until md-core is rolled out. */
export async function installFixture(namespace: string, o: FixtureOptions = {}): Promise<void> {
  const version = o.chartVersion ?? '5.19.0';
  const args = [
    'install',
    o.release ?? 'mdcore',
    ...chartArgs(version),
    '--namespace',
    namespace,
    '--kubeconfig',
    e2eCluster().kubeconfig,
    '--set',
    `core_components.md-core.image=${IMAGE}:${o.tag ?? version}`,
    '--set',
    `core_components.md-core.replicas=${o.replicas ?? 1}`,
    ...(o.licenseKey === null
      ? []
      : ['--set', `mdcore_license_key=${o.licenseKey ?? 'TEST-LICENSE-0000-1111'}`]),
    ...(o.extraSet ?? []).flatMap((s) => ['--set', s]),
  ];
  await helm(o.helmMajor ?? 3, args, { timeoutMs: 120_000 });
  await kubectl(['rollout', 'status', 'deployment/md-core', '-n', namespace, '--timeout=120s'], {
    timeoutMs: 130_000,
  });
}

export interface DeploymentView {
  image: string;
  revision: string;
  annotations: Record<string, string>;
  replicaSets: number;
}

export async function deploymentView(namespace: string): Promise<DeploymentView> {
  const d = await kubectlJson<{
    metadata: { annotations: Record<string, string> };
    spec: { template: { spec: { containers: { name: string; image: string }[] } } };
  }>(['get', 'deployment', 'md-core', '-n', namespace, '-o', 'json']);
  const rs = await mdCoreReplicaSets(namespace);
  return {
    image: d.spec.template.spec.containers.find((c) => c.name === 'md-core')?.image ?? '',
    revision: d.metadata.annotations['deployment.kubernetes.io/revision'] ?? '',
    annotations: d.metadata.annotations,
    replicaSets: rs.items.length,
  };
}

/** ConfigMaps as JSON text of their data, for byte-for-byte comparisons. */
export async function configMapsData(namespace: string): Promise<Record<string, string>> {
  const l = await kubectlJson<{ items: { metadata: { name: string }; data?: Record<string, string> }[] }>([
    'get',
    'configmaps',
    '-n',
    namespace,
    '-o',
    'json',
  ]);
  return Object.fromEntries(l.items.map((cm) => [cm.metadata.name, JSON.stringify(cm.data ?? {})]));
}

type EnvContainer = {
  name: string;
  image: string;
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { name: string; value?: string }[];
};

/**
 * What the md-core container of a running pod with `image` sees for some names, evaluated from the live pod
 * and ConfigMaps by Kubernetes' rules (written here independently of src/cluster/effective-env.ts).
 */
export async function podEnv(
  namespace: string,
  image: string,
  names: string[],
): Promise<Record<string, string | undefined>> {
  const pods = await kubectlJson<{
    items: { metadata: { name: string }; spec: { containers: EnvContainer[] } }[];
  }>(['get', 'pods', '-n', namespace, '-l', 'app=md-core', '-o', 'json']);
  const c = pods.items
    .flatMap((p) => p.spec.containers)
    .find((x) => x.name === 'md-core' && x.image === image);
  if (!c) throw new Error(`no md-core pod runs ${image}`);
  const seen: Record<string, string | undefined> = {};
  for (const src of c.envFrom ?? []) {
    if (!src.configMapRef) continue;
    const cm = await kubectlJson<{ data?: Record<string, string> }>([
      'get',
      'configmap',
      src.configMapRef.name,
      '-n',
      namespace,
      '-o',
      'json',
    ]);
    for (const n of names) if (cm.data && n in cm.data) seen[n] = cm.data[n];
  }
  for (const e of c.env ?? []) if (names.includes(e.name) && e.value !== undefined) seen[e.name] = e.value;
  return seen;
}

/** kubernetes.io/change-cause of each ReplicaSet of md-core, by Deployment revision (what rollout history shows). */
export async function changeCauses(namespace: string): Promise<Record<string, string | undefined>> {
  const sets = await mdCoreReplicaSets(namespace);
  return Object.fromEntries(
    sets.items.map((r) => [
      r.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '',
      r.metadata.annotations?.['kubernetes.io/change-cause'],
    ]),
  );
}

/** The ReplicaSets of md-core (every revision the Deployment keeps). */
function mdCoreReplicaSets(
  namespace: string,
): Promise<{ items: { metadata: { annotations?: Record<string, string> } }[] }> {
  return kubectlJson(['get', 'replicasets', '-n', namespace, '-l', 'app=md-core', '-o', 'json']);
}
