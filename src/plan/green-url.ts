// The `green-api-url` template: filled in by the blue-green strategy, and checked by input parsing (which must
// stay light: it runs before anything else is loaded).

/** `green-api-url` may name the preview Service and the namespace: `http://{preview}.{namespace}.svc:8008`. */
export function fillGreenUrl(template: string, names: { preview: string; namespace: string }): string {
  return template.replaceAll('{preview}', names.preview).replaceAll('{namespace}', names.namespace);
}

/** Sample names for checking a `green-api-url` template before any contact. */
export const SAMPLE_GREEN_NAMES = { preview: 'md-core-green-preview', namespace: 'mdcore' } as const;
