// What Kube sends to the API server for permission checks and watches, against a stand-in API server on
// 127.0.0.1: one SelfSubjectRulesReview per namespace, access reviews only where the rules review cannot answer,
// and watches with the same user agent as every other request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Kube, type AccessCheck } from '../../src/cluster/kube.ts';

interface Seen {
  method: string;
  path: string;
  userAgent: string | undefined;
  body: Record<string, unknown> | undefined;
}

interface Behaviour {
  /** The status of the rules review, or an HTTP status to refuse it with. */
  rules: { resourceRules: unknown[]; incomplete: boolean } | number;
  /** What access reviews answer, by verb. */
  allowed?: (attrs: { verb: string; resource: string; name?: string }) => boolean;
}

let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function apiServer(b: Behaviour): Promise<{ kube: Kube; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      const path = req.url ?? '';
      seen.push({ method: req.method ?? '', path, userAgent: req.headers['user-agent'], body });
      if (path.endsWith('/selfsubjectrulesreviews')) {
        if (typeof b.rules === 'number') {
          reply(res, b.rules, { kind: 'Status', status: 'Failure', message: 'refused', code: b.rules });
        } else {
          reply(res, 201, { ...body, status: { nonResourceRules: [], ...b.rules } });
        }
      } else if (path.endsWith('/selfsubjectaccessreviews')) {
        const attrs = (
          body?.spec as { resourceAttributes: { verb: string; resource: string; name?: string } }
        ).resourceAttributes;
        reply(res, 201, { ...body, status: { allowed: b.allowed?.(attrs) ?? false } });
      } else if (path.includes('watch=true')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ADDED', object: { kind: 'Pod', metadata: { name: 'p' } } })}\n`);
      } else if (path.startsWith('/api/v1/namespaces/ns/pods')) {
        reply(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items: [] });
      } else {
        reply(res, 404, { kind: 'Status', code: 404, message: 'not here' });
      }
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: c, cluster: {server: "http://127.0.0.1:' +
      String(port) +
      '", insecure-skip-tls-verify: true}}]',
    'users: [{name: u, user: {token: test-token}}]',
    'contexts: [{name: x, context: {cluster: c, user: u}}]',
    'current-context: x',
  ].join('\n');
  return { kube: await Kube.connect({ kubeconfig }), seen };
}

const checks: AccessCheck[] = [
  { verb: 'get', group: 'apps', resource: 'deployments', name: 'md-core' },
  { verb: 'patch', group: 'apps', resource: 'deployments', name: 'md-core' },
  { verb: 'list', group: '', resource: 'pods' },
  { verb: 'create', group: '', resource: 'pods', subresource: 'exec' },
];
const deploymentRule = {
  verbs: ['get', 'patch'],
  apiGroups: ['apps'],
  resources: ['deployments'],
  resourceNames: ['md-core'],
};

const reviews = (seen: Seen[], kind: string): Seen[] => seen.filter((s) => s.path.endsWith(`/${kind}`));

describe('Kube.missingPermissions', () => {
  it('answers every check from one rules review per namespace when it is complete', async () => {
    const { kube, seen } = await apiServer({ rules: { resourceRules: [deploymentRule], incomplete: false } });
    expect(await kube.missingPermissions('ns', checks)).toEqual([checks[2], checks[3]]);
    expect(await kube.missingPermissions('ns', checks.slice(0, 2))).toEqual([]);
    const rr = reviews(seen, 'selfsubjectrulesreviews');
    expect(rr).toHaveLength(1);
    expect(rr[0]!.body).toMatchObject({ kind: 'SelfSubjectRulesReview', spec: { namespace: 'ns' } });
    expect(reviews(seen, 'selfsubjectaccessreviews')).toHaveLength(0);
    await kube.missingPermissions('other', checks.slice(0, 1));
    expect(reviews(seen, 'selfsubjectrulesreviews')).toHaveLength(2);
  });

  it('asks access reviews only for the checks an incomplete rules review does not cover', async () => {
    const { kube, seen } = await apiServer({
      rules: { resourceRules: [deploymentRule], incomplete: true },
      allowed: (a) => a.resource === 'pods' && a.verb === 'list',
    });
    expect(await kube.missingPermissions('ns', checks)).toEqual([checks[3]]);
    const asked = reviews(seen, 'selfsubjectaccessreviews').map(
      (s) => (s.body?.spec as { resourceAttributes: unknown }).resourceAttributes,
    );
    expect(asked).toEqual([
      { namespace: 'ns', verb: 'list', group: '', resource: 'pods' },
      { namespace: 'ns', verb: 'create', group: '', resource: 'pods', subresource: 'exec' },
    ]);
  });

  it('falls back to an access review per check when the rules review is refused', async () => {
    const { kube, seen } = await apiServer({ rules: 403, allowed: (a) => a.verb === 'get' });
    expect(await kube.missingPermissions('ns', checks)).toEqual(checks.slice(1));
    expect(reviews(seen, 'selfsubjectaccessreviews')).toHaveLength(checks.length);
  });

  it('sends nothing for no checks', async () => {
    const { kube, seen } = await apiServer({ rules: { resourceRules: [], incomplete: false } });
    expect(await kube.missingPermissions('ns', [])).toEqual([]);
    expect(seen).toHaveLength(0);
  });
});

describe('Kube.watch', () => {
  it('sends the user agent and credentials of the client’s other requests', async () => {
    const { kube, seen } = await apiServer({ rules: { resourceRules: [], incomplete: false } });
    await kube.listForWatch('pods', 'ns', {});
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      void kube
        .watch(
          '/api/v1/namespaces/ns/pods',
          { resourceVersion: '7' },
          (e) => events.push(e.type),
          (err) => (err ? reject(err as Error) : resolve()),
        )
        .catch(reject);
    });
    expect(events).toEqual(['ADDED']);
    const list = seen.find(
      (s) => s.path.startsWith('/api/v1/namespaces/ns/pods') && !s.path.includes('watch'),
    );
    const watch = seen.find((s) => s.path.includes('watch=true'));
    expect(list?.userAgent).toMatch(/^kubernetes-client-javascript\/\d+\.\d+\.\d+/);
    expect(watch?.userAgent).toBe(list?.userAgent);
  });
});
