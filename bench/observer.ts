// The benchmark's own, independent view of a Deployment: a raw HTTPS watch (no client library shared with
// the action) that stamps every event with the local clock on arrival. "Complete" is judged from these events.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { parse } from 'yaml';
import { OBSERVER_AGENT } from './audit.ts';

export interface DeploymentSnapshot {
  /** Local arrival time, epoch ms. */
  t: number;
  type: string;
  resourceVersion: string;
  generation: number;
  observedGeneration: number;
  image: string;
  desired: number;
  replicas: number;
  updated: number;
  ready: number;
  available: number;
  progressingReason: string | undefined;
}

export interface Credentials {
  server: URL;
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  token: string | undefined;
}

type Rec = Record<string, string | undefined>;

/** Server and client credentials of the kubeconfig's current context (file paths or inline data). */
export function credentialsFrom(kubeconfigFile: string): Credentials {
  const kc = parse(readFileSync(kubeconfigFile, 'utf8')) as {
    'current-context'?: string;
    contexts: { name: string; context: { cluster: string; user: string } }[];
    clusters: { name: string; cluster: Rec }[];
    users: { name: string; user: Rec }[];
  };
  const ctx = kc.contexts.find((c) => c.name === kc['current-context']) ?? kc.contexts[0];
  const cluster = kc.clusters.find((c) => c.name === ctx?.context.cluster)?.cluster ?? {};
  const user = kc.users.find((u) => u.name === ctx?.context.user)?.user ?? {};
  const load = (o: Rec, file: string, data: string): Buffer | undefined => {
    if (o[data]) return Buffer.from(o[data], 'base64');
    if (o[file]) return readFileSync(o[file]);
    return undefined;
  };
  return {
    server: new URL(cluster.server ?? ''),
    ca: load(cluster, 'certificate-authority', 'certificate-authority-data'),
    cert: load(user, 'client-certificate', 'client-certificate-data'),
    key: load(user, 'client-key', 'client-key-data'),
    token: user.token,
  };
}

/** Wall clock, the clock the API server stamps audit events with (ms resolution is plenty here). */
export const now = (): number => Date.now();

interface K8sDeployment {
  metadata?: { generation?: number; resourceVersion?: string };
  spec?: { replicas?: number; template?: { spec?: { containers?: { name: string; image: string }[] } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; reason?: string }[];
  };
}

function snapshot(type: string, d: K8sDeployment, container: string, t: number): DeploymentSnapshot {
  const st = d.status ?? {};
  return {
    t,
    type,
    resourceVersion: d.metadata?.resourceVersion ?? '',
    generation: d.metadata?.generation ?? 0,
    observedGeneration: st.observedGeneration ?? 0,
    image: d.spec?.template?.spec?.containers?.find((c) => c.name === container)?.image ?? '',
    desired: d.spec?.replicas ?? 1,
    replicas: st.replicas ?? 0,
    updated: st.updatedReplicas ?? 0,
    ready: st.readyReplicas ?? 0,
    available: st.availableReplicas ?? 0,
    progressingReason: st.conditions?.find((c) => c.type === 'Progressing')?.reason,
  };
}

/** The Deployment status says the rollout is complete (the product facts' definition). */
export function isComplete(s: DeploymentSnapshot): boolean {
  return (
    s.observedGeneration >= s.generation &&
    s.updated === s.desired &&
    s.available === s.desired &&
    s.replicas === s.desired
  );
}

/**
 * A raw HTTPS watch of one collection (no client library shared with the action): every event is handed to
 * `onEvent` with the local clock at its arrival. Reconnects (bounded) from the last resourceVersion if the stream
 * ends, from a fresh list after an ERROR event (an expired resourceVersion).
 */
export abstract class RawWatch {
  private req: ReturnType<typeof https.request> | undefined;
  private stopped = false;
  private reconnects = 0;
  private rv = '';
  private waiters: (() => void)[] = [];
  private started = false;

  protected readonly creds: Credentials;
  readonly namespace: string;

  constructor(creds: Credentials, namespace: string) {
    this.creds = creds;
    this.namespace = namespace;
  }

  /** `/api/...` or `/apis/...` collection path, without the query. */
  protected abstract collectionPath(): string;
  /** The watch's selectors (fieldSelector, labelSelector). */
  protected abstract selectors(): Record<string, string>;
  /** One event, stamped on arrival; returns its resourceVersion. */
  protected abstract onEvent(type: string, object: unknown, t: number): string;
  protected abstract what(): string;

