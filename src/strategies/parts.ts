// The steps strategies are built from. Each factory returns one Step acting on ctx.target; what one step hands
// to a later one (the prepared change, the API session, the export, the wait's result) travels in a Carry
// that the strategy creates for its run.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Listed, WatchKind } from '../cluster/resumable-watch.ts';
import type { WaitResult } from '../cluster/rollout-watcher.ts';
import { revisionOf } from '../cluster/verdict.ts';
import { checkCancelled, type RunContext } from '../engine/context.ts';
import type { Facts, Step } from '../engine/step.ts';
import type { StepHandle } from '../engine/timeline.ts';
import {
  DB_NAME_ANNOTATION,
  FROM_DB_ANNOTATION,
  TAG_ANNOTATION,
  UPGRADED_AT_ANNOTATION,
  upgradedDbName,
} from '../plan/db-name.ts';
import { waitSeconds, type Plan } from '../plan/plan.ts';
import { desiredEnv } from '../steps/configure-env.ts';
import {
  exportConfig,
  importConfig,
  openApi,
  verifyServing,
  type ApiSession,
  type ExportRecord,
} from '../steps/core-api.ts';
import {
  checkDbSpace,
  describeLivenessPlan,
  migrationStartupProbe,
  stopPods,
} from '../steps/migrate-history.ts';
import { rollingSettings } from '../steps/rolling-settings.ts';
import { waitReady } from '../steps/wait-ready.ts';

/** What the steps of one run hand on to each other. */
export interface Carry {
  prepared?: unknown;
  api?: ApiSession | undefined;
  exported?: ExportRecord | undefined;
  wait?: WaitResult | undefined;
  /** The Deployment as read right after the change: the wait's watch on it starts there. */
  changed?: V1Deployment | undefined;
}

export function newCarry(): Carry {
  return {};
}

/** Whether the REST API is used at all: for verification, or because the strategy needs it (export). */
export function usesApi(plan: Plan): boolean {
  return plan.apiUrl !== undefined && plan.verify !== 'off';
}

// ---- checks: nothing in the cluster changes ----

export function planChange(facts: Facts, carry: Carry): Step {
  const { route, db } = facts;
  return {
    id: 'plan-change',
    title: `Plan the change (${route.name}); nothing changed yet`,
    async run(ctx, h) {
      h.detail(`MDCORE_UPGRADE_FROM_DB_NAME=${db.name}: ${db.reason}`);
      if (db.warning) h.warn(db.warning);
      carry.prepared = await route.prepare(ctx, desiredEnv(ctx.plan, db.name), h);
    },
  };
}

export function checkRollingSettings(): Step {
  return {
    id: 'rolling',
    title: 'Rolling update settings',
    async run(ctx, h) {
      const r = rollingSettings(ctx.plan, ctx.state.deployment);
      h.detail(r.description);
      if (r.problem) throw new Error(r.problem);
      for (const w of r.warnings) h.warn(w);
    },
  };
}

