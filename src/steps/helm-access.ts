// What the helm route needs before it may run helm at all: the permissions helm uses (its release records are
// Secrets in the namespace), derived from the same rules as the README's Role, and one cheap helm read.
import type { AccessCheck } from '../cluster/kube.ts';
import type { RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';
import { accessChecks, rbacRules, type RbacPlan } from '../plan/rbac.ts';
import { checkHelm } from './tool-check.ts';

export function helmAccess(plan: RbacPlan): AccessCheck[] {
  return accessChecks(rbacRules(plan, { route: 'helm' }));
}

export async function checkHelmAccess(
  ctx: RunContext,
  helm: string,
  release: string,
  step: StepHandle,
): Promise<void> {
  const missing = await ctx.kube.missingPermissions(ctx.target.namespace, helmAccess(ctx.plan));
  if (missing.length > 0) {
    throw new Error(
      `The identity in the kubeconfig lacks permissions helm needs in namespace "${ctx.target.namespace}": ${missing
        .map((m) => `${m.verb} ${m.resource}${m.group ? `.${m.group}` : ''}`)
        .join(', ')}. Helm keeps its release records in Secrets there.\nNothing in the cluster was changed.`,
    );
  }
  await checkHelm(ctx, helm, release, step);
}
