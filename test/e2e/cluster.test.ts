// The e2e cluster itself, proven on the real control plane: simulated pod behaviours (KWOK stages chosen by
// image tag), the fixture charts installed with real Helm 3 and Helm 4, real `kubectl set image` /
// `rollout status` / `rollout undo`, loopback-only listeners, and a clean stop().
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  chartArgs,
  e2eCluster,
  freshNamespace,
  helm,
  kubectl,
  kubectlJson,
  type Namespace,
  waitFor,
} from './cluster/context.ts';
import { isProcessAlive, KUBE_VERSION, listeningSockets, startCluster } from './cluster/harness.ts';
import { DEFAULT_FLAKY_SECONDS, DEFAULT_SLOW_SECONDS, tagFor } from './cluster/stages.ts';

const REPO = 'opswat/metadefendercore-debian';

// ---- types and helpers --------------------------------------------------------------------------------------

interface Condition {
  type: string;
  status: string;
  reason?: string;
  lastTransitionTime?: string;
}
interface ContainerState {
  running?: { startedAt?: string };
  waiting?: { reason?: string; message?: string };
  terminated?: { exitCode?: number; reason?: string };
}
interface ContainerStatus {
  name: string;
  image: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: ContainerState;
  lastState?: ContainerState;
}
interface Pod {
  metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { containers: { name: string; image: string }[]; initContainers?: { name: string; image: string }[] };
  status: {
    phase?: string;
    startTime?: string;
    podIP?: string;
    conditions?: Condition[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}
interface List<T> {
  items: T[];
}

const seconds = (iso: string | undefined): number => {
  if (!iso) throw new Error('missing timestamp');
  return Date.parse(iso) / 1000;
};
const condition = (pod: Pod, type: string): Condition | undefined =>
  pod.status.conditions?.find((c) => c.type === type);
const isReady = (pod: Pod): boolean => condition(pod, 'Ready')?.status === 'True';
const mdCore = (pod: Pod): ContainerStatus | undefined =>
  pod.status.containerStatuses?.find((c) => c.name === 'md-core');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A pod shaped like md-core's: init container check-db-ready (fixed tag) and container md-core. */
function podManifest(name: string, tag: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'behaviour-probe' } },
    spec: {
      initContainers: [{ name: 'check-db-ready', image: `${REPO}:5.20.0`, command: ['true'] }],
      containers: [
        {
          name: 'md-core',
          image: `${REPO}:${tag}`,
          resources: { requests: { cpu: '4', memory: '4Gi', 'ephemeral-storage': '60Gi' } },
        },
      ],
    },
  });
}

async function createPod(ns: string, name: string, tag: string): Promise<void> {
  await kubectl(['apply', '-n', ns, '-f', '-'], { input: podManifest(name, tag) });
}

const getPod = (ns: string, name: string): Promise<Pod> => kubectlJson<Pod>(['get', 'pod', name, '-n', ns]);

/** Waits for a pod state, returning the pod that satisfied `ok`. */
function podWhen(
  ns: string,
  name: string,
  what: string,
  ok: (p: Pod) => boolean,
  timeoutMs = 30_000,
): Promise<Pod> {
  return waitFor(
    `pod ${ns}/${name} ${what}`,
    async () => {
      const p = await getPod(ns, name);
      return ok(p) ? p : undefined;
    },
    { timeoutMs, intervalMs: 300 },
  );
}

/**
 * Records every update of a pod as one line (phase, Ready, md-core waiting reason) through a real
 * `kubectl get --watch`, so short-lived states cannot be missed by polling. A watch on a name that does not
 * exist yet prints nothing, so the watch covers the whole namespace and a sentinel pod proves it is
 * established before the caller creates the pod under test. Stopped by pid.
 */
