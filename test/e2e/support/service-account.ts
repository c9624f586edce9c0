// A ServiceAccount holding exactly a Role from README.md, and a kubeconfig with only its token: how e2e tests
// prove that the documented permissions are enough (and that preflight names what is missing).
import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { rbacBlock } from '../../support/readme-blocks.ts';
import { e2eCluster, kubectl } from '../cluster/context.ts';

/** The ServiceAccount README's Roles are bound to. */
export const SA = 'mdcore-upgrader';

export interface RoleRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

export interface RoleDoc {
  kind: string;
  metadata: { name: string; namespace: string };
  rules?: RoleRule[];
  subjects?: { namespace: string }[];
}

/** The README block's Role and RoleBinding, moved to `ns`; `extra` blocks' rules appended to the Role. */
export function readmeRole(
  id: string,
  ns: string,
  extra: string[] = [],
): { role: RoleDoc; binding: RoleDoc } {
  const docs = parseAllDocuments(rbacBlock(id)).map((d) => d.toJSON() as RoleDoc);
  const role = docs.find((d) => d.kind === 'Role');
  const binding = docs.find((d) => d.kind === 'RoleBinding');
  if (!role?.rules || !binding?.subjects)
    throw new Error(`README block rbac:${id} has no Role and RoleBinding`);
  for (const e of extra) role.rules.push(...(parse(rbacBlock(e)) as RoleRule[]));
  for (const d of [role, binding]) d.metadata.namespace = ns;
  for (const s of binding.subjects) s.namespace = ns;
  return { role, binding };
}

/** Creates the ServiceAccount in `ns` and binds README's `id` Role (with `extra` blocks' rules) to it. */
export async function bindReadmeRole(ns: string, id: string, extra: string[] = []): Promise<void> {
  const { role, binding } = readmeRole(id, ns, extra);
  await kubectl(['create', 'serviceaccount', SA, '-n', ns]);
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(role) });
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(binding) });
}

/** A kubeconfig holding only the ServiceAccount's token, for the e2e cluster's server and CA. */
export async function tokenKubeconfig(ns: string): Promise<string> {
  const admin = parse(readFileSync(e2eCluster().kubeconfig, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
  };
  const cluster = admin.clusters[0]?.cluster ?? {};
  const server = cluster.server;
  const caFile = cluster['certificate-authority'];
  const ca =
    cluster['certificate-authority-data'] ?? (caFile ? readFileSync(caFile).toString('base64') : undefined);
  if (!server || !ca) throw new Error('the e2e kubeconfig has no server or CA');
  const token = (await kubectl(['create', 'token', SA, '-n', ns, '--duration=3600s'])).stdout.trim();
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority-data': ca } }],
    users: [{ name: SA, user: { token } }],
    contexts: [{ name: SA, context: { cluster: 'e2e', user: SA, namespace: ns } }],
    'current-context': SA,
  });
}
