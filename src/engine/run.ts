// Runs one upgrade from a Plan to an Outcome. Knows nothing of GitHub: it talks to a Reporter.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kube } from '../cluster/kube.ts';
import {
  acquireLease,
  currentHolderIdentity,
  describeLease,
  RENEW_INTERVAL_MS,
  type LeaseHold,
} from '../cluster/lease.ts';
import { revisionOf } from '../cluster/verdict.ts';
import {
  DB_NAME_ANNOTATION,
  FROM_DB_ANNOTATION,
  TAG_ANNOTATION,
  UPGRADED_AT_ANNOTATION,
  upgradedDbName,
} from '../plan/db-name.ts';
import { targetImage, type Plan } from '../plan/plan.ts';
import { kubeconfigSecrets } from '../report/kubeconfig-secrets.ts';
import type { Reporter } from '../report/reporter.ts';
import { chooseDbName, desiredEnv } from '../steps/configure-env.ts';
import type { Route } from '../steps/route.ts';
import { kubectlRoute } from '../steps/route-kubectl.ts';
import {
  checkDbSpace,
  describeLivenessPlan,
  migrationStartupProbe,
  stopPods,
} from '../steps/migrate-history.ts';
import {
  exportConfig,
  importConfig,
  openApi,
  verifyServing,
  type ApiSession,
  type ExportRecord,
} from '../steps/core-api.ts';
import { preflight } from '../steps/preflight.ts';
import { rollingSettings } from '../steps/rolling-settings.ts';
import { manualRollbackCommands, rollback } from '../steps/rollback.ts';
import { waitReady } from '../steps/wait-ready.ts';
import { checkKubectl } from '../steps/tool-check.ts';
import { afterFailure, rollbackMode } from './after-failure.ts';
import { checkCancelled, type ClusterState, type RunContext, type ToolProvider } from './context.ts';
import { Journal } from './journal.ts';
import { newOutcome, type Outcome } from './outcome.ts';
import { Timeline, type StepHandle } from './timeline.ts';

export interface EngineDeps {
  readonly reporter: Reporter;
  readonly tools: ToolProvider;
  readonly signal?: AbortSignal | undefined;
  readonly now?: () => number;
  /** Where the journal is kept for the post step; none for in-process runs. */
  readonly journalPath?: string | undefined;
  /** Link to the workflow run, for change-cause and the summary. */
  readonly runUrl?: string | undefined;
  /** Holder of the Deployment's Lease; default: the workflow run (with attempt), else user@host (pid). */
  readonly leaseHolder?: string | undefined;
}

/** Registers every credential in a kubeconfig so none of it can reach a log. */
function maskKubeconfig(kube: Kube, reporter: Reporter): void {
  for (const u of kube.kc.getUsers()) {
    for (const v of [u.token, u.keyData, u.password, u.certData]) if (v) reporter.secret(v);
  }
}