  /** Resolves once the current state has arrived (a list, then the watch from its resourceVersion). */
  async start(timeoutMs = 30_000): Promise<void> {
    this.connect();
    await this.until(() => this.started, timeoutMs, 'the initial state');
  }

  private request(query: URLSearchParams): ReturnType<typeof https.request> {
    const { server, ca, cert, key, token } = this.creds;
    return https.request({
      host: server.hostname,
      port: server.port,
      path: `${this.collectionPath()}?${query.toString()}`,
      method: 'GET',
      ca,
      cert,
      key,
      headers: {
        'User-Agent': OBSERVER_AGENT,
        Accept: 'application/json',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      agent: false,
    });
  }

  /** Lists the collection (every item handed over as ADDED), then watches from the list's resourceVersion. */
  private connect(): void {
    if (this.rv) {
      this.watch();
      return;
    }
    const req = this.request(new URLSearchParams(this.selectors()));
    this.req = req;
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const t = now();
        try {
          const list = JSON.parse(body) as { metadata?: { resourceVersion?: string }; items?: unknown[] };
          if (!list.metadata?.resourceVersion) throw new Error('no resourceVersion');
          for (const item of list.items ?? []) this.onEvent('ADDED', item, t);
          this.rv = list.metadata.resourceVersion;
          this.started = true;
          this.notify();
          this.watch();
        } catch {
          this.reconnect();
        }
      });
    });
    req.on('error', () => this.reconnect());
    req.end();
  }

  private watch(): void {
    const req = this.request(
      new URLSearchParams({ watch: 'true', ...this.selectors(), resourceVersion: this.rv }),
    );
    this.req = req;
    req.on('response', (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const t = now();
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          const ev = JSON.parse(line) as { type: string; object: unknown };
          if (ev.type === 'ERROR') {
            this.rv = ''; // expired: start over with a fresh list
            continue;
          }
          this.rv = this.onEvent(ev.type, ev.object, t) || this.rv;
        }
        this.notify();
      });
      res.on('end', () => this.reconnect());
    });
    req.on('error', () => this.reconnect());
    req.end();
  }

  private reconnect(): void {
    if (this.stopped || this.reconnects >= 50) return;
    this.reconnects += 1;
    setTimeout(() => {
      if (!this.stopped) this.connect();
    }, 200);
  }

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Waits (event-driven, bounded) until `cond` holds over the events seen so far. */
  async until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      if (cond()) return;
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    throw new Error(`${this.namespace}/${this.what()}: timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  stop(): void {
    this.stopped = true;
    this.req?.destroy();
    this.notify();
  }
}

/** Watches one Deployment. */
export class DeploymentObserver extends RawWatch {
  readonly events: DeploymentSnapshot[] = [];
  readonly name: string;
  readonly container: string;

  constructor(creds: Credentials, namespace: string, name: string, container: string) {
    super(creds, namespace);
    this.name = name;
    this.container = container;
  }

  protected collectionPath(): string {
    return `/apis/apps/v1/namespaces/${this.namespace}/deployments`;
  }
  protected selectors(): Record<string, string> {
    return { fieldSelector: `metadata.name=${this.name}` };
  }
  protected what(): string {
    return this.name;
  }
  protected onEvent(type: string, object: unknown, t: number): string {
    const s = snapshot(type, object as K8sDeployment, this.container, t);
    this.events.push(s);
    return s.resourceVersion;
  }

  latest(): DeploymentSnapshot | undefined {
    return this.events.at(-1);
  }

  /** Last event that arrived at or before t. */
  at(t: number): DeploymentSnapshot | undefined {
    let found: DeploymentSnapshot | undefined;
    for (const e of this.events) {
      if (e.t > t) break;
      found = e;
    }
    return found;
  }

  /** First event after `after` showing a complete rollout of `image`, at a generation newer than `minGeneration`. */
  completeAt(image: string, after: number, minGeneration: number): DeploymentSnapshot | undefined {
    return this.events.find(
      (e) => e.t >= after && e.image === image && e.generation > minGeneration && isComplete(e),
    );
  }

  /** Waits until the rollout of `image` (newer than minGeneration) is complete, and returns that event. */
  async waitComplete(
    image: string,
    after: number,
    minGeneration: number,
    timeoutMs: number,
  ): Promise<DeploymentSnapshot> {
    await this.until(
      () => this.completeAt(image, after, minGeneration) !== undefined,
      timeoutMs,
      `a complete rollout of ${image}`,
    );
    return this.completeAt(image, after, minGeneration)!;
  }
}