async function watchPod(ns: string, name: string): Promise<{ lines: string[]; stop: () => void }> {
  const c = e2eCluster();
  const template =
    '{.metadata.name} {.status.phase} ready={.status.conditions[?(@.type=="Ready")].status}' +
    ' waiting={.status.containerStatuses[?(@.name=="md-core")].state.waiting.reason}{"\\n"}';
  const child = spawn(
    c.kubectl,
    ['--kubeconfig', c.kubeconfig, 'get', 'pods', '-n', ns, '--watch', '-o', `jsonpath=${template}`],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const all: string[] = [];
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    all.push(...parts.filter((l) => l.trim() !== ''));
  });
  const timer = setTimeout(() => stop(), 240_000); // never outlive a test
  const stop = (): void => {
    clearTimeout(timer);
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
  };
  try {
    await createPod(ns, 'watch-sentinel', '5.20.0');
    await waitFor('kubectl watch to be established', async () =>
      all.some((l) => l.startsWith('watch-sentinel ')) ? true : undefined,
    );
  } catch (e) {
    stop();
    throw e;
  }
  const lines: string[] = [];
  const own = (l: string): boolean => l.startsWith(`${name} `);
  return {
    get lines() {
      lines.splice(0, lines.length, ...all.filter(own));
      return lines;
    },
    stop,
  };
}

async function namespaceFor(
  prefix: string,
  onTestFinished: (fn: () => Promise<void>) => void,
): Promise<Namespace> {
  const ns = await freshNamespace(prefix);
  onTestFinished(() => ns.cleanup());
  return ns;
}

// ---- the cluster itself ---------------------------------------------------------------------------------------

