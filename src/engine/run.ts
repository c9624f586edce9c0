// The one engine loop: open a run, read the facts (connect, preflight, Lease, tools: nothing changes), run the
// chosen strategy's checks, stop there on dry-run, run its changes and wrap-up, and on failure act on the one
// after-failure decision. Strategies (src/strategies/) say which steps, in which order; this file knows none.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kube } from '../cluster/kube.ts';
import type { LeaseHold } from '../cluster/lease.ts';
import { upgradedDbName } from '../plan/db-name.ts';
import { targetImage, type Plan } from '../plan/plan.ts';
import { kubeconfigSecrets } from '../report/kubeconfig-secrets.ts';
import type { Reporter } from '../report/reporter.ts';
import { chooseDbName } from '../steps/configure-env.ts';
import { preflight } from '../steps/preflight.ts';
import type { Route } from '../steps/route.ts';
import { kubectlRoute } from '../steps/route-kubectl.ts';
import { checkKubectl } from '../steps/tool-check.ts';
import { strategyFor } from '../strategies/index.ts';
import type { ClusterState, RunContext, ToolProvider } from './context.ts';
import { actAfterFailure } from './failure.ts';
import { Journal } from './journal.ts';
import { holdLease, releaseHeldLease } from './lease-step.ts';
import { newOutcome, resultOfPhase, settleBlueGreen, withChangeWording, type Outcome } from './outcome.ts';
import type { Facts, Step, StrategySteps } from './step.ts';
import { userTarget, type Target } from './target.ts';
import { Timeline } from './timeline.ts';

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
  /** Set by the rehearsal driver for its runs (the plan keeps `rehearsal` so preflight checks its permissions). */
  readonly partOfRehearsal?: boolean | undefined;
}

/** Registers every credential in a kubeconfig so none of it can reach a log. */
function maskKubeconfig(kube: Kube, reporter: Reporter): void {
  for (const u of kube.kc.getUsers()) {
    for (const v of [u.token, u.keyData, u.password, u.certData]) if (v) reporter.secret(v);
  }
}

async function routeFor(plan: Plan, state: ClusterState): Promise<Route<unknown>> {
  const method = plan.method === 'auto' ? (state.helmRelease ? 'helm' : 'kubectl') : plan.method;
  if (method === 'kubectl') return kubectlRoute as Route<unknown>;
  // Loaded only when needed: the helm route is the larger part of the bundle.
  return (await import('../steps/route-helm.ts')).helmRoute as Route<unknown>;
}

