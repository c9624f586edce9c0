// A cluster of a test's own, for faults that would disturb the suite's shared cluster (an API server restart
// changes its pid) and for the soak suite, which runs outside the e2e project: start, install md-core, run the
// engine or dist/index.js against it, read the wait step's watch figures.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runUpgrade } from '../../../src/engine/run.ts';
import type { Outcome } from '../../../src/engine/outcome.ts';
import { formatInputErrors, parseInputs } from '../../../src/plan/inputs.ts';
import { MemoryReporter } from '../../../src/report/reporter.ts';
import { chartArgs } from '../cluster/context.ts';
import { resolveClusterTools, startCluster, type TestCluster } from '../cluster/harness.ts';
import { embeddedKubeconfig } from '../../support/kubeconfig.ts';

export const IMAGE = 'opswat/metadefendercore-debian';

export async function startPrivateCluster(prefix: string): Promise<TestCluster> {
  const toolsDir = await resolveClusterTools();
  return startCluster({ name: `${prefix}-${process.pid}`, nodes: 1, toolsDir });
}

/** Runs a cluster binary with this cluster's kubeconfig and binaries first on PATH; rejects on failure. */
export function execOn(
  c: TestCluster,
  file: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: {
          ...process.env,
          KUBECONFIG: c.kubeconfig,
          PATH: `${c.binDir}${path.delimiter}${process.env.PATH ?? ''}`,
        },
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${error.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** Installs the fixture chart into a new namespace and waits until md-core is rolled out. */
export async function installMdCore(
  c: TestCluster,
  namespace: string,
  o: { version?: string; replicas?: number } = {},
): Promise<void> {
  const version = o.version ?? '5.19.0';
  await execOn(c, c.kubectl, ['create', 'namespace', namespace]);
  await execOn(
    c,
    c.helm3,
    [
      'install',
      'mdcore',
      ...chartArgs(version),
      '--namespace',
      namespace,
      '--kubeconfig',
      c.kubeconfig,
      '--set',
      `core_components.md-core.image=${IMAGE}:${version}`,
      '--set',
      `core_components.md-core.replicas=${o.replicas ?? 1}`,
      '--set',
      'mdcore_license_key=TEST-LICENSE-0000-1111',
    ],
    120_000,
  );
  await execOn(
    c,
    c.kubectl,
    ['rollout', 'status', 'deployment/md-core', '-n', namespace, '--timeout=120s'],
    130_000,
  );
}

/** The engine in-process (as dist/index.js runs it), against this cluster. */
export async function runEngineOn(
  c: TestCluster,
  inputs: Record<string, string>,
): Promise<{ outcome: Outcome; reporter: MemoryReporter }> {
  const parsed = parseInputs({
    kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
    'kubectl-version': '1.36.3',
    ...inputs,
  });
  if (!parsed.ok) throw new Error(formatInputErrors(parsed.errors));
  const reporter = new MemoryReporter();
  const outcome = await runUpgrade(parsed.plan, {
    reporter,
    tools: { kubectl: async () => c.kubectl, helm: async () => c.helm3 },
  });
  return { outcome, reporter };
}

export interface WatchFigures {
  idle: number;
  errors: number;
  relists: number;
}

/** The wait step's "watch reconnects: N idle, M after errors, K relist(s)" line, anywhere in a text. */
export function watchFigures(text: string): WatchFigures | undefined {
  const m = /watch reconnects: (\d+) idle, (\d+) after errors, (\d+) relist/.exec(text);
  return m ? { idle: Number(m[1]), errors: Number(m[2]), relists: Number(m[3]) } : undefined;
}

export interface DistRun {
  code: number;
  output: string;
  outputs: Record<string, string>;
  summary: string;
  elapsedMs: number;
}

/**
 * Runs `node <distDir>/index.js` as GitHub's runner does (INPUT_* variables, output and summary files), with the
 * cluster's kubeconfig embedded as the `kubeconfig` input. Killed (by its pid) after `limitMs`.
 */
export function runDistOn(
  c: TestCluster,
  distDir: string,
  inputs: Record<string, string>,
  limitMs: number,
): Promise<DistRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mdcore-soak-runner-'));
  const env: NodeJS.ProcessEnv = {
    PATH: `${c.binDir}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: process.env.HOME,
    RUNNER_TEMP: dir,
    RUNNER_TOOL_CACHE: path.join(dir, 'tool-cache'),
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    GITHUB_STATE: path.join(dir, 'state'),
  };
  for (const f of ['output', 'summary', 'state']) writeFileSync(path.join(dir, f), '');
  // The cluster's kubectl is built from source: no official checksum to compare, and no request may leave
  // the machine, so PATH tools are trusted as they are.
  const all = {
    kubeconfig: embeddedKubeconfig(c.kubeconfig),
    'kubectl-version': '1.36.3',
    'path-tools': 'trust',
    ...inputs,
  };
  // The cluster's kubectl and helm on PATH are built from source, and a test makes no request off this machine.
  env['INPUT_PATH-TOOLS'] = 'trust';
  for (const [k, v] of Object.entries(all)) env[`INPUT_${k.toUpperCase()}`] = v;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(distDir, 'index.js')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const outputs: Record<string, string> = {};
      const text = readFileSync(path.join(dir, 'output'), 'utf8');
      for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm))
        outputs[m[1] as string] = m[3] as string;
      const summary = readFileSync(path.join(dir, 'summary'), 'utf8');
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: code ?? -1, output: out, outputs, summary, elapsedMs: Date.now() - started });
    });
  });
}

/** Polls until `probe` returns something (bounded by time and count). */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / 500) + 1; i++) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Resolves once a pod of md-core runs `image` (the rollout has begun; the action is in its wait). */
export function newPodStarted(
  c: TestCluster,
  namespace: string,
  image: string,
  timeoutMs: number,
): Promise<true> {
  return until(
    `a pod running ${image}`,
    async () => {
      const { stdout } = await execOn(c, c.kubectl, [
        'get',
        'pods',
        '-n',
        namespace,
        '-l',
        'app=md-core',
        '-o',
        'jsonpath={.items[*].spec.containers[*].image}',
      ]);
      return stdout.split(/\s+/).includes(image) ? true : undefined;
    },
    timeoutMs,
  );
}
