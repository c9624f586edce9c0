// The kubectl route's change: one patch of the md-core container (never a wildcard), so exactly one new revision.
import type { EnvPlan } from '../cluster/effective-env.ts';
import { checkCancelled, type RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';
import { targetImage, waitSeconds } from '../plan/plan.ts';
import { migrationStartupProbe } from './migrate-history.ts';
import { rollingSettings } from './rolling-settings.ts';

export const CHANGE_CAUSE = 'kubernetes.io/change-cause';

export function changeCause(from: string, to: string, runUrl: string | undefined): string {
  return `mdcore-upgrade-action: ${from} → ${to}${runUrl ? ` (${runUrl})` : ''}`;
}

/** Deployment spec fields (outside the pod template) this run sets: no new revision by themselves. */
export function specFields(ctx: Pick<RunContext, 'plan' | 'state'>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const { plan, state } = ctx;
  const deadline = state.deployment.spec?.progressDeadlineSeconds ?? 600;
  const wait = waitSeconds(plan);
  // The controller would declare ProgressDeadlineExceeded before our own timeout: make room for it.
  if (deadline < wait + 60) fields.progressDeadlineSeconds = wait + 60;
  const rolling = rollingSettings(plan, state.deployment).patch;
  if (rolling) fields.strategy = { type: 'RollingUpdate', rollingUpdate: rolling };
  // MIGRATE_HISTORY scaled md-core to zero first; the new version starts with the original count.
  if (plan.migrateHistory) fields.replicas = state.replicas;
  return fields;
}

/** Fields of the md-core container besides image and env that change with it (same revision). */
export function containerExtras(ctx: Pick<RunContext, 'plan' | 'state'>): Record<string, unknown> {
  if (!ctx.plan.migrateHistory) return {};
  const probe = migrationStartupProbe(ctx.state.container, ctx.plan.migrationTimeoutSeconds);
  return probe ? { startupProbe: probe } : {};
}

export async function applyKubectl(ctx: RunContext, envPlan: EnvPlan, step: StepHandle): Promise<void> {
  const { plan, state, journal } = ctx;
  const to = targetImage(plan);
  const cause = changeCause(state.image, to, ctx.runUrl);
  const fields = specFields(ctx);
  const extras = containerExtras(ctx);
  journal.recordAnnotation(CHANGE_CAUSE, state.deployment.metadata?.annotations?.[CHANGE_CAUSE]);
  for (const [k, v] of Object.entries(fields)) {
    journal.recordField(k, (state.deployment.spec as Record<string, unknown> | undefined)?.[k]);
    const before = (state.deployment.spec as Record<string, unknown> | undefined)?.[k];
    step.detail(`${k}: ${JSON.stringify(before ?? 'default')} → ${JSON.stringify(v)}`);
  }
  if (extras.startupProbe)
    step.detail(`startupProbe for the migration: ${JSON.stringify(extras.startupProbe)}`);
  journal.update({ phase: 'changing', templateChanged: true, targetImage: to });

  checkCancelled(ctx, 'changing the image');
  // Image, change-cause, env and deployment fields in one strategic-merge patch: one new revision, and the
  // cause labels only it (the controller copies the Deployment's annotations to the ReplicaSet it creates).
  // The API client sends it (one request; kubectl would first discover the API and read the Deployment);
  // kubectl, checked before any change, makes the undo after a failure.
  const patch = {
    metadata: { annotations: { [CHANGE_CAUSE]: cause } },
    spec: {
      ...fields,
      template: {
        spec: {
          containers: [
            {
              name: ctx.target.container,
              image: to,
              ...(envPlan.containerEnv ? { env: envPlan.containerEnv } : {}),
              ...extras,
            },
          ],
        },
      },
    },
  };
  const { namespace, deployment } = ctx.target;
  // The same words kubectl's command would show, so the log reads as before.
  ctx.reporter.info(
    `patch deployment/${deployment} -n ${namespace} --type=strategic (by the API client): ${ctx.target.container} → ${to}`,
  );
  await ctx.kube.patchDeployment(namespace, deployment, patch);
  step.detail(`${ctx.target.container}: ${state.image} → ${to}`);
}
