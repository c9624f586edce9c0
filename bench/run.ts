// Benchmark (not a test): on the embedded real cluster, the same md-core rollouts done by the action and by the
// usual alternatives, in one run. Readiness detection latency, failure verdicts and rollback, API requests per
// upgrade (from the API server's audit log) and the action's own overhead. See bench/README.md.
//
// Usage: npm run bench [-- --reps 3 --reps-cheap 5 --replicas 1,10,100 --cap 90 --budget 22 --no-failures]
// (or env BENCH_REPS, BENCH_REPS_CHEAP, BENCH_REPLICAS, BENCH_CAP_S, BENCH_BUDGET_MIN, BENCH_TOOLS);
// node bench/run.ts --render bench/results/<date>.json re-renders the tables from a saved result.
// Writes bench/results/<date>.json and .md, and the latest tables into bench/README.md.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AUDIT_POLICY,
  countRequests,
  firstDeploymentWrite,
  requestsIn,
  type AuditRequest,
  type RequestCount,
} from './audit.ts';
import { bundleSizes, type BundleSizes } from './bundle.ts';
import { now, type DeploymentObserver, type DeploymentSnapshot } from './observer.ts';
import { renderMarkdown, publish, resultFile } from './report.ts';
import { connectKube, IMAGE, runUpgradeWith, TOOL_AGENTS, type Tool, type UpgradeTiming } from './runners.ts';
import {
  intOption,
  loadAverages,
  log,
  openSession,
  stamp,
  option,
  pool,
  type Bench,
  type MachineInfo,
} from './session.ts';

// ---- configuration ----------------------------------------------------------------------------------------

const ALL_TOOLS: Tool[] = ['ours-watcher', 'ours-engine', 'ours-dist', 'kubectl', 'helm3', 'helm4'];
const FAILURE_TOOLS: Tool[] = ['ours-engine', 'kubectl', 'helm3', 'helm4'];
const FAILURE_TAGS = ['crashloop', 'pullfail'] as const;
type FailureTag = (typeof FAILURE_TAGS)[number];

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

let tagCounter = 0;
const nextTag = (suffix = ''): string => `5.20.${++tagCounter}${suffix}`;

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
  machine: MachineInfo;
  cluster: { kubernetes: string; kwok: string; nodes: number; auditPolicy: unknown };
  bundle: BundleSizes;
  notes: string[];
  runs: (RunRecord & { derived: Derived })[];
}

async function main(): Promise<void> {
  const cfg = config();
  const startedAt = new Date();
  const loadAtStart = loadAverages();
  log(`config ${JSON.stringify(cfg)}; load ${loadAtStart.join(' ')}`);
  const label = option('label', 'BENCH_LABEL');
  const session = await openSession('bench', cfg.budgetMin);
  const b = session.bench;
  const runs: RunRecord[] = [];
  const notes: string[] = [];
  let bundle: BundleSizes;
  let audit: AuditRequest[];
  try {
    for (const n of cfg.replicas) {
      if (!b.timeLeft()) break;
      await readinessPhase(b, cfg, n, runs);
    }
    if (cfg.failures && b.timeLeft()) await failurePhase(b, cfg, runs);
    if (!b.timeLeft())
      notes.push(`the time budget (${cfg.budgetMin} min) ran out: some repetitions were skipped`);
    bundle = await bundleSizes(session.env.distDir);
  } finally {
    audit = await session.close(startedAt.toISOString().slice(0, 10) + (label ? `-${label}` : ''));
  }
  attribute(runs, audit);

  const result: BenchResult = {
    benchmark: 'rollout',
    ...stamp(startedAt, loadAtStart, session),
    config: cfg,
    cluster: { kubernetes: 'v1.36.3', kwok: 'v0.8.0', nodes: 2, auditPolicy: AUDIT_POLICY },
    bundle,
    notes,
    runs: runs.map((r) => ({ ...r, derived: derive(r) })),
  };
  // A labelled run (`--label before`) is a side measurement: its own files, the README's tables untouched.
  const jsonFile = resultFile(result.date.slice(0, 10) + (label ? `-${label}` : ''));
  await publish(jsonFile, result, renderMarkdown(result, path.basename(jsonFile)), label ? undefined : {});
  log(
    `wrote ${path.relative(process.cwd(), jsonFile)} (${runs.length} runs) in ${((Date.now() - startedAt.getTime()) / 60_000).toFixed(1)} min`,
  );
}

/** `--render <result.json>`: rewrites <date>.md and bench/README.md's tables from a saved result. */
async function render(file: string): Promise<void> {
  const result = JSON.parse(await readFile(file, 'utf8')) as BenchResult;
  await publish(file, undefined, renderMarkdown(result, path.basename(file)), {});
}

// Sections with their own cluster and tables: `--availability` (bench/availability.ts), `--fleet` (bench/fleet.ts).
const renderIndex = process.argv.indexOf('--render');
const section = process.argv.includes('--availability')
  ? await import('./availability.ts')
  : process.argv.includes('--fleet')
    ? await import('./fleet.ts')
    : undefined;
if (section && renderIndex >= 0) await section.render(process.argv[renderIndex + 1] ?? '');
else if (section) await section.main();
else if (renderIndex >= 0) await render(process.argv[renderIndex + 1] ?? '');
else await main();
