// The label selector of a Deployment's pods as a string for list and watch calls (matchLabels and
// matchExpressions): preflight, the watcher and the post step all use this one.
import type { V1Deployment } from '@kubernetes/client-node';

export function podSelector(dep: V1Deployment): string {
  const labels = dep.spec?.selector?.matchLabels ?? {};
  const exprs = dep.spec?.selector?.matchExpressions ?? [];
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  for (const e of exprs) {
    if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}
