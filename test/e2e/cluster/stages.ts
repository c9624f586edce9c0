// KWOK Stages for the e2e cluster: how simulated nodes and pods behave.
//
// The kwok controller has no kubelet and runs no containers; it moves objects through "stages" (selector ->
// delay -> status patch). These stages go into the kwokctl config file, which replaces KWOK's default stages
// entirely, so this file also supplies the node stages and pod deletion.
//
// A pod's behaviour is chosen by the TAG SUFFIX of its containers' images (the first container whose image
// ends with one of the suffixes below decides; `kubectl set image deployments/md-core md-core=<image>:<tag>`
// is all a test needs). Exactly one pod stage can match any pod state, so behaviour is deterministic.

/** Behaviour selected by an image tag suffix. `N` is a whole number of seconds, e.g. `5.20.0-slow-12s`. */
export const POD_BEHAVIOURS = {
  ready: 'any other tag (or `-ready-Ns`): Running at once, Ready ~2 s (or N s) after start',
  'never-ready': '`-never-ready`: Running, containers started, never Ready',
  crashloop: '`-crashloop`: Running, container waiting CrashLoopBackOff, restartCount +1 every 5 s (cap 100)',
  pullfail: '`-pullfail`: Pending, container waiting ErrImagePull, ImagePullBackOff 3 s later, never starts',
  pullratelimit:
    '`-pullratelimit` (or `-pullratelimit-Ns`): like pullfail with a registry rate-limit message (transient), ' +
    'then Running and Ready 30 s (or N s, at least 3) after start, when the "rate limit" ends',
  flaky: '`-flaky` (or `-flaky-Ns`): Ready ~2 s after creation, unready again 15 s (or N s) after start',
  slow: '`-slow` (or `-slow-Ns`): Running at once, Ready only 90 s (or N s) after start (a long migration)',
} as const;

export type PodBehaviour = keyof typeof POD_BEHAVIOURS;

export const DEFAULT_READY_SECONDS = 2;
export const DEFAULT_SLOW_SECONDS = 90;
export const DEFAULT_FLAKY_SECONDS = 15;
export const CRASHLOOP_PERIOD_MS = 5_000;
export const CRASHLOOP_MAX_RESTARTS = 100;
export const PULL_BACKOFF_DELAY_MS = 3_000;
export const DEFAULT_RATE_LIMIT_SECONDS = 30;
/** The waiting message of a -pullratelimit pod: what a registry's rate limit looks like to the kubelet. */
export const RATE_LIMIT_MESSAGE =
  'toomanyrequests: You have reached your pull rate limit (simulated by the e2e cluster)';

/** Image tag for a behaviour, e.g. `tagFor('5.20.0', 'slow', 10)` -> `5.20.0-slow-10s`. */
export function tagFor(base: string, behaviour: PodBehaviour, seconds?: number): string {
  if (seconds !== undefined) {
    if (!Number.isInteger(seconds) || seconds < 0)
      throw new Error(`seconds must be a whole number: ${seconds}`);
    if (!['ready', 'slow', 'flaky', 'pullratelimit'].includes(behaviour)) {
      throw new Error(`behaviour ${behaviour} takes no duration`);
    }
    return `${base}-${behaviour}-${seconds}s`;
  }
  return behaviour === 'ready' ? base : `${base}-${behaviour}`;
}

// ---- jq building blocks (evaluated by the kwok controller on the pod as JSON) -----------------------------

// Go regexp syntax (RE2). No backslashes anywhere, so no escaping layers to get wrong.
const TAG_RE = '-(?<m>never-ready|crashloop|pullfail|pullratelimit|flaky|slow|ready)(-(?<d>[0-9]+)s)?$';
// {m, d} of the first container image with a known suffix, or {} when none has one.
const CAPTURE = `(first(.spec.containers[]?.image // "" | capture("${TAG_RE}")) // {})`;
const MODE = `(${CAPTURE} | .m // "ready")`;
// Pod start time in epoch seconds (metav1.Time has whole seconds; cut defensively anyway).
const STARTED = '((.status.startTime // .metadata.creationTimestamp) | .[0:19] + "Z" | fromdateiso8601)';

