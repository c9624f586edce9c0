// How each contender performs one upgrade of md-core in a namespace, timed on the local clock. Every child
// process is capped in time and stopped by its own pid; nothing here waits without a bound.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { Kube } from '../src/cluster/kube.ts';
import { waitForRollout } from '../src/cluster/rollout-watcher.ts';
import { runUpgrade } from '../src/engine/run.ts';
import { formatInputErrors, parseInputs } from '../src/plan/inputs.ts';
import { MemoryReporter } from '../src/report/reporter.ts';
import type { TestCluster } from '../test/e2e/cluster/harness.ts';
import type { Agent } from './audit.ts';
import { now } from './observer.ts';

export const IMAGE = 'opswat/metadefendercore-debian';
export const RELEASE = 'mdcore';
export const CHART_VERSION = '5.20.0';

export type Tool = 'ours-watcher' | 'ours-engine' | 'ours-dist' | 'kubectl' | 'helm3' | 'helm4';

export const TOOL_LABEL: Record<Tool, string> = {
  'ours-watcher': 'ours: rollout watcher (after `kubectl set image`)',
  'ours-engine': 'ours: runUpgrade, method kubectl (in-process)',
  'ours-dist': 'ours: `node dist/index.js` (fake runner)',
  kubectl: '`kubectl set image` + `kubectl rollout status`',
  helm3: 'Helm 3.22.0 `helm upgrade --wait` / `--atomic`',
  helm4: 'Helm 4.3.1 `helm upgrade --wait=watcher` / `--rollback-on-failure`',
};

/** Which user agents count as the tool's requests in the audit log. */
export const TOOL_AGENTS: Record<Tool, readonly Agent[]> = {
  'ours-watcher': ['client-node', 'kubectl'],
  'ours-engine': ['client-node', 'kubectl'],
  'ours-dist': ['client-node', 'kubectl'],
  kubectl: ['kubectl'],
  helm3: ['helm3'],
  helm4: ['helm4'],
};

/** The Helm major that installs (and, for the helm contenders, upgrades) a namespace's release. */
export function helmMajorFor(tool: Tool): 3 | 4 {
  return tool === 'helm4' ? 4 : 3;
}

export interface BenchEnv {
  cluster: TestCluster;
  /** The cluster's kubeconfig with certificates inline, as a CI secret holds it. */
  kubeconfigText: string;
  /** Scratch directory (fresh HOME per run, fake runner dirs). */
  tmp: string;
  repoRoot: string;
  chartDir: string;
  /** INPUT_* defaults from action.yml, as the runner sets them. */
  inputDefaults: Record<string, string>;
  /** A copy of dist/ taken at the start, so a rebuild by someone else during the run cannot break it. */
  distDir: string;
}

export { embeddedKubeconfig } from '../test/support/kubeconfig.ts';

/** Defaults of action.yml's inputs, which the runner passes as INPUT_<NAME> even when a workflow omits them. */
export function actionInputDefaults(repoRoot: string): Record<string, string> {
  const doc = parse(readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')) as {
    inputs: Record<string, { default?: string | number | boolean }>;
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.inputs)) if (v.default !== undefined) out[k] = String(v.default);
  return out;
}

// ---- processes --------------------------------------------------------------------------------------------

export interface ProcResult {
  code: number | null;
  signal: string | null;
  start: number;
  end: number;
  capped: boolean;
  output: string;
}

/** Children currently running, so an interrupted benchmark can stop exactly its own processes. */
const running = new Set<ReturnType<typeof spawn>>();

/** SIGKILLs every child this module started that is still running (each by its own pid). */
export function killRunningChildren(): void {
  for (const c of running) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

export function runProc(
  file: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; capMs: number },
): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const start = now();
    const child = spawn(file, [...args], { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let output = '';
    let end = 0;
    let capped = false;
    const keep = (d: string): void => {
      output = (output + d).slice(-20_000);
    };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    const timer = setTimeout(() => {
      capped = true;
      child.kill('SIGKILL'); // this child, by its pid
    }, options.capMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
    child.on('exit', () => {
      end = now();
      running.delete(child);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, start, end: end || now(), capped, output });
    });
  });
}

