// Benchmark (not a test): on the embedded real cluster, the same md-core rollouts done by the action and by the
// usual alternatives, in one run. Readiness detection latency, failure verdicts and rollback, API requests per
// upgrade (from the API server's audit log) and the action's own overhead. See bench/README.md.
//
// Usage: npm run bench [-- --reps 3 --reps-cheap 5 --replicas 1,10,100 --cap 90 --budget 22 --no-failures]
// (or env BENCH_REPS, BENCH_REPS_CHEAP, BENCH_REPLICAS, BENCH_CAP_S, BENCH_BUDGET_MIN, BENCH_TOOLS);
// node bench/run.ts --render bench/results/<date>.json re-renders the tables from a saved result.
// Writes bench/results/<date>.json and .md, and the latest tables into bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  REPO_ROOT,
  resolveClusterTools,
  startCluster,
  type TestCluster,
} from '../test/e2e/cluster/harness.ts';
import {
  AUDIT_POLICY,
  countRequests,
  firstDeploymentWrite,
  readAudit,
  requestsIn,
  type AuditRequest,
  type RequestCount,
} from './audit.ts';
import { bundleSizes, type BundleSizes } from './bundle.ts';
import {
  credentialsFrom,
  DeploymentObserver,
  isComplete,
  now,
  type Credentials,
  type DeploymentSnapshot,
} from './observer.ts';
import { renderMarkdown, replaceTables } from './report.ts';
import {
  actionInputDefaults,
  CHART_VERSION,
  connectKube,
  embeddedKubeconfig,
  freshHome,
  helmBinary,
  helmMajorFor,
  helmValues,
  IMAGE,
  killRunningChildren,
  RELEASE,
  runProc,
  runUpgradeWith,
  TOOL_AGENTS,
  type BenchEnv,
  type Tool,
  type UpgradeTiming,
} from './runners.ts';

// ---- configuration ----------------------------------------------------------------------------------------

const ALL_TOOLS: Tool[] = ['ours-watcher', 'ours-engine', 'ours-dist', 'kubectl', 'helm3', 'helm4'];
const FAILURE_TOOLS: Tool[] = ['ours-engine', 'kubectl', 'helm3', 'helm4'];
const FAILURE_TAGS = ['crashloop', 'pullfail'] as const;
type FailureTag = (typeof FAILURE_TAGS)[number];

function option(name: string, envName: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.env[envName];
}
function intOption(name: string, envName: string, def: number, min: number, max: number): number {
  const v = Number(option(name, envName) ?? def);
  return Number.isInteger(v) ? Math.min(Math.max(v, min), max) : def;
}

export interface BenchConfig {
  reps: number;
  repsCheap: number;
  replicas: number[];
  capS: number;
  budgetMin: number;
  tools: Tool[];
  failures: boolean;
}

function config(): BenchConfig {
  const reps = intOption('reps', 'BENCH_REPS', 3, 1, 50);
  const tools = (option('tools', 'BENCH_TOOLS') ?? ALL_TOOLS.join(','))
    .split(',')
    .map((t) => t.trim())
    .filter((t): t is Tool => (ALL_TOOLS as string[]).includes(t));
  return {
    reps,
    repsCheap: Math.max(reps, intOption('reps-cheap', 'BENCH_REPS_CHEAP', 5, 1, 50)),
    replicas: (option('replicas', 'BENCH_REPLICAS') ?? '1,10,100')
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n >= 1 && n <= 200),
    capS: intOption('cap', 'BENCH_CAP_S', 90, 10, 900),
    budgetMin: intOption('budget', 'BENCH_BUDGET_MIN', 22, 1, 120),
    tools,
    failures: !process.argv.includes('--no-failures') && process.env.BENCH_FAILURES !== '0',
  };
}

// ---- records ----------------------------------------------------------------------------------------------

export type RunKind = 'ready' | FailureTag;