export async function runUpgrade(plan: Plan, deps: EngineDeps): Promise<Outcome> {
  const now = deps.now ?? Date.now;
  const { reporter } = deps;
  const outcome = newOutcome(plan, now());
  const timeline = new Timeline(reporter, now);
  outcome.steps = timeline.steps;
  for (const s of [
    plan.kubeconfig,
    plan.licenseKey,
    plan.apiKey,
    plan.configPassword,
    ...plan.setSecret.map((x) => x.value),
  ])
    if (s) reporter.secret(s);
  for (const s of kubeconfigSecrets(plan.kubeconfig ?? '')) reporter.secret(s);
  const workDir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'mdcore-upgrade-'));
  let ctx: RunContext | undefined;
  let api: ApiSession | undefined;
  let lease: LeaseHold | undefined;
  let finishRoute: ((c: RunContext) => Promise<void>) | undefined;
  try {
    const kube = await timeline.step('connect', 'Connect to the cluster', async (h) => {
      const k = await Kube.connect({ kubeconfig: plan.kubeconfig, context: plan.context });
      maskKubeconfig(k, reporter);
      h.detail(
        `Kubernetes ${await k.serverVersion()} at ${k.kc.getCurrentCluster()?.server ?? '?'} (context ${k.kc.getCurrentContext()})`,
      );
      return k;
    });
    const kubeconfigFile = join(workDir, 'kubeconfig');
    writeFileSync(kubeconfigFile, kube.exportConfig(), { mode: 0o600 });

    const state: ClusterState = await timeline.step(
      'preflight',
      'Preflight checks (nothing changed yet)',
      (h) => preflight(kube, plan, h),
    );
    // Before anything could change, and before "unchanged" is decided: another run may be mid-change.
    lease = await timeline.step('lease', "One run at a time: the Deployment's Lease", (h) =>
      holdLease(kube, plan, deps, h),
    );
    outcome.previousImage = state.image;
    outcome.previousRevision = state.revision;
    outcome.revision = state.revision;
    outcome.newImage = targetImage(plan);
    outcome.before = { image: state.image, revision: state.revision ?? '', replicas: String(state.replicas) };

    const method = plan.method === 'auto' ? (state.helmRelease ? 'helm' : 'kubectl') : plan.method;
    outcome.method = method;
    const db = chooseDbName(plan, state);
    outcome.dbName = db.name;
    outcome.dbNameReason = db.reason;
    outcome.nextDbName = plan.upgradeDb ? upgradedDbName(plan.tag) : db.name;

    if (state.image === targetImage(plan) && !plan.force) {
      timeline.skip(
        'upgrade',
        'Upgrade',
        `Deployment already runs ${state.image}; nothing changed (set force: true to run anyway)`,
      );
      reporter.info(`Deployment ${plan.deployment} already runs ${state.image}: nothing to do.`);
      outcome.result = 'unchanged';
      return outcome;
    }

    const kubectl = await timeline.step(
      'tools',
      'Install kubectl and check it reads the cluster',
      async (h) => {
        const p = await deps.tools.kubectl();
        h.detail(`kubectl at ${p}`);
        await checkKubectl({ plan, reporter, kubeconfigFile }, p, h);
        return p;
      },
    );

    const journal = new Journal(
      {
        namespace: plan.namespace,
        deployment: plan.deployment,
        container: plan.container,
        method,
        rollback: plan.rollback,
        previousImage: state.image,
        previousRevision: state.revision,
        lease: lease?.ref,
        knownGeneration: state.deployment.metadata?.generation,
      },
      deps.journalPath,
    );
    ctx = {
      plan,
      reporter,
      timeline,
      outcome,
      kube,
      kubectl,
      kubeconfigFile,
      journal,
      tools: deps.tools,
      // A lost Lease stops the run like a cancel: another run may be about to change the Deployment.
      signal: lease ? AbortSignal.any([...(deps.signal ? [deps.signal] : []), lease.signal]) : deps.signal,
      runUrl: deps.runUrl,
      state,
    };
    const c = ctx;

    const route: Route<unknown> =
      method === 'helm'
        ? ((await import('../steps/route-helm.ts')).helmRoute as Route<unknown>)
        : (kubectlRoute as Route<unknown>);
    finishRoute = route.finish?.bind(route);
    const prepared = await timeline.step(
      'plan-change',
      `Plan the change (${method}); nothing changed yet`,
      async (h) => {
        h.detail(`MDCORE_UPGRADE_FROM_DB_NAME=${db.name}: ${db.reason}`);
        if (db.warning) h.warn(db.warning);
        return route.prepare(c, desiredEnv(plan, db.name), h);
      },
    );

    await timeline.step('rolling', 'Rolling update settings', async (h) => {
      const r = rollingSettings(plan, state.deployment);
      h.detail(r.description);
      if (r.problem) throw new Error(`${r.problem}. Nothing in the cluster was changed.`);
      for (const w of r.warnings) h.warn(w);
    });

    if (plan.migrateHistory) {
      await timeline.step(
        'liveness',
        'MIGRATE_HISTORY pre-step 1: keep the liveness probe from killing the migration',
        async (h) => {
          h.detail(
            describeLivenessPlan(
              state.container,
              migrationStartupProbe(state.container, plan.migrationTimeoutSeconds),
              plan.migrationTimeoutSeconds,
            ),
          );
          h.detail(
            `readiness is awaited for up to migration-timeout (${plan.migrationTimeoutSeconds} s) instead of timeout (${plan.timeoutSeconds} s)`,
          );
        },
      );
      await timeline.step('db-space', 'MIGRATE_HISTORY pre-step 2: free space on the database server', (h) =>
        checkDbSpace(c, db.name, h),
      );
    }

    const needApi = plan.strategy === 'export-import' || (plan.apiUrl !== undefined && plan.verify !== 'off');
    if (needApi) {
      api = await timeline.step('api', "Connect to MD Core's REST API", async (h) => {
        const session = await openApi(c, h);
        const v = await session.client.version().catch(() => undefined);
        if (v) h.detail(`running version before the upgrade: ${v.version}`);
        return session;
      });
    }
    let exported: ExportRecord | undefined;
    if (plan.strategy === 'export-import' && api) {
      const session = api;
      exported = await timeline.step('export', 'Export the configuration (backup before any change)', (h) =>
        exportConfig(c, session, h),
      );
    }

    if (plan.dryRun) {
      timeline.skip('apply', 'Apply', 'dry-run: the plan above was not applied');
      outcome.result = 'dry-run';
      return outcome;
    }

    // From here on the cluster changes: the journal says so before the first change is made.
    journal.update({ phase: 'changing' });
    if (plan.migrateHistory) {
      await timeline.step('stop-pods', 'MIGRATE_HISTORY pre-step 3: stop every md-core pod', async (h) => {
        await assertDeploymentUnchanged(c, 'scaling md-core to zero');
        await stopPods(c, h);
        await noteGeneration(c);
      });
    }
    await timeline.step('apply', route.applyTitle, async (h) => {
      await assertDeploymentUnchanged(c, 'the change');
      await route.apply(c, prepared, h);
      await noteGeneration(c);
    });
    journal.update({ phase: 'waiting' });

    const wait = await timeline.step('wait', 'Wait for readiness (watching the rollout)', async (h) => {
      const r = await waitReady(
        c,
        h,
        plan.migrateHistory ? plan.migrationTimeoutSeconds : plan.timeoutSeconds,
      );
      outcome.pods = [...r.pods];
      outcome.revision = revisionOf(r.deployment) ?? outcome.revision;
      journal.update({ newRevision: outcome.revision });
      if (r.verdict.state !== 'complete') {
        const reason = r.verdict.state === 'failed' ? r.verdict.reason : 'unknown';
        throw new Error(`the new version did not become ready: ${reason}: ${r.verdict.message}`);
      }
      h.detail(`rollout complete: ${r.verdict.message} in ${Math.round(r.elapsedMs / 1000)} s`);
      return r;
    });

    if (exported && api) {
      const session = api;
      const archive = exported;
      await timeline.step('import', 'Import the configuration into the new version', (h) =>
        importConfig(c, session, archive, h),
      );
    }
    if (api && plan.apiUrl && plan.verify !== 'off') {
      const session = api;
      await timeline.step('verify', 'Verify that the new version serves', async (h) => {
        const problems = await verifyServing(c, session, h);
        if (problems.length === 0) return;
        if (plan.verify === 'warn') for (const p of problems) h.warn(p);
        else throw new Error(`verification failed: ${problems.join('; ')}`);
      });
    }

    // The upgrade is in place and verified: what follows is bookkeeping, and its failure must never roll back
    // a verified upgrade (retried, then a warning).
    journal.update({ phase: 'done' });
    await timeline.step('record', 'Record the upgrade on the Deployment', async (h) => {
      const annotations = {
        [TAG_ANNOTATION]: plan.tag,
        [DB_NAME_ANNOTATION]: outcome.nextDbName ?? db.name,
        [FROM_DB_ANNOTATION]: db.name,
        [UPGRADED_AT_ANNOTATION]: new Date(now()).toISOString(),
      };
      const err = await withRetries(() =>
        kube.annotateDeployment(plan.namespace, plan.deployment, annotations),
      );
      if (err) {
        h.warn(
          `the upgrade is done, but recording it on the Deployment failed (${err}); the next run may have to be told the database name with 'from-db-name' (${annotations[DB_NAME_ANNOTATION]})`,
        );
        return;
      }
      h.detail(`database after the upgrade (expected): ${annotations[DB_NAME_ANNOTATION]}`);
    });
    const deadline = journal.data.deploymentFields.progressDeadlineSeconds;
    if (deadline !== undefined) {
      // Raised only for this run's wait: the Deployment keeps the user's setting afterwards.
      await timeline.step('restore-settings', 'Restore progressDeadlineSeconds', async (h) => {
        const was = deadline === null ? 'the default (600 s)' : String(deadline);
        const err = await withRetries(() =>
          kube.patchDeployment(plan.namespace, plan.deployment, {
            spec: { progressDeadlineSeconds: deadline },
          }),
        );
        if (err) {
          h.warn(
            `the upgrade is done, but progressDeadlineSeconds could not be put back to ${was} (${err}); set it by hand: kubectl patch deployment/${plan.deployment} -n ${plan.namespace} -p '{"spec":{"progressDeadlineSeconds":${deadline === null ? 600 : String(deadline)}}}'`,
          );
          return;
        }
        h.detail(`progressDeadlineSeconds back to ${was}`);
      });
    }
    outcome.after = {
      image: targetImage(plan),
      revision: outcome.revision ?? '',
      replicas: String(wait.verdict.desired),
    };
    outcome.result = 'upgraded';
    return outcome;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    outcome.error = reporter.mask(lease?.lost ? `${lease.lost}.\n${message}` : message);
    outcome.result = 'failed';
    if (ctx && lease?.lost) leaveAfterLeaseLost(ctx, lease.lost);
    else if (ctx) await actAfterFailure(ctx, message);
    return outcome;
  } finally {
    await api?.close();
    // After any rollback and before the work directory (with the kubeconfig file) goes.
    if (ctx && finishRoute) await finishRoute(ctx).catch(() => undefined);
    if (lease) await releaseHeldLease(lease, ctx, reporter);
    outcome.unverifiedTools = [...(deps.tools.unverified?.() ?? [])];
    outcome.endedAt = now();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Takes the Deployment's Lease for a real run (refused while another run holds it); a dry run only reports it. */
async function holdLease(
  kube: Kube,
  plan: Plan,
  deps: EngineDeps,
  h: StepHandle,
): Promise<LeaseHold | undefined> {
  if (plan.dryRun) {
    const d = await describeLease(kube, plan.namespace, plan.deployment);
    if (d.held) h.warn(d.text);
    else h.detail(`${d.text} (a dry run does not take it)`);
    return undefined;
  }
  const hold = await acquireLease(kube, {
    namespace: plan.namespace,
    deployment: plan.deployment,
    holder: deps.leaseHolder ?? currentHolderIdentity(),
    onLost: (why) => deps.reporter.warning(why, 'Lease lost'),
  });
  const { namespace, name, holder } = hold.ref;
  const how =
    hold.how === 'took-over-expired'
      ? `took it over from ${hold.previousHolder ?? 'a run'} whose hold had expired`
      : hold.how === 'created'
        ? 'created it'
        : 'took it';
  h.detail(
    `Lease ${namespace}/${name}: ${how}; held by ${holder}, renewed every ${RENEW_INTERVAL_MS / 1000} s, released at the end`,
  );
  return hold;
}

/** Releases the Lease once nothing more will change; the journal then no longer asks the post step to. */
async function releaseHeldLease(
  lease: LeaseHold,
  ctx: RunContext | undefined,
  reporter: Reporter,
): Promise<void> {
  const r = await lease.release();
  const { namespace, name } = lease.ref;
  if (r.released) {
    reporter.info(`Released Lease ${namespace}/${name}.`);
    ctx?.journal.update({ lease: undefined });
  } else if (!lease.lost) {
    reporter.warning(`Lease ${namespace}/${name} was not released: ${r.why}.`, 'Lease');
  }
}

/**
 * The Lease was lost mid-run: another run may be changing the Deployment now, so this run undoes nothing
 * automatically (it would fight that run) and says what to check and how to undo by hand.
 */
function leaveAfterLeaseLost(ctx: RunContext, why: string): void {
  const { journal, timeline, outcome } = ctx;
  if (!journal.mutated) return;
  timeline.skip(
    'rollback',
    'Rollback',
    `not rolled back automatically: ${why}. Another run may be changing the Deployment now; check it before undoing anything by hand`,
  );
  journal.update({ phase: 'left-failed' });
  outcome.manualSteps = manualRollbackCommands(
    journal.data,
    rollbackMode(journal.data.rollback, journal.data.method),
  );
}

/** Acts on the one after-failure decision (the post step asks the same function). */
async function actAfterFailure(ctx: RunContext, cause: string): Promise<void> {
  const { outcome, journal, timeline } = ctx;
  const decision = afterFailure(journal.data);
  if (decision.kind === 'nothing') return;
  if (decision.kind === 'leave') {
    timeline.skip('rollback', 'Rollback', decision.why);
    journal.update({ phase: 'left-failed' });
    outcome.manualSteps = manualRollbackCommands(journal.data, decision.manualMode);
    return;
  }
  const { mode } = decision;
  try {
    await timeline.step('rollback', `Roll back (${mode})`, async (h) => {
      h.detail(`cause: ${cause.split('\n')[0] ?? cause}`);
      const r = await rollback(journal.data, {
        kube: ctx.kube,
        reporter: ctx.reporter,
        kubectl: async () => ctx.kubectl,
        helm: () => ctx.tools.helm(),
        kubeconfigFile: ctx.kubeconfigFile,
        selector: ctx.state.selector,
        timeoutSeconds: ctx.plan.timeoutSeconds,
        mode,
        signal: undefined,
        detail: (t) => h.detail(t),
      });
      if (!r.ok) throw new Error(`rollback incomplete:\n${r.problems.join('\n')}`);
    });
    journal.update({ phase: 'rolled-back' });
    outcome.rolledBack = true;
    outcome.result = 'rolled-back';
    const dep = await ctx.kube
      .getDeployment(journal.data.namespace, journal.data.deployment)
      .catch(() => undefined);
    outcome.revision = revisionOf(dep) ?? outcome.revision;
  } catch (err) {
    journal.update({ phase: 'rollback-failed' });
    outcome.rollbackFailed = true;
    outcome.manualSteps = manualRollbackCommands(journal.data, mode);
    outcome.error = `${outcome.error ?? ''}\nROLLBACK FAILED: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Runs a call up to three times (a short pause between); returns the last error's message, or undefined. */
async function withRetries(fn: () => Promise<unknown>): Promise<string | undefined> {
  let last = '';
  for (let i = 0; i < 3; i++) {
    try {
      await fn();
      return undefined;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
      await new Promise((r) => setTimeout(r, 500 * (i + 1)));
    }
  }
  return last;
}

/**
 * Refuses to go on when the Deployment's spec changed since this run last saw it (a person's edit meanwhile):
 * their change is reported, not overwritten. Also the last chance to stop before a change when cancelled.
 */
async function assertDeploymentUnchanged(ctx: RunContext, before: string): Promise<void> {
  checkCancelled(ctx, before);
  const { namespace, deployment, knownGeneration } = ctx.journal.data;
  const dep = await ctx.kube.getDeployment(namespace, deployment);
  if (!dep) throw new Error(`Deployment ${namespace}/${deployment} disappeared before ${before}`);
  const generation = dep.metadata?.generation;
  if (knownGeneration !== undefined && generation !== knownGeneration) {
    throw new Error(
      `Deployment ${namespace}/${deployment} was changed by someone else while this run was preparing (generation ${knownGeneration} → ${String(generation)}); stopped before ${before} so their change is not overwritten. Run the upgrade again once they are done.`,
    );
  }
}

/** Records the Deployment's generation right after this run changed its spec (see Journal.knownGeneration). */
async function noteGeneration(ctx: RunContext): Promise<void> {
  const { namespace, deployment } = ctx.journal.data;
  const dep = await ctx.kube.getDeployment(namespace, deployment).catch(() => undefined);
  const generation = dep?.metadata?.generation;
  if (generation !== undefined) ctx.journal.update({ knownGeneration: generation });
}
