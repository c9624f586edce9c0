// Blue-green reaching green through the real API server's service proxy (no green-api-url), on a cluster of this
// file's own. KWOK pods have made-up IPs and nothing listens on them, and the API server refuses endpoints on
// loopback addresses; so its egress to the cluster network is given to a CONNECT relay on a Unix socket (the
// egress-selector configuration a konnectivity proxy uses), which carries each connection to a pod IP to the
// MD Core stand-in on 127.0.0.1. Everything between the action and that relay is the real thing: the API
// server's authentication and RBAC (a ServiceAccount with README's Role), the proxy path, the endpoint choice.
import { execFileSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { renderSummary } from '../../src/report/summary.ts';
import { startCluster, resolveClusterTools, type TestCluster } from './cluster/harness.ts';
import { execOn, runEngineOn } from './support/private-cluster.ts';
import { plainMdCoreDocs, readmeRoleDocs, serviceAccountKubeconfig } from './support/blue-green-fixture.ts';
import { startStandin, type Standin } from '../support/mdcore-standin.ts';

const KEY = 'k-proxy-123456789';
const COLOR = 'mdcore-upgrade.opswat.com/color';

/** A CONNECT relay on a Unix socket: every tunnel the API server asks for ends at the stand-in (when open). */
interface Relay {
  /** `host:port` of every CONNECT carried to the stand-in. */
  readonly carried: string[];
  /** `host:port` of every CONNECT refused while closed. */
  readonly refused: string[];
  open: boolean;
  /** When set, the relay answers TLS inside the tunnel (a pod serving https) and passes plain HTTP on. */
  tls: { key: string; cert: string } | undefined;
  /** How many tunnels carried TLS. */
  tlsTunnels: number;
  close(): Promise<void>;
}

function startRelay(socketPath: string, standinPort: () => number): Promise<Relay> {
  const sockets = new Set<Socket>();
  const relay: Relay = {
    carried: [],
    refused: [],
    open: true,
    tls: undefined,
    tlsTunnels: 0,
    close: async () => undefined,
  };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 8192) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      const m = /^CONNECT (\S+) HTTP\/1\.[01]\r\n/.exec(head.toString('latin1'));
      const rest = head.subarray(end + 4);
      if (!m?.[1] || !relay.open) {
        if (m?.[1]) relay.refused.push(m[1]);
        client.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      relay.carried.push(m[1]);
      const tls = relay.tls;
      const upstream = connect(standinPort(), '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (tls) {
          relay.tlsTunnels++;
          const secure = new TLSSocket(client, { isServer: true, key: tls.key, cert: tls.cert });
          secure.on('error', () => client.destroy());
          secure.pipe(upstream);
          upstream.pipe(secure);
          return;
        }
        if (rest.length) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  relay.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(relay));
  });
}

/** A throwaway self-signed certificate for green's "pod": the API server does not verify a pod's certificate. */
function selfSigned(): { key: string; cert: string } {
  const key = path.join(dir, 'green.key');
  const cert = path.join(dir, 'green.crt');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat([
      '-subj',
      '/CN=green',
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore', timeout: 30_000 },
  );
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

let dir = '';
let cluster: TestCluster | undefined;
let relay: Relay | undefined;
let standin: Standin | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'green-proxy-'));
  const socketPath = path.join(dir, 'egress.sock');
  relay = await startRelay(socketPath, () => standin?.port ?? 0);
  const egress = path.join(dir, 'egress.yaml');
  writeFileSync(
    egress,
    stringify({
      apiVersion: 'apiserver.k8s.io/v1beta1',
      kind: 'EgressSelectorConfiguration',
      egressSelections: [
        {
          name: 'cluster',
          connection: { proxyProtocol: 'HTTPConnect', transport: { uds: { udsName: socketPath } } },
        },
      ],
    }),
  );
  cluster = await startCluster({
    name: `green-proxy-${process.pid}`,
    nodes: 1,
    toolsDir: await resolveClusterTools(),
    apiserverArgs: { 'egress-selector-config-file': egress },
  });
});

