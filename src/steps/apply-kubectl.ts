// The kubectl route: one change to the md-core container (never a wildcard), so exactly one new revision.
import type { EnvPlan } from '../cluster/effective-env.ts';
import { checkCancelled, kubectlArgsFor, type RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';
import { targetImage, waitSeconds } from '../plan/plan.ts';
import { runTool } from '../tools/exec.ts';
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
  if (envPlan.containerEnv || Object.keys(fields).length > 0 || Object.keys(extras).length > 0) {
    // Image, env and deployment fields in one strategic-merge patch: still one new revision.
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
    await runTool(
      ctx.reporter,
      ctx.kubectl,
      kubectlArgsFor(
        ctx,
        'patch',
        `deployment/${ctx.target.deployment}`,
        '--type=strategic',
        '-p',
        JSON.stringify(patch),
      ),
      { announce: true },
    );
  } else {
    // OPSWAT's documented command. The change-cause follows it: annotating first would also label the
    // revision that is current now (the controller copies Deployment annotations to the current ReplicaSet).
    await runTool(
      ctx.reporter,
      ctx.kubectl,
      kubectlArgsFor(
        ctx,
        'set',
        'image',
        `deployment/${ctx.target.deployment}`,
        `${ctx.target.container}=${to}`,
      ),
      { announce: true },
    );
    // The image change is made: the cosmetic cause follows even when a cancel arrives in between.
    await runTool(
      ctx.reporter,
      ctx.kubectl,
      kubectlArgsFor(
        ctx,
        'annotate',
        `deployment/${ctx.target.deployment}`,
        `${CHANGE_CAUSE}=${cause}`,
        '--overwrite',
      ),
      { announce: true },
    );
  }
  step.detail(`${ctx.target.container}: ${state.image} → ${to}`);
}
