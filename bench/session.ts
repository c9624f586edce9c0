// What every benchmark section shares: the embedded cluster with its audit log, a copy of dist/, a scratch
// directory, namespaces with the fixture installed and observed, and the clean-up of all of it (children by
// pid, the cluster by its stop()). Used by run.ts (the rollout comparison), availability.ts and fleet.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { copyFile, cp, mkdir } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import {
  REPO_ROOT,
  resolveClusterTools,
  startCluster,
  type TestCluster,
} from '../test/e2e/cluster/harness.ts';
import { AUDIT_POLICY, readAudit, type AuditRequest } from './audit.ts';
import { credentialsFrom, DeploymentObserver, isComplete, type Credentials } from './observer.ts';
import {
  actionInputDefaults,
  CHART_VERSION,
  embeddedKubeconfig,
  freshHome,
  helmBinary,
  helmMajorFor,
  helmValues,
  killRunningChildren,
  RELEASE,
  runProc,
  type BenchEnv,
  type Tool,
} from './runners.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const log = (s: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

export const load1 = (): number => Math.round(loadavg()[0]! * 100) / 100;
export const loadAverages = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

/** `--name value` from the command line, else the environment variable. */
export function option(name: string, envName: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.env[envName];
}

/** A whole-number option clamped to [min, max]; `def` when absent or not a whole number. */
export function intOption(name: string, envName: string, def: number, min: number, max: number): number {
  const v = Number(option(name, envName) ?? def);
  return Number.isInteger(v) ? Math.min(Math.max(v, min), max) : def;
}

/** Runs `fn` over items with at most `limit` at a time. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export interface MachineInfo {
  node: string;
  platform: string;
  arch: string;
  cpus: number;
  memoryGiB: number;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}

export function machineInfo(loadAverageAtStart: number[]): MachineInfo {
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    loadAverageAtStart,
    loadAverageAtEnd: loadAverages(),
  };
}

/** What every result starts with: when, which commit and dist/, on what machine under what load. */
export function stamp(
  startedAt: Date,
  loadAtStart: number[],
  session: Session,
): { date: string; finished: string; commit: string; distCommit: string; machine: MachineInfo } {
  return {
    date: startedAt.toISOString(),
    finished: new Date().toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    distCommit: session.distCommit,
    machine: machineInfo(loadAtStart),
  };
}

export class Bench {
  readonly observers = new Map<string, DeploymentObserver>();
  readonly creds: Credentials;
  readonly env: BenchEnv;
  readonly deadline: number;

  constructor(env: BenchEnv, deadline: number) {
    this.env = env;
    this.deadline = deadline;
    this.creds = credentialsFrom(env.cluster.kubeconfig);
  }

  async kubectl(args: string[], capMs = 60_000): Promise<string> {
    const home = freshHome(this.env, 'setup');
    try {
      const p = await runProc(
        this.env.cluster.kubectl,
        ['--kubeconfig', this.env.cluster.kubeconfig, ...args],
        {
          env: home.env,
          capMs,
        },
      );
      if (p.code !== 0)
        throw new Error(`kubectl ${args.join(' ')}: ${p.capped ? 'capped' : `exit ${p.code}`}\n${p.output}`);
      return p.output;
    } finally {
      rmSync(home.dir, { recursive: true, force: true });
    }
  }

  /** A helm run (install, template) with a fresh HOME; its output, or an error naming what failed. */
  async helm(major: 3 | 4, args: string[], capMs = 180_000): Promise<string> {
    const home = freshHome(this.env, 'install');
    try {
      const p = await runProc(helmBinary(this.env, major), args, { env: home.env, capMs });
      if (p.code !== 0) throw new Error(`helm ${major} ${args[0] ?? ''} failed: ${p.output}`);
      return p.output;
    } finally {
      rmSync(home.dir, { recursive: true, force: true });
    }
  }

  /** Creates the namespace and waits until its default ServiceAccount exists (bounded). */
  async namespace(namespace: string): Promise<void> {
    await this.kubectl(['create', 'namespace', namespace]);
    for (let i = 0; i < 120; i++) {
      try {
        await this.kubectl(['get', 'serviceaccount', 'default', '-n', namespace, '-o', 'name'], 10_000);
        return;
      } catch (e) {
        if (i === 119) throw e;
        await sleep(250);
      }
    }
  }

  /** Namespace with the fixture chart installed by the contender's Helm major, rolled out, observed. */
  async setup(namespace: string, tool: Tool, replicas: number): Promise<DeploymentObserver> {
    await this.namespace(namespace);
    await this.helm(helmMajorFor(tool), [
      'install',
      RELEASE,
      this.env.chartDir,
      '--namespace',
      namespace,
      '--kubeconfig',
      this.env.cluster.kubeconfig,
      ...helmValues(CHART_VERSION, replicas),
    ]);
    return this.observe(namespace, replicas);
  }

  /** Starts the namespace's md-core observer and waits for its initial rollout of `replicas` pods. */
  async observe(namespace: string, replicas: number): Promise<DeploymentObserver> {
    const obs = new DeploymentObserver(this.creds, namespace, 'md-core', 'md-core');
    await obs.start();
    this.observers.set(namespace, obs);
    await obs.until(
      () => {
        const l = obs.latest();
        return l !== undefined && isComplete(l) && l.ready === replicas;
      },
      300_000,
      `the initial rollout of ${replicas} replica(s)`,
    );
    return obs;
  }

  async teardown(namespace: string, wait: boolean): Promise<void> {
    this.observers.get(namespace)?.stop();
    this.observers.delete(namespace);
    await this.kubectl(
      ['delete', 'namespace', namespace, `--wait=${wait}`, '--timeout=180s', '--ignore-not-found'],
      200_000,
    );
  }

