// How a blue-green run talks to green before the switch: the plan's choice (plan/green-url.ts) made concrete as
// MD Core's base URL and transport, once for the plan step (which reports it and refuses what cannot work while
// nothing has changed) and once for the verification itself.
import type { V1Service } from '@kubernetes/client-node';
import type { Kube } from '../cluster/kube.ts';
import { kubeTransport, proxyPort, serviceProxyUrl } from '../cluster/service-proxy.ts';
import type { HttpTransport } from '../core-api/client.ts';
import type { RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';
import { fillGreenUrl, greenAccess } from '../plan/green-url.ts';
import type { Plan } from '../plan/plan.ts';
import { openApi, type ApiSession } from './core-api.ts';

export interface GreenRoute {
  /** MD Core's base URL for green. */
  readonly url: string;
  /** Set for the service proxy: each request carries the kubeconfig's credentials. */
  readonly transport?: HttpTransport;
  /** How green is reached, for the plan's details. */
  readonly via: string;
  /** What to check when green does not answer. */
  readonly unreachable: string;
}

/** undefined: green is not verified over the REST API (no `api-url`, or `verify: off`). */
export function greenRoute(
  plan: Pick<Plan, 'apiUrl' | 'verify' | 'greenApiUrl'>,
  kube: Pick<Kube, 'kc'>,
  namespace: string,
  preview: V1Service,
): GreenRoute | { readonly problem: string } | undefined {
  const access = greenAccess(plan);
  const name = preview.metadata?.name ?? '';
  if (access.kind === 'none') return undefined;
  if (access.kind === 'url') {
    const url = fillGreenUrl(access.template, { preview: name, namespace });
    return {
      url,
      via: `'green-api-url' (${url})`,
      unreachable:
        "Check that 'green-api-url' reaches the preview Service from the runner (a cluster-internal address needs a runner in the cluster), or leave it empty to go through the API server's service proxy.",
    };
  }
  const server = kube.kc.getCurrentCluster()?.server;
  if (!server) return { problem: 'the kubeconfig names no API server to reach green through' };
  const port = proxyPort(preview);
  if ('problem' in port)
    return {
      problem: `green cannot be reached through the API server's service proxy: ${port.problem}; give 'green-api-url' a URL that reaches green's pods, then run again. Nothing was changed.`,
    };
  return {
    url: serviceProxyUrl(server, namespace, name, port),
    transport: kubeTransport(kube.kc),
    via: `the API server's service proxy (Service ${name}, port ${port.port}, ${port.scheme})`,
    unreachable: `Check that the identity may use services/proxy in namespace ${namespace} (get, and create for POSTs) and that green's pods serve MD Core's REST API on that port, or give 'green-api-url' a URL that reaches green's pods.`,
  };
}

/** The REST API session on green; refuses (green is then removed by the rollback) when green cannot be reached. */
export async function openGreenApi(
  ctx: RunContext,
  h: StepHandle,
  preview: V1Service,
): Promise<{ readonly api: ApiSession; readonly ctx: RunContext }> {
  const route = greenRoute(ctx.plan, ctx.kube, ctx.target.namespace, preview);
  if (!route) throw new Error('internal: green is verified although the plan says it is not');
  if ('problem' in route) throw new Error(route.problem);
  h.detail(`green reached through ${route.via}`);
  const greenCtx = { ...ctx, plan: { ...ctx.plan, apiUrl: route.url } };
  const api = await openApi(greenCtx, h, {
    required: true,
    ...(route.transport ? { transport: route.transport } : {}),
    refusal: { stopped: 'so no traffic was moved', unreachable: route.unreachable },
  });
  return { api, ctx: greenCtx };
}
