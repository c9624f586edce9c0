// The API server's service proxy as MD Core's transport: the proxy URL and port choice (pure), and requests
// through the kubeconfig's credentials against a loopback HTTPS server standing in for the API server (its own
// CA, made here, and a client-certificate check), with the MD Core client's rules on top (apikey sent, nothing
// secret logged, no redirect followed, timeouts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig, type V1ServicePort } from '@kubernetes/client-node';
import { MdCoreApiError, MdCoreClient } from '../../src/core-api/client.ts';
import { MD_CORE_PORT, kubeTransport, proxyPort, serviceProxyUrl } from '../../src/cluster/service-proxy.ts';
import { RecordingReporter } from '../support/recording-reporter.ts';

describe('proxyPort', () => {
  const svc = (ports: V1ServicePort[]): Parameters<typeof proxyPort>[0] => ({
    metadata: { name: 'md-core-green-preview' },
    spec: { ports },
  });

  it('takes the only port, by name when it has one, else by number', () => {
    expect(proxyPort(svc([{ name: 'http', port: 8008 }]))).toEqual({ scheme: 'http', port: 'http' });
    expect(proxyPort(svc([{ port: 80, targetPort: 8008 }]))).toEqual({ scheme: 'http', port: '80' });
  });

  it("among several, MD Core's REST port (port or targetPort), else one named http or https", () => {
    const ports = [
      { name: 'metrics', port: 9090 },
      { name: 'rest', port: 443, targetPort: MD_CORE_PORT },
    ];
    expect(proxyPort(svc(ports))).toEqual({ scheme: 'http', port: 'rest' });
    expect(
      proxyPort(
        svc([
          { name: 'metrics', port: 9090 },
          { name: 'https', port: 443 },
        ]),
      ),
    ).toEqual({
      scheme: 'https',
      port: 'https',
    });
  });

  it('https when appProtocol says so or the name is https / https-*', () => {
    expect(proxyPort(svc([{ name: 'api', port: 8008, appProtocol: 'HTTPS' }]))).toEqual({
      scheme: 'https',
      port: 'api',
    });
    expect(proxyPort(svc([{ name: 'https-rest', port: 8008 }]))).toMatchObject({ scheme: 'https' });
    expect(proxyPort(svc([{ name: 'httpsish', port: 8008 }]))).toMatchObject({ scheme: 'http' });
  });

  it('no port, or several without a recognisable one: a problem naming them', () => {
    expect(proxyPort(svc([]))).toEqual({ problem: 'Service md-core-green-preview has no ports' });
    const r = proxyPort(svc([{ name: 'a', port: 1 }, { port: 2 }]));
    expect('problem' in r && r.problem).toMatch(
      /has 2 ports \(a:1, 2\) and none is MD Core's REST port 8008/,
    );
  });
});

describe('serviceProxyUrl', () => {
  it("builds the proxy path under the server's own path, https: prefix for TLS ports", () => {
    expect(
      serviceProxyUrl('https://10.0.0.1:6443', 'mdcore', 'md-core-green-preview', {
        scheme: 'http',
        port: 'http',
      }),
    ).toBe('https://10.0.0.1:6443/api/v1/namespaces/mdcore/services/md-core-green-preview:http/proxy');
    expect(
      serviceProxyUrl('https://rancher.example/k8s/clusters/c-1/', 'scan', 'g-preview', {
        scheme: 'https',
        port: '8008',
      }),
    ).toBe(
      'https://rancher.example/k8s/clusters/c-1/api/v1/namespaces/scan/services/https:g-preview:8008/proxy',
    );
  });

  it('is a base URL the MD Core client accepts as it is', () => {
    const base = serviceProxyUrl('https://127.0.0.1:6443', 'ns', 'p', { scheme: 'https', port: 'x' });
    expect(new MdCoreClient({ baseUrl: base, reporter: new RecordingReporter() }).baseUrl).toBe(base);
  });
});

// ---- a loopback "API server" with its own CA that asks for client certificates ----

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  clientCn: string | undefined;
}

let dir = '';
let server: Server;
let base = '';
const seen: Seen[] = [];
const sockets = new Set<Socket>();
/** The next answers, by path suffix; default a version answer. */
let answer: (s: Seen) => { status: number; headers?: Record<string, string>; body?: string } | 'hang';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 30_000 });
}

