// Pod addresses for the e2e tests that compare a Service's endpoints with the pods they should be.
import { kubectlJson } from '../cluster/context.ts';

/** The pod IPs of the pods a label selector picks, sorted. */
export async function podIps(ns: string, selector: string): Promise<string[]> {
  const l = await kubectlJson<{ items: { status: { podIP?: string } }[] }>([
    'get',
    'pods',
    '-n',
    ns,
    '-l',
    selector,
    '-o',
    'json',
  ]);
  return l.items
    .map((p) => p.status.podIP ?? '')
    .filter(Boolean)
    .sort();
}