/** A fresh HOME (and XDG / Helm dirs) per run: no discovery or Helm caches carried over, like a new CI runner. */
export function freshHome(env: BenchEnv, label: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(path.join(env.tmp, `home-${label}-`));
  const sub = (s: string): string => {
    const p = path.join(dir, s);
    mkdirSync(p, { recursive: true });
    return p;
  };
  return {
    dir,
    env: {
      ...process.env,
      HOME: dir,
      XDG_CACHE_HOME: sub('.cache'),
      XDG_CONFIG_HOME: sub('.config'),
      XDG_DATA_HOME: sub('.local/share'),
      HELM_CACHE_HOME: sub('.cache/helm'),
      HELM_CONFIG_HOME: sub('.config/helm'),
      HELM_DATA_HOME: sub('.local/share/helm'),
      PATH: `${env.cluster.binDir}${path.delimiter}${process.env.PATH ?? ''}`,
      KUBECONFIG: env.cluster.kubeconfig,
    },
  };
}

export function helmValues(tag: string, replicas: number): string[] {
  return [
    '--set',
    `core_components.md-core.image=${IMAGE}:${tag}`,
    '--set',
    `core_components.md-core.replicas=${replicas}`,
    '--set',
    'mdcore_license_key=BENCH-LICENSE-0000-1111',
  ];
}

export function helmBinary(env: BenchEnv, major: 3 | 4): string {
  return major === 3 ? env.cluster.helm3 : env.cluster.helm4;
}

// ---- one upgrade ------------------------------------------------------------------------------------------

export type Expectation = 'ready' | 'fail';

export interface UpgradeSpec {
  tool: Tool;
  namespace: string;
  replicas: number;
  tag: string;
  expect: Expectation;
  capMs: number;
  /** More action inputs (ours-engine, ours-dist), e.g. a strategy. */
  inputs?: Record<string, string>;
  /** ours-engine, ours-dist: keep what the run reported in the timing (`report`). */
  keepReport?: boolean;
  /**
   * Every process the contender spawns runs under `/usr/bin/time`, appending one line `rusage <wall s> <user s>
   * <sys s> <max RSS KiB>` to this file (its CPU includes the children it waited for), and under `timeout` at the
   * cap so the process itself is killed by its parent there.
   */
  rusageFile?: string;
  /** ours-dist: this Helm major's binary on the runner's PATH too (for `method: helm`). */
  helmOnPath?: 3 | 4;
}

export interface UpgradeTiming {
  tool: Tool;
  namespace: string;
  /** Local clock (epoch ms) when the contender was started. */
  start: number;
  /** When it gave its verdict: the watcher resolved, the engine's wait step ended, or the process exited. */
  verdictAt: number | undefined;
  /** When it returned / exited (after recording, summary, rollback, ...). */
  endAt: number;
  /** ours-engine: when its rollback step ended. */
  rollbackStepEndAt?: number | undefined;
  /** The contender's own view: true when it reported success. */
  succeeded: boolean;
  /** It was stopped at the cap. */
  capped: boolean;
  /** Result line: outcome.result, exit code, ... */
  result: string;
  loadBefore: number;
  loadAfter: number;
  note?: string;
  /** ours-engine, ours-dist with keepReport: everything the run reported (log and summary). */
  report?: string;
}

const load1 = (): number => Math.round(loadavg()[0]! * 100) / 100;

/** Runs a contender's process, under `/usr/bin/time` and `timeout` when the spec measures resource use. */
function runMeasured(
  spec: UpgradeSpec,
  file: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; capMs: number },
): Promise<ProcResult> {
  if (!spec.rusageFile) return runProc(file, args, options);
  const capS = String(Math.ceil(options.capMs / 1000));
  return runProc(
    '/usr/bin/time',
    ['-a', '-o', spec.rusageFile, '-f', 'rusage %e %U %S %M', 'timeout', '-s', 'KILL', capS, file, ...args],
    { env: options.env, capMs: options.capMs + 5000 },
  );
}

/** A connected Kube for the watcher-only contender (connected outside the timed window). */
export async function connectKube(env: BenchEnv): Promise<Kube> {
  return Kube.connect({ kubeconfig: env.kubeconfigText });
}