export function keepLivenessOff(): Step {
  return {
    id: 'liveness',
    title: 'MIGRATE_HISTORY pre-step 1: keep the liveness probe from killing the migration',
    async run(ctx, h) {
      const { plan, state } = ctx;
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
  };
}

export function checkDatabaseSpace(facts: Facts): Step {
  return {
    id: 'db-space',
    title: 'MIGRATE_HISTORY pre-step 2: free space on the database server',
    run: (ctx, h) => checkDbSpace(ctx, facts.db.name, h),
  };
}

/** Opens the REST API session; `required` when the strategy cannot work without it (export-import). */
export function connectApi(carry: Carry, required: boolean): Step {
  return {
    id: 'api',
    title: "Connect to MD Core's REST API",
    async run(ctx, h) {
      carry.api = await openApi(ctx, h, { required });
      const v = await carry.api.client.version().catch(() => undefined);
      if (v) h.detail(`running version before the upgrade: ${v.version}`);
    },
  };
}

export function exportConfiguration(carry: Carry): Step {
  return {
    id: 'export',
    title: 'Export the configuration (backup before any change)',
    async run(ctx, h) {
      carry.exported = await exportConfig(ctx, need(carry.api, 'the API session'), h);
    },
  };
}

// ---- changes: each recorded in the journal before it is made ----

export function stopAllPods(): Step {
  return {
    id: 'stop-pods',
    title: 'MIGRATE_HISTORY pre-step 3: stop every md-core pod',
    async run(ctx, h) {
      await assertDeploymentUnchanged(ctx, 'scaling md-core to zero');
      await stopPods(ctx, h);
      await noteGeneration(ctx);
    },
  };
}

export function applyChange(facts: Facts, carry: Carry): Step {
  return {
    id: 'apply',
    title: facts.route.applyTitle,
    async run(ctx, h) {
      await assertDeploymentUnchanged(ctx, 'the change');
      await facts.route.apply(ctx, carry.prepared, h);
      carry.changed = await noteGeneration(ctx);
      ctx.journal.update({ phase: 'waiting' });
    },
  };
}

export function waitForReadiness(carry: Carry): Step {
  return {
    id: 'wait',
    title: 'Wait for readiness (watching the rollout)',
    async run(ctx, h) {
      const r = await waitReady(ctx, h, waitSeconds(ctx.plan), listsSoFar(ctx, carry.changed));
      carry.wait = r;
      ctx.outcome.pods = [...r.pods];
      const revision = revisionOf(r.deployment);
      if (revision) ctx.journal.update({ newRevision: revision });
      if (r.verdict.state !== 'complete') {
        const reason = r.verdict.state === 'failed' ? r.verdict.reason : 'unknown';
        throw new Error(`the new version did not become ready: ${reason}: ${r.verdict.message}`);
      }
      h.detail(`rollout complete: ${r.verdict.message} in ${Math.round(r.elapsedMs / 1000)} s`);
    },
  };
}

export function importConfiguration(carry: Carry): Step {
  return {
    id: 'import',
    title: 'Import the configuration into the new version',
    run: (ctx, h) =>
      importConfig(ctx, need(carry.api, 'the API session'), need(carry.exported, 'the export'), h),
  };
}

export function verifyNewVersion(carry: Carry): Step {
  return {
    id: 'verify',
    title: 'Verify that the new version serves',
    async run(ctx, h) {
      const problems = await verifyServing(ctx, need(carry.api, 'the API session'), h);
      judgeVerification(ctx.plan, problems, h, 'verification failed');
    },
  };
}

/** What verification problems do, by the `verify` input: warnings ('warn'), or the step fails ('fail'). */
export function judgeVerification(
  plan: Pick<Plan, 'verify'>,
  problems: readonly string[],
  h: StepHandle,
  failure: string,
): void {
  if (problems.length === 0) return;
  if (plan.verify === 'warn') for (const p of problems) h.warn(p);
  else throw new Error(`${failure}: ${problems.join('; ')}`);
}

// ---- wrap-up: bookkeeping after a verified change; a failure is a warning, never a rollback ----

/**
 * Records the upgrade in the Deployment's annotations. When this run raised progressDeadlineSeconds on that
 * same Deployment, the value it had goes back in the same patch (one request instead of two); the
 * restoreProgressDeadline step then only reports it, or, should this patch fail, tries on its own.
 */
export function recordUpgrade(facts: Facts): Step {
  return {
    id: 'record',
    title: 'Record the upgrade on the Deployment',
    async run(ctx, h) {
      const { plan, target } = ctx;
      const next = plan.upgradeDb ? upgradedDbName(plan.tag) : facts.db.name;
      const annotations = {
        [TAG_ANNOTATION]: plan.tag,
        [DB_NAME_ANNOTATION]: next,
        [FROM_DB_ANNOTATION]: facts.db.name,
        [UPGRADED_AT_ANNOTATION]: new Date(ctx.now()).toISOString(),
      };
      const deadline = raisedDeadline(ctx);
      const err = await withRetries(async () => {
        if (deadline === undefined) {
          await ctx.kube.annotateDeployment(target.namespace, target.deployment, annotations);
          return;
        }
        const dep = await ctx.kube.patchDeployment(target.namespace, target.deployment, {
          metadata: { annotations },
          spec: { progressDeadlineSeconds: deadline },
        });
        noteOwnGeneration(ctx, dep);
        deadlineRestored.add(ctx.journal);
      });
      if (err) {
        h.warn(
          `the upgrade is done, but recording it on the Deployment failed (${err}); the next run may have to be told the database name with 'from-db-name' (${next})`,
        );
        return;
      }
      h.detail(`database after the upgrade (expected): ${next}`);
    },
  };
}

export function restoreProgressDeadline(): Step {
  return {
    id: 'restore-settings',
    title: 'Restore progressDeadlineSeconds',
    async run(ctx, h) {
      // Raised only for this run's wait: the Deployment keeps the user's setting afterwards.
      const fields = ctx.journal.data.deploymentFields;
      if (!('progressDeadlineSeconds' in fields)) {
        h.detail('progressDeadlineSeconds was not changed by this run');
        return;
      }
      const deadline = fields.progressDeadlineSeconds as number | null;
      const { namespace, deployment } = ctx.target;
      const was = deadline === null ? 'the default (600 s)' : String(deadline);
      if (deadlineRestored.has(ctx.journal)) {
        h.detail(`progressDeadlineSeconds back to ${was} (in the patch that recorded the upgrade)`);
        return;
      }
      const err = await withRetries(async () => {
        const dep = await ctx.kube.patchDeployment(namespace, deployment, {
          spec: { progressDeadlineSeconds: deadline },
        });
        // A spec change of this run's own: a later undo (a rehearsal's way back) must still recognise the spec.
        noteOwnGeneration(ctx, dep);
      });
      if (err) {
        h.warn(
          `the upgrade is done, but progressDeadlineSeconds could not be put back to ${was} (${err}); set it by hand: kubectl patch deployment/${deployment} -n ${namespace} -p '{"spec":{"progressDeadlineSeconds":${deadline === null ? 600 : String(deadline)}}}'`,
        );
        return;
      }
      h.detail(`progressDeadlineSeconds back to ${was}`);
    },
  };
}

/** Runs (journals) whose progressDeadlineSeconds recordUpgrade already put back. */
const deadlineRestored = new WeakSet<object>();

/**
 * The progressDeadlineSeconds to put back (null: the default) when this run raised it on the Deployment it
 * acts on now; undefined when it did not (or the step acts on another Deployment, such as green).
 */
function raisedDeadline(ctx: RunContext): number | null | undefined {
  const fields = ctx.journal.data.deploymentFields;
  const { target, plan } = ctx;
  if (!('progressDeadlineSeconds' in fields)) return undefined;
  if (target.namespace !== plan.namespace || target.deployment !== plan.deployment) return undefined;
  return fields.progressDeadlineSeconds as number | null;
}

/** Records the generation a patch of this run's own answered with (see Journal.knownGeneration). */
function noteOwnGeneration(ctx: RunContext, dep: V1Deployment | undefined): void {
  const generation = dep?.metadata?.generation;
  if (generation !== undefined) ctx.journal.update({ knownGeneration: generation });
}

// ---- shared helpers of the steps above ----

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new Error(`internal: ${what} is missing (a strategy lists its steps out of order)`);
  return value;
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
      if (i < 2) await new Promise((r) => setTimeout(r, 500 * (i + 1)));
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
  const { namespace, deployment } = ctx.target;
  const { knownGeneration } = ctx.journal.data;
  const dep = await ctx.kube.getDeployment(namespace, deployment);
  if (!dep) throw new Error(`Deployment ${namespace}/${deployment} disappeared before ${before}`);
  const generation = dep.metadata?.generation;
  if (knownGeneration !== undefined && generation !== knownGeneration) {
    throw new Error(
      `Deployment ${namespace}/${deployment} was changed by someone else while this run was preparing (generation ${knownGeneration} → ${String(generation)}); stopped before ${before} so their change is not overwritten. Run the upgrade again once they are done.`,
    );
  }
}

