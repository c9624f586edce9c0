// Permissions (RBAC): the one list of what a run may do in md-core's namespace, as Role rules derived from the
// Plan and the route. Preflight's SelfSubjectAccessReview checks, the Role that `--print-role` prints and the
// Roles in README.md all come from rbacRules(), so the Role a platform engineer grants and the check that
// refuses a run cannot drift apart.
import type { AccessCheck } from '../cluster/kube.ts';
import { leaseName } from '../cluster/lease.ts';
import { historyConfigMapName } from '../report/rehearsal.ts';
import { greenName, previewName } from '../steps/blue-green.ts';
import { bridgeName } from '../steps/blue-green-bridge.ts';
import { pausesKeda } from '../steps/keda.ts';
import { greenAccess } from './green-url.ts';
import type { Method, Plan } from './plan.ts';

export type RouteName = 'kubectl' | 'helm';

/** One Role rule: one API group and one resource (or subresource), so a check maps back to exactly one rule. */
export interface PolicyRule {
  readonly apiGroup: string;
  /** `deployments`, or `deployments/scale` for a subresource. */
  readonly resource: string;
  /** Only where RBAC can match the name: not for create, and list/watch only with a metadata.name selector. */
  readonly resourceNames?: readonly string[];
  readonly verbs: readonly string[];
  /** Why a run needs it: the comment above the rule in the Role. */
  readonly why: string;
}

export type RbacPlan = Pick<
  Plan,
  'deployment' | 'release' | 'migrateHistory' | 'dbFreeSpace' | 'apiUrl' | 'apiKey' | 'strategy' | 'verify'
> &
  Partial<Pick<Plan, 'service' | 'greenApiUrl' | 'rehearsal' | 'verifyScan' | 'licenseKey'>>;

export interface RbacOptions {
  readonly route: RouteName;
  /** ConfigMaps md-core reads (envFrom); default the chart's two. An empty list: no ConfigMap rule. */
  readonly configMaps?: readonly string[];
  /** The cluster serves KEDA's ScaledObjects: the strategies that pause KEDA need the KEDA rules. */
  readonly keda?: boolean | undefined;
}

/** The in-cluster database the MIGRATE_HISTORY free-space check runs df and psql in. */
export const POSTGRES_DEPLOYMENT = 'postgres-core';
/** Where the REST API's credentials are read when no `api-key` input is given (the API key, else a login). */
export const API_SECRETS: readonly string[] = ['mdcore-api-key', 'mdcore-cred'];
export const ROLE_NAME = 'mdcore-upgrader';

/** The ConfigMaps the OPSWAT chart makes md-core read, in envFrom order. */
export function chartConfigMaps(release: string | undefined): string[] {
  return ['mdcore-env', `${release ?? 'mdcore'}-config`];
}

/** The route a run takes: `auto` is helm exactly when the Deployment carries Helm's release annotation. */
export function routeFor(method: Method, helmRelease: string | undefined): RouteName {
  if (method === 'auto') return helmRelease ? 'helm' : 'kubectl';
  return method;
}

/** The REST API's credentials come from the namespace's Secrets: no `api-key`, and the API is used at all. */
export function readsApiSecrets(plan: RbacPlan): boolean {
  const usesApi =
    plan.strategy === 'export-import' ||
    plan.strategy === 'blue-green-hot-backup' ||
    (plan.apiUrl !== undefined && plan.verify !== 'off') ||
    // green verified (green-api-url alone: a template, or proxy) with the credentials of the same Secrets
    (plan.greenApiUrl !== undefined && plan.verify !== 'off');
  return usesApi && plan.apiKey === undefined;
}

