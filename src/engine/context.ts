// What every step receives: the plan, the effects (cluster, tools, reporter) and the run's shared records.
import type { V1ConfigMap, V1Container, V1Deployment } from '@kubernetes/client-node';
import type { Kube } from '../cluster/kube.ts';
import type { Listed } from '../cluster/resumable-watch.ts';
import type { Plan } from '../plan/plan.ts';
import type { Reporter } from '../report/reporter.ts';
import type { Journal } from './journal.ts';
import type { Target } from './target.ts';
import type { Outcome } from './outcome.ts';
import type { Timeline } from './timeline.ts';

/** Installs (or finds) the CLI tools on demand; the engine never downloads anything itself. */
export interface ToolProvider {
  kubectl(): Promise<string>;
  helm(): Promise<string>;
  /** One line per tool from PATH that could not be checked against its official checksum, for the summary. */
  unverified?(): readonly string[];
}

/** What preflight read before any change. */
export interface ClusterState {
  readonly deployment: V1Deployment;
  readonly container: V1Container;
  readonly selector: string;
  readonly image: string;
  readonly tag: string | undefined;
  readonly replicas: number;
  readonly revision: string | undefined;
  /** ConfigMaps the md-core container reads, by name (undefined: referenced but missing). */
  readonly configMaps: ReadonlyMap<string, V1ConfigMap | undefined>;
  /** Helm release managing the Deployment, from its annotations. */
  readonly helmRelease: string | undefined;
  /** The cluster serves KEDA's ScaledObjects (asked only by strategies that pause KEDA: steps/keda.ts). */
  readonly kedaServed?: boolean | undefined;
  /** Preflight's lists of the Deployment's ReplicaSets and pods (by `selector`): the wait watches on from them. */
  readonly lists?: Readonly<Record<'replicasets' | 'pods', Listed>> | undefined;
}

export interface RunContext {
  readonly plan: Plan;
  /** What the steps act on (the user's Deployment unless a strategy points a step elsewhere). */
  readonly target: Target;
  readonly now: () => number;
  readonly reporter: Reporter;
  readonly timeline: Timeline;
  readonly outcome: Outcome;
  readonly kube: Kube;
  readonly kubectl: string;
  /** A kubeconfig file for kubectl and helm, written from the same config the API client uses. */
  readonly kubeconfigFile: string;
  readonly journal: Journal;
  readonly tools: ToolProvider;
  readonly signal: AbortSignal | undefined;
  readonly runUrl: string | undefined;
  readonly state: ClusterState;
}

/** kubectl arguments that pin the cluster, context and namespace for every call (also the post step's). */
export function kubectlArgs(ctx: { kubeconfigFile: string; namespace: string }, ...args: string[]): string[] {
  return ['--kubeconfig', ctx.kubeconfigFile, '--namespace', ctx.namespace, '--request-timeout=60s', ...args];
}

/** kubectlArgs for a step of a run: its target's namespace. */
export function kubectlArgsFor(
  ctx: { readonly kubeconfigFile: string; readonly target: { readonly namespace: string } },
  ...args: string[]
): string[] {
  return kubectlArgs({ kubeconfigFile: ctx.kubeconfigFile, namespace: ctx.target.namespace }, ...args);
}

export function splitImage(image: string): { repository: string; tag: string | undefined } {
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repository: ref, tag: undefined };
}

/** The job was cancelled: raised before a change is started, never in the middle of one. */
export class CancelledError extends Error {
  constructor(before: string) {
    super(`the job was cancelled before ${before}`);
    this.name = 'CancelledError';
  }
}

/** Called before every change to the cluster: a cancelled run starts no new change. */
export function checkCancelled(ctx: Pick<RunContext, 'signal'>, before: string): void {
  if (ctx.signal?.aborted) throw new CancelledError(before);
}