function modeIn(...modes: PodBehaviour[]): object {
  return { jq: { key: MODE, operator: 'In', values: modes } };
}
function modeNotIn(...modes: PodBehaviour[]): object {
  return { jq: { key: MODE, operator: 'NotIn', values: modes } };
}
const NOT_DELETING = { jq: { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' } };
const DELETING = { jq: { key: '.metadata.deletionTimestamp', operator: 'Exists' } };
function phaseIn(...phases: string[]): object {
  return { jq: { key: '.status.phase', operator: 'In', values: phases } };
}
/** Some container of the pod waits with this reason. */
function waitingReasonIs(reason: string): object {
  return {
    jq: {
      key: `[.status.containerStatuses[]?.state.waiting.reason] | any(. == "${reason}")`,
      operator: 'In',
      values: ['true'],
    },
  };
}
const NO_CONTAINER_STATUS = { jq: { key: '.status.containerStatuses', operator: 'DoesNotExist' } };
function readyIs(status: 'True' | 'False'): object {
  // A missing Ready condition counts as not True.
  const key = '[.status.conditions[]? | select(.type == "Ready") | .status] | first // "False"';
  return { jq: { key, operator: 'In', values: [status] } };
}

/** Delay until `start + seconds`, where seconds come from the tag or the behaviour's default. */
function readyAt(defaultSeconds: Record<string, number>): object {
  const table = JSON.stringify(defaultSeconds);
  const expression =
    `${CAPTURE} as $c | (if $c.d then ($c.d | tonumber) else (${table}[$c.m // "ready"] // ${DEFAULT_READY_SECONDS}) end) as $s` +
    ` | (${STARTED} + $s) | todateiso8601`;
  return { durationFrom: { jq: { expression } } };
}

// ---- status templates (Go templates with sprig, rendered by the kwok controller) --------------------------

// True for a container whose image makes it fail in the given mode (same grammar as TAG_RE).
const failing = (mode: string): string => `regexMatch "-${mode}(-[0-9]+s)?$" .image`;

const POD_ADDRESSES = `
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
hostIPs:
- ip: {{ . | Quote }}
{{ end }}
{{ with PodIPWith .spec.nodeName (or .spec.hostNetwork false) (or .metadata.uid "") (or .metadata.name "") (or .metadata.namespace "") }}
podIP: {{ . | Quote }}
podIPs:
- ip: {{ . | Quote }}
{{ end }}`;

const INIT_DONE = `
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ printf "kwok-sim://%s" .image | Quote }}
  ready: true
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}`;

/** Pod conditions; `readinessOnly` touches just ContainersReady and Ready (a later readiness change). */
function conditions(ready: boolean, readinessOnly = false): string {
  const status = ready ? '"True"' : '"False"';
  const reason = ready ? '""' : 'ContainersNotReady';
  const message = ready ? '""' : '{{ $unready }}';
  const startup = readinessOnly
    ? ''
    : `
- type: PodReadyToStartContainers
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
- type: Initialized
  status: "True"
  lastTransitionTime: {{ $now | Quote }}`;
  return `
conditions:${startup}
- type: ContainersReady
  status: ${status}
  reason: ${reason}
  message: ${message}
  lastTransitionTime: {{ $now | Quote }}
- type: Ready
  status: ${status}
  reason: ${reason}
  message: ${message}
  lastTransitionTime: {{ $now | Quote }}`;
}

const UNREADY_NAMES = `{{ $names := list }}{{ range .spec.containers }}{{ $names = append $names .name }}{{ end }}
{{ $unready := printf "containers with unready status: [%s]" (join " " $names) | Quote }}`;

function runningContainers(ready: boolean, startedAt = '$now'): string {
  return `
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ printf "kwok-sim://%s" .image | Quote }}
  ready: ${ready}
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ ${startedAt} | Quote }}
{{ end }}`;
}

const START_RUNNING = `{{ $now := Now }}
${UNREADY_NAMES}
phase: Running
startTime: {{ $now | Quote }}
${conditions(false)}
${INIT_DONE}
${runningContainers(false)}
${POD_ADDRESSES}`;

const BECOME_READY = `{{ $now := Now }}
{{ $started := or .status.startTime $now }}
${conditions(true, true)}
${runningContainers(true, '$started')}`;

const FLAKY_START = `{{ $now := Now }}
phase: Running
startTime: {{ $now | Quote }}
${conditions(true)}
${INIT_DONE}
${runningContainers(true)}
${POD_ADDRESSES}`;

const FLAKY_UNREADY = `{{ $now := Now }}
{{ $started := or .status.startTime $now }}
${UNREADY_NAMES}
${conditions(false, true)}
${runningContainers(false, '$started')}`;

const CRASHLOOP_START = `{{ $now := Now }}
{{ $pod := . }}
${UNREADY_NAMES}
phase: Running
startTime: {{ $now | Quote }}
${conditions(false)}
${INIT_DONE}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ printf "kwok-sim://%s" .image | Quote }}
  {{ if ${failing('crashloop')} }}
  ready: false
  started: false
  restartCount: 1
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
  state:
    waiting:
      reason: CrashLoopBackOff
      message: {{ printf "back-off 10s restarting failed container=%s pod=%s_%s(%s)" .name $pod.metadata.name $pod.metadata.namespace $pod.metadata.uid | Quote }}
  {{ else }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ end }}
{{ end }}
${POD_ADDRESSES}`;

const CRASHLOOP_RESTART = `{{ $now := Now }}
containerStatuses:
{{ range .status.containerStatuses }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ .imageID | Quote }}
  ready: {{ or .ready false }}
  started: {{ or .started false }}
  {{ if ${failing('crashloop')} }}
  restartCount: {{ add .restartCount 1 }}
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
  {{ else }}
  restartCount: {{ .restartCount }}
  {{ with .lastState }}
  lastState: {{ toJson . }}
  {{ end }}
  {{ end }}
  state: {{ toJson .state }}
{{ end }}`;

const PULLFAIL_START = `{{ $now := Now }}
${UNREADY_NAMES}
phase: Pending
startTime: {{ $now | Quote }}
${conditions(false)}
${INIT_DONE}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ErrImagePull
      message: {{ printf "failed to pull and unpack image %q: not found (simulated by the e2e cluster)" .image | Quote }}
{{ end }}
${POD_ADDRESSES}`;

const PULLFAIL_BACKOFF = `containerStatuses:
{{ range .status.containerStatuses }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ImagePullBackOff
      message: {{ printf "Back-off pulling image %q" .image | Quote }}
{{ end }}`;

const RATE_LIMITED_START = `{{ $now := Now }}
${UNREADY_NAMES}
phase: Pending
startTime: {{ $now | Quote }}
${conditions(false)}
${INIT_DONE}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ErrImagePull
      message: {{ printf "failed to pull and unpack image %q: ${RATE_LIMIT_MESSAGE}" .image | Quote }}
{{ end }}
${POD_ADDRESSES}`;

const RATE_LIMITED_BACKOFF = `containerStatuses:
{{ range .status.containerStatuses }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ImagePullBackOff
      message: {{ printf "Back-off pulling image %q: ErrImagePull: ${RATE_LIMIT_MESSAGE}" .image | Quote }}
{{ end }}`;

// The pull got through: Running and Ready at once (addresses were set at the start; waiting removed).
const RATE_LIMIT_OVER = `{{ $now := Now }}
phase: Running
${conditions(true)}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ printf "kwok-sim://%s" .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    waiting: null
    running:
      startedAt: {{ $now | Quote }}
{{ end }}`;

// ---- nodes ------------------------------------------------------------------------------------------------

const NODE_CONDITIONS = `
conditions:
{{ range NodeConditions }}
- type: {{ .type | Quote }}
  status: {{ .status | Quote }}
  reason: {{ .reason | Quote }}
  message: {{ .message | Quote }}
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $since | Quote }}
{{ end }}`;

const NODE_INITIALIZE = `{{ $now := Now }}
{{ $since := or .metadata.creationTimestamp $now }}
${NODE_CONDITIONS}
{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
{{ $info := or .status.nodeInfo (dict) }}
nodeInfo:
  architecture: {{ or $info.architecture "amd64" | Quote }}
  operatingSystem: {{ or $info.operatingSystem "linux" | Quote }}
  kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
  kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
  containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
  kernelVersion: {{ printf "kwok-%s" Version | Quote }}
  osImage: "kwok simulated node"
  machineID: ""
  bootID: ""
  systemUUID: ""
phase: Running`;

const NODE_HEARTBEAT = `{{ $now := Now }}
{{ $since := or .metadata.creationTimestamp $now }}
${NODE_CONDITIONS}`;

// ---- assembly ---------------------------------------------------------------------------------------------

interface StageDoc {
  apiVersion: 'kwok.x-k8s.io/v1alpha1';
  kind: 'Stage';
  metadata: { name: string };
  spec: Record<string, unknown>;
}

function stage(
  name: string,
  kind: 'Pod' | 'Node',
  matchExpressions: object[],
  step: object,
  delay?: object,
): StageDoc {
  const spec: Record<string, unknown> = {
    resourceRef: { apiGroup: 'v1', kind },
    selector: { matchExpressions },
    steps: [step],
  };
  if (delay) spec.delay = delay;
  return { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Stage', metadata: { name }, spec };
}

const statusPatch = (template: string): object => ({
  patch: { subresource: 'status', root: 'status', template },
});

/** All stages, as objects ready to be serialised into the kwokctl config file. */
export function clusterStages(): StageDoc[] {
  const pending = [NOT_DELETING, phaseIn('Pending'), NO_CONTAINER_STATUS];
  return [
    // Nodes: Ready on registration, conditions refreshed every 20-45 s.
    stage(
      'mdcore-node-initialize',
      'Node',
      [
        {
          jq: {
            key: '[.status.conditions[]? | select(.type == "Ready") | .status] | first // "False"',
            operator: 'NotIn',
            values: ['True'],
          },
        },
      ],
      statusPatch(NODE_INITIALIZE),
    ),
    stage(
      'mdcore-node-heartbeat',
      'Node',
      [
        phaseIn('Running'),
        {
          jq: {
            key: '[.status.conditions[]? | select(.type == "Ready") | .status] | first // "False"',
            operator: 'In',
            values: ['True'],
          },
        },
      ],
      statusPatch(NODE_HEARTBEAT),
      { durationMilliseconds: 20_000, jitterDurationMilliseconds: 45_000 },
    ),

    // Pods being deleted vanish at once (ReplicaSet scale-down and rollouts complete).
    stage('mdcore-pod-delete', 'Pod', [DELETING], { delete: true }),

    // Start: Running with started-but-unready containers (ready, slow, never-ready).
    stage(
      'mdcore-pod-start',
      'Pod',
      [...pending, modeNotIn('crashloop', 'pullfail', 'pullratelimit', 'flaky')],
      statusPatch(START_RUNNING),
    ),
    // Ready after the tag's delay, counted from the pod's start time (robust to re-queueing).
    stage(
      'mdcore-pod-ready',
      'Pod',
      [NOT_DELETING, phaseIn('Running'), readyIs('False'), modeIn('ready', 'slow')],
      statusPatch(BECOME_READY),
      readyAt({ ready: DEFAULT_READY_SECONDS, slow: DEFAULT_SLOW_SECONDS }),
    ),

    // Flaky: Ready shortly after creation, unready N s after start, and it stays unready.
    stage('mdcore-pod-flaky-start', 'Pod', [...pending, modeIn('flaky')], statusPatch(FLAKY_START), {
      durationMilliseconds: DEFAULT_READY_SECONDS * 1000,
    }),
    stage(
      'mdcore-pod-flaky-unready',
      'Pod',
      [NOT_DELETING, phaseIn('Running'), readyIs('True'), modeIn('flaky')],
      statusPatch(FLAKY_UNREADY),
      readyAt({ flaky: DEFAULT_FLAKY_SECONDS }),
    ),

    // Crash loop: waiting CrashLoopBackOff, restart count growing (bounded).
    stage(
      'mdcore-pod-crashloop-start',
      'Pod',
      [...pending, modeIn('crashloop')],
      statusPatch(CRASHLOOP_START),
    ),
    stage(
      'mdcore-pod-crashloop-restart',
      'Pod',
      [
        NOT_DELETING,
        phaseIn('Running'),
        modeIn('crashloop'),
        {
          jq: {
            key: `([.status.containerStatuses[]?.restartCount] | max // 0) < ${CRASHLOOP_MAX_RESTARTS}`,
            operator: 'In',
            values: ['true'],
          },
        },
      ],
      statusPatch(CRASHLOOP_RESTART),
      { durationMilliseconds: CRASHLOOP_PERIOD_MS },
    ),

    // Image pull failure: ErrImagePull, then ImagePullBackOff; the pod never leaves Pending.
    stage('mdcore-pod-pullfail-start', 'Pod', [...pending, modeIn('pullfail')], statusPatch(PULLFAIL_START)),
    stage(
      'mdcore-pod-pullfail-backoff',
      'Pod',
      [
        NOT_DELETING,
        phaseIn('Pending'),
        modeIn('pullfail'),
        {
          jq: {
            key: '[.status.containerStatuses[]?.state.waiting.reason] | any(. == "ErrImagePull")',
            operator: 'In',
            values: ['true'],
          },
        },
      ],
      statusPatch(PULLFAIL_BACKOFF),
      { durationMilliseconds: PULL_BACKOFF_DELAY_MS },
    ),

    // Registry rate limit: ErrImagePull, ImagePullBackOff 3 s later, then the pull gets through (Ready).
    stage(
      'mdcore-pod-pullratelimit-start',
      'Pod',
      [...pending, modeIn('pullratelimit')],
      statusPatch(RATE_LIMITED_START),
    ),
    stage(
      'mdcore-pod-pullratelimit-backoff',
      'Pod',
      [NOT_DELETING, phaseIn('Pending'), modeIn('pullratelimit'), waitingReasonIs('ErrImagePull')],
      statusPatch(RATE_LIMITED_BACKOFF),
      { durationMilliseconds: PULL_BACKOFF_DELAY_MS },
    ),
    stage(
      'mdcore-pod-pullratelimit-end',
      'Pod',
      [NOT_DELETING, phaseIn('Pending'), modeIn('pullratelimit'), waitingReasonIs('ImagePullBackOff')],
      statusPatch(RATE_LIMIT_OVER),
      readyAt({ pullratelimit: DEFAULT_RATE_LIMIT_SECONDS }),
    ),
  ];
}