export function rbacRules(plan: RbacPlan, options: RbacOptions): PolicyRule[] {
  const helm = options.route === 'helm';
  const configMaps = options.configMaps ?? chartConfigMaps(plan.release);
  const lease = leaseName(plan.deployment);
  const rules: PolicyRule[] = [];

  // Helm applies every object the chart renders, under names the chart's values choose: no resourceNames.
  rules.push(
    helm
      ? {
          apiGroup: 'apps',
          resource: 'deployments',
          verbs: ['get', 'list', 'watch', 'patch'],
          why: "helm upgrade reads and patches the chart's Deployments; the run reads md-core, watches its rollout, annotates it and restores its settings on rollback",
        }
      : {
          apiGroup: 'apps',
          resource: 'deployments',
          resourceNames: [plan.deployment],
          verbs: ['get', 'list', 'watch', 'patch'],
          why: 'read md-core, change its image and record the run (patch; kubectl rollout undo after a failure) and watch its rollout (list and watch by name)',
        },
  );
  rules.push({
    apiGroup: 'apps',
    resource: 'replicasets',
    verbs: ['list', 'watch'],
    why: "the rollout's ReplicaSets; kubectl rollout undo finds the previous pod template among them",
  });
  rules.push({
    apiGroup: '',
    resource: 'pods',
    verbs: ['list', 'watch'],
    why: "md-core's pods: readiness, and failure reasons within seconds",
  });
  if (helm) {
    rules.push({
      apiGroup: '',
      resource: 'configmaps',
      verbs: ['get', 'patch'],
      why: "helm upgrade reads and patches the chart's ConfigMaps; a rollout-undo rollback patches back the ones md-core reads",
    });
  } else if (configMaps.length > 0) {
    rules.push({
      apiGroup: '',
      resource: 'configmaps',
      resourceNames: [...configMaps],
      verbs: ['get', 'patch'],
      why: 'the upgrade variables in the ConfigMaps md-core reads: written with a patch, and patched back on rollback',
    });
  }
  if (helm) {
    rules.push({
      apiGroup: '',
      resource: 'secrets',
      verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
      why: "helm's release records (one Secret per revision: list, create, update to superseded, delete beyond --history-max) and the chart's Secrets; the license-key guard and the REST API credentials read them too",
    });
    rules.push({
      apiGroup: '',
      resource: 'services',
      verbs: ['get', 'patch'],
      why: "helm upgrade reads and patches the chart's Services",
    });
  }
  if (plan.rehearsal) {
    rules.push({
      apiGroup: '',
      resource: 'configmaps',
      resourceNames: [historyConfigMapName(plan.deployment)],
      verbs: ['get', 'patch'],
      why: 'the rehearsal history the action keeps (last results, for the trend): read and appended to',
    });
    rules.push({
      apiGroup: '',
      resource: 'configmaps',
      verbs: ['create'],
      why: 'creating the rehearsal history on the first rehearsal (RBAC cannot limit create by name)',
    });
  }
  rules.push({
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    resourceNames: [lease],
    verbs: ['get', 'update', 'delete'],
    why: 'the Lease that keeps a second run off this Deployment: read, renew, release',
  });
  rules.push({
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['create'],
    why: 'taking the Lease (RBAC cannot limit create by name)',
  });

  if (readsApiSecrets(plan) && !helm) {
    rules.push({
      apiGroup: '',
      resource: 'secrets',
      resourceNames: [...API_SECRETS],
      verbs: ['get'],
      why: "the REST API's key (mdcore-api-key), else the admin login (mdcore-cred): no api-key input",
    });
  }
  if (plan.migrateHistory) {
    rules.push({
      apiGroup: 'apps',
      resource: 'deployments/scale',
      resourceNames: [plan.deployment],
      verbs: ['patch'],
      why: 'MIGRATE_HISTORY: kubectl scale --replicas=0 stops every md-core pod (it reads the Deployment first)',
    });
  }
  if (plan.migrateHistory && plan.dbFreeSpace !== 'skip') {
    if (!helm) {
      rules.push({
        apiGroup: 'apps',
        resource: 'deployments',
        resourceNames: [POSTGRES_DEPLOYMENT],
        verbs: ['get'],
        why: 'MIGRATE_HISTORY free-space check: find the in-cluster database (kubectl exec deployment/postgres-core)',
      });
    }
    // kubectl exec picks the pod from the pod list (the route's rule) and needs no pods get; its WebSocket
    // upgrade is a GET, which the API server authorizes as create on pods/exec.
    rules.push({
      apiGroup: '',
      resource: 'pods/exec',
      verbs: ['create'],
      why: "MIGRATE_HISTORY free-space check: df and psql in the database's pod",
    });
  }
  // Blue-green-hot-backup refuses helm-managed Deployments: only blue-green hands over to a helm release.
  if (plan.strategy === 'blue-green' && helm) rules.push(...handOverRules(plan));
  else if ((plan.strategy === 'blue-green' || plan.strategy === 'blue-green-hot-backup') && !helm)
    rules.push(...blueGreenRules(plan));
  if (plan.strategy === 'blue-green-hot-backup' && plan.licenseKey === undefined)
    rules.push({
      apiGroup: '',
      resource: 'secrets',
      resourceNames: ['mdcore-license-key'],
      verbs: ['get'],
      why: "blue-green-hot-backup: the licence key that registers and activates green's instances (no license-key input)",
    });
  if (options.keda && pausesKeda(plan)) rules.push(...KEDA_RULES);
  return rules;
}

