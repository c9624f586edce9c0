// What a step acts on: one Deployment, its md-core container, its pods and (for blue-green) its Service. Steps
// read the target, never the plan's names, so a strategy can point the same step at a second Deployment.
import type { Plan } from '../plan/plan.ts';

export interface Target {
  readonly namespace: string;
  readonly deployment: string;
  readonly container: string;
  /** Label selector of the Deployment's pods (matchLabels and matchExpressions). */
  readonly selector: string;
  /** The Service that sends traffic to these pods, when a strategy switches it. */
  readonly service?: string | undefined;
}

/** The Deployment the user named: the target of every strategy's first step. */
export function userTarget(
  plan: Pick<Plan, 'namespace' | 'deployment' | 'container'>,
  selector: string,
): Target {
  return { namespace: plan.namespace, deployment: plan.deployment, container: plan.container, selector };
}