afterAll(async () => {
  await cluster?.stop();
  await relay?.close();
  await standin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function c(): TestCluster {
  if (!cluster) throw new Error('the cluster did not start');
  return cluster;
}

async function kubectl(args: string[]): Promise<string> {
  return (await execOn(c(), c().kubectl, args)).stdout;
}

async function apply(docs: object[]): Promise<void> {
  const file = path.join(dir, `apply-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  await kubectl(['apply', '-f', file]);
}

/** md-core as a plain Deployment (one replica of 5.19.0) and the Service that serves it. */
async function fixture(ns: string, port?: Parameters<typeof plainMdCoreDocs>[3]): Promise<void> {
  await kubectl(['create', 'namespace', ns]);
  await apply(plainMdCoreDocs(ns, 1, undefined, port));
  await kubectl(['rollout', 'status', 'deployment/md-core', '-n', ns, '--timeout=120s']);
}

/** README's kubectl Role with the blue-green rules (and the service-proxy rule when asked), bound to an SA. */
async function readmeRole(ns: string, proxyRule: boolean): Promise<string> {
  const { role, binding, serviceAccount } = readmeRoleDocs(ns, [
    'blue-green',
    ...(proxyRule ? ['blue-green-proxy'] : []),
  ]);
  await kubectl(['create', 'serviceaccount', serviceAccount, '-n', ns]);
  await apply([role, binding]);
  const token = (await kubectl(['create', 'token', serviceAccount, '-n', ns, '--duration=3600s'])).trim();
  return serviceAccountKubeconfig(c().kubeconfig, serviceAccount, ns, token);
}

interface View {
  selector: Record<string, string>;
  blue: { replicas: number; image: string };
  deployments: string[];
  services: string[];
}

async function view(ns: string): Promise<View> {
  const svc = JSON.parse(await kubectl(['get', 'service', 'md-core', '-n', ns, '-o', 'json'])) as {
    spec: { selector: Record<string, string> };
  };
  const blue = JSON.parse(await kubectl(['get', 'deployment', 'md-core', '-n', ns, '-o', 'json'])) as {
    spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
  };
  const names = async (kind: string): Promise<string[]> =>
    (await kubectl(['get', kind, '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}']))
      .split(/\s+/)
      .filter(Boolean)
      .sort();
  return {
    selector: svc.spec.selector,
    blue: { replicas: blue.spec.replicas, image: blue.spec.template.spec.containers[0]?.image ?? '' },
    deployments: await names('deployments'),
    services: await names('services'),
  };
}

const podIps = async (ns: string, selector: string): Promise<string[]> =>
  (await kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'jsonpath={.items[*].status.podIP}']))
    .split(/\s+/)
    .filter(Boolean);

async function upgrade(
  ns: string,
  kubeconfig: string,
  extra: Record<string, string> = {},
): Promise<Awaited<ReturnType<typeof runEngineOn>> & { text: string }> {
  const run = await runEngineOn(c(), {
    namespace: ns,
    tag: '5.20.0',
    strategy: 'blue-green',
    'scale-down-delay': '1',
    activations: '2',
    'api-url': standin?.url ?? '',
    'api-key': KEY,
    kubeconfig,
    ...extra,
  });
  return { ...run, text: `${run.reporter.text()}\n${renderSummary(run.outcome)}` };
}

describe("blue-green through the API server's service proxy (default without green-api-url)", () => {
  it("verifies green through the proxy as README's Role allows, then switches", async () => {
    const ns = 'gp-ok';
    await fixture(ns);
    const kubeconfig = await readmeRole(ns, true);
    standin = await startStandin({ apiKey: KEY, version: '5.20.0' });
    const direct = `127.0.0.1:${standin.port}`;
    relay!.open = true;
    relay!.carried.length = 0;
    // The smoke scan's POSTs need the rule's create verb.
    const run = await upgrade(ns, kubeconfig, { 'verify-scan': 'true' });
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    expect(run.text).toContain(
      "green is verified before the switch through the API server's service proxy (Service md-core-green-preview, port http, http)",
    );
    expect(run.text).toContain("green reached through the API server's service proxy");
    // Every tunnel the API server opened went to green's pod on MD Core's port, never to blue's.
    const greenIps = await podIps(ns, `${COLOR}=green`);
    expect(greenIps).toHaveLength(1);
    expect(relay!.carried.length).toBeGreaterThan(0);
    expect(new Set(relay!.carried)).toEqual(new Set(greenIps.map((ip) => `${ip}:8008`)));
    // What reached MD Core through the proxy: its API key, no credential of the cluster's.
    const viaProxy = standin.requests.filter((r) => r.headers.host !== direct);
    expect(viaProxy.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['GET /readyz', 'GET /version', 'POST /file']),
    );
    expect(viaProxy.filter((r) => r.method === 'POST' && r.path === '/file')).toHaveLength(2);
    // The first /readyz and /version (reachable at all?) go without the key; the verification's carry it.
    for (const r of viaProxy) {
      expect(r.headers['authorization'], `${r.method} ${r.path}`).toBeUndefined();
      expect([undefined, KEY], `${r.method} ${r.path}`).toContain(r.headers['apikey']);
    }
    expect(viaProxy.some((r) => r.path === '/version' && r.headers['apikey'] === KEY)).toBe(true);
    const token = (parse(kubeconfig) as { users: { user: { token: string } }[] }).users[0]?.user.token ?? '';
    expect(token.length).toBeGreaterThan(20);
    expect(standin.requests.some((r) => JSON.stringify(r.headers).includes(token))).toBe(false);
    const v = await view(ns);
    expect(v.selector).toEqual({ app: 'md-core-green', [COLOR]: 'green' });
    expect(v.blue.replicas).toBe(0);
  });

  it('an https port (appProtocol https): the API server speaks TLS to green through the proxy', async () => {
    const ns = 'gp-tls';
    await fixture(ns, { name: 'rest', port: 8008, targetPort: 8008, appProtocol: 'https' });
    const kubeconfig = await readmeRole(ns, true);
    standin ??= await startStandin({ apiKey: KEY, version: '5.20.0' });
    relay!.tlsTunnels = 0;
    try {
      relay!.tls = selfSigned();
      const run = await upgrade(ns, kubeconfig);
      expect(run.outcome.error).toBeUndefined();
      expect(run.outcome.result).toBe('upgraded');
      expect(run.text).toContain('(Service md-core-green-preview, port rest, https)');
      expect(relay!.tlsTunnels).toBeGreaterThan(0);
    } finally {
      relay!.tls = undefined;
    }
  });

  it('green not reachable through the proxy: fails before the switch, green removed, blue untouched', async () => {
    const ns = 'gp-down';
    await fixture(ns);
    const before = await view(ns);
    const kubeconfig = await readmeRole(ns, true);
    standin ??= await startStandin({ apiKey: KEY, version: '5.20.0' });
    relay!.open = false;
    relay!.refused.length = 0;
    try {
      const run = await upgrade(ns, kubeconfig);
      expect(run.outcome.result).toBe('rolled-back');
      expect(run.outcome.error).toMatch(
        /api\/v1\/namespaces\/gp-down\/services\/md-core-green-preview:http\/proxy cannot be reached: .*the API server's service proxy answered HTTP 503: .*so no traffic was moved\. Check that the identity may use services\/proxy in namespace gp-down/,
      );
      expect(relay!.refused.length).toBeGreaterThan(0);
      const after = await view(ns);
      expect(after).toEqual(before);
      expect(after.deployments).toEqual(['md-core']);
      expect(after.services).toEqual(['md-core']);
    } finally {
      relay!.open = true;
    }
  });

  it('a Role without services/proxy is refused by preflight before any change', async () => {
    const ns = 'gp-rbac';
    await fixture(ns);
    const before = await view(ns);
    const kubeconfig = await readmeRole(ns, false);
    standin ??= await startStandin({ apiKey: KEY, version: '5.20.0' });
    const run = await upgrade(ns, kubeconfig);
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toMatch(
      /lacks 1 permission\(s\) in namespace "gp-rbac"[\s\S]*get services\/proxy/,
    );
    expect(await view(ns)).toEqual(before);
  });
});
