// A tools mirror on 127.0.0.1 serving real kubectl and helm binaries in the official layouts (see
// src/tools/sources.ts), built at run time from the binaries of the cluster tools cache. Used by the
// integration tests and the install benchmark; whoever starts a mirror closes it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { toolPlatform, type ToolPlatform } from '../../src/tools/platform.ts';
import {
  helmArchiveName,
  helmBinaryInArchive,
  helmChecksumName,
  kubectlBinaryPath,
  kubectlChecksumPath,
} from '../../src/tools/sources.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const KUBECTL_VERSION = '1.36.3';
export const HELM3_VERSION = '3.22.0';
export const HELM4_VERSION = '4.3.1';

export interface ClusterTools {
  kubectl: string;
  helm3: string;
  helm4: string;
}

/**
 * The real binaries: from MDCORE_CLUSTER_TOOLS_DIR when set, else from scripts/build-cluster-tools.sh, whose
 * warm run only checks its cache and prints the directory (a cold run builds them, which takes long).
 */
export async function clusterTools(): Promise<ClusterTools> {
  let dir = process.env['MDCORE_CLUSTER_TOOLS_DIR'];
  if (!dir) {
    const { stdout } = await run('bash', [path.join(repoRoot, 'scripts/build-cluster-tools.sh')], {
      cwd: repoRoot,
      timeout: 45 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    dir = stdout.trim().split('\n').at(-1) ?? '';
  }
  const tools = {
    kubectl: path.join(dir, 'bin', 'kubectl'),
    helm3: path.join(dir, 'helm3', 'helm'),
    helm4: path.join(dir, 'helm4', 'helm'),
  };
  for (const file of Object.values(tools)) {
    if (!existsSync(file)) throw new Error(`cluster tools: ${file} is missing`);
  }
  return tools;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A helm release archive as get.helm.sh lays it out: <os>-<arch>/helm plus the license and readme. */
export async function helmArchive(binary: string, p: ToolPlatform): Promise<Buffer> {
  if (p.os === 'windows') throw new Error('the test mirror builds tar.gz archives only (no windows zip)');
  const staging = await mkdtemp(path.join(tmpdir(), 'helm-archive-'));
  try {
    const inner = helmBinaryInArchive(p);
    const top = inner.split('/')[0] ?? '';
    await mkdir(path.join(staging, top));
    await copyFile(binary, path.join(staging, inner));
    await copyFile(path.join(repoRoot, 'package.json'), path.join(staging, top, 'README.md'));
    const tarFile = path.join(staging, 'helm.tar');
    await run('tar', ['-cf', tarFile, '-C', staging, top]);
    // Level 1: the archive is rebuilt on every run; speed matters more than size on loopback.
    return gzipSync(await readFile(tarFile), { level: 1 });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Every file of a mirror holding kubectl 1.36.3, helm 3.22.0 and helm 4.3.1 for this host, with pointers. */
export async function officialLayout(tools: ClusterTools): Promise<Map<string, Buffer>> {
  const p = toolPlatform(process.platform, process.arch);
  const files = new Map<string, Buffer>();
  const kubectl = await readFile(tools.kubectl);
  files.set(kubectlBinaryPath(KUBECTL_VERSION, p), kubectl);
  files.set(kubectlChecksumPath(KUBECTL_VERSION, p), Buffer.from(`${sha256(kubectl)}\n`));
  for (const [version, binary] of [
    [HELM3_VERSION, tools.helm3],
    [HELM4_VERSION, tools.helm4],
  ] as const) {
    const archive = await helmArchive(binary, p);
    files.set(helmArchiveName(version, p), archive);
    files.set(
      helmChecksumName(version, p),
      Buffer.from(`${sha256(archive)}  ${helmArchiveName(version, p)}\n`),
    );
  }
  files.set('release/stable.txt', Buffer.from(`v${KUBECTL_VERSION}\n`));
  files.set('release/stable-1.36.txt', Buffer.from(`v${KUBECTL_VERSION}\n`));
  files.set('helm3-latest-version', Buffer.from(`v${HELM3_VERSION}\n`));
  files.set('helm4-latest-version', Buffer.from(`v${HELM4_VERSION}\n`));
  return files;
}

export interface MirrorRequest {
  /** Path below the mirror prefix, no query. */
  path: string;
  authorization: string | undefined;
}

export interface Mirror {
  /** Base URL (with the prefix, ending in '/') to pass as tools-mirror. */
  readonly url: string;
  readonly port: number;
  readonly files: Map<string, Buffer>;
  readonly requests: MirrorRequest[];
  /** Requests for one path so far. */
  count(relativePath: string): number;
  /** Answers a path with this status (no body) for the next `times` requests. */
  fail(relativePath: string, status: number, times?: number): void;
  /** Requires this exact Authorization header on every request (401 otherwise). */
  requireAuthorization(value: string | undefined): void;
  /** Back to serving exactly `files`: no recorded requests, failures or required authorization. */
  reset(files: Map<string, Buffer>): void;
  close(): Promise<void>;
}

const PREFIX = '/mirror/';

/** Starts a mirror on 127.0.0.1 (a random free port) serving `files` below /mirror/. */
export async function startMirror(files: Map<string, Buffer>): Promise<Mirror> {
  const requests: MirrorRequest[] = [];
  const failures = new Map<string, { status: number; left: number }>();
  let required: string | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const pathname = new URL(req.url ?? '/', 'http://mirror.local').pathname;
    const rel = pathname.startsWith(PREFIX) ? decodeURIComponent(pathname.slice(PREFIX.length)) : '';
    requests.push({ path: rel, authorization: req.headers.authorization });
    if (required !== undefined && req.headers.authorization !== required) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="mirror"' }).end();
      return;
    }
    const failure = failures.get(rel);
    if (failure && failure.left > 0) {
      failure.left--;
      res.writeHead(failure.status).end();
      return;
    }
    const body = req.method === 'GET' ? files.get(rel) : undefined;
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
      .end(body);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}${PREFIX}`,
    port,
    files,
    requests,
    count: (rel) => requests.filter((r) => r.path === rel).length,
    fail: (rel, status, times = Number.POSITIVE_INFINITY) => failures.set(rel, { status, left: times }),
    requireAuthorization: (value) => {
      required = value;
    },
    reset: (next) => {
      files.clear();
      for (const [k, v] of next) files.set(k, v);
      requests.length = 0;
      failures.clear();
      required = undefined;
    },
    close: () => closeServer(server),
  };
}

export interface FakeProxy {
  readonly url: string;
  /** The host:port of every CONNECT it received. */
  readonly connects: string[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 that tunnels every CONNECT, whatever host it names, to one local port. Lets a test
 * use a mirror host name that resolves nowhere and still see that requests went through the proxy.
 */
export async function startFakeProxy(targetPort: number): Promise<FakeProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => {
    res.writeHead(405).end(); // only CONNECT is expected: the http-client tunnels plain http too
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    sockets.add(client);
    const upstream = connect(targetPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    upstream.on('error', end);
    client.on('error', end);
    upstream.on('close', end);
    client.on('close', end);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    close: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}
