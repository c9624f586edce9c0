// The API server's audit log as the benchmark's request counter: who (user agent) asked what, when.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Audit policy for the bench cluster: one event per request (Metadata level, no request bodies), without the
 * API server's own loopback traffic, leases, events and the simulated kubelets' status writes, none of which
 * any upgrade tool makes.
 */
export const AUDIT_POLICY = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    { level: 'None', users: ['system:apiserver'] },
    { level: 'None', resources: [{ group: 'coordination.k8s.io', resources: ['leases'] }] },
    {
      level: 'None',
      resources: [
        { group: '', resources: ['events'] },
        { group: 'events.k8s.io', resources: ['events'] },
      ],
    },
    {
      level: 'None',
      verbs: ['patch', 'update'],
      resources: [{ group: '', resources: ['pods/status', 'nodes/status'] }],
    },
    { level: 'Metadata' },
  ],
};

/** The user agent the benchmark's own independent Deployment watch sends (never counted for a tool). */
export const OBSERVER_AGENT = 'mdcore-bench-observer';

export type Agent = 'kubectl' | 'helm3' | 'helm4' | 'client-node' | 'observer' | 'other';

export function classifyAgent(ua: string): Agent {
  if (ua.startsWith('kubectl/')) return 'kubectl';
  if (ua.startsWith('Helm/3.')) return 'helm3';
  if (ua.startsWith('Helm/4.')) return 'helm4';
  // @kubernetes/client-node sends its own user agent on ordinary requests; its Watch goes through fetch without
  // one (undici's default), which the action fills in since 2026-12-02 and older dist builds do not. Nothing else
  // in the bench uses fetch.
  if (ua.startsWith('kubernetes-client-javascript/') || ua === 'undici' || ua.startsWith('undici/'))
    return 'client-node';
  if (ua === OBSERVER_AGENT) return 'observer';
  return 'other';
}

export interface AuditRequest {
  id: string;
  /** requestReceivedTimestamp, epoch milliseconds with microsecond fraction. */
  t: number;
  verb: string;
  uri: string;
  userAgent: string;
  agent: Agent;
  namespace: string | undefined;
  resource: string | undefined;
  subresource: string | undefined;
  name: string | undefined;
  code: number | undefined;
}

/** RFC 3339 with up to nanoseconds -> epoch ms keeping the sub-millisecond digits. */
export function parseMicroTime(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(s);
  if (!m) return Date.parse(s);
  const frac = m[2] ?? '';
  return Date.parse(`${m[1]}Z`) + (frac ? Number(`0.${frac}`) * 1000 : 0);
}

interface RawEvent {
  auditID: string;
  requestURI: string;
  verb: string;
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}

/** Every request in the log, once (a watch logs ResponseStarted and ResponseComplete), in arrival order. */
export async function readAudit(file: string): Promise<AuditRequest[]> {
  const seen = new Set<string>();
  const out: AuditRequest[] = [];
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let e: RawEvent;
    try {
      e = JSON.parse(line) as RawEvent;
    } catch {
      continue; // a line cut by a write in progress
    }
    if (seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    const ua = e.userAgent ?? '';
    out.push({
      id: e.auditID,
      t: parseMicroTime(e.requestReceivedTimestamp),
      verb: e.verb,
      uri: e.requestURI,
      userAgent: ua,
      agent: classifyAgent(ua),
      namespace: e.objectRef?.namespace,
      resource: e.objectRef?.resource,
      subresource: e.objectRef?.subresource,
      name: e.objectRef?.name,
      code: e.responseStatus?.code,
    });
  }
  return out.sort((a, b) => a.t - b.t);
}

export interface RequestCount {
  /** Requests attributed to the run (cluster-scoped ones divided by `share` when runs overlapped). */
  total: number;
  /** Of which watches (one long request each, however many events they stream). */
  watch: number;
  /** Of which writes (create, update, patch, delete; access reviews not counted). */
  writes: number;
  /** Of which access checks (SelfSubjectAccessReview / SelfSubjectRulesReview creates). */
  accessReviews: number;
  /** Requests in the run's namespace. */
  namespaced: number;
  /** Requests with no namespace (discovery, SelfSubjectAccessReviews, ...), before dividing by `share`. */
  clusterScoped: number;
  byVerb: Record<string, number>;
  userAgents: string[];
}

export interface RequestWindow {
  from: number;
  to: number;
  agents: readonly Agent[];
  namespace: string;
  /** Runs of the same tools that overlapped this one (their cluster-scoped requests are shared). Default 1. */
  share?: number;
}

/** Requests made by the given agents within [from, to], in the namespace or cluster-scoped. */
export function requestsIn(all: readonly AuditRequest[], w: RequestWindow): AuditRequest[] {
  return all.filter(
    (r) =>
      r.t >= w.from &&
      r.t <= w.to &&
      w.agents.includes(r.agent) &&
      (r.namespace === undefined || r.namespace === w.namespace),
  );
}

export function countRequests(all: readonly AuditRequest[], w: RequestWindow): RequestCount {
  const rs = requestsIn(all, w);
  const share = w.share ?? 1;
  const byVerb: Record<string, number> = {};
  let namespaced = 0;
  let clusterScoped = 0;
  let watch = 0;
  let writes = 0;
  let accessReviews = 0;
  let weighted = 0;
  for (const r of rs) {
    const weight = r.namespace === undefined ? 1 / share : 1;
    weighted += weight;
    byVerb[r.verb] = (byVerb[r.verb] ?? 0) + weight;
    if (r.namespace === undefined) clusterScoped++;
    else namespaced++;
    if (r.verb === 'watch') watch += weight;
    if (r.resource === 'selfsubjectaccessreviews' || r.resource === 'selfsubjectrulesreviews')
      accessReviews += weight;
    else if (['create', 'update', 'patch', 'delete', 'deletecollection'].includes(r.verb)) writes += weight;
  }
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  for (const k of Object.keys(byVerb)) byVerb[k] = r1(byVerb[k]!);
  return {
    total: r1(weighted),
    watch: r1(watch),
    writes: r1(writes),
    accessReviews: r1(accessReviews),
    namespaced,
    clusterScoped,
    byVerb,
    userAgents: [...new Set(rs.map((r) => r.userAgent))],
  };
}

/** The first write to Deployment `name` in the window: when the tool changed the pod template. */
export function firstDeploymentWrite(
  all: readonly AuditRequest[],
  w: RequestWindow,
  name: string,
): AuditRequest | undefined {
  return requestsIn(all, w).find(
    (r) =>
      r.resource === 'deployments' &&
      r.name === name &&
      r.subresource === undefined &&
      (r.verb === 'patch' || r.verb === 'update' || r.verb === 'apply'),
  );
}
