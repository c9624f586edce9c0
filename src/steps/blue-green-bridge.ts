// The bridge of blue-green's helm hand-over: an EndpointSlice, owned by the action, that lists green's ready pods
// under the serving Service's name, so the Service keeps sending traffic to green while a `helm upgrade` (or
// `helm rollback`) rewrites the Service's selector back towards the chart's.
//
// Why it is needed: helm applies the chart's Service as rendered. Helm 3's three-way merge sets every selector
// key the chart renders (`app: md-core`) and keeps keys the chart does not know (the color label): the
// selector becomes `{app: md-core, color: green}`, which selects no pod at all. Helm 4's server-side apply
// (conflicts forced) replaces the whole selector (an atomic map) with the chart's `{app: md-core}`, which
// selects the chart's pods only (none of the old version: blue is at 0 by then). Either way green would drop
// out of the Service until the run sets its selector again. Kubernetes routes a Service to the endpoints of
// every EndpointSlice labelled with its name, not only the ones its own controller writes from the selector,
// so while the bridge exists green stays behind the Service whatever the selector says.
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import { COLOR_LABEL } from './blue-green.ts';

/** The label Kubernetes reads to tie an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Who manages an EndpointSlice: the endpoint controller leaves slices of other managers alone. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const BRIDGE_MANAGER = 'mdcore-upgrade-action';

/** The bridge's name: green's name with `-bridge`, kept to 63 characters. */
export function bridgeName(green: string): string {
  const suffix = '-bridge';
  return `${green.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** A label map as a label selector string (`k=v,k2=v2`) for list calls. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function isReady(pod: V1Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** The port a Service port reaches on a pod: a number, a named container port, or the Service port itself. */
function podPort(target: number | string | undefined, port: number, pod: V1Pod | undefined): number {
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^\d+$/.test(target)) return Number(target);
  if (typeof target === 'string') {
    for (const c of pod?.spec?.containers ?? [])
      for (const p of c.ports ?? []) if (p.name === target) return p.containerPort;
  }
  return port;
}

/**
 * The bridge for `service`: green's ready pods (one address family, the first pod's) with the Service's ports
 * by name. No ready pod gives a slice without endpoints, which the caller refuses to rely on.
 */
export function bridgeSlice(service: V1Service, name: string, greenPods: readonly V1Pod[]): V1EndpointSlice {
  const ready = greenPods.filter((p) => isReady(p) && p.status?.podIP);
  const family = (ready[0]?.status?.podIP ?? '').includes(':') ? 'IPv6' : 'IPv4';
  const same = ready.filter((p) => (p.status?.podIP ?? '').includes(':') === (family === 'IPv6'));
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: service.metadata?.namespace,
      labels: {
        [SERVICE_NAME_LABEL]: service.metadata?.name ?? '',
        [MANAGED_BY_LABEL]: BRIDGE_MANAGER,
        [COLOR_LABEL]: 'green',
      },
    },
    addressType: family,
    ports: (service.spec?.ports ?? []).map((p) => ({
      name: p.name ?? '',
      port: podPort(p.targetPort as number | string | undefined, p.port, same[0]),
      protocol: p.protocol ?? 'TCP',
    })),
    endpoints: same.map((p) => ({
      addresses: [p.status?.podIP ?? ''],
      conditions: { ready: true, serving: true, terminating: false },
      ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
      targetRef: {
        kind: 'Pod',
        name: p.metadata?.name ?? '',
        namespace: p.metadata?.namespace ?? '',
        ...(p.metadata?.uid ? { uid: p.metadata.uid } : {}),
      },
    })),
  };
}

/** The slices the Service's own controller writes from its selector (the bridge left out). */
export function controllerSlices(slices: readonly V1EndpointSlice[]): V1EndpointSlice[] {
  return slices.filter((s) => s.metadata?.labels?.[MANAGED_BY_LABEL] !== BRIDGE_MANAGER);
}

/** Two label maps with the same keys and values, in any order (the API server sorts a selector's keys). */
export function sameLabels(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  const x = Object.entries(a ?? {});
  const y = b ?? {};
  return x.length === Object.keys(y).length && x.every(([k, v]) => y[k] === v);
}
