// The `green-api-url` template: filled in by the blue-green strategies, and checked by input parsing (which must
// stay light: it runs before anything else is loaded).

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
