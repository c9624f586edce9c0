// The helm route: one `helm upgrade` of the release that manages md-core, after a render of exactly that upgrade
// has passed the chart's traps (helm-guards.ts). Readiness and rollback stay with the engine (see helm-args.ts
// for why helm's own --wait / --atomic / --rollback-on-failure are not used). Chart choice: helm-chart.ts;
// permissions and the helm check: helm-access.ts; the guards on the render: helm-render-check.ts.
//
// Chart: the `chart` input (a path, or a repository reference with `chart-version`); without it the chart the
// release was deployed with, rebuilt from Helm's release record (helm-release.ts), so only the image and the
// upgrade variables change. Values: the release's user-supplied values are kept (--reset-then-reuse-values, or
// --reuse-values on Helm < 3.14), then the user's values files, the masked license key (a private temp file),
// the user's `set` lines, and last the image, the variables and the strategy inputs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { checkCancelled, type RunContext } from '../engine/context.ts';
import type { HelmSummary } from '../engine/outcome.ts';
import { targetImage, type IntOrPercent } from '../plan/plan.ts';
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
import { checkHelmAccess, helmAccess } from './helm-access.ts';
import { buildUpgradeArgs, dryRunArgs, secretValues } from './helm-args.ts';
import { resolveChart } from './helm-chart.ts';
import { parseManifest, secretLeaves, secretsToMask } from './helm-guards.ts';
import { checkRenderedUpgrade, configMapsChangedBy } from './helm-render-check.ts';
import { rollingSettings } from './rolling-settings.ts';
import type { Route } from './route.ts';

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

function renderStderr(ctx: RunContext, stderr: string): string {
  return ctx.reporter.mask(stderr.trim().split('\n').slice(-8).join('\n'));
}

export const helmRoute: Route<HelmPrepared> = {
  name: 'helm',

  async prepare(ctx, desired, step) {
    const { plan, state, reporter } = ctx;
    const release = plan.release ?? state.helmRelease ?? 'mdcore';
    if (plan.release && state.helmRelease && plan.release !== state.helmRelease) {
      fail(
        `input 'release' is "${plan.release}" but Deployment ${ctx.target.deployment} belongs to Helm release "${state.helmRelease}" (annotation meta.helm.sh/release-name). Upgrading "${plan.release}" would not change md-core: fix the input or leave it empty.`,
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

    await checkHelmAccess(ctx, helm, release, step);
    const base = { release, namespace: ctx.target.namespace, kubeconfig: ctx.kubeconfigFile };
    let history: HelmRevision[];
    try {
      history = await helmHistory(reporter, helm, base);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      fail(
        /not found/i.test(msg)
          ? `Helm release "${release}" was not found in namespace "${ctx.target.namespace}". Check the 'release' input, or use 'method: kubectl' for an installation not managed by Helm.`
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
        `Helm release "${release}" is in state ${rs.latest.status} (revision ${rs.latest.revision}): another helm operation is running, or one was interrupted. Wait for it to finish; if none is running, bring the release back with \`helm rollback ${release} ${rs.current.revision} -n ${ctx.target.namespace}\` (the last deployed revision), then run again.`,
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
      ctx.target.namespace,
      '--kubeconfig',
      ctx.kubeconfigFile,
    ]);
    const current = parseManifest(currentText.stdout);
    for (const s of secretsToMask([...planned.values(), ...current.values()])) reporter.secret(s);

    await checkRenderedUpgrade(ctx, { release, planned, current, prepared, desired, summary }, step);

    const changedConfigMaps = configMapsChangedBy(current, planned);
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
      const cm = await kube.getConfigMap(ctx.target.namespace, name);
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
      await kube.patchDeployment(ctx.target.namespace, ctx.target.deployment, { spec: fields });
      for (const [k, v] of Object.entries(fields)) step.detail(`${k} → ${String(v)}`);
    }
    checkCancelled(ctx, 'the helm upgrade');
    await withSecretValues(ctx, (file) =>
      runTool(ctx.reporter, p.helm, upgradeArgs(ctx, p, file), { announce: true }),
    );
    // The cause for `kubectl rollout history`, after the upgrade: annotating before it would also label the
    // revision that was current (the controller copies Deployment annotations to the current ReplicaSet).
    await kube.annotateDeployment(ctx.target.namespace, ctx.target.deployment, {
      [CHANGE_CAUSE]: changeCause(state.image, targetImage(plan), ctx.runUrl),
    });
    step.detail(
      `${ctx.target.container}: ${state.image} → ${targetImage(plan)} (release ${p.release}, from revision ${p.previousReleaseRevision})`,
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
          namespace: ctx.target.namespace,
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

/** Kept here too: callers know the route's permissions by the route's name. */
export { helmAccess };
