// Decides the database-upgrade variables and makes sure the new pods will really see them: each is written
// where it wins (see cluster/effective-env.ts), every ConfigMap is snapshotted before it is changed.
import type { V1Container } from '@kubernetes/client-node';
import { describeSource, effectiveEnv, planEnv, type EnvPlan } from '../cluster/effective-env.ts';
import { KubeError } from '../cluster/kube.ts';
import { checkCancelled, type RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';
import { chooseFromDbName, type DbNameChoice } from '../plan/db-name.ts';
import type { Plan } from '../plan/plan.ts';

/** The ConfigMap OPSWAT's kubectl route writes the variables into. */
export const OPSWAT_ENV_CONFIGMAP = 'mdcore-env';

export function configMapData(state: RunContext['state']): Map<string, Record<string, string> | undefined> {
  return new Map([...state.configMaps].map(([name, cm]) => [name, cm ? (cm.data ?? {}) : undefined]));
}

export function chooseDbName(plan: Plan, state: RunContext['state']): DbNameChoice {
  const env = effectiveEnv(state.container, configMapData(state));
  return chooseFromDbName({
    input: plan.fromDbName,
    annotations: state.deployment.metadata?.annotations ?? {},
    currentTag: state.tag,
    currentUpgradeDb: env.get('UPGRADE_DB')?.value,
    currentFromDbName: env.get('MDCORE_UPGRADE_FROM_DB_NAME')?.value,
  });
}

export function desiredEnv(plan: Plan, fromDbName: string): Record<string, string> {
  return {
    MDCORE_UPGRADE_FROM_DB_NAME: fromDbName,
    UPGRADE_DB: plan.upgradeDb ? 'true' : 'false',
    MIGRATE_HISTORY: plan.migrateHistory ? 'true' : 'false',
    ...(plan.retryUpgrade !== undefined ? { RETRY_UPGRADE: String(plan.retryUpgrade) } : {}),
  };
}

/** Pure part: what will change, for the dry run and the summary. */
export function planUpgradeEnv(
  container: V1Container,
  state: RunContext['state'],
  desired: Record<string, string>,
): EnvPlan {
  return planEnv(container, configMapData(state), desired, OPSWAT_ENV_CONFIGMAP);
}

export function reportEnvPlan(envPlan: EnvPlan, step: StepHandle): void {
  for (const c of envPlan.changes) {
    const src = envPlan.after.get(c.name);
    step.detail(
      `${c.name}=${c.value}: ${c.why}${src ? ` → new pods read it from ${describeSource(src.source)}` : ''}`,
    );
  }
  for (const w of envPlan.warnings) step.warn(w);
}

/**
 * Writes the ConfigMap changes. Each is recorded (snapshot and keys) before it is made, and applies only to
 * the version preflight read: an edit by someone else since then is reported, never overwritten.
 */
export async function applyConfigMaps(ctx: RunContext, envPlan: EnvPlan, step: StepHandle): Promise<void> {
  for (const [name, keys] of envPlan.configMapPatches) {
    const cm = ctx.state.configMaps.get(name);
    if (!cm) throw new Error(`ConfigMap ${name} disappeared after preflight`);
    checkCancelled(ctx, `writing ConfigMap ${name}`);
    ctx.journal.snapshotConfigMap(cm);
    ctx.journal.recordConfigMapWrite(name, keys);
    try {
      await ctx.kube.patchConfigMapData(ctx.target.namespace, name, keys, cm.metadata?.resourceVersion);
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) {
        throw new Error(
          `ConfigMap ${name} was changed by someone else after preflight read it; it was not overwritten. Run the upgrade again once they are done.`,
          { cause: err },
        );
      }
      throw err;
    }
    step.detail(
      `ConfigMap ${name}: set ${Object.entries(keys)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  }
}
