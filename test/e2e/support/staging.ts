// What staging holds after a blue-green rehearsal (or any colored run): every Deployment and Service in the
// namespace and the ready endpoints behind Service md-core, for the e2e files that check nothing of a color is
// left and the names stay the same from one run to the next.
import { kubectlJson } from '../cluster/context.ts';

export interface Staging {
  deployments: { name: string; replicas: number; ready: number; image: string }[];
  services: { name: string; selector: Record<string, string> }[];
  readyEndpoints: string[];
}

/** Every Deployment and Service in the namespace, and the ready endpoints behind Service md-core. */
export async function staging(ns: string): Promise<Staging> {
  const deps = await kubectlJson<{
    items: {
      metadata: { name: string };
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
      status: { readyReplicas?: number };
    }[];
  }>(['get', 'deployments', '-n', ns, '-o', 'json']);
  const svcs = await kubectlJson<{
    items: { metadata: { name: string }; spec: { selector?: Record<string, string> } }[];
  }>(['get', 'services', '-n', ns, '-o', 'json']);
  const slices = await kubectlJson<{
    items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[];
  }>(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=md-core', '-o', 'json']);
  return {
    deployments: deps.items
      .map((d) => ({
        name: d.metadata.name,
        replicas: d.spec.replicas,
        ready: d.status.readyReplicas ?? 0,
        image: d.spec.template.spec.containers[0]?.image ?? '',
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    services: svcs.items.map((s) => ({ name: s.metadata.name, selector: s.spec.selector ?? {} })),
    readyEndpoints: slices.items
      .flatMap((s) =>
        (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses),
      )
      .sort(),
  };
}
