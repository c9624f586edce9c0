// How blue-green reaches green before any traffic moves (the API server's service proxy, or a `green-api-url`
// template): decided here once for the strategy's steps, the RBAC rules and input parsing (which must stay
// light: it runs before anything else is loaded).
import type { Plan } from './plan.ts';

/** `green-api-url: proxy` (also what an empty value means when the REST API is in use). */
export const GREEN_VIA_PROXY = 'proxy';

export type GreenAccess =
  /** Through `<apiserver>/api/v1/namespaces/<ns>/services/<preview>:<port>/proxy`, as the kubeconfig's user. */
  | { readonly kind: 'proxy' }
  /** Through a URL template with {preview} and {namespace}. */
  | { readonly kind: 'url'; readonly template: string }
  /** Green is not verified over the REST API (no `api-url`, or `verify: off`). */
  | { readonly kind: 'none' };

/**
 * `green-api-url` empty: the service proxy when the REST API is in use at all (`api-url` given, `verify` not
 * off); `proxy`: the service proxy; anything else: the URL template. `verify: off` turns every check off.
 */
export function greenAccess(
  plan: Pick<Plan, 'apiUrl' | 'verify'> & Partial<Pick<Plan, 'greenApiUrl'>>,
): GreenAccess {
  if (plan.verify === 'off') return { kind: 'none' };
  const given = plan.greenApiUrl ?? '';
  if (given === GREEN_VIA_PROXY) return { kind: 'proxy' };
  if (given !== '') return { kind: 'url', template: given };
  return plan.apiUrl !== undefined ? { kind: 'proxy' } : { kind: 'none' };
}

/** What a `green-api-url` template may name. `pod` and `podIp` are known only when one instance is addressed. */
export interface GreenUrlNames {
  preview: string;
  namespace: string;
  pod?: string;
  podIp?: string;
}

/** Placeholders that address one green instance (a pod) rather than the preview Service. */
export const INSTANCE_PLACEHOLDERS = ['{pod}', '{pod-ip}'] as const;

/**
 * `green-api-url` may name the preview Service and the namespace: `http://{preview}.{namespace}.svc:8008`, or one
 * green instance: `http://{pod-ip}:8008` (strategy blue-green-hot-backup talks to every instance).
 */
export function fillGreenUrl(template: string, names: GreenUrlNames): string {
  let url = template.replaceAll('{preview}', names.preview).replaceAll('{namespace}', names.namespace);
  if (names.pod !== undefined) url = url.replaceAll('{pod}', names.pod);
  if (names.podIp !== undefined)
    url = url.replaceAll('{pod-ip}', names.podIp.includes(':') ? `[${names.podIp}]` : names.podIp);
  return url;
}

/** True when the template addresses single instances. */
export function addressesInstances(template: string): boolean {
  return INSTANCE_PLACEHOLDERS.some((p) => template.includes(p));
}

/** Sample names for checking a `green-api-url` template before any contact. */
export const SAMPLE_GREEN_NAMES = {
  preview: 'md-core-green-preview',
  namespace: 'mdcore',
  pod: 'md-core-green-5d8f7c9b6-x2x4q',
  podIp: '10.0.0.12',
} as const;
