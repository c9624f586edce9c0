// The action as it runs in a runner pod (e.g. Actions Runner Controller): no kubeconfig anywhere, a
// ServiceAccount token from the real API server at the path a pod has it, KUBERNETES_SERVICE_HOST/PORT, and only
// the route's Role from the README's permission list. The files are put at that path inside a private mount namespace of the action's process
// (`unshare --mount`, a tmpfs), so the machine's own filesystem is never touched.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { kubeconfigForTools } from '../../src/cluster/kubeconfig-file.ts';
import { REPO_ROOT } from './cluster/harness.ts';
import { chartArgs, e2eCluster, helm, kubectl } from './cluster/context.ts';
import { useNamespaces } from './support/namespaces.ts';
import { configMapsData, deploymentView, IMAGE, installFixture } from './support/action.ts';

const namespace = useNamespaces();
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const SA_NAME = 'mdcore-upgrader';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
  vi.unstubAllEnvs();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The admin kubeconfig's API server and CA: where a pod's KUBERNETES_SERVICE_* and ca.crt point. */
function apiServer(): { host: string; port: string; ca: Buffer } {
  const kc = parse(readFileSync(e2eCluster().kubeconfig, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
  };
  const cluster = kc.clusters[0]?.cluster ?? {};
  const url = new URL(cluster.server ?? '');
  const ca = cluster['certificate-authority-data']
    ? Buffer.from(cluster['certificate-authority-data'], 'base64')
    : readFileSync(cluster['certificate-authority'] ?? '');
  return { host: url.hostname, port: url.port, ca };
}

/** Whether the API server's serving certificate is valid for host under ca (the check a pod's client makes). */
function servingCertValid(host: string, port: string, ca: Buffer): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port), ca, timeout: 10_000 }, () => {
      socket.end();
      resolve(undefined);
    });
    socket.on('error', (err) => resolve(err.message));
    socket.on('timeout', () => {
      socket.destroy();
      resolve('timed out');
    });
  });
}

/** A route's Role and RoleBinding from the README, for md-core's namespace and a ServiceAccount in the runner's. */
function readmeRbac(route: 'kubectl' | 'helm', mdcoreNs: string, runnerNs: string): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = new RegExp(
    `<!-- rbac:${route}:start -->\\s*\`\`\`yaml\\n([\\s\\S]*?)\`\`\`\\s*<!-- rbac:${route}:end -->`,
  );
  const m = block.exec(readme);
  if (!m?.[1]) throw new Error(`README.md has no rbac:${route} block`);
  type RbacObject = { kind: string; metadata: { namespace?: string }; subjects?: { namespace?: string }[] };
  const docs = parseAllDocuments(m[1]).map((d) => d.toJSON() as RbacObject);
  expect(docs.map((d) => d.kind)).toEqual(['Role', 'RoleBinding']);
  for (const d of docs) d.metadata.namespace = mdcoreNs;
  for (const s of docs[1]?.subjects ?? []) s.namespace = runnerNs;
  return docs.map((d) => stringify(d)).join('---\n');
}

/** A ServiceAccount in runnerNs with the route's README Role in mdcoreNs; its token, CA and namespace as a pod has them. */
async function podCredentials(
  route: 'kubectl' | 'helm',
  mdcoreNs: string,
  runnerNs: string,
): Promise<{ dir: string; token: string }> {
  await kubectl(['create', 'serviceaccount', SA_NAME, '-n', runnerNs]);
  await kubectl(['apply', '-f', '-'], { input: readmeRbac(route, mdcoreNs, runnerNs) });
  const token = (
    await kubectl(['create', 'token', SA_NAME, '-n', runnerNs, '--duration=3600s'])
  ).stdout.trim();
  expect(token.split('.')).toHaveLength(3);
  const dir = tempDir('mdcore-sa-');
  writeFileSync(path.join(dir, 'token'), token, { mode: 0o600 });
  writeFileSync(path.join(dir, 'ca.crt'), apiServer().ca);
  writeFileSync(path.join(dir, 'namespace'), runnerNs);
  return { dir, token };
}

/**
 * Where the tmpfs goes: the service-account directory itself, or the deepest directory of its path that exists
 * here (on this machine /var/run → /run), so that nothing is created outside the private mount.
 */
function mountPoint(): string {
  let p = SA_DIR;
  while (!existsSync(p)) p = path.dirname(p);
  const real = realpathSync(p);
  for (const kept of [tmpdir(), REPO_ROOT, process.execPath, e2eCluster().binDir]) {
    if (`${realpathSync(kept)}/`.startsWith(`${real}/`))
      throw new Error(`a tmpfs on ${real} would hide ${kept}`);
  }
  return real;
}

