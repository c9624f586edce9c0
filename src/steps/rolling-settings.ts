// maxSurge / maxUnavailable: what the inputs mean for this Deployment (resolved as the controller does),
// and what that costs: downtime, or extra license activations (each md-core pod is one activation). Pure.
import type { V1Deployment } from '@kubernetes/client-node';
import type { IntOrPercent, Plan } from '../plan/plan.ts';

export interface RollingSettings {
  /** The rollingUpdate block to set, or undefined when the inputs change nothing. */
  readonly patch: { maxSurge: IntOrPercent; maxUnavailable: IntOrPercent } | undefined;
  readonly surge: number;
  readonly unavailable: number;
  readonly warnings: readonly string[];
  /** Set when the combination cannot work: refuse before any change. */
  readonly problem: string | undefined;
  readonly description: string;
}

/** Resolves an IntOrPercent against a replica count: surge rounds up, unavailable rounds down (as the controller does). */
export function resolveIntOrPercent(
  v: IntOrPercent | string | number,
  replicas: number,
  roundUp: boolean,
): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) return Number(v);
  const exact = (Number(m[1]) * replicas) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export function rollingSettings(
  plan: Pick<Plan, 'maxSurge' | 'maxUnavailable'>,
  dep: V1Deployment,
): RollingSettings {
  const replicas = dep.spec?.replicas ?? 1;
  const current = dep.spec?.strategy?.rollingUpdate;
  const type = dep.spec?.strategy?.type ?? 'RollingUpdate';
  const surgeIn = (plan.maxSurge ?? current?.maxSurge ?? '25%') as IntOrPercent;
  const unavailableIn = (plan.maxUnavailable ?? current?.maxUnavailable ?? '25%') as IntOrPercent;
  const given = plan.maxSurge !== undefined || plan.maxUnavailable !== undefined;
  const surge = resolveIntOrPercent(surgeIn, replicas, true);
  let unavailable = resolveIntOrPercent(unavailableIn, replicas, false);
  let problem: string | undefined;
  if (given && type === 'Recreate') {
    problem = `Deployment uses the Recreate strategy; 'max-surge' and 'max-unavailable' only apply to RollingUpdate`;
  }
  const zero = (v: IntOrPercent): boolean => v === 0 || v === '0%';
  if (given && zero(surgeIn) && zero(unavailableIn)) {
    problem = `maxSurge ${String(surgeIn)} and maxUnavailable ${String(unavailableIn)} are both zero: the rollout could never progress`;
  }
  // The controller turns a resolved 0/0 into maxUnavailable 1.
  if (surge === 0 && unavailable === 0) unavailable = 1;
  const warnings: string[] = [];
  if (type === 'RollingUpdate') {
    if (surge === 0 && unavailable >= replicas) {
      warnings.push(
        `maxSurge ${String(surgeIn)} / maxUnavailable ${String(unavailableIn)} with ${replicas} replica(s): every pod stops before its replacement is ready, so the service is DOWN during the upgrade`,
      );
    }
    if (surge > 0) {
      warnings.push(
        `maxSurge ${String(surgeIn)} starts up to ${surge} extra pod(s) during the upgrade: each md-core pod is one license activation, so ${surge} spare activation(s) are needed`,
      );
    }
  }
  return {
    patch: given ? { maxSurge: surgeIn, maxUnavailable: unavailableIn } : undefined,
    surge,
    unavailable,
    warnings,
    problem,
    description: `${replicas} replica(s), maxSurge ${String(surgeIn)} (${surge} pod(s)), maxUnavailable ${String(unavailableIn)} (${unavailable} pod(s))`,
  };
}