  /** Waits until the Deployment is at rest again (complete, generation observed) and lets things settle. */
  async settle(obs: DeploymentObserver): Promise<void> {
    await obs.until(
      () => {
        const l = obs.latest();
        return l !== undefined && isComplete(l);
      },
      120_000,
      'the Deployment to be at rest',
    );
    await sleep(750);
  }

  timeLeft(): boolean {
    return Date.now() < this.deadline;
  }
}

export interface Session {
  bench: Bench;
  env: BenchEnv;
  cluster: TestCluster;
  /** The commit dist/ was last committed in, and whether it had uncommitted changes when it was copied. */
  distCommit: string;
  /**
   * Stops the observers, reads the audit log (a copy kept in .cluster/bench-logs/<keepAs>/audit.log, gitignored),
   * stops the cluster and removes the scratch directory.
   */
  close(keepAs: string): Promise<AuditRequest[]>;
}

/**
 * `--dist-from <commit>`: the bundle built from that commit's committed sources (`git archive`, the repository's
 * node_modules, `scripts/bundle.ts`) instead of a copy of dist/, e.g. to measure sources dist/ does not hold yet.
 * Returns the commit's short hash.
 */
function buildDist(commit: string, tmp: string, out: string): string {
  const hash = git(['rev-parse', '--short', '--verify', `${commit}^{commit}`]);
  if (hash === 'unknown') throw new Error(`--dist-from: no commit ${commit}`);
  const src = path.join(tmp, 'dist-src');
  const tar = path.join(tmp, 'dist-src.tar');
  mkdirSync(src, { recursive: true });
  execFileSync('git', ['archive', '--format=tar', '-o', tar, hash], { cwd: REPO_ROOT, timeout: 60_000 });
  execFileSync('tar', ['-xf', tar, '-C', src], { timeout: 60_000 });
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(src, 'node_modules'));
  log(`building dist from ${hash}`);
  execFileSync(process.execPath, ['scripts/bundle.ts', out], { cwd: src, timeout: 300_000, stdio: 'ignore' });
  return hash;
}

/**
 * Starts the embedded cluster (audit log on), copies dist/ (or builds it, --dist-from), and prepares a Bench whose time budget ends
 * `budgetMin` minutes from now. A watchdog ends the process 10 minutes after the budget; on exit or a signal the
 * children this process started are killed by pid and the harness stops the cluster.
 */
export async function openSession(name: string, budgetMin: number): Promise<Session> {
  const deadline = Date.now() + budgetMin * 60_000;
  const watchdog = setTimeout(
    () => {
      log('watchdog: the benchmark overran its budget by 10 minutes; exiting');
      process.exit(3);
    },
    (budgetMin + 10) * 60_000,
  );
  watchdog.unref();
  const toolsDir = await resolveClusterTools();
  const tmp = mkdtempSync(path.join(tmpdir(), `mdcore-${name}-`));
  // Registered before startCluster's own handlers, so ours run first: our children (by pid), our temp dir;
  // then the harness stops the cluster and re-raises the signal.
  const cleanupSync = (): void => {
    killRunningChildren();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, cleanupSync);
  const distDir = path.join(tmp, 'dist');
  const from = option('dist-from', 'BENCH_DIST_FROM');
  let distCommit: string;
  if (from) {
    distCommit = `a build of ${buildDist(from, tmp, distDir)} made by the benchmark (--dist-from)`;
  } else {
    await cp(path.join(REPO_ROOT, 'dist'), distDir, { recursive: true });
    distCommit =
      git(['log', '-1', '--format=%h', '--', 'dist']) +
      (git(['status', '--porcelain', '--', 'dist']) !== '' ? ' + uncommitted changes' : '');
  }
  const t0 = Date.now();
  const cluster = await startCluster({
    name: `mdcore-${name}-${process.pid}`,
    nodes: 2,
    toolsDir,
    auditPolicy: AUDIT_POLICY,
  });
  log(
    `cluster ${cluster.name} up in ${((Date.now() - t0) / 1000).toFixed(1)} s; audit log ${cluster.auditLog}`,
  );
  const env: BenchEnv = {
    cluster,
    kubeconfigText: embeddedKubeconfig(cluster.kubeconfig),
    tmp,
    repoRoot: REPO_ROOT,
    chartDir: path.join(REPO_ROOT, 'test', 'fixtures', 'charts', `mdcore-${CHART_VERSION}`),
    inputDefaults: actionInputDefaults(REPO_ROOT),
    distDir,
  };
  const bench = new Bench(env, deadline);
  return {
    bench,
    env,
    cluster,
    distCommit,
    async close(keepAs: string): Promise<AuditRequest[]> {
      try {
        for (const o of bench.observers.values()) o.stop();
        await sleep(1000); // the audit log is written as requests complete
        const audit = await readAudit(cluster.auditLog!);
        // Kept for inspection (gitignored), until the next run of the same name.
        const keep = path.join(REPO_ROOT, '.cluster', 'bench-logs', keepAs);
        await mkdir(keep, { recursive: true });
        await copyFile(cluster.auditLog!, path.join(keep, 'audit.log'));
        log(`audit log (${audit.length} requests) kept in ${path.relative(REPO_ROOT, keep)}/audit.log`);
        return audit;
      } finally {
        try {
          await cluster.stop();
        } catch (e) {
          log(`stopping the cluster: ${String(e)}`);
        }
        rmSync(tmp, { recursive: true, force: true });
        clearTimeout(watchdog);
      }
    },
  };
}
