// What the blue-green-hot-backup e2e files build alike: md-core as a plain Deployment whose pods take the licence
// key from Secret mdcore-license-key (as the chart's do), and the REST stand-in with its licence model fed by the
// namespace's pods, so tests assert on the stand-in's own record of activations, never on the action's counts.
import { stringify } from 'yaml';
import { kubectl, kubectlJson, waitFor } from '../cluster/context.ts';
import {
  startStandin,
  type PodSighting,
  type Standin,
  type StandinLicence,
} from '../../support/mdcore-standin.ts';
import { IMAGE } from './action.ts';

export const LICENCE_KEY = 'E2E-LICENCE-7777-8888';
export const COLOR = 'mdcore-upgrade.opswat.com/color';

/** Secret mdcore-license-key, Deployment md-core (5.19.0, LICENSE_KEY from the Secret) and Service md-core; awaited. */
export async function licensedFixture(ns: string, replicas: number): Promise<void> {
  const labels = { app: 'md-core' };
  const docs = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'mdcore-license-key', namespace: ns },
      stringData: { value: LICENCE_KEY },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'md-core', namespace: ns, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'md-core',
                image: `${IMAGE}:5.19.0`,
                ports: [{ containerPort: 8008 }],
                env: [
                  { name: 'MD_INSTANCE_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  {
                    name: 'LICENSE_KEY',
                    valueFrom: { secretKeyRef: { name: 'mdcore-license-key', key: 'value' } },
                  },
                ],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'md-core', namespace: ns },
      spec: { selector: labels, ports: [{ name: 'http', port: 8008, targetPort: 8008 }] },
    },
  ];
  await kubectl(['apply', '-f', '-'], { input: docs.map((d) => stringify(d)).join('---\n') });
  await kubectl(['rollout', 'status', 'deployment/md-core', '-n', ns, '--timeout=120s'], {
    timeoutMs: 130_000,
  });
}

interface PodList {
  items: {
    metadata: { name: string; labels?: Record<string, string> };
    spec: { containers: { name: string; env?: { name: string }[] }[] };
  }[];
}

/** What the stand-in learns of the namespace's pods: names, and whether each starts with the licence key. */
export function podLister(ns: string): () => Promise<PodSighting[]> {
  return async () => {
    const l = await kubectlJson<PodList>(['get', 'pods', '-n', ns, '-o', 'json']);
    return l.items.map((p) => ({
      name: p.metadata.name,
      selfActivates: p.spec.containers.some((c) => (c.env ?? []).some((e) => e.name === 'LICENSE_KEY')),
    }));
  };
}

/** The names of the pods a label selector picks, sorted. */
export async function podNames(ns: string, selector: string): Promise<string[]> {
  const l = await kubectlJson<PodList>(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json']);
  return l.items.map((p) => p.metadata.name).sort();
}

/**
 * Runs `fn` with a stand-in whose licence holds `activations`, answering `version`, its model in line with the
 * namespace's pods (polled every 300 ms) before `fn` starts; closed afterwards.
 */
export async function withLicenceStandin<T>(
  ns: string,
  o: { activations: number; apiKey: string; version: string },
  fn: (s: Standin) => Promise<T>,
): Promise<T> {
  const s = await startStandin({
    apiKey: o.apiKey,
    version: o.version,
    licence: { activations: o.activations, key: LICENCE_KEY, pods: podLister(ns), pollMs: 300 },
  });
  try {
    await s.syncPods();
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Waits until the stand-in's record shows exactly `pods` active (its pod polling may lag the cluster). */
export async function untilActive(m: StandinLicence, pods: readonly string[], what: string): Promise<void> {
  await waitFor(what, async () => (m.inState('active').join() === pods.join() ? true : undefined), {
    timeoutMs: 10_000,
  });
}