/** Where KEDA is installed: its ScaledObjects are paused for the run and put back (steps/keda.ts). */
export const KEDA_RULES: readonly PolicyRule[] = [
  {
    apiGroup: 'keda.sh',
    resource: 'scaledobjects',
    verbs: ['list', 'patch'],
    why: "KEDA: find the ScaledObjects that scale md-core, pause them for the run (paused-replicas annotation) and put them back (names are the chart's or yours: no resourceNames)",
  },
];

/**
 * Blue-green on a helm-managed Deployment (the hand-over): what the helm Role does not already allow (it reads
 * and patches every Deployment and Service), and the bridge EndpointSlice that keeps green behind the Service
 * while helm rewrites its selector.
 */
function handOverRules(plan: RbacPlan): PolicyRule[] {
  const green = greenName(plan.deployment).name;
  return [
    {
      apiGroup: 'apps',
      resource: 'deployments',
      verbs: ['create'],
      why: 'blue-green: create green (RBAC cannot limit create by name)',
    },
    {
      apiGroup: 'apps',
      resource: 'deployments',
      resourceNames: [green],
      verbs: ['delete'],
      why: 'blue-green: delete green once the chart serves again (or on a rollback)',
    },
    {
      apiGroup: '',
      resource: 'services',
      verbs: ['list', 'create'],
      why: "blue-green: find the Service that selects blue's pods; create the preview Service (RBAC cannot limit create by name)",
    },
    {
      apiGroup: '',
      resource: 'services',
      resourceNames: [previewName(green)],
      verbs: ['delete'],
      why: 'blue-green: delete the preview Service afterwards',
    },
    {
      apiGroup: 'discovery.k8s.io',
      resource: 'endpointslices',
      verbs: ['list', 'create'],
      why: "blue-green: confirm the serving Service's ready endpoints; create the bridge that keeps green behind it while helm rewrites its selector",
    },
    {
      apiGroup: 'discovery.k8s.io',
      resource: 'endpointslices',
      resourceNames: [bridgeName(green)],
      verbs: ['delete'],
      why: 'blue-green: delete the bridge once the Service selects green (or the chart) again',
    },
    ...(greenAccess(plan).kind === 'proxy' ? [greenProxyRule(plan)] : []),
  ];
}

/** Blue-green on a plain Deployment: green by name, Services, and the serving Service's EndpointSlices. */
function blueGreenRules(plan: RbacPlan): PolicyRule[] {
  const green = greenName(plan.deployment).name;
  return [
    {
      apiGroup: 'apps',
      resource: 'deployments',
      resourceNames: [green],
      verbs: ['get', 'list', 'watch', 'delete'],
      why: 'blue-green: read and watch green (list and watch by name), delete it on a rollback',
    },
    {
      apiGroup: 'apps',
      resource: 'deployments',
      verbs: ['create'],
      why: 'blue-green: create green (RBAC cannot limit create by name)',
    },
    {
      apiGroup: '',
      resource: 'services',
      verbs: ['list'],
      why: "blue-green: find the Service that selects blue's pods",
    },
    {
      apiGroup: '',
      resource: 'services',
      ...(plan.service ? { resourceNames: [plan.service] } : {}),
      verbs: ['get', 'patch'],
      why: "blue-green: switch the serving Service's selector to green (and back on a rollback)",
    },
    {
      apiGroup: '',
      resource: 'services',
      verbs: ['create'],
      why: 'blue-green: create the preview Service that selects green only',
    },
    {
      apiGroup: '',
      resource: 'services',
      resourceNames: [previewName(green)],
      verbs: ['get', 'delete'],
      why: 'blue-green: check the preview Service is not left from an earlier run, delete it afterwards',
    },
    {
      apiGroup: 'discovery.k8s.io',
      resource: 'endpointslices',
      verbs: ['list'],
      why: "blue-green: confirm the serving Service's ready endpoints are green's pods only",
    },
    ...(greenAccess(plan).kind === 'proxy' ? [greenProxyRule(plan)] : []),
  ];
}