export interface RunRecord {
  kind: RunKind;
  tool: Tool;
  replicas: number;
  rep: number;
  tag: string;
  fromImage: string;
  timing: UpgradeTiming;
  /** Runs of the same contender overlapping this one (the failure batch runs competitors concurrently). */
  concurrent: number;
  /** Observer: first event showing the new version completely rolled out (ready runs). */
  completeAt: number | undefined;
  /** Observer: first event showing the previous version completely rolled out again (failure runs). */
  rolledBackAt: number | undefined;
  /** Observer: the Deployment status at the verdict. */
  atVerdict: Pick<DeploymentSnapshot, 'desired' | 'replicas' | 'updated' | 'ready' | 'available'> | undefined;
  error?: string;
  // Filled from the audit log at the end.
  requests?: RequestCount;
  changeAt?: number | undefined;
  firstRequestAt?: number | undefined;
}

export interface Derived {
  verdictLatencyMs?: number;
  startToVerdictMs?: number;
  startToEndMs?: number;
  intrinsicMs?: number;
  overheadMs?: number;
  startToFirstRequestMs?: number;
  startToChangeMs?: number;
  rollbackCompleteMs?: number;
  rollbackStepMs?: number;
}

export function derive(r: RunRecord): Derived {
  const t = r.timing;
  const d: Derived = {};
  if (t.verdictAt !== undefined) d.startToVerdictMs = t.verdictAt - t.start;
  d.startToEndMs = t.endAt - t.start;
  if (r.completeAt !== undefined && t.verdictAt !== undefined)
    d.verdictLatencyMs = t.verdictAt - r.completeAt;
  if (r.completeAt !== undefined && r.changeAt !== undefined) {
    d.intrinsicMs = r.completeAt - r.changeAt;
    d.overheadMs = t.endAt - t.start - d.intrinsicMs;
  }
  if (r.firstRequestAt !== undefined) d.startToFirstRequestMs = r.firstRequestAt - t.start;
  if (r.changeAt !== undefined) d.startToChangeMs = r.changeAt - t.start;
  if (r.rolledBackAt !== undefined) d.rollbackCompleteMs = r.rolledBackAt - t.start;
  if (t.rollbackStepEndAt !== undefined) d.rollbackStepMs = t.rollbackStepEndAt - t.start;
  return d;
}

// ---- helpers ----------------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

let tagCounter = 0;
const nextTag = (suffix = ''): string => `5.20.${++tagCounter}${suffix}`;

