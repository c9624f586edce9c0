// Helpers for e2e tests running against the suite's cluster (started by global-setup.ts).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import { REPO_ROOT } from './harness.ts';
import { E2E_ENV, type E2EClusterInfo } from './info.ts';

export { E2E_ENV, type E2EClusterInfo };

/** The suite's cluster: from inject('mdcoreCluster'), else from the E2E env vars. */
export function e2eCluster(): E2EClusterInfo {
  let provided: E2EClusterInfo | undefined;
  try {
    provided = inject('mdcoreCluster');
  } catch {
    provided = undefined;
  }
  if (provided) return provided;
  const env = (k: string): string => {
    const v = process.env[k];
    if (!v)
      throw new Error(`e2e cluster not available: ${k} is not set (run through the vitest e2e project)`);
    return v;
  };
  return {
    name: 'from-env',
    kubeconfig: env(E2E_ENV.kubeconfig),
    binDir: env(E2E_ENV.binDir),
    kubectl: env(E2E_ENV.kubectl),
    helm3: env(E2E_ENV.helm3),
    helm4: env(E2E_ENV.helm4),
    toolsDir: path.dirname(env(E2E_ENV.binDir)),
    workdir: '',
    pids: [],
  };
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the child's stdin. */
  input?: string;
  /** Default 60 s; the child is killed after that. */
  timeoutMs?: number;
  /** Resolve with a non-zero exit code instead of rejecting. */
  allowFailure?: boolean;
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
}

/** Runs a program with the cluster's KUBECONFIG and the project's binaries first on PATH. */
export function exec(file: string, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
  const c = e2eCluster();
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        env: {
          ...process.env,
          KUBECONFIG: c.kubeconfig,
          PATH: `${c.binDir}${path.delimiter}${process.env.PATH ?? ''}`,
          ...options.env,
        },
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        if (error && (!options.allowFailure || error.killed)) {
          const why = error.killed ? `timed out after ${timeoutMs} ms` : `exited with ${String(error.code)}`;
          reject(new Error(`${path.basename(file)} ${args.join(' ')} ${why}\n${stderr}\n${stdout}`.trim()));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** `kubectl <args>` against the suite's cluster. */
export function kubectl(args: string[], options: ExecOptions = {}): Promise<ExecResult> {
  return exec(e2eCluster().kubectl, args, options);
}

/** `kubectl <args> -o json`, parsed. */
export async function kubectlJson<T = unknown>(args: string[], options: ExecOptions = {}): Promise<T> {
  const { stdout } = await kubectl([...args, '-o', 'json'], options);
  return JSON.parse(stdout) as T;
}

/** `helm <args>` with Helm 3 or Helm 4 against the suite's cluster. */
export function helm(major: 3 | 4, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
  const c = e2eCluster();
  // Each Helm major gets its own config/cache/data dirs inside the cluster's temp workdir (when known).
  const home = c.workdir ? path.join(c.workdir, `helm${major}`) : undefined;
  const env: NodeJS.ProcessEnv = home
    ? {
        HELM_CACHE_HOME: path.join(home, 'cache'),
        HELM_CONFIG_HOME: path.join(home, 'config'),
        HELM_DATA_HOME: path.join(home, 'data'),
      }
    : {};
  return exec(major === 3 ? c.helm3 : c.helm4, args, { ...options, env: { ...env, ...options.env } });
}

export interface Namespace {
  name: string;
  /** Deletes the namespace without waiting for it to be gone. */
  cleanup(): Promise<void>;
}

/** Creates a uniquely named namespace and waits until pods can be created in it (default ServiceAccount). */
export async function freshNamespace(prefix: string): Promise<Namespace> {
  const base = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  const name = `${base || 'ns'}-${randomBytes(3).toString('hex')}`;
  await kubectl(['create', 'namespace', name]);
  await waitFor(
    `serviceaccount default in ${name}`,
    async () => {
      const r = await kubectl(['get', 'serviceaccount', 'default', '-n', name, '-o', 'name'], {
        allowFailure: true,
      });
      return r.code === 0 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  let done = false;
  return {
    name,
    async cleanup() {
      if (done) return;
      done = true;
      await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
    },
  };
}

/**
 * Polls `probe` until it returns something other than undefined; bounded in time AND in attempts.
 * Throws with the last probe error (if any) when the time is up.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 500;
  const deadline = Date.now() + timeoutMs;
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
  );
}

export const FIXTURE_CHARTS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'charts');

/**
 * The chart to install for a Core version: the fixture `test/fixtures/charts/mdcore-<version>` unless env
 * MDCORE_CHART is set. MDCORE_CHART is a chart path or a repo reference (e.g. `mdk8s/metadefender_core`);
 * a `{version}` placeholder in it is replaced by the version.
 */
export function chartRef(version: string): string {
  const override = process.env.MDCORE_CHART;
  if (override) return override.replaceAll('{version}', version);
  const dir = path.join(FIXTURE_CHARTS_DIR, `mdcore-${version}`);
  if (!existsSync(dir)) throw new Error(`no fixture chart for Core ${version} (${dir})`);
  return dir;
}

/** Helm args selecting the chart: the ref, plus `--version` when it is a repo reference rather than a path. */
export function chartArgs(version: string): string[] {
  const ref = chartRef(version);
  return existsSync(ref) ? [ref] : [ref, '--version', version];
}