/**
 * Records the Deployment's generation right after this run changed its spec (see Journal.knownGeneration) and
 * returns the Deployment read (undefined when the read failed).
 */
async function noteGeneration(ctx: RunContext): Promise<V1Deployment | undefined> {
  const { namespace, deployment } = ctx.target;
  const dep = await ctx.kube.getDeployment(namespace, deployment).catch(() => undefined);
  noteOwnGeneration(ctx, dep);
  return dep;
}

/**
 * What the wait can watch from instead of listing again: preflight's ReplicaSets and pods, and the Deployment
 * read after the change, when they are of the wait's target (a strategy acting on a copy gets nothing).
 */
export function listsSoFar(
  ctx: Pick<RunContext, 'state' | 'target'>,
  changed: V1Deployment | undefined,
): Partial<Record<WatchKind, Listed>> {
  const { state, target } = ctx;
  const meta = state.deployment.metadata;
  if (meta?.namespace !== target.namespace || meta?.name !== target.deployment) return {};
  const start: Partial<Record<WatchKind, Listed>> = {};
  if (state.lists && state.selector === target.selector) Object.assign(start, state.lists);
  const rv = changed?.metadata?.resourceVersion;
  if (rv && changed?.metadata?.name === target.deployment) {
    start.deployments = { items: [changed as unknown as Record<string, unknown>], resourceVersion: rv };
  }
  return start;
}