const pem = (f: string): string => readFileSync(path.join(dir, f), 'utf8');
const b64 = (f: string): string => Buffer.from(pem(f)).toString('base64');

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'service-proxy-test-'));
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  const ecKey = (name: string): void =>
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name]);
  ecKey('ca.key');
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=test-ca', '-days', '2', '-out', 'ca.crt']);
  for (const [name, ext] of [
    ['server', ['-extfile', 'server.ext']],
    ['client', []],
  ] as const) {
    ecKey(`${name}.key`);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}-of-test`, '-out', `${name}.csr`]);
    openssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      ...ext,
    ]);
  }
  server = createServer(
    {
      key: pem('server.key'),
      cert: pem('server.crt'),
      ca: pem('ca.crt'),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const tls = req.socket as TLSSocket;
        const cert = tls.authorized ? tls.getPeerCertificate() : undefined;
        const s: Seen = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          clientCn: typeof cert?.subject?.CN === 'string' ? cert.subject.CN : undefined,
        };
        seen.push(s);
        const a = answer(s);
        if (a === 'hang') return;
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(a.body ?? '');
      });
    },
  );
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const versionAnswer = (): { status: number; body: string } => ({
  status: 200,
  body: JSON.stringify({ product_id: 'MSCL', version: '5.20.0' }),
});

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server: base, 'certificate-authority-data': b64('ca.crt'), ...cluster } },
      ],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return kc;
}

const PROXY = '/api/v1/namespaces/mdcore/services/md-core-green-preview:http/proxy';

function client(kc: KubeConfig, reporter: RecordingReporter, extra: object = {}): MdCoreClient {
  const url = serviceProxyUrl(kc.getCurrentCluster()?.server ?? '', 'mdcore', 'md-core-green-preview', {
    scheme: 'http',
    port: 'http',
  });
  return new MdCoreClient({
    baseUrl: url,
    apiKey: 'md-core-api-key-123',
    reporter,
    transport: kubeTransport(kc),
    retryDelayMs: 0,
    ...extra,
  });
}

describe('kubeTransport (through a loopback API server)', () => {
  it("a client certificate from the kubeconfig reaches the server; MD Core's apikey header is sent", async () => {
    seen.length = 0;
    answer = versionAnswer;
    const kc = kubeconfig({
      'client-certificate-data': b64('client.crt'),
      'client-key-data': b64('client.key'),
    });
    const reporter = new RecordingReporter();
    const v = await client(kc, reporter).version();
    expect(v.version).toBe('5.20.0');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'GET', url: `${PROXY}/version`, clientCn: 'client-of-test' });
    expect(seen[0]?.headers['apikey']).toBe('md-core-api-key-123');
    expect(seen[0]?.headers['authorization']).toBeUndefined();
    expect(reporter.text()).toContain(`MD Core GET /version -> 200`);
    expect(reporter.text()).not.toContain('md-core-api-key-123');
  });

  it('a bearer token goes to the API server as Authorization, never into the logs', async () => {
    seen.length = 0;
    answer = (s) => (s.url.endsWith('/readyz?verbose=true') ? { status: 503, body: '{}' } : versionAnswer());
    const kc = kubeconfig({ token: 'kube-bearer-token-xyz' });
    const reporter = new RecordingReporter();
    const c = client(kc, reporter, { retries: 0 });
    expect(await c.readyz(true)).toMatchObject({ ok: false, status: 503 });
    expect(seen[0]?.url).toBe(`${PROXY}/readyz?verbose=true`);
    expect(seen[0]?.headers['authorization']).toBe('Bearer kube-bearer-token-xyz');
    expect(seen[0]?.clientCn).toBeUndefined();
    expect(reporter.text()).not.toContain('kube-bearer-token-xyz');
    expect(reporter.secrets).not.toContain('kube-bearer-token-xyz');
  });

  it("in-cluster credentials: the service account's token file and CA", async () => {
    seen.length = 0;
    answer = versionAnswer;
    const root = path.join(dir, 'pod');
    const sa = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(path.join(sa, 'token'), 'sa-token-1');
    writeFileSync(path.join(sa, 'ca.crt'), pem('ca.crt'));
    writeFileSync(path.join(sa, 'namespace'), 'mdcore');
    const env = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = new URL(base).port;
    const kc = new KubeConfig();
    try {
      kc.loadFromCluster(root);
    } finally {
      for (const [k, v] of [
        ['KUBERNETES_SERVICE_HOST', env.host],
        ['KUBERNETES_SERVICE_PORT', env.port],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const c = client(kc, new RecordingReporter());
    await c.version();
    expect(seen[0]?.headers['authorization']).toBe('Bearer sa-token-1');
  });

  it('POSTs carry their body with its length (the smoke scan)', async () => {
    seen.length = 0;
    answer = () => ({ status: 200, body: JSON.stringify({ data_id: 'd-1' }) });
    const kc = kubeconfig({
      'client-certificate-data': b64('client.crt'),
      'client-key-data': b64('client.key'),
    });
    const id = await client(kc, new RecordingReporter()).submitFile(Buffer.from('hello scan'), 'a.txt');
    expect(id).toBe('d-1');
    expect(seen[0]).toMatchObject({ method: 'POST', url: `${PROXY}/file`, body: 'hello scan' });
    expect(seen[0]?.headers).toMatchObject({ 'content-length': '10', filename: 'a.txt' });
  });

  it("the API server's own refusal (a v1 Status) is not MD Core's answer: an error that says so", async () => {
    seen.length = 0;
    answer = () => ({
      status: 403,
      body: JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        message: 'services "md-core-green-preview:http" is forbidden: cannot get resource "services/proxy"',
        reason: 'Forbidden',
        code: 403,
      }),
    });
    const kc = kubeconfig({ token: 't' });
    const err = await client(kc, new RecordingReporter(), { retries: 0 })
      .version()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MdCoreApiError);
    expect(err).toMatchObject({ kind: 'network' });
    expect((err as Error).message).toMatch(
      /no answer: the API server's service proxy answered HTTP 403: services "md-core-green-preview:http" is forbidden/,
    );
    // MD Core's own 403 (its {"err"} body) stays an HTTP answer.
    answer = () => ({ status: 403, body: JSON.stringify({ err: 'Access denied' }) });
    const own = await client(kc, new RecordingReporter())
      .version()
      .catch((e: unknown) => e);
    expect(own).toMatchObject({ kind: 'http', status: 403, err: 'Access denied' });
  });

  it("the proxy's 503 (green not reachable) is retried for GETs and never read as MD Core's /readyz 503", async () => {
    const unreachable = {
      status: 503,
      body: JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        message: 'error trying to reach service: dial tcp 10.0.0.9:8008: connect: connection refused',
        code: 503,
      }),
    };
    seen.length = 0;
    answer = () => (seen.length < 3 ? unreachable : versionAnswer());
    const kc = kubeconfig({ token: 't' });
    expect((await client(kc, new RecordingReporter(), { retries: 3 }).version()).version).toBe('5.20.0');
    expect(seen).toHaveLength(3);
    answer = () => unreachable;
    const err = await client(kc, new RecordingReporter(), { retries: 0 })
      .readyz()
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/GET \/readyz: no answer: .*error trying to reach service/);
  });

  it('a redirect is never followed (apikey must not travel on)', async () => {
    seen.length = 0;
    answer = () => ({ status: 302, headers: { location: `${base}/elsewhere` } });
    const kc = kubeconfig({ token: 't' });
    const err = await client(kc, new RecordingReporter())
      .version()
      .catch((e: unknown) => e);
    expect((err as MdCoreApiError).status).toBe(302);
    expect(seen.map((s) => s.url)).toEqual([`${PROXY}/version`]);
  });

  it('no answer within the timeout: a timeout error; a CA that does not match: a network error', async () => {
    seen.length = 0;
    answer = () => 'hang';
    const kc = kubeconfig({ token: 't' });
    const err = await client(kc, new RecordingReporter(), { timeoutMs: 300, retries: 0 })
      .version()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'timeout', code: 'TIMEOUT' });

    const wrongCa = kubeconfig({ token: 't' }, { 'certificate-authority-data': b64('client.crt') });
    const err2 = await client(wrongCa, new RecordingReporter(), { retries: 0 })
      .version()
      .catch((e: unknown) => e);
    expect(err2).toMatchObject({ kind: 'network' });
    expect((err2 as Error).message).toMatch(/no answer: .*certificate/i);
  });

  it('cancelling stops a request in flight', async () => {
    answer = () => 'hang';
    const ac = new AbortController();
    const kc = kubeconfig({ token: 't' });
    const pending = client(kc, new RecordingReporter(), { signal: ac.signal })
      .version()
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    expect(await pending).toMatchObject({ kind: 'aborted' });
  });
});
