// Preflight: everything is read and checked before anything is changed. Any problem here ends the run with
// "nothing was changed".
import { podSelector } from '../cluster/selector.ts';
import type { V1ConfigMap, V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { referencedConfigMaps } from '../cluster/effective-env.ts';
import { KubeError, SCALED_OBJECTS, type AccessCheck, type Kube } from '../cluster/kube.ts';
import { describeLease } from '../cluster/lease.ts';
import { revisionOf, rolloutVerdict } from '../cluster/verdict.ts';
import type { ClusterState } from '../engine/context.ts';
import { splitImage } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';
import type { Plan } from '../plan/plan.ts';
import { accessChecks, rbacRules, routeFor, type RouteName } from '../plan/rbac.ts';
import { pausesKeda } from './keda.ts';

export const HELM_RELEASE_ANNOTATION = 'meta.helm.sh/release-name';

export class PreflightError extends Error {
  constructor(message: string) {
    super(`${message}\nNothing in the cluster was changed.`);
    this.name = 'PreflightError';
  }
}

/**
 * The permissions a run needs, checked up front against the identity's SelfSubjectRulesReview (Kube
 * .missingPermissions): exactly the rules of the Role that
 * `--print-role` prints and README.md shows (plan/rbac.ts), for the ConfigMaps md-core really reads.
 */
export function requiredAccess(
  plan: Plan,
  configMaps: readonly string[],
  route: RouteName = 'kubectl',
  keda = false,
): AccessCheck[] {
  return accessChecks(rbacRules(plan, { route, configMaps, keda }));
}

/**
 * `rollout undo` needs the previous ReplicaSet, which the controller deletes at once under
 * `revisionHistoryLimit: 0`. Refused when a rollback would be an undo (it could not bring the old version back),
 * a warning otherwise (a later manual undo is impossible too).
 */
export function revisionHistoryProblem(
  plan: Pick<Plan, 'method' | 'rollback' | 'deployment' | 'namespace'>,
  dep: V1Deployment,
  helmRelease: string | undefined,
): { refuse: string } | { warn: string } | undefined {
  if (dep.spec?.revisionHistoryLimit !== 0) return undefined;
  const method = plan.method === 'auto' ? (helmRelease ? 'helm' : 'kubectl') : plan.method;
  const undo = plan.rollback === 'rollout-undo' || (plan.rollback === 'auto' && method === 'kubectl');
  const field = `Deployment "${plan.deployment}" has spec.revisionHistoryLimit: 0, so Kubernetes keeps no previous ReplicaSet`;
  if (undo) {
    return {
      refuse: `${field} and the rollback after a failure (kubectl rollout undo) could not bring the old version back. Set revisionHistoryLimit to 2 or more (kubectl patch deployment ${plan.deployment} -n ${plan.namespace} -p '{"spec":{"revisionHistoryLimit":10}}'), or set 'rollback: none'${method === 'helm' ? " or 'rollback: helm-rollback'" : ''}, then run again.`,
    };
  }
  return {
    warn: `${field}: \`kubectl rollout undo\` is impossible after this run; set revisionHistoryLimit to 2 or more to keep that way back`,
  };
}

export function describeAccess(c: AccessCheck): string {
  const res = `${c.resource}${c.subresource ? `/${c.subresource}` : ''}${c.group ? `.${c.group}` : ''}`;
  return `${c.verb} ${res}${c.name ? ` (${c.name})` : ''}`;
}

function accessRefusal(ns: string, route: string, missing: readonly AccessCheck[]): PreflightError {
  return new PreflightError(
    `The identity in the kubeconfig lacks ${missing.length} permission(s) in namespace "${ns}" that the upgrade needs:\n${missing
      .map((m) => `  - ${describeAccess(m)}`)
      .join(
        '\n',
      )}\nGrant them with a Role bound to that identity (the ${route} route's Role is in README.md, "Permissions (RBAC)"; \`mdcore-upgrade --print-role\` with this run's inputs prints it), then run again.`,
  );
}

/** `deploymentRead`: the read of the Deployment when the caller has already sent it (the connection check). */
export async function preflight(
  kube: Kube,
  plan: Plan,
  step: StepHandle,
  deploymentRead?: Promise<V1Deployment | undefined>,
): Promise<ClusterState> {
  const ns = plan.namespace;
  // The namespace is read only when the Deployment cannot be: a missing namespace then gets its own message.
  const noNamespace = async (): Promise<void> => {
    if (!(await kube.namespaceExists(ns))) {
      throw new PreflightError(
        `Namespace "${ns}" does not exist in this cluster. Check the 'namespace' input and the kubeconfig context.`,
      );
    }
  };
  const read = deploymentRead ?? kube.getDeployment(ns, plan.deployment);
  const dep = await read.catch(async (err: unknown) => {
    // Without the Deployment neither the route nor its ConfigMaps are known: name the read that is missing.
    if (err instanceof KubeError && err.status === 403) {
      await noNamespace();
      const routes: RouteName[] = plan.method === 'auto' ? ['kubectl', 'helm'] : [plan.method];
      const reads = routes.flatMap((r) =>
        requiredAccess(plan, [], r).filter(
          (c) => c.verb === 'get' && c.resource === 'deployments' && !c.subresource,
        ),
      );
      const missing = await kube.missingPermissions(ns, reads);
      if (missing.length > 0) throw accessRefusal(ns, routes.join(' or '), missing);
    }
    throw err;
  });
  if (!dep) {
    await noNamespace();
    throw new PreflightError(
      `Deployment "${plan.deployment}" was not found in namespace "${ns}". Check the 'deployment' input (the OPSWAT chart names it md-core).`,
    );
  }
  const history = revisionHistoryProblem(plan, dep, dep.metadata?.annotations?.[HELM_RELEASE_ANNOTATION]);
  if (history && 'refuse' in history) throw new PreflightError(history.refuse);
  if (history) step.warn(history.warn);
  const containers = dep.spec?.template?.spec?.containers ?? [];
  const container = containers.find((c) => c.name === plan.container);
  if (!container) {
    throw new PreflightError(
      `Deployment "${plan.deployment}" has no container "${plan.container}" (it has: ${containers.map((c) => c.name).join(', ') || 'none'}). Check the 'container' input.`,
    );
  }
  const cmNames = referencedConfigMaps(container);
  const route = routeFor(plan.method, dep.metadata?.annotations?.[HELM_RELEASE_ANNOTATION]);
  // KEDA's rules are needed only where its ScaledObjects exist (discovery: any identity may ask).
  const kedaServed = pausesKeda(plan)
    ? await kube.servesApi(SCALED_OBJECTS.group, SCALED_OBJECTS.version)
    : undefined;
  const missing = await kube.missingPermissions(ns, requiredAccess(plan, cmNames, route, kedaServed));
  if (missing.length > 0) throw accessRefusal(ns, route, missing);
  if (kedaServed === false)
    step.detail(
      `KEDA is not installed (no ${SCALED_OBJECTS.group}/${SCALED_OBJECTS.version} API): no ScaledObject to pause`,
    );

  const selector = podSelector(dep);
  // Listed with their resourceVersions: the wait for the rollout watches from here instead of listing again.
  const [rsList, podList] = await Promise.all([
    kube.listForWatch('replicasets', ns, { labelSelector: selector }),
    kube.listForWatch('pods', ns, { labelSelector: selector }),
  ]);
  const replicaSets = rsList.items as V1ReplicaSet[];
  const pods = podList.items as V1Pod[];
  const current = rolloutVerdict({ deployment: dep, replicaSets, pods });
  if (dep.spec?.paused) {
    throw new PreflightError(
      `Deployment "${plan.deployment}" is paused (spec.paused). Resume it (kubectl rollout resume) or finish whatever paused it first.`,
    );
  }
  if (current.state === 'progressing') {
    // Name the run behind it when it is one of ours: the person can then look at that run instead.
    const lease = await describeLease(kube, ns, plan.deployment).catch(() => undefined);
    throw new PreflightError(
      `Another rollout of Deployment "${plan.deployment}" is in progress (${current.message})${lease?.held ? `; ${lease.text.replace(/: a real run now would be refused$/, '')}` : ''}. Wait for it to finish (kubectl rollout status deployment/${plan.deployment} -n ${ns}) and run again.`,
    );
  }
  if (current.state === 'failed') {
    if (!plan.force) {
      throw new PreflightError(
        `Deployment "${plan.deployment}" is unhealthy before the upgrade (${current.reason}: ${current.message}). Fix it first, or set 'force: true' to upgrade anyway.`,
      );
    }
    step.warn(
      `the Deployment is unhealthy before the upgrade (${current.reason}); continuing because force is true`,
    );
  }

  const configMaps = new Map<string, V1ConfigMap | undefined>();
  for (const name of cmNames) configMaps.set(name, await kube.getConfigMap(ns, name));

  const image = container.image ?? '';
  const { tag } = splitImage(image);
  const strategy = dep.spec?.strategy;
  const liveness = container.livenessProbe ? 'liveness on' : 'no liveness probe';
  const readiness = container.readinessProbe ? 'readiness on' : 'no readiness probe';
  step.detail(
    `image ${image}, revision ${revisionOf(dep) ?? 'none'}, ${dep.spec?.replicas ?? 1} replica(s), ${current.message}`,
  );
  step.detail(
    `strategy ${strategy?.type ?? 'RollingUpdate'} (maxSurge ${String(strategy?.rollingUpdate?.maxSurge ?? '25%')}, maxUnavailable ${String(strategy?.rollingUpdate?.maxUnavailable ?? '25%')}), ${readiness}, ${liveness}`,
  );
  step.detail(
    `ConfigMaps read by ${plan.container}: ${cmNames.map((n) => `${n}${configMaps.get(n) ? '' : ' (missing)'}`).join(', ') || 'none'}`,
  );
  const helmRelease = dep.metadata?.annotations?.[HELM_RELEASE_ANNOTATION];
  if (helmRelease) step.detail(`managed by Helm release "${helmRelease}"`);
  return {
    deployment: dep,
    container,
    selector,
    image,
    tag,
    replicas: dep.spec?.replicas ?? 1,
    revision: revisionOf(dep),
    configMaps,
    helmRelease,
    kedaServed,
    lists: { replicasets: rsList, pods: podList },
  };
}