export async function runUpgrade(plan: Plan, deps: EngineDeps): Promise<Outcome> {
  const now = deps.now ?? Date.now;
  const { reporter } = deps;
  const outcome = newOutcome(plan, now());
  // A rehearsal is several runs (engine/rehearsal.ts); run as one plain upgrade it would leave staging on the target.
  if (plan.rehearsal && !deps.partOfRehearsal) {
    outcome.error =
      'internal: a rehearsal plan was given to runUpgrade; the entry point must call runRehearsal (engine/rehearsal.ts). Nothing in the cluster was changed.';
    return outcome;
  }
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
  const run = (step: Step, c: RunContext): Promise<void> =>
    timeline.step(step.id, step.title, (h) => step.run(c, h));
  let ctx: RunContext | undefined;
  let steps: StrategySteps | undefined;
  let lease: LeaseHold | undefined;
  let route: Route<unknown> | undefined;
  try {
    // ---- facts: nothing in the cluster changes ----
    const { kube, firstRead } = await timeline.step('connect', 'Connect to the cluster', async (h) => {
      const k = await Kube.connect({ kubeconfig: plan.kubeconfig, context: plan.context });
      maskKubeconfig(k, reporter);
      // No request of its own: preflight's read of the Deployment is sent now and proves the connection
      // (an answer such as 403 or 404 is preflight's to judge).
      const read = k.getDeployment(plan.namespace, plan.deployment);
      await read.catch((err: unknown) => {
        if (!k.reachedServer) throw err;
      });
      h.detail(
        `the API server at ${k.kc.getCurrentCluster()?.server ?? '?'} answers (context ${k.kc.getCurrentContext()})`,
      );
      return { kube: k, firstRead: read };
    });
    const kubeconfigFile = join(workDir, 'kubeconfig');
    writeFileSync(kubeconfigFile, kube.exportConfig(), { mode: 0o600 });

    const state: ClusterState = await timeline.step(
      'preflight',
      'Preflight checks (nothing changed yet)',
      (h) => preflight(kube, plan, h, firstRead),
    );
    const target: Target = userTarget(plan, state.selector);
    // Before anything could change, and before "unchanged" is decided: another run may be mid-change.
    lease = await timeline.step('lease', "One run at a time: the Deployment's Lease", (h) =>
      holdLease(kube, plan, deps, h),
    );
    route = await routeFor(plan, state);
    const db = chooseDbName(plan, state);
    const facts: Facts = { state, route, db };
    Object.assign(outcome, {
      previousImage: state.image,
      previousRevision: state.revision,
      revision: state.revision,
      newImage: targetImage(plan),
      before: { image: state.image, revision: state.revision ?? '', replicas: String(state.replicas) },
      method: route.name,
      dbName: db.name,
      dbNameReason: db.reason,
      nextDbName: plan.upgradeDb ? upgradedDbName(plan.tag) : db.name,
    });

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
        await checkKubectl({ target, reporter, kubeconfigFile }, p, h);
        return p;
      },
    );

    const journal = new Journal(
      {
        namespace: target.namespace,
        deployment: target.deployment,
        container: target.container,
        method: route.name,
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
      target,
      now,
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

    // ---- the strategy: checks, then (unless dry-run) changes and wrap-up ----
    steps = strategyFor(plan)(plan, facts);
    for (const step of steps.checks) await run(step, ctx);
    if (plan.dryRun) {
      timeline.skip('apply', 'Apply', 'dry-run: the plan above was not applied');
      outcome.result = 'dry-run';
      return outcome;
    }
    // From here on the cluster changes: the journal says so before the first change is made.
    journal.update({ phase: 'changing' });
    for (const step of steps.changes) await run(step, ctx);
    // In place and verified: what follows is bookkeeping, whose failure must never roll the upgrade back.
    journal.update({ phase: 'done' });
    for (const step of steps.wrapUp) await run(step, ctx);
    return outcome;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const lost = lease?.lost;
    outcome.error = reporter.mask(
      withChangeWording(lost ? `${lost}.\n${message}` : message, ctx?.journal.mutated ?? false),
    );
    if (ctx) await actAfterFailure(ctx, message, lost);
    return outcome;
  } finally {
    await steps?.close().catch(() => undefined);
    // After any rollback and before the work directory (with the kubeconfig file) goes.
    if (ctx && route?.finish) await route.finish(ctx).catch(() => undefined);
    if (lease) await releaseHeldLease(lease, ctx?.journal, reporter);
    settle(outcome, ctx);
    settleBlueGreen(outcome, ctx?.journal.data.blueGreen);
    outcome.unverifiedTools = [...(deps.tools.unverified?.() ?? [])];
    outcome.endedAt = now();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** The outcome's result and the state after the run, from the journal and what the steps recorded. */
function settle(outcome: Outcome, ctx: RunContext | undefined): void {
  if (outcome.result === 'unchanged' || outcome.result === 'dry-run' || !ctx) return;
  Object.assign(outcome, resultOfPhase(ctx.journal.data.phase));
  const revision = ctx.journal.data.newRevision;
  // A rollback set the revision it went back to; otherwise the Deployment is on this run's revision.
  if (outcome.result !== 'rolled-back') outcome.revision = revision ?? outcome.revision;
  if (outcome.result !== 'upgraded') return;
  const ready = outcome.pods.filter((p) => p.ready && !p.terminating && p.revision === revision).length;
  outcome.after = { image: targetImage(ctx.plan), revision: revision ?? '', replicas: String(ready) };
}
