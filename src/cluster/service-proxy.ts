// Reaching a Service's pods through the API server's service proxy
// (`<server>/api/v1/namespaces/<ns>/services/[https:]<name>:<port>/proxy/...`), authenticated as the
// kubeconfig's user: how a runner outside the cluster talks to green before any traffic moves. RBAC: `get` on
// services/proxy for GETs, `create` for POSTs. The API server drops the Authorization header after
// authenticating the request (client certificates end at its TLS), so MD Core sees only the headers the
// MD Core client sets (`apikey` among them).
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { HttpAnswer, HttpTransport } from '../core-api/client.ts';

/** MD Core's REST port (the chart's REST_PORT and Service port). */
export const MD_CORE_PORT = 8008;

export interface ProxyPort {
  readonly scheme: 'http' | 'https';
  /** The Service port's name, else its number. */
  readonly port: string;
}

/**
 * Which port of the Service the proxy should use: the only one; else the one whose port or targetPort is MD Core's
 * REST port, else the one named http or https. https when the port says so (appProtocol https, or a name
 * `https` / `https-...`): the API server then speaks TLS to the pod.
 */
export function proxyPort(service: V1Service): ProxyPort | { readonly problem: string } {
  const ports = service.spec?.ports ?? [];
  const name = service.metadata?.name ?? '?';
  if (ports.length === 0) return { problem: `Service ${name} has no ports` };
  const pick =
    ports.length === 1
      ? ports[0]
      : (ports.find((p) => p.port === MD_CORE_PORT || p.targetPort === MD_CORE_PORT) ??
        ports.find((p) => p.name === 'http' || p.name === 'https'));
  if (!pick)
    return {
      problem: `Service ${name} has ${ports.length} ports (${ports.map(describePort).join(', ')}) and none is MD Core's REST port ${MD_CORE_PORT} or named http/https`,
    };
  return { scheme: isHttps(pick) ? 'https' : 'http', port: pick.name ? pick.name : String(pick.port) };
}

function isHttps(p: V1ServicePort): boolean {
  const name = (p.name ?? '').toLowerCase();
  return (p.appProtocol ?? '').toLowerCase() === 'https' || name === 'https' || name.startsWith('https-');
}

function describePort(p: V1ServicePort): string {
  return p.name ? `${p.name}:${p.port}` : String(p.port);
}

/** The proxy's base URL for a Service port; MD Core's paths (/readyz, ...) go after it. */
export function serviceProxyUrl(server: string, namespace: string, service: string, port: ProxyPort): string {
  const ref = `${port.scheme === 'https' ? 'https:' : ''}${service}:${port.port}`;
  return `${server.replace(/\/+$/, '')}/api/v1/namespaces/${namespace}/services/${ref}/proxy`;
}

/** One request to the API server as kubeRequest sends it: any method, and a signal only when the caller has one. */
export interface KubeRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array<ArrayBuffer> | string;
  readonly signal?: AbortSignal;
}

/**
 * Sends one request with the kubeconfig's credentials, exactly as client-node's own calls: CA, client
 * certificate and key, bearer token (a token file or exec plugin refreshed as client-node refreshes it), basic
 * auth, impersonation, the cluster's proxy-url; node:https, since fetch has no client certificates. Reads the
 * whole answer, whatever its status; when none arrives, throws an error whose `cause` is the low-level one.
 */
export async function kubeRequest(kc: KubeConfig, url: string, request: KubeRequest): Promise<HttpAnswer> {
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const target = new URL(url);
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const headers: Record<string, string> = {
    ...request.headers,
    ...(body !== undefined ? { 'content-length': String(body.length) } : {}),
    ...stringHeaders(options.headers),
  };
  const send = target.protocol === 'http:' ? http.request : https.request;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const fail = (err: unknown): void => reject(new Error('no answer', { cause: err }));
    const req = send(
      target,
      { ...options, method: request.method, headers, ...(request.signal ? { signal: request.signal } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('aborted', () => fail(new Error('the connection closed before the answer was complete')));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: answerHeaders(res.rawHeaders),
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

/**
 * A transport to a Service's pods through the API server's proxy (kubeRequest): an answer that is the API
 * server's own refusal (proxyRefusal) is an error, not MD Core's answer.
 */
export function kubeTransport(kc: KubeConfig): HttpTransport {
  return async (url, request) => {
    const answer = await kubeRequest(kc, url, request);
    const refusal = proxyRefusal(answer);
    if (refusal) throw new Error('no answer', { cause: new Error(refusal) });
    return answer;
  };
}

/**
 * The API server's own error answer (a v1 Status: RBAC refused, no endpoint, the pod not reachable), as opposed
 * to MD Core's answer passed through: MD Core was not reached, so it must not read as MD Core's /readyz 503.
 */
export function proxyRefusal(answer: HttpAnswer): string | undefined {
  if (answer.status < 400) return undefined;
  if (!/^application\/json\b/i.test(answer.headers.get('content-type') ?? '')) return undefined;
  let status: unknown;
  try {
    status = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return undefined;
  }
  const s = status as { kind?: unknown; apiVersion?: unknown; message?: unknown };
  if (s?.kind !== 'Status' || s.apiVersion !== 'v1') return undefined;
  const message = typeof s.message === 'string' ? s.message : 'no message';
  return `the API server's service proxy answered HTTP ${answer.status}: ${message.slice(0, 300)}`;
}

function stringHeaders(h: http.OutgoingHttpHeaders | readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h || Array.isArray(h)) return out;
  for (const [k, v] of Object.entries(h as http.OutgoingHttpHeaders)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function answerHeaders(raw: readonly string[]): Headers {
  const out = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      out.append(raw[i] ?? '', raw[i + 1] ?? '');
    } catch {
      // A header fetch's Headers refuses (a forbidden character) is of no use to the client.
    }
  }
  return out;
}