// Runs as the first process of the private mount namespace: mounts the tmpfs, puts the pod's files in place, then
// loads the action in the same process. Node rather than sh: sh drops variables such as INPUT_HELM-VERSION,
// whose names are not shell names, from the environment it passes on.
const POD_ENTRY = `
const { execFileSync } = await import('node:child_process');
const { copyFileSync, mkdirSync } = await import('node:fs');
const { pathToFileURL } = await import('node:url');
const [mountAt, saDir, source, entry] = process.argv.slice(1);
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', mountAt]);
mkdirSync(saDir, { recursive: true });
for (const f of ['token', 'ca.crt', 'namespace']) copyFileSync(source + '/' + f, saDir + '/' + f);
await import(pathToFileURL(entry).href);
`;

interface PodRun {
  code: number;
  output: string;
  outputs: Record<string, string>;
  summary: string;
}

/** dist/index.js with GitHub's runner files, in a private mount namespace holding the pod's files. */
async function runInPod(
  inputs: Record<string, string>,
  credentials: string,
  pathFirst: string[] = [],
  helmMajor: 3 | 4 = 3,
): Promise<PodRun> {
  const c = e2eCluster();
  const dir = tempDir('mdcore-pod-runner-');
  const home = path.join(dir, 'home');
  mkdirSync(home);
  const server = apiServer();
  // Nothing from this process's environment: no KUBECONFIG, and a HOME without ~/.kube/config.
  const env: NodeJS.ProcessEnv = {
    PATH: [
      ...pathFirst,
      c.binDir,
      path.dirname(helmMajor === 3 ? c.helm3 : c.helm4),
      process.env.PATH ?? '',
    ].join(path.delimiter),
    HOME: home,
    RUNNER_TEMP: dir,
    RUNNER_TOOL_CACHE: path.join(dir, 'tool-cache'),
    KUBERNETES_SERVICE_HOST: server.host,
    KUBERNETES_SERVICE_PORT: server.port,
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    GITHUB_STATE: path.join(dir, 'state'),
  };
  for (const f of ['output', 'summary', 'state']) writeFileSync(path.join(dir, f), '');
  // The cluster's kubectl and helm on PATH are built from source, and a test makes no request off this machine.
  env['INPUT_PATH-TOOLS'] = 'trust';
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      process.execPath,
      '--input-type=module',
      '-e',
      POD_ENTRY,
      mountPoint(),
      SA_DIR,
      credentials,
      path.join(REPO_ROOT, 'dist', 'index.js'),
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  cleanups.push(() => {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const code = await new Promise<number>((resolve) =>
    child.on('close', (n) => {
      clearTimeout(timer);
      resolve(n ?? -1);
    }),
  );
  const outputs: Record<string, string> = {};
  const text = readFileSync(path.join(dir, 'output'), 'utf8');
  for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm))
    outputs[m[1] as string] = m[3] as string;
  return { code, output, outputs, summary: readFileSync(path.join(dir, 'summary'), 'utf8') };
}

/** md-core from the fixture chart as plain objects (no Helm release, no Helm annotations). */
async function installPlain(ns: string): Promise<void> {
  const rendered = await helm(3, [
    'template',
    'mdcore',
    ...chartArgs('5.19.0'),
    '--namespace',
    ns,
    '--set',
    `core_components.md-core.image=${IMAGE}:5.19.0`,
    '--set',
    'core_components.md-core.replicas=1',
  ]);
  await kubectl(['apply', '-n', ns, '-f', '-'], { input: rendered.stdout });
  await kubectl(['rollout', 'status', 'deployment/md-core', '-n', ns, '--timeout=120s'], {
    timeoutMs: 130_000,
  });
}

async function helmVersion(major: 3 | 4): Promise<string> {
  return (await helm(major, ['version', '--template', '{{.Version}}'])).stdout.trim().replace(/^v/, '');
}

function expectInClusterRun(run: PodRun, token: string): void {
  const server = apiServer();
  expect(run.output).toContain(
    `the API server at https://${server.host}:${server.port} answers (context inClusterContext)`,
  );
  expect(run.output).toContain("kubectl reads the cluster with the run's credentials");
  expect(run.output).not.toContain('no Auth Provider found');
  // Every input reached the action (path-tools: trust among them): nothing was looked up off this machine.
  expect(run.output).not.toContain('getaddrinfo');
  expect(run.output + run.summary + JSON.stringify(run.outputs)).not.toContain(token);
}