describe.concurrent('e2e cluster', () => {
  test(
    `-slow: Running at once, Ready only ~${DEFAULT_SLOW_SECONDS} s after start`,
    { timeout: 200_000 },
    async ({ expect, onTestFinished }) => {
      const ns = await namespaceFor('slow', onTestFinished);
      await createPod(ns.name, 'slow', tagFor('5.20.0', 'slow'));
      const running = await podWhen(ns.name, 'slow', 'running', (p) => p.status.phase === 'Running');
      expect(isReady(running)).toBe(false);
      expect(mdCore(running)?.state.running).toBeDefined();
      const start = seconds(running.status.startTime);
      // Still migrating 60 s in (when the chart's readiness probe would first run).
      await sleep(Math.max(0, (start + 60) * 1000 - Date.now()));
      expect(isReady(await getPod(ns.name, 'slow'))).toBe(false);
      const ready = await podWhen(ns.name, 'slow', 'ready', isReady, 90_000);
      const after = seconds(condition(ready, 'Ready')?.lastTransitionTime) - start;
      expect(after).toBeGreaterThanOrEqual(DEFAULT_SLOW_SECONDS - 1);
      expect(after).toBeLessThan(DEFAULT_SLOW_SECONDS + 20);
    },
  );

  test('default tag: Running, init container completed, Ready ~2 s after start', async ({
    expect,
    onTestFinished,
  }) => {
    const ns = await namespaceFor('ready', onTestFinished);
    await createPod(ns.name, 'ok', '5.20.0');
    const pod = await podWhen(ns.name, 'ok', 'ready', isReady);
    expect(pod.status.phase).toBe('Running');
    const delay = seconds(condition(pod, 'Ready')?.lastTransitionTime) - seconds(pod.status.startTime);
    expect(delay).toBeGreaterThanOrEqual(1);
    expect(delay).toBeLessThanOrEqual(10);
    expect(mdCore(pod)).toMatchObject({ ready: true, started: true, restartCount: 0 });
    expect(mdCore(pod)?.state.running?.startedAt).toBeDefined();
    const init = pod.status.initContainerStatuses?.find((c) => c.name === 'check-db-ready');
    expect(init?.state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(condition(pod, 'Initialized')?.status).toBe('True');
    expect(pod.status.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  test('-ready-Ns and -slow-Ns pick the readiness delay', async ({ expect, onTestFinished }) => {
    const ns = await namespaceFor('delay', onTestFinished);
    await createPod(ns.name, 'ready8', tagFor('5.20.0', 'ready', 8));
    await createPod(ns.name, 'slow5', tagFor('5.20.0', 'slow', 5));
    for (const [name, want] of [
      ['ready8', 8],
      ['slow5', 5],
    ] as const) {
      const pod = await podWhen(ns.name, name, 'ready', isReady);
      const delay = seconds(condition(pod, 'Ready')?.lastTransitionTime) - seconds(pod.status.startTime);
      expect(delay, name).toBeGreaterThanOrEqual(want - 1);
      expect(delay, name).toBeLessThanOrEqual(want + 8);
    }
  });

  test('-never-ready: Running, container started, never Ready', async ({ expect, onTestFinished }) => {
    const ns = await namespaceFor('never', onTestFinished);
    await createPod(ns.name, 'never', tagFor('5.20.0', 'never-ready'));
    const running = await podWhen(ns.name, 'never', 'running', (p) => p.status.phase === 'Running');
    const start = seconds(running.status.startTime);
    // Observe for 12 s after start (6x the default readiness delay): never Ready, always started.
    for (let i = 0; i < 40 && Date.now() / 1000 < start + 12; i++) {
      const pod = await getPod(ns.name, 'never');
      expect(isReady(pod)).toBe(false);
      expect(mdCore(pod)).toMatchObject({ ready: false, started: true, restartCount: 0 });
      expect(mdCore(pod)?.state.running).toBeDefined();
      await sleep(1_000);
    }
    expect(Date.now() / 1000).toBeGreaterThanOrEqual(start + 12);
    expect(condition(await getPod(ns.name, 'never'), 'ContainersReady')?.status).toBe('False');
  });

  test('-crashloop: waiting CrashLoopBackOff with a growing restartCount', async ({
    expect,
    onTestFinished,
  }) => {
    const ns = await namespaceFor('crash', onTestFinished);
    await createPod(ns.name, 'crash', tagFor('5.20.0', 'crashloop'));
    const first = await podWhen(
      ns.name,
      'crash',
      'crash-looping',
      (p) => (mdCore(p)?.restartCount ?? 0) >= 1,
    );
    expect(mdCore(first)?.state.waiting?.reason).toBe('CrashLoopBackOff');
    expect(mdCore(first)?.lastState?.terminated?.exitCode).toBe(1);
    expect(isReady(first)).toBe(false);
    const r0 = mdCore(first)?.restartCount ?? 0;
    const later = await podWhen(
      ns.name,
      'crash',
      'restarting again',
      (p) => (mdCore(p)?.restartCount ?? 0) >= r0 + 2,
      30_000,
    );
    expect(mdCore(later)?.state.waiting?.reason).toBe('CrashLoopBackOff');
    expect(isReady(later)).toBe(false);
  });

  test('-pullfail: ErrImagePull, then ImagePullBackOff, never started', async ({
    expect,
    onTestFinished,
  }) => {
    const ns = await namespaceFor('pull', onTestFinished);
    const watch = await watchPod(ns.name, 'pull');
    onTestFinished(async () => watch.stop());
    await createPod(ns.name, 'pull', tagFor('5.20.0', 'pullfail'));
    const pod = await podWhen(
      ns.name,
      'pull',
      'in ImagePullBackOff',
      (p) => mdCore(p)?.state.waiting?.reason === 'ImagePullBackOff',
    );
    expect(pod.status.phase).toBe('Pending');
    expect(mdCore(pod)).toMatchObject({ ready: false, started: false });
    await waitFor('watch to see ImagePullBackOff', async () =>
      watch.lines.some((l) => l.includes('waiting=ImagePullBackOff')) ? true : undefined,
    );
    watch.stop();
    const reasons = watch.lines.map((l) => /waiting=(\S*)/.exec(l)?.[1] ?? '').filter((r) => r !== '');
    expect(reasons.indexOf('ErrImagePull')).toBeGreaterThanOrEqual(0);
    expect(reasons.indexOf('ErrImagePull')).toBeLessThan(reasons.indexOf('ImagePullBackOff'));
    expect(watch.lines.every((l) => !l.includes('ready=True'))).toBe(true);
  });

  test(`-flaky: Ready first, unready ~${DEFAULT_FLAKY_SECONDS} s after start, and stays unready`, async ({
    expect,
    onTestFinished,
  }) => {
    const ns = await namespaceFor('flaky', onTestFinished);
    await createPod(ns.name, 'flaky', tagFor('5.20.0', 'flaky'));
    const ready = await podWhen(ns.name, 'flaky', 'ready', isReady);
    const start = seconds(ready.status.startTime);
    const unready = await podWhen(
      ns.name,
      'flaky',
      'unready again',
      (p) => p.status.phase === 'Running' && !isReady(p),
      DEFAULT_FLAKY_SECONDS * 1000 + 30_000,
    );
    const after = seconds(condition(unready, 'Ready')?.lastTransitionTime) - start;
    expect(after).toBeGreaterThanOrEqual(DEFAULT_FLAKY_SECONDS - 1);
    expect(after).toBeLessThanOrEqual(DEFAULT_FLAKY_SECONDS + 10);
    expect(mdCore(unready)).toMatchObject({ ready: false, started: true });
    await sleep(4_000);
    expect(isReady(await getPod(ns.name, 'flaky'))).toBe(false);
  });

  test('deleted pods vanish: ReplicaSet scale-down completes', async ({ expect, onTestFinished }) => {
    const ns = await namespaceFor('scale', onTestFinished);
    await kubectl(['create', 'deployment', 'web', '-n', ns.name, `--image=${REPO}:5.20.0`, '--replicas=3']);
    await kubectl(['rollout', 'status', 'deployment/web', '-n', ns.name, '--timeout=60s']);
    await kubectl(['scale', 'deployment/web', '-n', ns.name, '--replicas=1']);
    const pods = await waitFor(
      '2 pods to vanish',
      async () => {
        const l = await kubectlJson<List<Pod>>(['get', 'pods', '-n', ns.name, '-l', 'app=web']);
        return l.items.length === 1 ? l.items : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(pods[0] && isReady(pods[0])).toBe(true);
    const rs = await kubectlJson<List<{ status: { replicas: number } }>>([
      'get',
      'rs',
      '-n',
      ns.name,
      '-l',
      'app=web',
    ]);
    expect(rs.items.map((r) => r.status.replicas)).toEqual([1]);
  });

  test('control plane: real Kubernetes v1.36.3, TLS + RBAC, loopback-only listeners, 2 big nodes', async ({
    expect,
  }) => {
    const c = e2eCluster();
    // global-setup also exports the cluster for code that does not use inject().
    expect([process.env.KUBECONFIG_E2E, process.env.MDCORE_E2E_BIN, process.env.MDCORE_E2E_KUBECTL]).toEqual([
      c.kubeconfig,
      c.binDir,
      c.kubectl,
    ]);
    expect([process.env.MDCORE_E2E_HELM3, process.env.MDCORE_E2E_HELM4]).toEqual([c.helm3, c.helm4]);
    const version = await kubectlJson<{ serverVersion: { gitVersion: string } }>(['version']);
    expect(version.serverVersion.gitVersion).toBe(KUBE_VERSION);
    const server = (
      await kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])
    ).stdout;
    expect(server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const denied = await kubectl(
      ['auth', 'can-i', 'list', 'secrets', '--as=system:serviceaccount:default:default'],
      {
        allowFailure: true,
      },
    );
    expect(denied.stdout.trim()).toBe('no');
    expect((await kubectl(['auth', 'can-i', 'list', 'secrets'])).stdout.trim()).toBe('yes');

    const sockets = await listeningSockets(c.pids);
    expect(new Set(sockets.map((s) => s.pid)).size).toBe(c.pids.length);
    expect(sockets.filter((s) => s.address !== '127.0.0.1' && s.address !== '::1')).toEqual([]);

    type Node = { status: { allocatable: Record<string, string>; conditions: Condition[] } };
    const nodes = await kubectlJson<List<Node>>(['get', 'nodes']);
    expect(nodes.items).toHaveLength(2);
    for (const n of nodes.items) {
      expect(n.status.conditions.find((x) => x.type === 'Ready')?.status).toBe('True');
      expect(Number(n.status.allocatable.cpu)).toBeGreaterThanOrEqual(200);
      expect(Number(n.status.allocatable.pods)).toBeGreaterThanOrEqual(110);
    }
  });

  test('fixture charts render the documented shapes (5.19.0 vs 5.20.0)', async ({ expect }) => {
    type Doc = {
      kind: string;
      metadata: { name: string; annotations?: Record<string, string> };
      data?: Record<string, string>;
      spec?: {
        strategy?: unknown;
        template: {
          spec: {
            initContainers?: { name: string; image: string }[];
            containers: {
              name: string;
              image: string;
              envFrom?: { configMapRef: { name: string } }[];
              env?: { name: string }[];
              resources?: unknown;
              readinessProbe?: unknown;
              livenessProbe?: { initialDelaySeconds: number; failureThreshold: number };
              volumeMounts?: { mountPath: string }[];
            }[];
          };
        };
      };
    };
    const render = async (version: string): Promise<Doc[]> => {
      const out = await helm(3, ['template', 'mdcore', ...chartArgs(version), '--namespace', 'ns1']);
      return parseAllDocuments(out.stdout)
        .map((d) => d.toJS() as Doc | null)
        .filter((d): d is Doc => d !== null);
    };
    for (const version of ['5.19.0', '5.20.0']) {
      const docs = await render(version);
      const get = (kind: string, name: string): Doc => {
        const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
        if (!d) throw new Error(`${version}: no ${kind} ${name}`);
        return d;
      };
      const core = get('Deployment', 'md-core').spec!;
      const container = core.template.spec.containers[0]!;
      expect(container.name).toBe('md-core');
      expect(container.image).toBe(`${REPO}:${version}`);
      expect(container.envFrom?.map((e) => e.configMapRef.name)).toEqual(['mdcore-env', 'mdcore-config']);
      expect(container.resources).toEqual({
        requests: { cpu: '4.0', memory: '4Gi', 'ephemeral-storage': '60Gi' },
      });
      expect(container.readinessProbe).toMatchObject({
        httpGet: { path: '/readyz', port: 8008 },
        initialDelaySeconds: 60,
        periodSeconds: 10,
        timeoutSeconds: 10,
      });
      expect(container.livenessProbe).toMatchObject({ initialDelaySeconds: 90, failureThreshold: 3 });
      expect(core.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0 } });
      expect(core.template.spec.initContainers?.map((c) => [c.name, c.image])).toEqual([
        ['check-db-ready', `${REPO}:${version}`],
      ]);
      expect(get('ConfigMap', 'mdcore-config').data).toMatchObject({
        UPGRADE_DB: 'false',
        MIGRATE_HISTORY: 'false',
        MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core',
      });
      expect(Object.keys(get('ConfigMap', 'mdcore-env').data ?? {})).toEqual(
        expect.arrayContaining([
          'REST_PORT',
          'DB_MODE',
          'DB_TYPE',
          'DB_HOST',
          'DB_PORT',
          'ACTIVATION_SERVER',
        ]),
      );
      for (const s of ['mdcore-cred', 'mdcore-api-key', 'mdcore-license-key', 'mdcore-postgres-cred']) {
        expect(get('Secret', s).metadata.annotations?.['helm.sh/resource-policy'], s).toBe('keep');
      }
      expect(Buffer.from(get('Secret', 'mdcore-license-key').data?.value ?? '', 'base64').toString()).toBe(
        '<SET_LICENSE_KEY_HERE>',
      );
      get('Service', 'md-core');
      get('Service', 'postgres-core');
      const pgMounts =
        get('Deployment', 'postgres-core').spec!.template.spec.containers[0]!.volumeMounts ?? [];
      const ignition = container.env?.some((e) => e.name === 'IGNITION_JSON');
      if (version === '5.19.0') {
        expect(pgMounts.map((m) => m.mountPath)).toEqual(['/var/lib/postgresql/data']);
        expect(ignition).toBe(true);
        get('Secret', 'mdcore-stack-configs');
      } else {
        expect(pgMounts).toEqual([]);
        expect(ignition).toBe(false);
        expect(get('ConfigMap', 'mdcore-env').data?.STORAGE_PATH).toBe('/metadefendercore');
      }
    }
  });

  // The "done when" of the cluster work: real helm install, real kubectl set image / rollout / undo.
  test.for([
    { major: 3 as const, chart: '5.19.0', next: '5.20.0' },
    { major: 4 as const, chart: '5.20.0', next: '5.21.0' },
  ])(
    'helm $major installs fixture $chart; set image -> $next rolls out; -never-ready is undone',
    { timeout: 300_000 },
    async ({ major, chart, next }, { expect, onTestFinished }) => {
      const ns = await namespaceFor(`helm${major}`, onTestFinished);
      const n = ['-n', ns.name];
      const waitArgs = major === 3 ? ['--wait'] : ['--wait=watcher'];
      await helm(major, ['install', 'mdcore', ...chartArgs(chart), ...n, ...waitArgs, '--timeout', '3m'], {
        timeoutMs: 200_000,
      });
      const status = await helm(major, ['status', 'mdcore', ...n, '-o', 'json']);
      expect(JSON.parse(status.stdout)).toMatchObject({ info: { status: 'deployed' } });
      await kubectl(['rollout', 'status', 'deployments/md-core', ...n, '--timeout=120s']);
      await kubectl(['rollout', 'status', 'deployments/postgres-core', ...n, '--timeout=120s']);
      const pg = await kubectlJson<List<Pod>>(['get', 'pods', ...n, '-l', 'app=postgres-core']);
      expect(pg.items.map(isReady)).toEqual([true]);

      const images = async (): Promise<{ image: string; ready: boolean; ip?: string }[]> => {
        const l = await kubectlJson<List<Pod>>(['get', 'pods', ...n, '-l', 'app=md-core']);
        return l.items
          .filter((p) => !p.metadata.deletionTimestamp)
          .map((p) => ({ image: p.spec.containers[0]!.image, ready: isReady(p), ip: p.status.podIP }));
      };
      expect(await images()).toEqual([{ image: `${REPO}:${chart}`, ready: true, ip: expect.any(String) }]);

      // Upgrade the image the documented kubectl way, and see the rollout complete.
      await kubectl(['set', 'image', 'deployments/md-core', `md-core=${REPO}:${next}`, ...n]);
      await kubectl(['rollout', 'status', 'deployments/md-core', ...n, '--timeout=120s']);
      const upgraded = await waitFor('only the new pod left', async () => {
        const i = await images();
        return i.length === 1 ? i : undefined;
      });
      expect(upgraded).toEqual([{ image: `${REPO}:${next}`, ready: true, ip: expect.any(String) }]);
      const dep = await kubectlJson<{ spec: { template: Pod } }>(['get', 'deployment', 'md-core', ...n]);
      expect(dep.spec.template.spec.initContainers?.[0]?.image).toBe(`${REPO}:${chart}`); // untouched

      // Break it: a tag that never turns Ready. The rollout does not complete.
      await kubectl(['set', 'image', 'deployments/md-core', `md-core=${REPO}:${next}-never-ready`, ...n]);
      const stuck = await kubectl(['rollout', 'status', 'deployments/md-core', ...n, '--timeout=15s'], {
        allowFailure: true,
      });
      expect(stuck.code).not.toBe(0);
      const broken = await images();
      expect(broken).toContainEqual({
        image: `${REPO}:${next}-never-ready`,
        ready: false,
        ip: expect.any(String),
      });

      // Undo: the previous image serves again.
      await kubectl(['rollout', 'undo', 'deployments/md-core', ...n]);
      await kubectl(['rollout', 'status', 'deployments/md-core', ...n, '--timeout=120s']);
      const restored = await waitFor('never-ready pods gone', async () => {
        const i = await images();
        return i.every((p) => p.image === `${REPO}:${next}`) ? i : undefined;
      });
      expect(restored).toEqual([{ image: `${REPO}:${next}`, ready: true, ip: expect.any(String) }]);
      const serving = await waitFor('md-core endpoint ready', async () => {
        const slices = await kubectlJson<
          List<{ endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }>
        >(['get', 'endpointslices', ...n, '-l', 'kubernetes.io/service-name=md-core']);
        const ready = slices.items
          .flatMap((s) => s.endpoints ?? [])
          .filter((e) => e.conditions?.ready)
          .flatMap((e) => e.addresses);
        return ready.length === 1 ? ready : undefined;
      });
      expect(serving).toEqual([restored[0]!.ip]);
      const after = await kubectlJson<{ metadata: { annotations: Record<string, string> } }>([
        'get',
        'deployment',
        'md-core',
        ...n,
      ]);
      // 1 install, 2 upgrade, 3 never-ready, 4 = revision 2 brought back by undo.
      expect(after.metadata.annotations['deployment.kubernetes.io/revision']).toBe('4');

      // Uninstall keeps the Secrets (helm.sh/resource-policy: keep).
      await helm(major, ['uninstall', 'mdcore', ...n, '--wait'], { timeoutMs: 120_000 });
      const secrets = await kubectlJson<List<{ metadata: { name: string } }>>(['get', 'secrets', ...n]);
      expect(secrets.items.map((s) => s.metadata.name)).toEqual(
        expect.arrayContaining([
          'mdcore-cred',
          'mdcore-api-key',
          'mdcore-license-key',
          'mdcore-postgres-cred',
        ]),
      );
    },
  );
});

describe('cluster lifecycle', () => {
  test('stop() leaves no process, socket or directory behind', { timeout: 240_000 }, async ({ expect }) => {
    const c = e2eCluster();
    const second = await startCluster({ name: `mdcore-stop-${process.pid}`, nodes: 1, toolsDir: c.toolsDir });
    let stopped = false;
    try {
      const names = second.processes.map((p) => p.component).sort();
      expect(names).toEqual([
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
        'kube-scheduler',
        'kwok-controller',
      ]);
      for (const p of second.processes) expect(await isProcessAlive(p), p.component).toBe(true);
      const sockets = await listeningSockets(second.processes.map((p) => p.pid));
      expect(sockets.length).toBeGreaterThanOrEqual(5);
      expect(sockets.every((s) => s.address === '127.0.0.1')).toBe(true);
      // The cluster is usable before it is stopped.
      const nodes = await waitFor('node list', async () => {
        const r = await kubectl(['--kubeconfig', second.kubeconfig, 'get', 'nodes', '-o', 'name']);
        return r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
      });
      expect(nodes.split('\n')).toHaveLength(1);

      await second.stop();
      stopped = true;
      for (const p of second.processes) expect(await isProcessAlive(p), p.component).toBe(false);
      expect(await listeningSockets(second.processes.map((p) => p.pid))).toEqual([]);
      expect(existsSync(second.workdir)).toBe(false);
      await second.stop(); // idempotent
    } finally {
      if (!stopped) await second.stop();
    }
  });
});
