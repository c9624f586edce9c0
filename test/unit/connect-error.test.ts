// An unreachable cluster is explained: which server, the cause, and the next step.
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyConnectError, describeConnectFailure } from '../../src/cluster/connect-error.ts';
import { Kube } from '../../src/cluster/kube.ts';

/** What the HTTP client throws: "fetch failed" with the real reason as its cause. */
function fetchFailed(code: string, message = `${code} happened`): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) });
}

describe('classifyConnectError', () => {
  it.each([
    ['ECONNREFUSED', 'refused'],
    ['ENOTFOUND', 'dns'],
    ['EAI_AGAIN', 'dns'],
    ['ETIMEDOUT', 'timeout'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['EHOSTUNREACH', 'unreachable'],
    ['ECONNRESET', 'reset'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['EWHATEVER', 'other'],
  ])('%s -> %s', (code, cause) => {
    const f = classifyConnectError(fetchFailed(code));
    expect(f.cause).toBe(cause);
    expect(f.code).toBe(code);
    expect(f.detail).toBe(`${code} happened`);
  });

  it('reads HTTP statuses of API exceptions: 401 and 403', () => {
    expect(classifyConnectError(Object.assign(new Error('HTTP-Code: 401'), { code: 401 })).cause).toBe(
      'unauthorized',
    );
    expect(classifyConnectError(Object.assign(new Error('nope'), { statusCode: 403 })).cause).toBe(
      'forbidden',
    );
  });

  it('finds the reason deep in the chain and in an AggregateError, and a timeout by name', () => {
    const deep = new Error('outer', { cause: new Error('middle', { cause: fetchFailed('ENOTFOUND') }) });
    expect(classifyConnectError(deep).cause).toBe('dns');
    const aggregate = new TypeError('fetch failed', {
      cause: new AggregateError([
        Object.assign(new Error('connect ECONNREFUSED ::1:6443'), { code: 'ECONNREFUSED' }),
      ]),
    });
    expect(classifyConnectError(aggregate).cause).toBe('refused');
    expect(classifyConnectError(new DOMException('The operation timed out', 'TimeoutError')).cause).toBe(
      'timeout',
    );
  });

  it('stops on a cyclic cause chain', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classifyConnectError(a).cause).toBe('other');
  });
});

describe('describeConnectFailure', () => {
  const where = { server: 'https://10.0.0.1:6443', context: 'prod' };

  it('names the server, the cause, that nothing changed, and the self-hosted runner for a private cluster', () => {
    const m = describeConnectFailure(
      fetchFailed('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:6443'),
      where,
    );
    expect(m).toContain('cannot reach the Kubernetes API server https://10.0.0.1:6443 (context prod)');
    expect(m).toContain('the connection was refused');
    expect(m).toContain('connect ECONNREFUSED 10.0.0.1:6443');
    expect(m).toContain('Nothing in the cluster was changed.');
    expect(m).toContain('self-hosted runner');
    expect(m).toContain("'kubeconfig' input");
    expect(m).not.toContain('fetch failed');
  });

  it('gives the next step that fits the cause', () => {
    expect(describeConnectFailure(fetchFailed('ENOTFOUND'), where)).toContain('private DNS name');
    expect(describeConnectFailure(fetchFailed('SELF_SIGNED_CERT_IN_CHAIN'), where)).toContain(
      'certificate-authority-data',
    );
    expect(describeConnectFailure(Object.assign(new Error('Unauthorized'), { code: 401 }), where)).toContain(
      'expired or wrong',
    );
    expect(describeConnectFailure(Object.assign(new Error('Forbidden'), { code: 403 }), where)).toContain(
      'answered 403',
    );
    // The code is shown when the message does not already carry it.
    expect(describeConnectFailure(fetchFailed('ETIMEDOUT', 'connect timed out'), where)).toContain(
      'connect timed out [ETIMEDOUT]',
    );
  });
});

describe("Kube's first request against loopback servers (no cluster needed)", () => {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  const kubeconfig = (url: string): string =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: url } }],
      users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
      contexts: [{ name: 'unit', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'unit',
    });

  async function listen(onConnection: (s: Socket) => void): Promise<number> {
    server = createTcpServer((socket) => {
      sockets.add(socket);
      onConnection(socket);
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  it('a closed port: connection refused, with the server and the next step', async () => {
    const port = await listen(() => undefined);
    await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
    const kube = await Kube.connect({ kubeconfig: kubeconfig(`https://127.0.0.1:${port}`) });
    const err = (await kube.getDeployment('mdcore', 'md-core').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(
      `cannot reach the Kubernetes API server https://127.0.0.1:${port} (context unit)`,
    );
    expect(err.message).toContain('the connection was refused');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('self-hosted runner');
    expect(err.message).not.toMatch(/^reading Deployment mdcore\/md-core: fetch failed$/);
  });

  it('a port that does not speak TLS: the TLS handshake failed', async () => {
    const port = await listen((socket) => {
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    const kube = await Kube.connect({ kubeconfig: kubeconfig(`https://127.0.0.1:${port}`) });
    const err = (await kube.getDeployment('mdcore', 'md-core').catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('the TLS handshake failed');
    expect(err.message).toContain('certificate-authority-data');
  });
});