describe('a runner inside the cluster (ServiceAccount, no kubeconfig)', () => {
  it("the API server's certificate is valid for the address a pod would use", async () => {
    const s = apiServer();
    expect(s.host).toBe('127.0.0.1');
    expect(await servingCertValid(s.host, s.port, s.ca)).toBeUndefined();
  });

  it('kubectl refuses what client-node exports for in-cluster credentials, and accepts the converted file', async () => {
    const ns = await namespace('incluster-kubectl-file');
    const runnerNs = await namespace('incluster-kubectl-file-runner');
    await installPlain(ns);
    const { dir } = await podCredentials('kubectl', ns, runnerNs);
    // loadFromCluster's path prefix stands in for the pod's root here: kubectl reads the files wherever they are.
    const root = tempDir('mdcore-sa-root-');
    mkdirSync(path.join(root, SA_DIR), { recursive: true });
    for (const f of ['token', 'ca.crt', 'namespace'])
      writeFileSync(path.join(root, SA_DIR, f), readFileSync(path.join(dir, f)));
    const s = apiServer();
    vi.stubEnv('KUBERNETES_SERVICE_HOST', s.host);
    vi.stubEnv('KUBERNETES_SERVICE_PORT', s.port);
    const kc = new KubeConfig();
    kc.loadFromCluster(root);
    const files = tempDir('mdcore-kubeconfigs-');
    const get = (file: string) =>
      kubectl(['--kubeconfig', file, '-n', ns, 'get', 'deployment/md-core', '-o', 'name'], {
        allowFailure: true,
        env: { KUBECONFIG: '' },
      });

    writeFileSync(path.join(files, 'raw'), kc.exportConfig(), { mode: 0o600 });
    const raw = await get(path.join(files, 'raw'));
    expect(raw.code).not.toBe(0);
    expect(raw.stderr).toContain('no Auth Provider found for name "tokenFile"');

    writeFileSync(path.join(files, 'converted'), kubeconfigForTools(kc.exportConfig()), { mode: 0o600 });
    const converted = await get(path.join(files, 'converted'));
    expect(converted.stderr).toBe('');
    expect(converted.stdout.trim()).toBe('deployment.apps/md-core');
  });

  it("kubectl route: upgrades a plain Deployment with only the README's kubectl Role", async () => {
    const ns = await namespace('incluster-kubectl');
    const runnerNs = await namespace('incluster-kubectl-runner');
    await installPlain(ns);
    const before = await deploymentView(ns);
    const { dir, token } = await podCredentials('kubectl', ns, runnerNs);

    const run = await runInPod({ namespace: ns, tag: '5.20.0', 'kubectl-version': '1.36.3' }, dir);
    expect(run.code, run.output).toBe(0);
    expect(run.outputs).toMatchObject({ result: 'upgraded', method: 'kubectl', 'rolled-back': 'false' });
    expectInClusterRun(run, token);
    const after = await deploymentView(ns);
    expect(after.image).toBe(`${IMAGE}:5.20.0`);
    expect(Number(after.revision)).toBe(Number(before.revision) + 1);
  });

  it.each([3, 4] as const)(
    "helm route (Helm %i): upgrades a helm release with only the README's helm Role",
    async (major) => {
      const ns = await namespace(`incluster-helm${major}`);
      const runnerNs = await namespace(`incluster-helm${major}-runner`);
      const key = 'E2E-LIC-INCLUSTER-0001';
      await installFixture(ns, { helmMajor: major, licenseKey: key });
      const before = await deploymentView(ns);
      const { dir, token } = await podCredentials('helm', ns, runnerNs);

      const run = await runInPod(
        {
          namespace: ns,
          tag: '5.20.0',
          'license-key': key,
          'kubectl-version': '1.36.3',
          'helm-version': await helmVersion(major),
        },
        dir,
        [],
        major,
      );
      expect(run.code, run.output).toBe(0);
      expect(run.outputs).toMatchObject({ result: 'upgraded', method: 'helm', 'rolled-back': 'false' });
      expectInClusterRun(run, token);
      expect(run.output).toContain("helm reads the cluster with the run's credentials");
      const after = await deploymentView(ns);
      expect(after.image).toBe(`${IMAGE}:5.20.0`);
      expect(Number(after.revision)).toBe(Number(before.revision) + 1);
      const history = JSON.parse(
        (await helm(major, ['history', 'mdcore', '-n', ns, '-o', 'json'])).stdout,
      ) as {
        status: string;
      }[];
      expect(history.map((h) => h.status)).toEqual(['superseded', 'deployed']);
    },
  );

  it('a kubectl that cannot read the cluster stops the run before any change', async () => {
    const ns = await namespace('incluster-tool-refused');
    const runnerNs = await namespace('incluster-tool-refused-runner');
    await installPlain(ns);
    const before = await deploymentView(ns);
    const maps = await configMapsData(ns);
    const { dir } = await podCredentials('kubectl', ns, runnerNs);
    // Answers the version question as the real kubectl (so the action takes it), refuses everything else.
    const bin = tempDir('mdcore-refusing-kubectl-');
    writeFileSync(
      path.join(bin, 'kubectl'),
      `#!/bin/sh
[ "$*" = "version --client -o json" ] && exec "${e2eCluster().kubectl}" "$@"
echo "error: You must be logged in to the server (the server has asked for the client to provide credentials)" >&2
exit 1
`,
      { mode: 0o755 },
    );

    const run = await runInPod({ namespace: ns, tag: '5.20.0', 'kubectl-version': '1.36.3' }, dir, [bin]);
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failed');
    expect(run.output).toContain(
      'kubectl could not read from the cluster with the credentials this run loaded',
    );
    expect(run.output).toContain('the API server rejected the credentials');
    expect(run.output).toContain('Nothing in the cluster was changed.');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(maps);
  });
});
