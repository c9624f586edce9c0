// The rollout verdict as a pure function of a Deployment, its ReplicaSets and its pods: progressing,
// complete, or failed with a reason. Pod-level reasons make failures visible in seconds, not at the deadline.
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

/** Waiting reasons that will not go away by themselves. */
export const FATAL_WAITING_REASONS = [
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
] as const;

export interface PodState {
  readonly name: string;
  readonly revision: string | undefined;
  readonly phase: string;
  readonly ready: boolean;
  readonly restarts: number;
  /** A waiting/terminated reason of any container, if there is one. */
  readonly reason: string | undefined;
  readonly message: string | undefined;
  readonly terminating: boolean;
}

export type RolloutVerdict =
  | {
      readonly state: 'progressing';
      readonly ready: number;
      readonly desired: number;
      readonly message: string;
    }
  | { readonly state: 'complete'; readonly ready: number; readonly desired: number; readonly message: string }
  | {
      readonly state: 'failed';
      readonly reason: string;
      readonly message: string;
      readonly pod: string | undefined;
      readonly ready: number;
      readonly desired: number;
    };

export function revisionOf(
  obj: { metadata?: { annotations?: Record<string, string> } } | undefined,
): string | undefined {
  return obj?.metadata?.annotations?.[REVISION_ANNOTATION];
}

export function podState(pod: V1Pod, rsRevisions: ReadonlyMap<string, string>): PodState {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === 'ReplicaSet');
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  let reason: string | undefined;
  let message: string | undefined;
  for (const s of statuses) {
    const w = s.state?.waiting;
    if (w?.reason && w.reason !== 'PodInitializing' && w.reason !== 'ContainerCreating') {
      reason = w.reason;
      message = w.message;
      break;
    }
  }
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return {
    name: pod.metadata?.name ?? '?',
    revision: owner ? rsRevisions.get(owner.name) : undefined,
    phase: pod.status?.phase ?? 'Unknown',
    ready,
    restarts,
    reason,
    message,
    terminating: pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null,
  };
}

export interface VerdictInput {
  readonly deployment: V1Deployment;
  readonly replicaSets: readonly V1ReplicaSet[];
  readonly pods: readonly V1Pod[];
  /** The revision the Deployment had before our change; its pods must be gone for "complete". */
  readonly previousRevision?: string | undefined;
}

export function podStates(input: VerdictInput): PodState[] {
  const revs = new Map<string, string>();
  for (const rs of input.replicaSets) {
    const r = revisionOf(rs);
    if (rs.metadata?.name && r !== undefined) revs.set(rs.metadata.name, r);
  }
  return input.pods.map((p) => podState(p, revs));
}

export function rolloutVerdict(input: VerdictInput): RolloutVerdict {
  const dep = input.deployment;
  const desired = dep.spec?.replicas ?? 1;
  const st = dep.status ?? {};
  const rev = revisionOf(dep);
  const pods = podStates(input);
  const newPods = pods.filter((p) => p.revision !== undefined && p.revision === rev && !p.terminating);
  const ready = newPods.filter((p) => p.ready).length;

  const deadline = st.conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  if (deadline) {
    return {
      state: 'failed',
      reason: 'ProgressDeadlineExceeded',
      message: deadline.message ?? '',
      pod: undefined,
      ready,
      desired,
    };
  }
  const fatal = newPods.find(
    (p) => p.reason && (FATAL_WAITING_REASONS as readonly string[]).includes(p.reason),
  );
  if (fatal) {
    return {
      state: 'failed',
      reason: fatal.reason ?? 'Unknown',
      message: `pod ${fatal.name}: ${fatal.reason}${fatal.message ? ` (${fatal.message})` : ''}`,
      pod: fatal.name,
      ready,
      desired,
    };
  }
  const replicaFailure = st.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');

  const observed = (st.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0);
  const updated = st.updatedReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const total = st.replicas ?? 0;
  const oldPods = pods.filter((p) => p.revision !== rev);
  if (
    observed &&
    updated === desired &&
    available === desired &&
    total === desired &&
    oldPods.length === 0 &&
    ready >= desired
  ) {
    return { state: 'complete', ready, desired, message: `${ready}/${desired} ready` };
  }
  if (!observed) {
    return {
      state: 'progressing',
      ready: 0,
      desired,
      message: 'waiting for the Deployment controller to pick up the change',
    };
  }
  const parts = [`${ready}/${desired} ready`];
  if (oldPods.length > 0) parts.push(`${oldPods.length} old pod(s) left`);
  if (replicaFailure) parts.push(`ReplicaFailure: ${replicaFailure.message ?? replicaFailure.reason ?? ''}`);
  return { state: 'progressing', ready, desired, message: parts.join(', ') };
}