/** Runs `fn` over items with at most `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
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

class Bench {
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

  /** Namespace with the fixture chart installed by the contender's Helm major, rolled out, observed. */
  async setup(namespace: string, tool: Tool, replicas: number): Promise<DeploymentObserver> {
    await this.kubectl(['create', 'namespace', namespace]);
    for (let i = 0; i < 120; i++) {
      try {
        await this.kubectl(['get', 'serviceaccount', 'default', '-n', namespace, '-o', 'name'], 10_000);
        break;
      } catch (e) {
        if (i === 119) throw e;
        await sleep(250);
      }
    }
    const major = helmMajorFor(tool);
    const home = freshHome(this.env, 'install');
    try {
      const p = await runProc(
        helmBinary(this.env, major),
        [
          'install',
          RELEASE,
          this.env.chartDir,
          '--namespace',
          namespace,
          '--kubeconfig',
          this.env.cluster.kubeconfig,
          ...helmValues(CHART_VERSION, replicas),
        ],
        { env: home.env, capMs: 180_000 },
      );
      if (p.code !== 0) throw new Error(`helm ${major} install in ${namespace} failed: ${p.output}`);
    } finally {
      rmSync(home.dir, { recursive: true, force: true });
    }
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

// ---- phases -----------------------------------------------------------------------------------------------

async function readinessRun(
  b: Bench,
  obs: DeploymentObserver,
  tool: Tool,
  replicas: number,
  rep: number,
  kube: Awaited<ReturnType<typeof connectKube>> | undefined,
): Promise<RunRecord> {
  const before = obs.latest()!;
  const tag = nextTag();
  const image = `${IMAGE}:${tag}`;
  const rec: RunRecord = {
    kind: 'ready',
    tool,
    replicas,
    rep,
    tag,
    fromImage: before.image,
    timing: undefined as unknown as UpgradeTiming,
    concurrent: 1,
    completeAt: undefined,
    rolledBackAt: undefined,
    atVerdict: undefined,
  };
  try {
    rec.timing = await runUpgradeWith(
      b.env,
      { tool, namespace: obs.namespace, replicas, tag, expect: 'ready', capMs: 300_000 },
      kube,
    );
    // A contender that gave up (or failed to start) leaves nothing to wait for: bound the wait tightly then.
    const waitMs = rec.timing.succeeded ? 300_000 : 20_000;
    const done = await obs.waitComplete(image, rec.timing.start, before.generation, waitMs);
    rec.completeAt = done.t;
    const v = rec.timing.verdictAt !== undefined ? obs.at(rec.timing.verdictAt) : undefined;
    if (v)
      rec.atVerdict = {
        desired: v.desired,
        replicas: v.replicas,
        updated: v.updated,
        ready: v.ready,
        available: v.available,
      };
  } catch (e) {
    rec.error = e instanceof Error ? e.message : String(e);
  }
  await b.settle(obs);
  const d = derive(rec);
  log(
    `ready  n=${String(replicas).padStart(3)} ${tool.padEnd(12)} rep ${rep}: ${rec.timing?.result ?? 'error'}; ` +
      `start→verdict ${fmtS(d.startToVerdictMs)}, verdict−complete ${fmtMs(d.verdictLatencyMs)}, load ${rec.timing?.loadBefore}` +
      (rec.error ? ` ERROR ${rec.error.split('\n')[0]}` : '') +
      (rec.timing?.note ? `\n    ${rec.timing.note.replaceAll('\n', '\n    ')}` : ''),
  );
  return rec;
}

const fmtS = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
const fmtMs = (ms: number | undefined): string => (ms === undefined ? '-' : `${Math.round(ms)} ms`);

async function readinessPhase(
  b: Bench,
  cfg: BenchConfig,
  replicas: number,
  runs: RunRecord[],
): Promise<void> {
  const reps = replicas <= 1 ? cfg.repsCheap : cfg.reps;
  const tools = cfg.tools;
  const kube = tools.includes('ours-watcher') ? await connectKube(b.env) : undefined;
  const nsOf = (t: Tool): string => `bench-r${replicas}-${t}`;
  if (replicas * tools.length <= 200) {
    // Every contender's namespace exists at once: rounds interleave the contenders (order rotated per round),
    // so load from other users of the machine falls on all of them alike.
    log(`readiness n=${replicas}: setting up ${tools.length} namespaces`);
    await pool(tools, 3, (t) => b.setup(nsOf(t), t, replicas));
    for (let rep = 0; rep < reps && b.timeLeft(); rep++) {
      const order = tools.map((_, i) => tools[(i + rep) % tools.length]!);
      for (const t of order) {
        if (!b.timeLeft()) break;
        runs.push(await readinessRun(b, b.observers.get(nsOf(t))!, t, replicas, rep, kube));
      }
    }
    await pool(tools, 3, (t) => b.teardown(nsOf(t), true));
  } else {
    // Too many pods for all namespaces at once (nodes hold 256 md-core pods): one contender after another.
    for (const t of tools) {
      if (!b.timeLeft()) break;
      log(`readiness n=${replicas}: setting up ${nsOf(t)}`);
      const obs = await b.setup(nsOf(t), t, replicas);
      for (let rep = 0; rep < reps && b.timeLeft(); rep++)
        runs.push(await readinessRun(b, obs, t, replicas, rep, kube));
      await b.teardown(nsOf(t), true);
    }
  }
}

async function failureRun(
  b: Bench,
  obs: DeploymentObserver,
  tool: Tool,
  kind: FailureTag,
  rep: number,
  capMs: number,
  concurrent: number,
): Promise<RunRecord> {
  const before = obs.latest()!;
  const tag = nextTag(`-${kind}`);
  const rec: RunRecord = {
    kind,
    tool,
    replicas: 1,
    rep,
    tag,
    fromImage: before.image,
    timing: undefined as unknown as UpgradeTiming,
    concurrent,
    completeAt: undefined,
    rolledBackAt: undefined,
    atVerdict: undefined,
  };
  try {
    rec.timing = await runUpgradeWith(b.env, {
      tool,
      namespace: obs.namespace,
      replicas: 1,
      tag,
      expect: 'fail',
      capMs,
    });
    // The previous version completely rolled out again, if it happened within the cap (plus a grace period
    // for a rollback the contender started just before it).
    const graceEnd = rec.timing.start + capMs + 15_000;
    const back = (): DeploymentSnapshot | undefined =>
      obs.completeAt(before.image, rec.timing.start, before.generation);
    if (!rec.timing.capped)
      await obs
        .until(() => back() !== undefined, Math.max(1000, graceEnd - now()), 'the rollback')
        .catch(() => undefined);
    const got = back();
    if (got && got.t <= rec.timing.start + capMs) rec.rolledBackAt = got.t;
  } catch (e) {
    rec.error = e instanceof Error ? e.message : String(e);
  }
  const d = derive(rec);
  log(
    `${kind.padEnd(9)} ${tool.padEnd(12)} rep ${rep}: ${rec.timing?.result ?? 'error'}; verdict ${rec.timing?.capped ? `> cap ${capMs / 1000} s` : fmtS(d.startToVerdictMs)}, ` +
      `rolled back ${d.rollbackCompleteMs === undefined ? '-' : fmtS(d.rollbackCompleteMs)}, load ${rec.timing?.loadBefore}` +
      (rec.error ? ` ERROR ${rec.error.split('\n')[0]}` : ''),
  );
  return rec;
}

async function failurePhase(b: Bench, cfg: BenchConfig, runs: RunRecord[]): Promise<void> {
  const capMs = cfg.capS * 1000;
  const tools = FAILURE_TOOLS.filter(
    (t) => cfg.tools.includes(t) || (t === 'ours-engine' && cfg.tools.length === 0),
  );
  const ours = tools.filter((t) => t.startsWith('ours'));
  const others = tools.filter((t) => !t.startsWith('ours'));
  // Ours, one at a time (its timings are the point), each in a fresh namespace.
  for (let rep = 0; rep < cfg.reps && b.timeLeft(); rep++) {
    for (const kind of FAILURE_TAGS) {
      for (const t of ours) {
        const ns = `bench-f${rep}-${kind}-${t}`;
        const obs = await b.setup(ns, t, 1);
        runs.push(await failureRun(b, obs, t, kind, rep, capMs, 1));
        await b.teardown(ns, false);
      }
    }
  }
  if (others.length === 0 || !b.timeLeft()) return;
  // The alternatives cannot fail before their deadlines (progress deadline 600 s, Helm --timeout 5m), so
  // capped runs would take reps x tags x tools x cap one after another: they run concurrently instead, each
  // in its own namespace, all started together. Their figures are lower bounds ("> cap") either way.
  const jobs: { tool: Tool; kind: FailureTag; rep: number; ns: string }[] = [];
  for (let rep = 0; rep < cfg.reps; rep++)
    for (const kind of FAILURE_TAGS)
      for (const t of others) jobs.push({ tool: t, kind, rep, ns: `bench-f${rep}-${kind}-${t}` });
  log(`failure batch: setting up ${jobs.length} namespaces`);
  await pool(jobs, 3, (j) => b.setup(j.ns, j.tool, 1));
  const perTool = (t: Tool): number => jobs.filter((j) => j.tool === t).length;
  log(`failure batch: ${jobs.length} capped runs (cap ${cfg.capS} s) started together`);
  const batch = await Promise.all(
    jobs.map((j) => failureRun(b, b.observers.get(j.ns)!, j.tool, j.kind, j.rep, capMs, perTool(j.tool))),
  );
  runs.push(...batch);
  await pool(jobs, 4, (j) => b.teardown(j.ns, false));
}

// ---- audit attribution ------------------------------------------------------------------------------------

function attribute(runs: RunRecord[], audit: readonly AuditRequest[]): void {
  for (const r of runs) {
    if (!r.timing) continue;
    const w = {
      from: r.timing.start - 2,
      to: r.timing.endAt + 2,
      agents: TOOL_AGENTS[r.tool],
      namespace: r.timing.namespace,
      share: r.concurrent,
    };
    r.requests = countRequests(audit, w);
    r.changeAt = firstDeploymentWrite(audit, w, 'md-core')?.t;
    r.firstRequestAt = requestsIn(audit, w)[0]?.t;
  }
}

// ---- main -------------------------------------------------------------------------------------------------

export interface BenchResult {
  benchmark: 'rollout';
  date: string;
  finished: string;
  commit: string;
  distCommit: string;
  config: BenchConfig;
  machine: {
    node: string;
    platform: string;
    arch: string;
    cpus: number;
    memoryGiB: number;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  cluster: { kubernetes: string; kwok: string; nodes: number; auditPolicy: unknown };
  bundle: BundleSizes;
  notes: string[];
  runs: (RunRecord & { derived: Derived })[];
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const cfg = config();
  const startedAt = new Date();
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  const deadline = Date.now() + cfg.budgetMin * 60_000;
  // Hard stop well after the budget: the harness's exit hook then kills the cluster's processes by pid.
  const watchdog = setTimeout(
    () => {
      log('watchdog: the benchmark overran its budget by 10 minutes; exiting');
      process.exit(3);
    },
    (cfg.budgetMin + 10) * 60_000,
  );
  watchdog.unref();
  log(`config ${JSON.stringify(cfg)}; load ${loadAtStart.join(' ')}`);

  const toolsDir = await resolveClusterTools();
  const tmp = mkdtempSync(path.join(tmpdir(), 'mdcore-bench-'));
  // Registered before startCluster's own handlers, so ours run first: our children (by pid), our temp dir;
  // then the harness stops the cluster and re-raises the signal.
  const cleanupSync = (): void => {
    killRunningChildren();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, cleanupSync);
  const distDir = path.join(tmp, 'dist');
  await cp(path.join(REPO_ROOT, 'dist'), distDir, { recursive: true });
  const distDirty = git(['status', '--porcelain', '--', 'dist']) !== '';
  const t0 = Date.now();
  const cluster: TestCluster = await startCluster({
    name: `mdcore-bench-${process.pid}`,
    nodes: 2,
    toolsDir,
    auditPolicy: AUDIT_POLICY,
  });
  log(
    `cluster ${cluster.name} up in ${((Date.now() - t0) / 1000).toFixed(1)} s; audit log ${cluster.auditLog}`,
  );
  const runs: RunRecord[] = [];
  const notes: string[] = [];
  let audit: AuditRequest[];
  let bench: Bench | undefined;
  try {
    const env: BenchEnv = {
      cluster,
      kubeconfigText: embeddedKubeconfig(cluster.kubeconfig),
      tmp,
      repoRoot: REPO_ROOT,
      chartDir: path.join(REPO_ROOT, 'test', 'fixtures', 'charts', `mdcore-${CHART_VERSION}`),
      inputDefaults: actionInputDefaults(REPO_ROOT),
      distDir,
    };
    const b = new Bench(env, deadline);
    bench = b;
    for (const n of cfg.replicas) {
      if (!b.timeLeft()) break;
      await readinessPhase(b, cfg, n, runs);
    }
    if (cfg.failures && b.timeLeft()) await failurePhase(b, cfg, runs);
    if (!b.timeLeft())
      notes.push(`the time budget (${cfg.budgetMin} min) ran out: some repetitions were skipped`);
    await sleep(1000); // the audit log is written as requests complete
    audit = await readAudit(cluster.auditLog!);
    // Kept for inspection (gitignored), until the next run of the same day.
    const keep = path.join(
      REPO_ROOT,
      '.cluster',
      'bench-logs',
      startedAt.toISOString().slice(0, 10) +
        (option('label', 'BENCH_LABEL') ? `-${option('label', 'BENCH_LABEL')}` : ''),
    );
    await mkdir(keep, { recursive: true });
    await copyFile(cluster.auditLog!, path.join(keep, 'audit.log'));
    log(`audit log (${audit.length} requests) kept in ${path.relative(REPO_ROOT, keep)}/audit.log`);
  } finally {
    for (const o of bench?.observers.values() ?? []) o.stop();
    try {
      await cluster.stop();
    } catch (e) {
      log(`stopping the cluster: ${String(e)}`);
    }
  }
  attribute(runs, audit);

  const result: BenchResult = {
    benchmark: 'rollout',
    date: startedAt.toISOString(),
    finished: new Date().toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    distCommit: git(['log', '-1', '--format=%h', '--', 'dist']) + (distDirty ? ' + uncommitted changes' : ''),
    config: cfg,
    machine: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpus: cpus().length,
      memoryGiB: Math.round(totalmem() / 1024 ** 3),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
    },
    cluster: { kubernetes: 'v1.36.3', kwok: 'v0.8.0', nodes: 2, auditPolicy: AUDIT_POLICY },
    bundle: await bundleSizes(distDir),
    notes,
    runs: runs.map((r) => ({ ...r, derived: derive(r) })),
  };
  rmSync(tmp, { recursive: true, force: true });
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  await mkdir(dir, { recursive: true });
  const day = result.date.slice(0, 10);
  // A labelled run (`--label before`) is a side measurement: its own files, the README's tables untouched.
  const label = option('label', 'BENCH_LABEL');
  const stem = label ? `${day}-${label}` : day;
  const jsonFile = path.join(dir, `${stem}.json`);
  await writeFile(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  const md = renderMarkdown(result, path.basename(jsonFile));
  await writeFile(path.join(dir, `${stem}.md`), md);
  try {
    if (!label) await updateReadme(md);
  } catch (e) {
    log(`bench/README.md not updated: ${String(e)}`);
  }
  process.stdout.write(md);
  log(
    `wrote ${path.relative(process.cwd(), jsonFile)} (${runs.length} runs) in ${((Date.now() - startedAt.getTime()) / 60_000).toFixed(1)} min`,
  );
  clearTimeout(watchdog);
}

/** bench/README.md with the new tables, formatted as the repository's prettier config wants it. */
async function updateReadme(md: string): Promise<void> {
  const readme = path.join(path.dirname(fileURLToPath(import.meta.url)), 'README.md');
  const text = replaceTables(await readFile(readme, 'utf8'), md);
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(readme)) ?? {};
  await writeFile(readme, await prettier.format(text, { ...options, filepath: readme }));
}

/** `--render <result.json>`: rewrites <date>.md and bench/README.md's tables from a saved result. */
async function render(file: string): Promise<void> {
  const result = JSON.parse(await readFile(file, 'utf8')) as BenchResult;
  const md = renderMarkdown(result, path.basename(file));
  await writeFile(file.replace(/\.json$/, '.md'), md);
  await updateReadme(md);
  process.stdout.write(md);
}

const renderIndex = process.argv.indexOf('--render');
if (renderIndex >= 0) await render(process.argv[renderIndex + 1] ?? '');
else await main();