export async function runUpgradeWith(env: BenchEnv, spec: UpgradeSpec, kube?: Kube): Promise<UpgradeTiming> {
  const loadBefore = load1();
  const home = freshHome(env, spec.tool);
  const image = `${IMAGE}:${spec.tag}`;
  const kubectlBase = ['--kubeconfig', env.cluster.kubeconfig, '--namespace', spec.namespace];
  const base = { tool: spec.tool, namespace: spec.namespace };
  try {
    switch (spec.tool) {
      case 'ours-watcher': {
        if (!kube) throw new Error('ours-watcher needs a connected Kube');
        const set = await runProc(
          env.cluster.kubectl,
          [...kubectlBase, 'set', 'image', 'deployment/md-core', `md-core=${image}`],
          { env: home.env, capMs: 30_000 },
        );
        if (set.code !== 0) throw new Error(`kubectl set image failed: ${set.output}`);
        const r = await waitForRollout(kube, {
          namespace: spec.namespace,
          deployment: 'md-core',
          selector: 'app=md-core',
          timeoutMs: Math.max(1000, spec.capMs - (now() - set.start)),
        });
        const t = now();
        return {
          ...base,
          start: set.start,
          verdictAt: t,
          endAt: t,
          succeeded: r.verdict.state === 'complete',
          capped: r.verdict.state === 'failed' && r.verdict.reason === 'Timeout',
          result: `${r.verdict.state}${r.verdict.state === 'failed' ? ` ${r.verdict.reason}` : ''}`,
          loadBefore,
          loadAfter: load1(),
        };
      }
      case 'ours-engine': {
        const parsed = parseInputs({
          namespace: spec.namespace,
          tag: spec.tag,
          method: 'kubectl',
          kubeconfig: env.kubeconfigText,
          'kubectl-version': '1.36.3',
          ...spec.inputs,
        });
        if (!parsed.ok) throw new Error(formatInputErrors(parsed.errors));
        // The engine's kubectl children inherit process.env: give them the run's fresh HOME too.
        const savedHome = process.env.HOME;
        process.env.HOME = home.dir;
        const start = now();
        let outcome;
        const reporter = new MemoryReporter();
        try {
          outcome = await runUpgrade(parsed.plan, {
            reporter,
            tools: { kubectl: async () => env.cluster.kubectl, helm: async () => env.cluster.helm3 },
          });
        } finally {
          process.env.HOME = savedHome;
        }
        const endAt = now();
        const wait = outcome.steps.find((s) => s.id === 'wait');
        const rb = outcome.steps.find((s) => s.id === 'rollback');
        return {
          ...base,
          start,
          verdictAt: wait?.endedAt || undefined,
          endAt,
          rollbackStepEndAt: rb?.endedAt || undefined,
          succeeded: outcome.result === 'upgraded',
          capped: false,
          result: outcome.result + (outcome.error ? `: ${outcome.error.split('\n')[0]}` : ''),
          loadBefore,
          loadAfter: load1(),
          ...(spec.keepReport ? { report: reporter.text() } : {}),
        };
      }
      case 'ours-dist': {
        const runner = mkdtempSync(path.join(env.tmp, 'runner-'));
        const files = {
          GITHUB_OUTPUT: 'output',
          GITHUB_STEP_SUMMARY: 'summary',
          GITHUB_STATE: 'state',
          GITHUB_ENV: 'env',
          GITHUB_PATH: 'path',
        };
        const helmDir = spec.helmOnPath ? [path.dirname(helmBinary(env, spec.helmOnPath))] : [];
        const runnerEnv: NodeJS.ProcessEnv = {
          PATH: [env.cluster.binDir, ...helmDir, process.env.PATH ?? ''].join(path.delimiter),
          HOME: home.dir,
          RUNNER_TEMP: path.join(runner, 'temp'),
          RUNNER_TOOL_CACHE: path.join(runner, 'tool-cache'),
          GITHUB_ACTIONS: 'true',
          GITHUB_SERVER_URL: 'https://github.example',
          GITHUB_REPOSITORY: 'example/bench',
          GITHUB_RUN_ID: '1',
        };
        mkdirSync(runnerEnv.RUNNER_TEMP!, { recursive: true });
        for (const [k, f] of Object.entries(files)) {
          runnerEnv[k] = path.join(runner, f);
          writeFileSync(runnerEnv[k], '');
        }
        const inputs: Record<string, string> = {
          ...env.inputDefaults,
          namespace: spec.namespace,
          tag: spec.tag,
          method: 'kubectl',
          kubeconfig: env.kubeconfigText,
          // The cluster's kubectl on PATH is built from source; the benchmark makes no request off this machine.
          'path-tools': 'trust',
          ...spec.inputs,
        };
        for (const [k, v] of Object.entries(inputs)) runnerEnv[`INPUT_${k.toUpperCase()}`] = v;
        const p = await runMeasured(spec, process.execPath, [path.join(env.distDir, 'index.js')], {
          env: runnerEnv,
          capMs: spec.capMs,
        });
        const out = readFileSync(runnerEnv.GITHUB_OUTPUT!, 'utf8');
        const result = /^result<<(\S+)\n(.*)\n\1$/m.exec(out)?.[2] ?? `exit ${p.code}`;
        const report = spec.keepReport
          ? `${p.output}\n${readFileSync(runnerEnv.GITHUB_STEP_SUMMARY!, 'utf8')}`
          : undefined;
        rmSync(runner, { recursive: true, force: true });
        return {
          ...base,
          start: p.start,
          verdictAt: p.end,
          endAt: p.end,
          succeeded: p.code === 0 && result === 'upgraded',
          capped: p.capped,
          result,
          loadBefore,
          loadAfter: load1(),
          ...(result === 'upgraded' || result === 'rolled-back' ? {} : { note: p.output.trim().slice(-600) }),
          ...(report === undefined ? {} : { report }),
        };
      }
      case 'kubectl': {
        const set = await runMeasured(
          spec,
          env.cluster.kubectl,
          [...kubectlBase, 'set', 'image', 'deployment/md-core', `md-core=${image}`],
          { env: home.env, capMs: 30_000 },
        );
        if (set.code !== 0) throw new Error(`kubectl set image failed: ${set.output}`);
        const status = await runMeasured(
          spec,
          env.cluster.kubectl,
          [...kubectlBase, 'rollout', 'status', 'deployment/md-core'],
          {
            env: home.env,
            capMs: Math.max(1000, spec.capMs - (now() - set.start)),
          },
        );
        let endAt = status.end;
        let note: string | undefined;
        if (status.code !== 0 && !status.capped && spec.expect === 'fail') {
          // What a script would do next: undo and wait again (within the same cap).
          const undo = await runProc(
            env.cluster.kubectl,
            [...kubectlBase, 'rollout', 'undo', 'deployment/md-core'],
            {
              env: home.env,
              capMs: 30_000,
            },
          );
          const again = await runProc(
            env.cluster.kubectl,
            [...kubectlBase, 'rollout', 'status', 'deployment/md-core'],
            { env: home.env, capMs: Math.max(1000, spec.capMs - (now() - set.start)) },
          );
          endAt = again.end;
          note = `undo exit ${undo.code}, status exit ${again.code}`;
        }
        return {
          ...base,
          start: set.start,
          verdictAt: status.capped ? undefined : status.end,
          endAt,
          succeeded: status.code === 0,
          capped: status.capped,
          result: status.capped ? 'capped' : `exit ${status.code}`,
          loadBefore,
          loadAfter: load1(),
          ...(note || (status.code !== 0 && !status.capped)
            ? { note: note ?? status.output.trim().slice(-600) }
            : {}),
        };
      }
      case 'helm3':
      case 'helm4': {
        const major = spec.tool === 'helm3' ? 3 : 4;
        const waitFlags =
          spec.expect === 'fail'
            ? major === 3
              ? ['--atomic'] // implies --wait; default --timeout 5m0s
              : ['--rollback-on-failure'] // implies --wait=watcher; default --timeout 5m0s
            : major === 3
              ? ['--wait']
              : ['--wait=watcher'];
        const p = await runMeasured(
          spec,
          helmBinary(env, major),
          [
            'upgrade',
            RELEASE,
            env.chartDir,
            '--namespace',
            spec.namespace,
            '--kubeconfig',
            env.cluster.kubeconfig,
            ...helmValues(spec.tag, spec.replicas),
            ...waitFlags,
          ],
          { env: home.env, capMs: spec.capMs },
        );
        return {
          ...base,
          start: p.start,
          verdictAt: p.capped ? undefined : p.end,
          endAt: p.end,
          succeeded: p.code === 0,
          capped: p.capped,
          result: p.capped ? 'capped' : `exit ${p.code}`,
          loadBefore,
          loadAfter: load1(),
          ...(p.code !== 0 && !p.capped ? { note: p.output.trim().slice(-600) } : {}),
        };
      }
    }
  } finally {
    rmSync(home.dir, { recursive: true, force: true });
  }
}
