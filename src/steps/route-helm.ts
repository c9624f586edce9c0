// The helm route: one `helm upgrade` of the release that manages md-core, after a render of exactly that upgrade
// has passed the chart's traps (helm-guards.ts). Readiness and rollback stay with the engine (see helm-args.ts
// for why helm's own --wait / --atomic / --rollback-on-failure are not used).
//
// Chart: the `chart` input (a path, or a repository reference with `chart-version`); without it the chart the
// release was deployed with, rebuilt from Helm's release record (helm-release.ts), so only the image and the
// upgrade variables change. Values: the release's user-supplied values are kept (--reset-then-reuse-values, or
// --reuse-values on Helm < 3.14), then the user's values files, the masked license key (a private temp file),
// the user's `set` lines, and last the image, the variables and the strategy inputs.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { AccessCheck } from '../cluster/kube.ts';
import { describeSource, effectiveEnv, type EnvChange } from '../cluster/effective-env.ts';
import { checkCancelled, kubectlArgs, type RunContext } from '../engine/context.ts';
import type { HelmSummary } from '../engine/outcome.ts';
import { targetImage, type IntOrPercent } from '../plan/plan.ts';
import { accessChecks, rbacRules, type RbacPlan } from '../plan/rbac.ts';
import { formatCommand, runTool } from '../tools/exec.ts';
import {
  helmFeatures,
  helmHistory,
  helmVersion,
  MIN_HELM,
  releaseState,
  type HelmFeatures,
  type HelmRevision,
} from '../tools/helm.ts';
import { CHANGE_CAUSE, changeCause, containerExtras, specFields } from './apply-kubectl.ts';
import { configMapData } from './configure-env.ts';
import { buildUpgradeArgs, dryRunArgs, ENV_KEY, IMAGE_KEY, secretValues } from './helm-args.ts';
import {
  compareManifests,
  databaseVolumeProblems,
  formatChange,
  isDatabaseWorkload,
  LICENSE_SECRET,
  licenseGuard,
  objectKey,
  parseManifest,
  plannedEnv,
  secretLeaves,
  secretsToMask,
  secretValues as decodedSecret,
  type K8sObject,
  type PathSegment,
} from './helm-guards.ts';
import { decodeReleaseField, releaseRecordName, writeChart } from './helm-release.ts';
import { rollingSettings } from './rolling-settings.ts';
import type { Route } from './route.ts';
import { checkHelm } from './tool-check.ts';

export interface HelmPrepared {
  readonly release: string;
  readonly helm: string;
  readonly features: HelmFeatures;
  /** From the dry run: the release is applied server-side (Helm 4), so conflicts are forced. */
  readonly forceConflicts: boolean;
  readonly chart: string;
  readonly sendVersion: boolean;
  readonly env: Readonly<Record<string, string>>;
  readonly previousReleaseRevision: number;
  /** Live ConfigMaps the upgrade changes: snapshotted before it, so `rollout-undo` can restore them too. */
  readonly changedConfigMaps: readonly string[];
  readonly description: string;
  /** md-core's rollingUpdate from the max-surge / max-unavailable inputs, resolved as the kubectl route does. */
  readonly rolling: { maxSurge: IntOrPercent; maxUnavailable: IntOrPercent } | undefined;
  /** MIGRATE_HISTORY: startup probe holding the liveness probe off during the migration. */
  readonly startupProbe: object | undefined;
}

/**
 * The helm route's permissions (plan/rbac.ts, the Role README.md shows). Preflight checks them already; the
 * route repeats the check so that it never starts helm without them, whoever prepares it.
 */
export function helmAccess(plan: RbacPlan): AccessCheck[] {
  return accessChecks(rbacRules(plan, { route: 'helm' }));
}

function fail(message: string): never {
  throw new Error(`${message}\nNothing in the cluster was changed.`);
}

/**
 * Runs fn with the secret values (license key, `set-secret` lines) in a 0600 file in a private directory of the
 * run's work directory (beside the kubeconfig file, removed with it at the latest), removed right afterwards.
 */
