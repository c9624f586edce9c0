// What the blue-green e2e files build alike: md-core as a plain Deployment with the Service that serves it,
// README's kubectl Role with further README rule blocks bound to a ServiceAccount, and a kubeconfig that holds
// only that ServiceAccount's token. Objects only: each file applies them with its own cluster's kubectl.
import { readFileSync } from 'node:fs';
import type { V1ServicePort } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { rbacBlock } from '../../support/readme-blocks.ts';
import { IMAGE } from './action.ts';

/** Deployment md-core (5.19.0; selector app=md-core, pods labelled `labels`) and Service md-core (8008, http). */
export function plainMdCoreDocs(
  ns: string,
  replicas: number,
  labels: Record<string, string> = { app: 'md-core' },
  servicePort: V1ServicePort = { name: 'http', port: 8008, targetPort: 8008 },
): object[] {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'md-core', namespace: ns, labels },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'md-core' } },
        template: {
          metadata: { labels },
          spec: {
            containers: [{ name: 'md-core', image: `${IMAGE}:5.19.0`, ports: [{ containerPort: 8008 }] }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'md-core', namespace: ns },
      spec: { selector: { app: 'md-core' }, ports: [servicePort] },
    },
  ];
}

interface RoleDoc {
  kind: string;
  metadata: { namespace: string };
  rules?: unknown[];
  subjects?: { namespace: string; name: string }[];
}

/** README's kubectl Role plus the rules of README's `rbac:<block>` blocks, and its RoleBinding, in `ns`. */
export function readmeRoleDocs(
  ns: string,
  blocks: readonly string[],
): { role: object; binding: object; serviceAccount: string } {
  const docs = parseAllDocuments(rbacBlock('kubectl')).map((d) => d.toJSON() as RoleDoc);
  const role = docs.find((d) => d.kind === 'Role');
  const binding = docs.find((d) => d.kind === 'RoleBinding');
  if (!role?.rules || !binding?.subjects)
    throw new Error("README's kubectl block has no Role and RoleBinding");
  for (const b of blocks) role.rules.push(...(parse(rbacBlock(b)) as unknown[]));
  for (const d of [role, binding]) d.metadata.namespace = ns;
  for (const s of binding.subjects) s.namespace = ns;
  return { role, binding, serviceAccount: binding.subjects[0]?.name ?? '' };
}

/** A kubeconfig with only a ServiceAccount's token, for the server and CA of the admin kubeconfig given. */
export function serviceAccountKubeconfig(
  adminKubeconfigFile: string,
  sa: string,
  ns: string,
  token: string,
): string {
  const admin = parse(readFileSync(adminKubeconfigFile, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
  };
  const cluster = admin.clusters[0]?.cluster ?? {};
  const caFile = cluster['certificate-authority'];
  const ca =
    cluster['certificate-authority-data'] ?? (caFile ? readFileSync(caFile).toString('base64') : undefined);
  if (!cluster.server || !ca) throw new Error('the admin kubeconfig has no server or CA');
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: cluster.server, 'certificate-authority-data': ca } }],
    users: [{ name: sa, user: { token } }],
    contexts: [{ name: sa, context: { cluster: 'e2e', user: sa, namespace: ns } }],
    'current-context': sa,
  });
}
