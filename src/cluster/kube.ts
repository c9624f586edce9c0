// The Kubernetes API as the engine needs it: read, patch, check permissions, watch. @kubernetes/client-node is
// loaded only here, and only when a run gets this far (it costs ~0.25 s to load).
import type * as ClientNodeModule from './client-node.ts';
type ClientNode = typeof ClientNodeModule;
import type {
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CoreV1Event,
  DiscoveryV1Api,
  KubeConfig,
  V1ConfigMap,
  V1Deployment,
  V1Lease,
  V1Pod,
  V1ReplicaSet,
  V1EndpointSlice,
  V1Service,
} from '@kubernetes/client-node';
import { describeConnectFailure } from './connect-error.ts';
import type { LeaseObject } from './lease.ts';
import { kubeconfigForTools } from './kubeconfig-file.ts';
import { kubeRequest } from './service-proxy.ts';
import { uncoveredChecks, type ResourceRule } from './rules-review.ts';

export interface KubeConnectOptions {
  /** Kubeconfig file content; when absent, KUBECONFIG or ~/.kube/config (or in-cluster). */
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
}

export interface AccessCheck {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly name?: string;
}

/** KEDA's ScaledObject, as far as the action reads it. */
export interface ScaledObject {
  metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { scaleTargetRef?: { name?: string; kind?: string; apiVersion?: string } };
}

/** Where ScaledObjects are served: KEDA's API group, version and resource. */
export const SCALED_OBJECTS = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' } as const;

export class KubeError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
  }
}

interface RulesReview {
  readonly rules: readonly ResourceRule[];
  readonly incomplete: boolean;
}

type WatchEvent = { type: string; object: Record<string, unknown> };

/** Requests this process's Kube clients sent (a watch counts once, when opened): the rehearsal reports them. */
let requestsSent = 0;
export const apiRequestsSent = (): number => requestsSent;

/** A watch that receives nothing (not even a bookmark) for this long is treated as dead and resumed. */
export const WATCH_INACTIVITY_MS = 5 * 60_000;

export interface WatchHandle {
  abort(): void;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

function messageOf(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  let body = e?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      /* keep text */
    }
  }
  const m = (body as { message?: string } | undefined)?.message;
  return m ?? (typeof body === 'string' && body ? body : (e?.message ?? String(err)));
}