async function withSecretValues<T>(
  ctx: RunContext,
  fn: (file: string | undefined) => Promise<T>,
): Promise<T> {
  const values = secretValues(ctx.plan);
  if (!values) return fn(undefined);
  const dir = mkdtempSync(path.join(path.dirname(ctx.kubeconfigFile), 'helm-secret-'));
  const file = path.join(dir, 'secret-values.yaml');
  try {
    writeFileSync(file, stringify(values), { mode: 0o600 });
    return await fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function upgradeArgs(ctx: RunContext, p: HelmPrepared, secretFile: string | undefined): string[] {
  return buildUpgradeArgs({
    plan: ctx.plan,
    release: p.release,
    chart: p.chart,
    sendVersion: p.sendVersion,
    kubeconfigFile: ctx.kubeconfigFile,
    features: p.features,
    forceConflicts: p.forceConflicts,
    env: p.env,
    secretValuesFile: secretFile,
    description: p.description,
    rolling: p.rolling,
    startupProbe: p.startupProbe,
  });
}

/** `kubectl get <kind> <name> -o json`, undefined when it does not exist. Output is never logged. */
async function getObject(ctx: RunContext, kind: string, name: string): Promise<K8sObject | undefined> {
  const r = await runTool(ctx.reporter, ctx.kubectl, kubectlArgs(ctx, 'get', kind, name, '-o', 'json'), {
    allowFailure: true,
  });
  if (r.exitCode === 0) return JSON.parse(r.stdout) as K8sObject;
  if (/NotFound|not found/.test(r.stderr)) return undefined;
  throw new Error(
    `reading ${kind}/${name}: ${ctx.reporter.mask(r.stderr.trim().split('\n').slice(-3).join(' '))}`,
  );
}

/** The chart the release's current revision was deployed with, written to a private directory. */
async function deployedChart(
  ctx: RunContext,
  release: string,
  revision: number,
): Promise<{ dir: string; name: string; version: string }> {
  const recordName = releaseRecordName(release, revision);
  const secret = await getObject(ctx, 'secret', recordName);
  let field: string | undefined;
  if (secret) {
    const data = secret.data as Record<string, string> | undefined;
    if (data?.release) field = Buffer.from(data.release, 'base64').toString('utf8');
  } else {
    // HELM_DRIVER=configmap keeps the same record in a ConfigMap, without Kubernetes' base64 layer.
    const cm = await getObject(ctx, 'configmap', recordName);
    field = (cm?.data as Record<string, string> | undefined)?.release;
  }
  if (!field) {
    fail(
      `The release record ${recordName} was not found (Secret or ConfigMap), so the deployed chart cannot be re-used. Give the 'chart' input (a chart path, or a repository reference with 'chart-version').`,
    );
  }
  const rec = decodeReleaseField(field);
  // The work directory is removed by the engine at the end of the run, with the kubeconfig file.
  const dir = mkdtempSync(path.join(path.dirname(ctx.kubeconfigFile), 'deployed-chart-'));
  return {
    dir: writeChart(rec.chart, dir),
    name: String(rec.chart.metadata.name ?? '?'),
    version: String(rec.chart.metadata.version ?? '?'),
  };
}

interface ChartChoice {
  chart: string;
  sendVersion: boolean;
  describe: string;
}

async function resolveChart(ctx: RunContext, release: string, revision: number): Promise<ChartChoice> {
  const { plan } = ctx;
  if (plan.chart) {
    const local = existsSync(plan.chart);
    if (!local) {
      return {
        chart: plan.chart,
        sendVersion: true,
        describe: `${plan.chart}${plan.chartVersion ? ` version ${plan.chartVersion}` : ' (newest version)'}`,
      };
    }
    const chartYaml = statSync(plan.chart).isDirectory() ? path.join(plan.chart, 'Chart.yaml') : undefined;
    const version =
      chartYaml && existsSync(chartYaml)
        ? String((parse(readFileSync(chartYaml, 'utf8')) as { version?: unknown } | null)?.version ?? '')
        : undefined;
    if (plan.chartVersion && version !== undefined && version !== plan.chartVersion) {
      fail(
        `input 'chart-version' is ${plan.chartVersion} but the chart at ${plan.chart} is version ${version}. A local chart has only the version it has: fix one of the two inputs.`,
      );
    }
    return {
      chart: plan.chart,
      sendVersion: false,
      describe: `${plan.chart}${version ? ` (version ${version})` : ''}`,
    };
  }
  if (plan.chartVersion) {
    fail(
      `input 'chart-version' needs the 'chart' input: the release record does not say which repository the chart came from. Give 'chart' as a repository reference (e.g. <repo-name>/metadefender_core after 'helm repo add') or a path.`,
    );
  }
  const c = await deployedChart(ctx, release, revision);
  return {
    chart: c.dir,
    sendVersion: false,
    describe: `the deployed chart ${c.name} ${c.version} (rebuilt from release revision ${revision})`,
  };
}

const same = (a: readonly PathSegment[], b: readonly PathSegment[]): boolean =>
  JSON.stringify(a) === JSON.stringify(b);
const startsWith = (p: readonly PathSegment[], prefix: readonly PathSegment[]): boolean =>
  p.length >= prefix.length && same(p.slice(0, prefix.length), prefix);

function renderStderr(ctx: RunContext, stderr: string): string {
  return ctx.reporter.mask(stderr.trim().split('\n').slice(-8).join('\n'));
}

function envChanges(
  ctx: RunContext,
  desired: Readonly<Record<string, string>>,
  after: ReturnType<typeof plannedEnv>['after'],
): EnvChange[] {
  const before = effectiveEnv(ctx.state.container, configMapData(ctx.state));
  return Object.entries(desired).map(([name, value]) => {
    const b = before.get(name);
    const a = after.get(name);
    const src = a ? describeSource(a.source) : 'nowhere';
    if (b && b.value === value) {
      return {
        name,
        before: b,
        value,
        target: undefined,
        why: `already ${value}; helm value ${ENV_KEY}.${name} keeps it (${src})`,
      };
    }
    const target: EnvChange['target'] =
      a?.source.kind === 'envFrom-configmap'
        ? { kind: 'configMap', configMap: a.source.configMap, key: name.slice(a.source.prefix.length) }
        : a?.source.kind === 'env-configmap-key'
          ? { kind: 'configMap', configMap: a.source.configMap, key: a.source.key }
          : { kind: 'container-env' };
    return {
      name,
      before: b,
      value,
      target,
      why: `helm value ${ENV_KEY}.${name}; the new pods read it from ${src}`,
    };
  });
}

export const helmRoute: Route<HelmPrepared> = {
  name: 'helm',

  async prepare(ctx, desired, step) {
    const { plan, state, reporter } = ctx;
    const release = plan.release ?? state.helmRelease ?? 'mdcore';
    if (plan.release && state.helmRelease && plan.release !== state.helmRelease) {
      fail(
        `input 'release' is "${plan.release}" but Deployment ${plan.deployment} belongs to Helm release "${state.helmRelease}" (annotation meta.helm.sh/release-name). Upgrading "${plan.release}" would not change md-core: fix the input or leave it empty.`,
      );
    }
    const helm = await ctx.tools.helm();
    const version = await helmVersion(reporter, helm);
    const features = helmFeatures(version);
    if (!features.dryRunServer) {
      fail(
        `helm ${version.text} cannot render an upgrade with the cluster's lookups (--dry-run=server, helm ${MIN_HELM.major}.${MIN_HELM.minor}+), which the chart's Secrets need for the guards. Set 'helm-version' to 3 or 4.`,
      );
    }
    step.detail(`helm ${version.text}, release "${release}"`);
    if (!features.resetThenReuseValues) {
      step.warn(
        `helm ${version.text} has no --reset-then-reuse-values (3.14+): using --reuse-values, which keeps the OLD chart's defaults too. Set 'helm-version' to 3 or 4 for a new chart's defaults.`,
      );
    }

    const missing = await ctx.kube.missingPermissions(plan.namespace, helmAccess(plan));
    if (missing.length > 0) {
      fail(
        `The identity in the kubeconfig lacks permissions helm needs in namespace "${plan.namespace}": ${missing
          .map((m) => `${m.verb} ${m.resource}${m.group ? `.${m.group}` : ''}`)
          .join(', ')}. Helm keeps its release records in Secrets there.`,
      );
    }

    await checkHelm(ctx, helm, release, step);
    const base = { release, namespace: plan.namespace, kubeconfig: ctx.kubeconfigFile };
    let history: HelmRevision[];
    try {
      history = await helmHistory(reporter, helm, base);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      fail(
        /not found/i.test(msg)
          ? `Helm release "${release}" was not found in namespace "${plan.namespace}". Check the 'release' input, or use 'method: kubectl' for an installation not managed by Helm.`
          : `reading the history of Helm release "${release}" failed: ${msg}`,
      );
    }
    const rs = releaseState(history);
    if (!rs) fail(`Helm release "${release}" has no revisions.`);
    const summary: HelmSummary = {
      release,
      chart: '',
      helmVersion: version.text,
      valuesMode: features.resetThenReuseValues ? '--reset-then-reuse-values' : '--reuse-values',
      currentRevision: rs.current.revision,
      before: history.slice(-6),
      after: [],
      changes: [],
      notes: [],
    };
    ctx.outcome.helm = summary;
    if (rs.pending) {
      fail(
        `Helm release "${release}" is in state ${rs.latest.status} (revision ${rs.latest.revision}): another helm operation is running, or one was interrupted. Wait for it to finish; if none is running, bring the release back with \`helm rollback ${release} ${rs.current.revision} -n ${plan.namespace}\` (the last deployed revision), then run again.`,
      );
    }
    if (rs.current.status !== 'deployed') {
      step.warn(
        `no revision of release "${release}" is marked deployed; the newest (${rs.current.revision}, ${rs.current.status}) is taken as the one to return to`,
      );
    }
    step.detail(
      `release revision ${rs.current.revision} (${rs.current.chart}, ${rs.current.status}): the rollback target`,
    );
    ctx.journal.update({ release, previousReleaseRevision: rs.current.revision });

    const chart = await resolveChart(ctx, release, rs.current.revision);
    summary.chart = chart.describe;
    step.detail(`chart: ${chart.describe}; values: ${summary.valuesMode} plus the inputs`);

    // As a chart's Secret holds them (base64) in the render and in helm's errors.
    for (const s of [plan.licenseKey, ...plan.setSecret.map((x) => x.value)]) {
      if (s) reporter.secret(s);
      if (s) reporter.secret(Buffer.from(s, 'utf8').toString('base64'));
    }
    const prepared: HelmPrepared = {
      release,
      helm,
      features,
      forceConflicts: false,
      chart: chart.chart,
      sendVersion: chart.sendVersion,
      env: desired,
      previousReleaseRevision: rs.current.revision,
      changedConfigMaps: [],
      rolling: rollingSettings(plan, state.deployment).patch,
      startupProbe: containerExtras(ctx).startupProbe as object | undefined,
      description: `mdcore-upgrade-action: ${state.image} → ${targetImage(plan)}`.slice(0, 200),
    };

    // The render of exactly this upgrade, with the cluster's lookups (the chart's Secrets reuse live values).
    const dry = await withSecretValues(ctx, (file) =>
      runTool(reporter, helm, dryRunArgs(upgradeArgs(ctx, prepared, file)), { allowFailure: true }),
    );
    if (dry.exitCode !== 0) {
      fail(`helm could not render the planned upgrade:\n${renderStderr(ctx, dry.stderr)}`);
    }
    let rendered: { manifest?: string; config?: unknown; apply_method?: string };
    try {
      rendered = JSON.parse(dry.stdout) as typeof rendered;
    } catch {
      fail('helm printed no JSON for the planned upgrade (--dry-run=server -o json)');
    }
    for (const s of secretLeaves(rendered.config)) reporter.secret(s);
    const planned = parseManifest(rendered.manifest ?? '');
    const currentText = await runTool(reporter, helm, [
      'get',
      'manifest',
      release,
      '--revision',
      String(rs.current.revision),
      '--namespace',
      plan.namespace,
      '--kubeconfig',
      ctx.kubeconfigFile,
    ]);
    const current = parseManifest(currentText.stdout);
    for (const s of secretsToMask([...planned.values(), ...current.values()])) reporter.secret(s);

    // Guard 1: the license key.
    const liveLicense = await getObject(ctx, 'secret', LICENSE_SECRET);
    for (const s of secretsToMask(liveLicense ? [liveLicense] : [])) reporter.secret(s);
    const lic = licenseGuard({
      rendered: decodedSecret(planned.get(objectKey('Secret', LICENSE_SECRET))),
      live: decodedSecret(liveLicense),
      asked: plan.licenseKey,
    });
    if (!lic.ok) fail(lic.message);
    for (const n of lic.notes) step.detail(n);

    // Guard 2: the database's data volume, judged against the live workloads (the manifest when not live).
    const dbBefore = new Map<string, K8sObject>();
    for (const [key, o] of current) {
      if (!isDatabaseWorkload(o)) continue;
      dbBefore.set(key, (await getObject(ctx, o.kind.toLowerCase(), o.metadata.name)) ?? o);
    }
    const dbProblems = databaseVolumeProblems(dbBefore, planned);
    if (dbProblems.length > 0) {
      if (!plan.allowPostgresWithoutVolume) {
        fail(
          `The upgrade would take the in-cluster database's data away:\n${dbProblems.map((p) => `  - ${p}`).join('\n')}\nChart 5.20.0 no longer mounts postgres-core's data directory by default. Keep it with values (e.g. set core_components.postgres-core.persistentDir=/var/lib/postgresql/data and core_components.postgres-core.storage_name=postgres-core, as chart 5.19.0 had), or, if the database really lives elsewhere, set 'allow-postgres-without-volume: true'.`,
        );
      }
      for (const p of dbProblems) {
        step.warn(`${p} (allowed by allow-postgres-without-volume)`);
        summary.notes.push(`${p} (allowed by allow-postgres-without-volume)`);
      }
    } else if (dbBefore.size > 0) {
      step.detail(`database data volume kept (${[...dbBefore.keys()].join(', ')})`);
    }

    // The variables that really arrive, and md-core's image.
    const envCheck = plannedEnv({
      planned,
      current,
      live: configMapData(state),
      deployment: plan.deployment,
      container: plan.container,
      desired,
    });
    if (!envCheck.container) fail(envCheck.problems.join('\n'));
    if (envCheck.container.image !== targetImage(plan)) {
      fail(
        `the planned release would run ${envCheck.container.image ?? 'no image'} in ${plan.container}, not ${targetImage(plan)}: the chart does not take the image from ${IMAGE_KEY}, or a 'set' line or values file overrides it.`,
      );
    }
    ctx.outcome.env = envChanges(ctx, desired, envCheck.after);
    ctx.outcome.envWarnings = [];
    for (const c of ctx.outcome.env) step.detail(`${c.name}=${c.value}: ${c.why}`);
    if (envCheck.problems.length > 0) {
      fail(
        `the planned upgrade variables would not reach the new pods:\n${envCheck.problems.map((p) => `  - ${p}`).join('\n')}`,
      );
    }

    // Guard 3: everything else that would change.
    const configName = `${release}-config`;
    const containerPath: PathSegment[] = ['spec', 'template', 'spec', 'containers', { name: plan.container }];
    const asked = (object: string, p: readonly PathSegment[]): boolean =>
      (object === objectKey('Deployment', plan.deployment) &&
        (same(p, [...containerPath, 'image']) ||
          (prepared.rolling !== undefined && startsWith(p, ['spec', 'strategy', 'rollingUpdate'])) ||
          (prepared.startupProbe !== undefined && startsWith(p, [...containerPath, 'startupProbe'])))) ||
      (object === objectKey('ConfigMap', configName) &&
        p.length === 2 &&
        p[0] === 'data' &&
        typeof p[1] === 'string' &&
        p[1] in desired) ||
      object === objectKey('Secret', LICENSE_SECRET);
    const changes = compareManifests(current, planned, asked).map(formatChange);
    // Helm sets every field the chart renders, so a Deployment scaled outside the chart (kubectl scale, KEDA)
    // goes back to the values' replicas: the manifests agree, only the live object shows it.
    const renderedReplicas = (
      planned.get(objectKey('Deployment', plan.deployment))?.spec as { replicas?: number } | undefined
    )?.replicas;
    if (renderedReplicas !== undefined && renderedReplicas !== state.replicas) {
      changes.push(
        `${objectKey('Deployment', plan.deployment)}: spec.replicas: ${state.replicas} (live) → ${renderedReplicas} (the chart's values); set core_components.md-core.replicas to keep the live count`,
      );
    }
    summary.changes = changes;
    if (changes.length > 0) {
      const list = changes.map((c) => `  - ${c}`).join('\n');
      if (plan.strict) {
        fail(
          `'strict' is true and the upgrade would change more than md-core's image and the upgrade variables:\n${list}\nReview these changes (they come from the chart or the values), then run without 'strict' or with values that keep them as they are.`,
        );
      }
      for (const c of changes) step.warn(`besides the image and the variables, the upgrade changes ${c}`);
    } else {
      step.detail('nothing else in the release changes');
    }

    const changedConfigMaps = [...new Set([...current.keys(), ...planned.keys()])]
      .filter((k) => k.startsWith('ConfigMap/'))
      .filter(
        (k) => JSON.stringify(current.get(k)?.data ?? null) !== JSON.stringify(planned.get(k)?.data ?? null),
      )
      .map((k) => k.slice('ConfigMap/'.length));
    const result: HelmPrepared = {
      ...prepared,
      changedConfigMaps,
      forceConflicts: features.forceConflicts && rendered.apply_method === 'ssa',
    };
    if (features.forceConflicts) {
      step.detail(
        `apply method: ${rendered.apply_method === 'ssa' ? 'server-side; conflicts are forced (Helm 3 overwrites such fields too)' : 'client-side three-way merge (as the release was installed)'}`,
      );
    }
    step.detail(
      `planned: ${reporter.mask(formatCommand('helm', upgradeArgs(ctx, result, '<secret values file>')))}`,
    );
    return result;
  },

  applyTitle: 'helm upgrade',

  async apply(ctx, p, step) {
    const { plan, state, journal, kube } = ctx;
    for (const name of p.changedConfigMaps) {
      const cm = await kube.getConfigMap(plan.namespace, name);
      if (cm) journal.snapshotConfigMap(cm);
    }
    // Only the progress deadline: strategy and replicas come from the chart's values (see prepare), and the
    // MIGRATE_HISTORY scale-down is undone by the chart's replicas in the same helm upgrade.
    const deadline = specFields(ctx).progressDeadlineSeconds;
    const fields: Record<string, unknown> =
      deadline === undefined ? {} : { progressDeadlineSeconds: deadline };
    journal.recordAnnotation(CHANGE_CAUSE, state.deployment.metadata?.annotations?.[CHANGE_CAUSE]);
    for (const k of Object.keys(fields)) {
      journal.recordField(k, (state.deployment.spec as Record<string, unknown> | undefined)?.[k]);
    }
    journal.update({
      phase: 'changing',
      templateChanged: true,
      release: p.release,
      previousReleaseRevision: p.previousReleaseRevision,
      targetImage: targetImage(plan),
    });
    // Outside the pod template (no new revision) and outside the chart (helm's merge keeps it): room for the
    // watcher's timeout before the controller's progress deadline.
    checkCancelled(ctx, 'the helm upgrade');
    if (Object.keys(fields).length > 0) {
      await kube.patchDeployment(plan.namespace, plan.deployment, { spec: fields });
      for (const [k, v] of Object.entries(fields)) step.detail(`${k} → ${String(v)}`);
    }
    checkCancelled(ctx, 'the helm upgrade');
    await withSecretValues(ctx, (file) =>
      runTool(ctx.reporter, p.helm, upgradeArgs(ctx, p, file), { announce: true }),
    );
    // The cause for `kubectl rollout history`, after the upgrade: annotating before it would also label the
    // revision that was current (the controller copies Deployment annotations to the current ReplicaSet).
    await kube.annotateDeployment(plan.namespace, plan.deployment, {
      [CHANGE_CAUSE]: changeCause(state.image, targetImage(plan), ctx.runUrl),
    });
    step.detail(
      `${plan.container}: ${state.image} → ${targetImage(plan)} (release ${p.release}, from revision ${p.previousReleaseRevision})`,
    );
  },

  async finish(ctx) {
    const h = ctx.outcome.helm;
    if (!h || ctx.journal.data.method !== 'helm') return;
    try {
      const helm = await ctx.tools.helm();
      h.after = (
        await helmHistory(ctx.reporter, helm, {
          release: h.release,
          namespace: ctx.plan.namespace,
          kubeconfig: ctx.kubeconfigFile,
        })
      ).slice(-6);
    } catch (err) {
      h.notes.push(
        `the release history after the run could not be read: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const j = ctx.journal.data;
    if (j.phase === 'rolled-back' && ctx.plan.rollback === 'rollout-undo') {
      const latest = h.after[h.after.length - 1];
      h.notes.push(
        `rolled back with kubectl rollout undo: Helm release ${h.release} still records revision ${latest?.revision ?? '?'} (${j.targetImage ?? 'the new image'}) while the previous version runs. Run \`helm rollback ${h.release} ${j.previousReleaseRevision ?? '?'} -n ${j.namespace}\` to bring the release record back in line.`,
      );
    }
  },
};
