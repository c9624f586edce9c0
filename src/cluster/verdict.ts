// The rollout verdict as a pure function of a Deployment, its ReplicaSets, its pods and the time: progressing,
// complete, or failed with a reason. Pod-level reasons make failures visible in seconds, not at the deadline;
// transient image-pull errors (a registry rate limit, a network blip) get a bounded grace first.
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

/** Waiting reasons of a failed image pull; their message tells a permanent cause from a transient one. */
export const IMAGE_PULL_REASONS = ['ErrImagePull', 'ImagePullBackOff'] as const;

export type PullCause = 'permanent' | 'transient' | 'unknown';

// Causes that will not fix themselves: retrying the pull only delays the rollback.
const PERMANENT_PULL = [
  /not found/,
  /manifest unknown/,
  /name unknown/,
  /unauthorized/,
  /authentication required/,
  /access denied/,
  /denied:/,
  /forbidden/,
  /invalid reference/,
  /invalid (image )?name/,
  /repository does not exist/,
  /no such image/,
];
// Causes a registry or network recovers from by itself: rate limits, timeouts, resets, 5xx answers.
const TRANSIENT_PULL = [
  /toomanyrequests/,
  /too many requests/,
  /rate.?limit/,
  /i\/o timeout/,
  /connection reset/,
  /connection refused/,
  /tls handshake timeout/,
  /context deadline exceeded/,
  /temporary failure/,
  /internal server error/,
  /bad gateway/,
  /service unavailable/,
  /gateway time-?out/,
  /(status|http)[^0-9]{0,16}5[0-9][0-9]\b/,
];

/**
 * Why an image pull failed, from the container's waiting message. Permanent wins when both kinds of words
 * appear; a message with neither (e.g. a bare "Back-off pulling image") is unknown.
 */
export function classifyPullError(message: string | undefined): PullCause {
  const m = (message ?? '').toLowerCase();
  if (PERMANENT_PULL.some((re) => re.test(m))) return 'permanent';
  if (TRANSIENT_PULL.some((re) => re.test(m))) return 'transient';
  return 'unknown';
}

/** A pod whose image pull fails for a transient cause, and since when (epoch ms, the watcher's clock). */
export interface PullProblem {
  readonly since: number;
  readonly message: string;
}

const isPullReason = (reason: string | undefined): boolean =>
  reason !== undefined && (IMAGE_PULL_REASONS as readonly string[]).includes(reason);

/**
 * The pods in a transient pull failure after this observation. A pod keeps its first-seen time while the
 * failure lasts; a message that no longer names the cause (the kubelet's back-off text) keeps a pod already
 * known as transient; a permanent cause or a pull that got through drops it.
 */
export function trackPullProblems(
  previous: ReadonlyMap<string, PullProblem>,
  pods: readonly PodState[],
  now: number,
): Map<string, PullProblem> {
  const next = new Map<string, PullProblem>();
  for (const p of pods) {
    if (p.terminating || !isPullReason(p.reason)) continue;
    const cause = classifyPullError(p.message);
    const before = previous.get(p.name);
    if (cause === 'transient' || (cause === 'unknown' && before)) {
      next.set(p.name, {
        since: before?.since ?? now,
        message: cause === 'transient' ? (p.message ?? '') : (before?.message ?? ''),
      });
    }
  }
  return next;
}

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
      /** When a grace ends (epoch ms): the verdict may change then even if no object does. */
      readonly recheckAt?: number;
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
  /** Now, epoch ms (the clock the pull problems were tracked with). */
  readonly now?: number;
  /** How long a transient image-pull failure may last before the rollout fails; 0 or absent: fail at once. */
  readonly imagePullGraceMs?: number;
  /** Pods in a transient pull failure and since when (trackPullProblems). */
  readonly transientPulls?: ReadonlyMap<string, PullProblem>;
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
  const grace = input.imagePullGraceMs ?? 0;
  const now = input.now ?? Date.now();
  const inGrace: { pod: PodState; until: number; message: string }[] = [];
  for (const p of newPods) {
    if (!p.reason || !(FATAL_WAITING_REASONS as readonly string[]).includes(p.reason)) continue;
    const transient = isPullReason(p.reason) ? input.transientPulls?.get(p.name) : undefined;
    if (transient && grace > 0) {
      const until = transient.since + grace;
      if (now < until) {
        inGrace.push({ pod: p, until, message: transient.message });
        continue;
      }
      return {
        state: 'failed',
        reason: p.reason,
        message:
          `pod ${p.name}: ${p.reason} for ${Math.round((now - transient.since) / 1000)} s, longer than ` +
          `the image-pull grace of ${Math.round(grace / 1000)} s (${transient.message || p.message || 'no message'})`,
        pod: p.name,
        ready,
        desired,
      };
    }
    return {
      state: 'failed',
      reason: p.reason,
      message: `pod ${p.name}: ${p.reason}${p.message ? ` (${p.message})` : ''}`,
      pod: p.name,
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
  const first = inGrace[0];
  if (first) {
    const recheckAt = Math.min(...inGrace.map((g) => g.until));
    parts.push(
      `image pull failing transiently on ${inGrace.length} pod(s) (${first.pod.name}: ${first.message}); ` +
        `waiting up to the image-pull grace of ${Math.round(grace / 1000)} s`,
    );
    return { state: 'progressing', ready, desired, message: parts.join(', '), recheckAt };
  }
  return { state: 'progressing', ready, desired, message: parts.join(', ') };
}