function scaledObjectsPath(namespace: string): string {
  const { group, version, plural } = SCALED_OBJECTS;
  return `/apis/${group}/${version}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

/** The client's Lease model as plain JSON (its MicroTime fields arrive as strings or Dates). */
function toLease(l: V1Lease): LeaseObject {
  return l as unknown as LeaseObject;
}

export class Kube {
  readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly authz: AuthorizationV1Api;
  private readonly lib: ClientNode;

  /** What the client's own requests send as User-Agent; watches are given it too (watch()). */
  private readonly userAgent: string;

  private constructor(lib: ClientNode, kc: KubeConfig, userAgent: string) {
    this.lib = lib;
    this.userAgent = userAgent;
    this.kc = kc;
    this.core = kc.makeApiClient(lib.CoreV1Api);
    this.apps = kc.makeApiClient(lib.AppsV1Api);
    this.authz = kc.makeApiClient(lib.AuthorizationV1Api);
  }

  static async connect(options: KubeConnectOptions): Promise<Kube> {
    const [lib, pkg] = await Promise.all([
      import('./client-node.ts'),
      import('@kubernetes/client-node/package.json', { with: { type: 'json' } }),
    ]);
    const kc = new lib.KubeConfig();
    if (options.kubeconfig) kc.loadFromString(options.kubeconfig);
    else kc.loadFromDefault();
    if (options.context) {
      if (!kc.getContextObject(options.context)) {
        throw new KubeError(
          `input 'context': the kubeconfig has no context "${options.context}" (it has: ${kc
            .getContexts()
            .map((c) => c.name)
            .join(', ')})`,
          undefined,
        );
      }
      kc.setCurrentContext(options.context);
    }
    if (!kc.getCurrentCluster()) {
      throw new KubeError(
        "no Kubernetes cluster is configured: give the 'kubeconfig' input, or set up a kubeconfig on the runner before this step",
        undefined,
      );
    }
    // The same string client-node's request middleware sets, so every request of a run has one user agent.
    return new Kube(lib, kc, `kubernetes-client-javascript/${pkg.default.version}`);
  }

  /**
   * Serialises the loaded config so kubectl and helm talk to exactly the same cluster and user; in-cluster
   * credentials become a token file path they understand (kubeconfig-file.ts).
   */
  exportConfig(): string {
    return kubeconfigForTools(this.kc.exportConfig());
  }

  /** The API server has answered a request of this client (an HTTP error other than 401 counts). */
  private answered = false;
  get reachedServer(): boolean {
    return this.answered;
  }

  /**
   * Every request goes through here. Until the server has answered once, a failure is described as a failed
   * connection (which server, why, what to do next): the first real read doubles as the connection check.
   */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    requestsSent++;
    try {
      const r = await fn();
      this.answered = true;
      return r;
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && status !== 401) this.answered = true;
      if (!this.answered) {
        const where = {
          server: this.kc.getCurrentCluster()?.server ?? '(no server)',
          context: this.kc.getCurrentContext(),
        };
        throw new KubeError(describeConnectFailure(err, where), status);
      }
      throw new KubeError(`${what}: ${status ? `HTTP ${status}: ` : ''}${messageOf(err)}`, status);
    }
  }

  /** Returns undefined on 404, throws on anything else. */
  private async maybe<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(what, fn);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** False only when the namespace certainly does not exist; an identity without cluster-wide read gets true. */
  async namespaceExists(name: string): Promise<boolean> {
    try {
      return (
        (await this.maybe(`reading namespace ${name}`, () => this.core.readNamespace({ name }))) !== undefined
      );
    } catch (err) {
      if (err instanceof KubeError && err.status === 403) return true;
      throw err;
    }
  }

  getDeployment(namespace: string, name: string): Promise<V1Deployment | undefined> {
    return this.maybe(`reading Deployment ${namespace}/${name}`, () =>
      this.apps.readNamespacedDeployment({ namespace, name }),
    );
  }

  async listReplicaSets(namespace: string, labelSelector: string): Promise<V1ReplicaSet[]> {
    const l = await this.call(`listing ReplicaSets in ${namespace}`, () =>
      this.apps.listNamespacedReplicaSet({ namespace, labelSelector }),
    );
    return l.items;
  }

  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const l = await this.call(`listing pods in ${namespace}`, () =>
      this.core.listNamespacedPod({ namespace, labelSelector }),
    );
    return l.items;
  }

  async listEvents(namespace: string, fieldSelector?: string): Promise<CoreV1Event[]> {
    const l = await this.call(`listing events in ${namespace}`, () =>
      this.core.listNamespacedEvent({ namespace, ...(fieldSelector ? { fieldSelector } : {}) }),
    );
    return l.items;
  }

  /** One key of a Secret, decoded; undefined when the Secret or the key does not exist. */
  async getSecretValue(namespace: string, name: string, key: string): Promise<string | undefined> {
    const secret = await this.maybe(`reading Secret ${namespace}/${name}`, () =>
      this.core.readNamespacedSecret({ namespace, name }),
    );
    const b64 = secret?.data?.[key];
    return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
  }

  getConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    return this.maybe(`reading ConfigMap ${namespace}/${name}`, () =>
      this.core.readNamespacedConfigMap({ namespace, name }),
    );
  }

  /**
   * Sets keys of a ConfigMap's data with a JSON merge patch (other keys, labels, owner references and finalizers
   * untouched). With `resourceVersion` the patch applies only to exactly that version (HTTP 409 otherwise).
   */
  patchConfigMapData(
    namespace: string,
    name: string,
    data: Record<string, string | null>,
    resourceVersion?: string,
  ): Promise<V1ConfigMap> {
    const body = resourceVersion ? { metadata: { resourceVersion }, data } : { data };
    return this.call(`patching ConfigMap ${namespace}/${name}`, () =>
      this.core.patchNamespacedConfigMap(
        { namespace, name, body },
        this.lib.setHeaderOptions('Content-Type', this.lib.PatchStrategy.MergePatch),
      ),
    );
  }

  /** Puts a ConfigMap back exactly as a snapshot had it (data, binaryData, labels, annotations). */
  restoreConfigMap(snapshot: V1ConfigMap): Promise<V1ConfigMap> {
    const namespace = snapshot.metadata?.namespace ?? '';
    const name = snapshot.metadata?.name ?? '';
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace,
        ...(snapshot.metadata?.labels ? { labels: snapshot.metadata.labels } : {}),
        ...(snapshot.metadata?.annotations ? { annotations: snapshot.metadata.annotations } : {}),
      },
      ...(snapshot.data ? { data: snapshot.data } : {}),
      ...(snapshot.binaryData ? { binaryData: snapshot.binaryData } : {}),
    };
    return this.call(`restoring ConfigMap ${namespace}/${name}`, () =>
      this.core.replaceNamespacedConfigMap({ namespace, name, body }),
    );
  }

  /** Merges annotations into a Deployment's metadata (no new revision: the pod template is untouched). */
  annotateDeployment(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
  ): Promise<V1Deployment> {
    return this.call(`annotating Deployment ${namespace}/${name}`, () =>
      this.apps.patchNamespacedDeployment(
        { namespace, name, body: { metadata: { annotations } } },
        this.lib.setHeaderOptions('Content-Type', this.lib.PatchStrategy.MergePatch),
      ),
    );
  }

  /** Strategic-merge patch of a Deployment (containers merge by name). */
  patchDeployment(namespace: string, name: string, body: object): Promise<V1Deployment> {
    return this.call(`patching Deployment ${namespace}/${name}`, () =>
      this.apps.patchNamespacedDeployment(
        { namespace, name, body },
        this.lib.setHeaderOptions('Content-Type', this.lib.PatchStrategy.StrategicMergePatch),
      ),
    );
  }

  private leasesApi: CoordinationV1Api | undefined;
  private get leases(): CoordinationV1Api {
    this.leasesApi ??= this.kc.makeApiClient(this.lib.CoordinationV1Api);
    return this.leasesApi;
  }

  /** The run's Lease (lease.ts); undefined on 404. */
  readLease(namespace: string, name: string): Promise<LeaseObject | undefined> {
    return this.maybe(`reading Lease ${namespace}/${name}`, async () =>
      toLease(await this.leases.readNamespacedLease({ namespace, name })),
    );
  }

  /** Creates a Lease; HTTP 409 when one of that name exists. */
  async createLease(namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    return toLease(
      await this.call(`creating Lease ${namespace}/${lease.metadata?.name ?? ''}`, () =>
        this.leases.createNamespacedLease({ namespace, body: lease as V1Lease }),
      ),
    );
  }

  /** Replaces a Lease; its metadata.resourceVersion is the precondition (HTTP 409 when it moved on). */
  async replaceLease(namespace: string, name: string, lease: LeaseObject): Promise<LeaseObject> {
    return toLease(
      await this.call(`updating Lease ${namespace}/${name}`, () =>
        this.leases.replaceNamespacedLease({ namespace, name, body: lease as V1Lease }),
      ),
    );
  }

  /** Deletes a Lease only if uid and resourceVersion still match (HTTP 409 otherwise); gone already is fine. */
  async deleteLease(
    namespace: string,
    name: string,
    preconditions: { uid: string; resourceVersion: string },
  ): Promise<void> {
    await this.maybe(`deleting Lease ${namespace}/${name}`, () =>
      this.leases.deleteNamespacedLease({ namespace, name, body: { preconditions } }),
    );
  }

  // ---- blue-green: a second Deployment, the Services that route to it, their EndpointSlices ----

  async createDeployment(namespace: string, body: V1Deployment): Promise<V1Deployment> {
    return this.call(`creating Deployment ${namespace}/${body.metadata?.name ?? '?'}`, () =>
      this.apps.createNamespacedDeployment({ namespace, body }),
    );
  }

  /** Deletes a Deployment and (foreground) its pods; false when it was already gone. */
  async deleteDeployment(namespace: string, name: string): Promise<boolean> {
    const r = await this.maybe(`deleting Deployment ${namespace}/${name}`, () =>
      this.apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy: 'Background' }),
    );
    return r !== undefined;
  }

  getService(namespace: string, name: string): Promise<V1Service | undefined> {
    return this.maybe(`reading Service ${namespace}/${name}`, () =>
      this.core.readNamespacedService({ namespace, name }),
    );
  }

  async listServices(namespace: string): Promise<V1Service[]> {
    const l = await this.call(`listing Services in ${namespace}`, () =>
      this.core.listNamespacedService({ namespace }),
    );
    return l.items;
  }

  async createService(namespace: string, body: V1Service): Promise<V1Service> {
    return this.call(`creating Service ${namespace}/${body.metadata?.name ?? '?'}`, () =>
      this.core.createNamespacedService({ namespace, body }),
    );
  }

  /** false when the Service was already gone. */
  async deleteService(namespace: string, name: string): Promise<boolean> {
    const r = await this.maybe(`deleting Service ${namespace}/${name}`, () =>
      this.core.deleteNamespacedService({ namespace, name }),
    );
    return r !== undefined;
  }

  /**
   * Replaces a Service's selector in one JSON patch (a merge patch would keep keys the new selector lacks).
   * With `resourceVersion` the patch applies only to exactly that version (HTTP 409 otherwise).
   */
  setServiceSelector(
    namespace: string,
    name: string,
    selector: Record<string, string>,
    resourceVersion?: string,
  ): Promise<V1Service> {
    const body = [
      ...(resourceVersion ? [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion }] : []),
      { op: 'replace', path: '/spec/selector', value: selector },
    ];
    return this.call(`switching the selector of Service ${namespace}/${name}`, () =>
      this.core.patchNamespacedService(
        { namespace, name, body },
        this.lib.setHeaderOptions('Content-Type', this.lib.PatchStrategy.JsonPatch),
      ),
    );
  }

  /** The EndpointSlices of a Service (label kubernetes.io/service-name). */
  async listEndpointSlices(namespace: string, service: string): Promise<V1EndpointSlice[]> {
    this.discoveryApi ??= this.kc.makeApiClient(this.lib.DiscoveryV1Api);
    const api = this.discoveryApi;
    const l = await this.call(`listing EndpointSlices of Service ${namespace}/${service}`, () =>
      api.listNamespacedEndpointSlice({
        namespace,
        labelSelector: `kubernetes.io/service-name=${service}`,
      }),
    );
    return l.items;
  }
  private discoveryApi: DiscoveryV1Api | undefined;

  /** Blue-green's helm hand-over: an EndpointSlice that keeps green behind the Service (steps/blue-green-bridge.ts). */
  async createEndpointSlice(namespace: string, body: V1EndpointSlice): Promise<V1EndpointSlice> {
    this.discoveryApi ??= this.kc.makeApiClient(this.lib.DiscoveryV1Api);
    const api = this.discoveryApi;
    return this.call(`creating EndpointSlice ${namespace}/${body.metadata?.name ?? '?'}`, () =>
      api.createNamespacedEndpointSlice({ namespace, body }),
    );
  }

  /** false when the EndpointSlice was already gone. */
  async deleteEndpointSlice(namespace: string, name: string): Promise<boolean> {
    this.discoveryApi ??= this.kc.makeApiClient(this.lib.DiscoveryV1Api);
    const api = this.discoveryApi;
    const r = await this.maybe(`deleting EndpointSlice ${namespace}/${name}`, () =>
      api.deleteNamespacedEndpointSlice({ namespace, name }),
    );
    return r !== undefined;
  }

  // ---- KEDA ScaledObjects (a custom resource: served only where KEDA's CRDs are installed) ----

  /**
   * One JSON request to the API server for a custom resource, through kubeRequest (the kubeconfig's credentials,
   * TLS and proxy, as client-node's calls) with the client's user agent. client-node's CustomObjectsApi would do
   * the same for 90 KiB of bundle (bench/README.md, issue 17). An HTTP error throws what client-node throws
   * (`code`, `body`), so call() and maybe() read both alike.
   */
  private async customRequest(method: string, path: string, patch?: object): Promise<unknown> {
    const server = (this.kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
    const answer = await kubeRequest(this.kc, `${server}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        'user-agent': this.userAgent,
        ...(patch ? { 'content-type': this.lib.PatchStrategy.MergePatch } : {}),
      },
      ...(patch ? { body: JSON.stringify(patch) } : {}),
    });
    const text = answer.body.toString('utf8');
    if (answer.status >= 200 && answer.status < 300) return JSON.parse(text) as unknown;
    throw Object.assign(new Error(`HTTP ${String(answer.status)}`), { code: answer.status, body: text });
  }

  /** Whether the API server serves `group/version` (discovery; false on 404). */
  async servesApi(group: string, version: string): Promise<boolean> {
    const r = await this.maybe(`discovering API ${group}/${version}`, () =>
      this.customRequest('GET', `/apis/${group}/${version}`),
    );
    return r !== undefined;
  }

  /** The ScaledObjects of a namespace; undefined when the API is not served (KEDA not installed). */
  async listScaledObjects(namespace: string): Promise<ScaledObject[] | undefined> {
    const l = (await this.maybe(`listing ScaledObjects (${SCALED_OBJECTS.group}) in ${namespace}`, () =>
      this.customRequest('GET', scaledObjectsPath(namespace)),
    )) as { items?: ScaledObject[] } | undefined;
    return l ? (l.items ?? []) : undefined;
  }

  /**
   * JSON merge patch of a ScaledObject (null removes an annotation). With `resourceVersion` in the body's
   * metadata the patch applies only to exactly that version (HTTP 409 otherwise).
   */
  async patchScaledObject(namespace: string, name: string, body: object): Promise<ScaledObject> {
    return (await this.call(`patching ScaledObject ${namespace}/${name}`, () =>
      this.customRequest('PATCH', `${scaledObjectsPath(namespace)}/${encodeURIComponent(name)}`, body),
    )) as ScaledObject;
  }

  private readonly rulesReviews = new Map<string, Promise<RulesReview | undefined>>();

  /**
   * Which of the checks the current identity is NOT allowed to do. One SelfSubjectRulesReview per namespace
   * (kept for the run) answers them all; SelfSubjectAccessReviews are sent only for the checks its rules do not
   * cover when the authorizer says its list is incomplete (webhook authorizers do) or the review is refused.
   */
  async missingPermissions(namespace: string, checks: readonly AccessCheck[]): Promise<AccessCheck[]> {
    if (checks.length === 0) return [];
    let pending = this.rulesReviews.get(namespace);
    if (!pending) {
      pending = this.rulesReview(namespace);
      this.rulesReviews.set(namespace, pending);
      // A failed review is not kept: the next caller asks again.
      pending.catch(() => this.rulesReviews.delete(namespace));
    }
    const review = await pending;
    const uncovered = review ? uncoveredChecks(review.rules, checks) : [...checks];
    if (review && !review.incomplete) return uncovered;
    return this.accessReviews(namespace, uncovered);
  }

  /** The identity's rules in a namespace; undefined when the API server answers the review with an HTTP error. */
  private async rulesReview(namespace: string): Promise<RulesReview | undefined> {
    try {
      const r = await this.call('checking permissions (SelfSubjectRulesReview)', () =>
        this.authz.createSelfSubjectRulesReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectRulesReview',
            spec: { namespace },
          },
        }),
      );
      return { rules: r.status?.resourceRules ?? [], incomplete: r.status?.incomplete ?? true };
    } catch (err) {
      if (err instanceof KubeError && err.status !== undefined) return undefined;
      throw err;
    }
  }

  private async accessReviews(namespace: string, checks: readonly AccessCheck[]): Promise<AccessCheck[]> {
    const results = await Promise.all(
      checks.map(async (c) => {
        const r = await this.call('checking permissions (SelfSubjectAccessReview)', () =>
          this.authz.createSelfSubjectAccessReview({
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SelfSubjectAccessReview',
              spec: {
                resourceAttributes: {
                  namespace,
                  verb: c.verb,
                  group: c.group,
                  resource: c.resource,
                  ...(c.subresource ? { subresource: c.subresource } : {}),
                  ...(c.name ? { name: c.name } : {}),
                },
              },
            },
          }),
        );
        return r.status?.allowed ? undefined : c;
      }),
    );
    return results.filter((c): c is AccessCheck => c !== undefined);
  }

  /** A list with its resourceVersion, to start a watch from exactly that point. */
  async listForWatch(
    kind: 'deployments' | 'replicasets' | 'pods',
    namespace: string,
    selector: { labelSelector?: string; fieldSelector?: string },
  ): Promise<{ items: Record<string, unknown>[]; resourceVersion: string }> {
    const what = `listing ${kind} in ${namespace}`;
    const list =
      kind === 'pods'
        ? await this.call(what, () => this.core.listNamespacedPod({ namespace, ...selector }))
        : kind === 'replicasets'
          ? await this.call(what, () => this.apps.listNamespacedReplicaSet({ namespace, ...selector }))
          : await this.call(what, () => this.apps.listNamespacedDeployment({ namespace, ...selector }));
    return {
      items: list.items as unknown as Record<string, unknown>[],
      resourceVersion: list.metadata?.resourceVersion ?? '',
    };
  }

  /**
   * Starts a watch; `done` is called once when it ends (err null/undefined for a normal close, a TimeoutError
   * when nothing arrived for WATCH_INACTIVITY_MS).
   */
  async watch(
    path: string,
    query: Record<string, string | boolean>,
    onEvent: (e: WatchEvent) => void,
    done: (err: unknown) => void,
  ): Promise<WatchHandle> {
    // client-node's Watch sends fetch's default user agent (`undici`); give it the client's, so audit logs and
    // API priority rules see one client. Everything else is delegated to the loaded config.
    const kc = this.kc;
    const userAgent = this.userAgent;
    const config = Object.create(kc, {
      applySecurityAuthentication: {
        value: async (ctx: { setHeaderParam(key: string, value: string): void }): Promise<void> => {
          await kc.applySecurityAuthentication(
            ctx as Parameters<KubeConfig['applySecurityAuthentication']>[0],
          );
          ctx.setHeaderParam('User-Agent', userAgent);
        },
      },
    }) as KubeConfig;
    const w = new this.lib.Watch(config);
    requestsSent++;
    // The library's 30 s default is shorter than the server's ~60 s bookmark interval: a quiet watch would drop.
    (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_INACTIVITY_MS;
    const ctl = await w.watch(
      path,
      query,
      (type: string, object: Record<string, unknown>) => onEvent({ type, object }),
      (err: unknown) => done(err),
    );
    return { abort: () => ctl.abort() };
  }
}
