// Why the Kubernetes API server could not be reached, in words a user can act on. The HTTP client reports
// only "fetch failed"; the reason sits in the error's cause chain (a Node error code such as ECONNREFUSED, a
// TLS code, undici's timeout codes) or in an HTTP status (401, 403). Pure.

export type ConnectCause =
  'refused' | 'dns' | 'timeout' | 'unreachable' | 'reset' | 'tls' | 'unauthorized' | 'forbidden' | 'other';

export interface ConnectFailure {
  readonly cause: ConnectCause;
  /** The low-level code found in the chain (e.g. ECONNREFUSED), if any. */
  readonly code: string | undefined;
  readonly status: number | undefined;
  /** The innermost message, one line. */
  readonly detail: string;
}

const BY_CODE: Record<string, ConnectCause> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EAI_NONAME: 'dns',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  ABORT_ERR: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
};

const TLS_CODE =
  /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_OSSL_|HOSTNAME_MISMATCH)/;

const MAX_CHAIN = 8;

function numberStatus(e: Record<string, unknown>): number | undefined {
  for (const key of ['code', 'statusCode', 'status']) {
    const v = e[key];
    if (typeof v === 'number' && v >= 100 && v < 600) return v;
  }
  return undefined;
}

/** Walks the cause chain (bounded) and names the first recognisable reason. */
export function classifyConnectError(err: unknown): ConnectFailure {
  let code: string | undefined;
  let status: number | undefined;
  let detail = err instanceof Error ? err.message : String(err);
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CHAIN && current !== null && typeof current === 'object'; depth++) {
    const e = current as Record<string, unknown>;
    status ??= numberStatus(e);
    if (typeof e['code'] === 'string' && code === undefined) code = e['code'];
    if (typeof e['name'] === 'string' && (e['name'] === 'TimeoutError' || e['name'] === 'AbortError'))
      code ??= 'ABORT_ERR';
    if (typeof e['message'] === 'string' && e['message'] !== '') detail = e['message'];
    // AggregateError (happy eyeballs: one error per address) carries its reasons in `errors`.
    const errors = e['errors'];
    current = e['cause'] ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  detail = detail.replace(/\s+/g, ' ').trim();
  if (status === 401) return { cause: 'unauthorized', code, status, detail };
  if (status === 403) return { cause: 'forbidden', code, status, detail };
  const known = code === undefined ? undefined : BY_CODE[code];
  if (known) return { cause: known, code, status, detail };
  if (code !== undefined && TLS_CODE.test(code)) return { cause: 'tls', code, status, detail };
  if (/certificate|self[- ]signed|ssl|tls/i.test(detail)) return { cause: 'tls', code, status, detail };
  return { cause: 'other', code, status, detail };
}

const WHAT: Record<ConnectCause, string> = {
  refused: 'the connection was refused (nothing listens at that address, as seen from this runner)',
  dns: 'the host name does not resolve from this runner',
  timeout: 'no answer in time (a firewall, or an address only reachable from a private network)',
  unreachable: 'no route to that address from this runner',
  reset: 'the connection was closed before an answer (a proxy or load balancer in the way?)',
  tls: 'the TLS handshake failed (certificate not trusted, wrong host name, or not a TLS port)',
  unauthorized: 'the API server answered 401: it did not accept the credentials',
  forbidden: 'the API server answered 403: the credentials may not read /version',
  other: 'the request failed',
};

const PRIVATE_CLUSTER =
  "A private cluster (API server on a private network or behind an allow list) needs a self-hosted runner inside that network, or the runner's address on the allow list";
const CHECK_CONTEXT = (context: string): string =>
  `check the server address of context "${context}" in the 'kubeconfig' input (or the runner's kubeconfig), and the 'context' input`;

const NEXT: Record<ConnectCause, (context: string) => string> = {
  refused: (c) => `${PRIVATE_CLUSTER}; otherwise ${CHECK_CONTEXT(c)}.`,
  dns: (c) =>
    `A private DNS name needs a self-hosted runner that can resolve it; otherwise ${CHECK_CONTEXT(c)}.`,
  timeout: (c) => `${PRIVATE_CLUSTER}; otherwise ${CHECK_CONTEXT(c)}.`,
  unreachable: (c) => `${PRIVATE_CLUSTER}; otherwise ${CHECK_CONTEXT(c)}.`,
  reset: (c) =>
    `Check proxies between the runner and the cluster (HTTPS_PROXY, NO_PROXY), and ${CHECK_CONTEXT(c)}.`,
  tls: (c) =>
    `Check the cluster's certificate-authority-data in the kubeconfig and that the server address is the name or address the API server's certificate is issued for; ${CHECK_CONTEXT(c)}.`,
  unauthorized: (c) =>
    `The token or client certificate of context "${c}" is expired or wrong: create a fresh kubeconfig (cloud logins through an exec plugin need that plugin installed on the runner).`,
  forbidden: (c) =>
    `Give context "${c}" a user the cluster accepts (anonymous access to /version is off on this cluster).`,
  other: (c) => `${PRIVATE_CLUSTER}; ${CHECK_CONTEXT(c)}.`,
};

/** One message: which server, what happened, that nothing changed, and what to do next. */
export function describeConnectFailure(err: unknown, where: { server: string; context: string }): string {
  const f = classifyConnectError(err);
  const code = f.code && !f.detail.includes(f.code) ? ` [${f.code}]` : '';
  return (
    `cannot reach the Kubernetes API server ${where.server} (context ${where.context}): ${WHAT[f.cause]}: ` +
    `${f.detail}${code}. Nothing in the cluster was changed. ${NEXT[f.cause](where.context)}`
  );
}
