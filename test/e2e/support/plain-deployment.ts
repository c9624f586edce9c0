// md-core as a plain Deployment (no helm) with the Service that serves it, for e2e tests of the kubectl route
// and blue-green: applied and rolled out before the test goes on.
import { stringify } from 'yaml';
import { kubectl } from '../cluster/context.ts';
import { IMAGE } from './action.ts';

export async function plainMdCore(
  ns: string,
  replicas: number,
  o: { labels?: Record<string, string>; tag?: string } = {},
): Promise<void> {
  const labels = o.labels ?? { app: 'md-core' };
  const docs = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'md-core', namespace: ns, labels },
      spec: {
        replicas,
        selector: { matchLabels: { app: labels.app ?? 'md-core' } },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              { name: 'md-core', image: `${IMAGE}:${o.tag ?? '5.19.0'}`, ports: [{ containerPort: 8008 }] },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'md-core', namespace: ns },
      spec: {
        selector: { app: labels.app ?? 'md-core' },
        ports: [{ name: 'http', port: 8008, targetPort: 8008 }],
      },
    },
  ];
  await kubectl(['apply', '-f', '-'], { input: docs.map((d) => stringify(d)).join('---\n') });
  await kubectl(['rollout', 'status', 'deployment/md-core', '-n', ns, '--timeout=120s'], {
    timeoutMs: 130_000,
  });
}
