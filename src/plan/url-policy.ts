// When a plain http:// URL may carry credentials or binaries: only to this machine or to a name that resolves
// inside the cluster (the traffic then never crosses a network the cluster does not own). Pure.

/** Host names that only resolve inside a Kubernetes cluster (Service DNS). */
const CLUSTER_SUFFIXES = ['.svc', '.svc.cluster.local', '.cluster.local'];
const SINGLE_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** True for 127.0.0.0/8, ::1 (and its IPv4-mapped forms) and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  // An IPv4-mapped 127.x.y.z as the URL parser writes it (::ffff:7f00:1).
  if (/^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h)) return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && Number(v4[1]) === 127 && v4.slice(2).every((o) => Number(o) <= 255);
}

/** True for Service names: `md-core`, `md-core.mdcore.svc`, `md-core.mdcore.svc.cluster.local`. */
export function isClusterInternalHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  if (SINGLE_LABEL.test(h) && !/^\d+$/.test(h)) return true;
  return CLUSTER_SUFFIXES.some((s) => h.endsWith(s) && h.length > s.length);
}

/**
 * Why a URL given in `input` must not be used, or undefined when it may. Only plain http:// is judged here;
 * the message names the host only (the URL may carry credentials).
 */
export function insecureHttpProblem(
  input: string,
  url: string,
  allowInsecureHttp: boolean,
): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined; // the URL check of the input reports it
  }
  if (u.protocol !== 'http:' || allowInsecureHttp) return undefined;
  if (isLoopbackHost(u.hostname) || isClusterInternalHost(u.hostname)) return undefined;
  const carries =
    input === 'tools-mirror'
      ? 'the mirror credentials and the kubectl/helm binaries'
      : 'the API key or the admin password';
  return `input '${input}' uses plain http:// to "${u.hostname}", which would send ${carries} unencrypted. Use https://, a cluster-internal name (a Service name, *.svc or *.svc.cluster.local) or a loopback address, or set 'allow-insecure-http: true' to accept the risk`;
}