/**
 * Green reached through the API server's service proxy (no `green-api-url`): get for MD Core's GETs, create for
 * its POSTs (a login when no `api-key` is given, the smoke scan). RBAC sees the proxy's name as
 * `<service>:<port>` (`https:` first for TLS ports), so the rule cannot name the preview Service.
 */
function greenProxyRule(plan: RbacPlan): PolicyRule {
  const posts = plan.apiKey === undefined || plan.verifyScan === true;
  return {
    apiGroup: '',
    resource: 'services/proxy',
    verbs: posts ? ['get', 'create'] : ['get'],
    why: `blue-green: verify green before the switch through the API server's service proxy (get${posts ? '; create for the login or smoke scan POSTs' : ''}); not needed with green-api-url`,
  };
}

/** One SelfSubjectAccessReview per verb (and per name, where the rule names objects) of every rule. */
export function accessChecks(rules: readonly PolicyRule[]): AccessCheck[] {
  const checks: AccessCheck[] = [];
  for (const r of rules) {
    const [resource = '', subresource] = r.resource.split('/');
    for (const verb of r.verbs) {
      for (const name of r.resourceNames ?? [undefined]) {
        checks.push({
          verb,
          group: r.apiGroup,
          resource,
          ...(subresource ? { subresource } : {}),
          ...(name !== undefined ? { name } : {}),
        });
      }
    }
  }
  return checks;
}

const PLAIN = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(\/[a-z0-9]+)?$/;

function flow(items: readonly string[]): string {
  return `[${items.map((s) => (PLAIN.test(s) ? s : `'${s.replaceAll("'", "''")}'`)).join(', ')}]`;
}

/** The rules as the items of a Role's `rules:` list, each with its reason as a comment. */
export function rulesYaml(rules: readonly PolicyRule[], indent = 2): string {
  const pad = ' '.repeat(indent);
  return rules
    .map((r) =>
      [
        `# ${r.why}`,
        `- apiGroups: ${flow([r.apiGroup])}`,
        `  resources: ${flow([r.resource])}`,
        ...(r.resourceNames ? [`  resourceNames: ${flow(r.resourceNames)}`] : []),
        `  verbs: ${flow(r.verbs)}`,
      ]
        .map((line) => pad + line)
        .join('\n'),
    )
    .join('\n');
}

export interface RoleOptions {
  readonly namespace: string;
  /** The ServiceAccount bound to the Role; default one of the Role's name in the same namespace. */
  readonly serviceAccount?: { readonly name: string; readonly namespace: string };
}

/** A Role with the rules and a RoleBinding of it to a ServiceAccount, as one YAML stream. */
export function roleYaml(rules: readonly PolicyRule[], o: RoleOptions): string {
  const sa = o.serviceAccount ?? { name: ROLE_NAME, namespace: o.namespace };
  return [
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: Role',
    'metadata:',
    `  name: ${ROLE_NAME}`,
    `  namespace: ${o.namespace}`,
    'rules:',
    rulesYaml(rules),
    '---',
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: RoleBinding',
    'metadata:',
    `  name: ${ROLE_NAME}`,
    `  namespace: ${o.namespace}`,
    'roleRef:',
    '  apiGroup: rbac.authorization.k8s.io',
    '  kind: Role',
    `  name: ${ROLE_NAME}`,
    'subjects:',
    '  - kind: ServiceAccount',
    `    name: ${sa.name}`,
    `    namespace: ${sa.namespace}`,
    '',
  ].join('\n');
}

/** The rules `feature` adds to `base`: what README lists per feature. */
export function addedRules(base: readonly PolicyRule[], feature: readonly PolicyRule[]): PolicyRule[] {
  const key = (r: PolicyRule): string => JSON.stringify([r.apiGroup, r.resource, r.resourceNames, r.verbs]);
  const have = new Set(base.map(key));
  return feature.filter((r) => !have.has(key(r)));
}
