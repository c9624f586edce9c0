// The rehearsal driver: runs of the one engine (to the baseline if needed, then to the target), the rollback on
// purpose from the upgrade's journal, the JSON report and the bounded history ConfigMap the action owns.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { apiRequestsSent, Kube } from '../cluster/kube.ts';
import { acquireLease, currentHolderIdentity, type LeaseHold } from '../cluster/lease.ts';
import { podSelector } from '../cluster/selector.ts';
import { targetImage, type BaselineSource, type Plan } from '../plan/plan.ts';
import {
  boundHistory,
  historyConfigMapName,
  historyEntry,
  parseHistory,
  trendWarnings,
  type CheckReport,
  type HistoryEntry,
  type PhaseName,
  type PhaseReport,
  type RehearsalReport,
  type RequestCounts,
  type RollbackMethod,
} from '../report/rehearsal.ts';
import type { MdCoreClient } from '../core-api/client.ts';
import { waitOnlyGreen } from '../steps/blue-green.ts';
import { ENDPOINTS_POLL_MS, ENDPOINTS_TIMEOUT_MS } from '../strategies/blue-green.ts';
import { describeApiError, openApi, versionMatches } from '../steps/core-api.ts';
import { hotBackupView } from '../steps/hot-backup-rollback.ts';
import { undoOrder } from '../steps/hot-backup.ts';
import { rollback } from '../steps/rollback.ts';
import { rollbackMode } from './after-failure.ts';
import { splitImage } from './context.ts';
import { Journal, type BlueGreenRecord, type HotBackupJournal, type JournalData } from './journal.ts';
import { durationSeconds, type Outcome } from './outcome.ts';
import { runUpgrade, type EngineDeps } from './run.ts';
import { userTarget } from './target.ts';
import type { StepRecord } from './timeline.ts';

export const HISTORY_KEY = 'rehearsals.json';
const NOTHING_CHANGED = 'what it ran before (nothing was changed)';
export { historyConfigMapName };

export interface RehearsalResult {
  readonly report: RehearsalReport;
  readonly reportPath: string;
  /** The engine runs, in order (baseline if it ran, upgrade), for their own summaries. */
  readonly outcomes: readonly Outcome[];
}

const secondsBetween = (a: number, b: number): number => Math.max(0, Math.round((b - a) / 1000));
const stepOf = (o: Pick<Outcome, 'steps'>, id: string): StepRecord | undefined =>
  o.steps.find((s) => s.id === id);
const stepSeconds = (s: StepRecord | undefined): number | undefined =>
  s ? secondsBetween(s.startedAt, s.endedAt) : undefined;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function defaultReportPath(plan: Plan, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[:.]/g, '-');
  return join(process.env.RUNNER_TEMP || tmpdir(), `mdcore-rehearsal-${plan.deployment}-${stamp}.json`);
}

/** The strategies that make a second Deployment (green) next to the user's own (blue). */
const colored = (strategy: Plan['strategy']): boolean =>
  strategy === 'blue-green' || strategy === 'blue-green-hot-backup';

/**
 * The run that brings staging to the baseline. Blue-green's (and blue-green-hot-backup's) goes in place (a
 * rolling update on the same route): a blue-green run would leave the baseline on a new color, and the
 * rehearsal's upgrade would then start from a Deployment at 0 replicas.
 */
export function baselinePlan(plan: Plan, tag: string): Plan {
  return {
    ...plan,
    tag,
    force: false,
    ...(colored(plan.strategy) ? { strategy: 'rolling-update' as const } : {}),
  };
}

const passed = (s: StepRecord | undefined): boolean => s?.status === 'ok' || s?.status === 'warning';
const span = (from: StepRecord | undefined, to: StepRecord | undefined): number | undefined =>
  from && to ? secondsBetween(from.startedAt, to.endedAt) : undefined;

/** The phases both blue-green strategies time alike, from a run's steps (`verifyIds`: its REST check steps). */
function greenPhases(
  u: Pick<Outcome, 'result' | 'steps'>,
  firstReady: number | undefined,
  verifyIds: readonly string[],
): Record<'migration' | 'rollout' | 'verification' | 'switch', PhaseReport> {
  const step = (id: string): StepRecord | undefined => stepOf(u, id);
  const created = step('create-green');
  const wait = step('wait');
  const verifies = verifyIds.map(step).filter((s): s is StepRecord => s !== undefined);
  const switched = step('switch');
  return {
    migration: {
      name: 'migration',
      seconds: created && firstReady !== undefined ? secondsBetween(created.endedAt, firstReady) : undefined,
      ok: passed(wait),
      detail:
        firstReady !== undefined
          ? "from green's creation to its first pod ready (the database migration runs in it)"
          : "green's first pod ready could not be read (green is gone after a hand-over or a failure): see rollout",
    },
    rollout: {
      name: 'rollout',
      seconds: stepSeconds(wait),
      ok: passed(wait),
      detail: wait ? 'until every green pod was ready' : 'did not run',
    },
    verification: {
      name: 'verification',
      seconds: verifies.length ? verifies.reduce((sum, s) => sum + (stepSeconds(s) ?? 0), 0) : undefined,
      ok: verifies.length ? verifies.every(passed) : u.result === 'upgraded',
      detail: verifies.length
        ? `MD Core REST checks: ${verifies.map((s) => s.id).join(', ')}`
        : 'no api-url: not verified through the REST API',
    },
    switch: {
      name: 'switch',
      seconds: span(switched, step('endpoints')),
      ok: passed(step('endpoints')),
      detail: switched
        ? "the Service's selector patched to green until its ready endpoints were green's pods only"
        : 'not switched',
    },
  };
}

/**
 * The phases of a blue-green upgrade, from its steps: green's migration (from its creation to its first pod
 * ready, `firstReady`) and rollout, the REST checks of green and of the serving path, the switch (the patch
 * until the endpoints show green only), the hold (scale-down-delay) and, helm-managed, the hand-over.
 */
export function blueGreenPhases(
  u: Pick<Outcome, 'result' | 'steps'>,
  firstReady: number | undefined,
): PhaseReport[] {
  const step = (id: string): StepRecord | undefined => stepOf(u, id);
  const g = greenPhases(u, firstReady, ['verify-green', 'verify-serving', 'verify-handover']);
  const hold = step('hold-blue');
  const handover = step('handover-upgrade');
  const phases: PhaseReport[] = [
    g.migration,
    g.rollout,
    g.verification,
    g.switch,
    {
      name: 'hold',
      seconds: stepSeconds(hold),
      ok: passed(hold),
      detail: hold ? 'blue kept while green served (scale-down-delay), endpoints watched' : 'did not run',
    },
  ];
  if (handover)
    phases.push({
      name: 'handover',
      seconds: span(handover, step('handover-endpoints') ?? step('handback')),
      ok: passed(step('handover-endpoints')),
      detail: "helm upgrade of the chart's Deployment while green served, until the Service was back on it",
    });
  return phases;
}

/**
 * The phases of a blue-green-hot-backup upgrade, from its steps: green's migration and the registration of its
 * instances as hot backups (no activation used), with config-password the export from blue and the import into
 * each backup, green's rollout, the REST checks (as far as a backup allows, scanning after activation, the
 * serving path), the activation hand-over (blue stopped until green serves: the strategy's downtime, as the run
 * measured it for output handover-seconds) and the switch within it.
 */
export function hotBackupPhases(
  u: Pick<Outcome, 'result' | 'steps' | 'extraOutputs'>,
  firstReady: number | undefined,
): PhaseReport[] {
  const step = (id: string): StepRecord | undefined => stepOf(u, id);
  const g = greenPhases(u, firstReady, ['verify-backups', 'check-scanning', 'verify-serving']);
  const registered = step('register-backup');
  const exported = step('export');
  const imported = step('import-green');
  const stopped = step('stop-blue');
  const measured = Number(u.extraOutputs['handover-seconds']);
  const phases: PhaseReport[] = [
    g.migration,
    {
      name: 'registration',
      seconds: stepSeconds(registered),
      ok: passed(registered),
      detail: registered
        ? "green's instances reachable, each registered as hot backup (no activation used; blue untouched)"
        : 'did not run',
    },
  ];
  if (exported)
    phases.push(
      {
        name: 'export',
        seconds: stepSeconds(exported),
        ok: passed(exported),
        detail: "blue's configuration exported over the REST API before the change",
      },
      {
        name: 'import',
        seconds: stepSeconds(imported),
        ok: passed(imported),
        detail: imported ? 'the exported configuration imported into each green backup' : 'did not run',
      },
    );
  phases.push(g.rollout, g.verification, {
    name: 'handover',
    seconds: Number.isFinite(measured) && measured >= 0 ? measured : span(stopped, step('endpoints')),
    ok: passed(step('handover-time')),
    detail: stopped
      ? "the activation hand-over: blue stopped and gone, green's instances activated and able to scan, the Service on green (the strategy's downtime)"
      : 'blue was not stopped: no hand-over',
  });
  phases.push(g.switch);
  return phases;
}

export async function runRehearsal(plan: Plan, deps: EngineDeps): Promise<RehearsalResult> {
  const r = plan.rehearsal;
  if (!r) throw new Error('internal: runRehearsal needs a plan with rehearsal set');
  const now = deps.now ?? Date.now;
  const { reporter } = deps;
  const startedAt = now();
  const reportPath = r.reportPath ?? defaultReportPath(plan, startedAt);
  const workDir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'mdcore-rehearsal-'));
  // The upgrade's journal is what the rollback on purpose reads: kept on disk even for in-process runs.
  const journalPath = deps.journalPath ?? join(workDir, 'journal.json');
  const phases: PhaseReport[] = [];
  const checks: CheckReport[] = [];
  const outcomes: Outcome[] = [];
  const requests: RequestCounts = {};
  const requestsAtStart = apiRequestsSent();
  let failedPhase: PhaseName | undefined;
  let error: string | undefined;
  let broughtToBaseline = false;
  let leftOn = 'unknown';
  let baselineTag = r.baselineTag ?? '';
  let rollbackMethod: RollbackMethod | undefined;
  /** The phase running now: a cancelled job is reported as interrupted in it. */
  let current: PhaseName = 'baseline';
  const cancelled = (): boolean => deps.signal?.aborted === true;
  // The runs keep `rehearsal` in their plan: preflight then checks the history ConfigMap's permissions too.
  const runDeps: EngineDeps = { ...deps, journalPath, partOfRehearsal: true };
  const addChecks = (phase: CheckReport['phase'], o: Outcome): void => {
    for (const s of o.steps) checks.push({ phase, id: s.id, title: s.title, status: s.status });
  };
  const fail = (phase: PhaseName, why: string): void => {
    failedPhase ??= phase;
    error ??= `the ${phase} phase failed: ${why}`;
  };
  const counted = <T>(part: 'baseline' | 'upgrade' | 'rollback', fn: () => Promise<T>): Promise<T> => {
    const before = apiRequestsSent();
    return fn().finally(() => (requests[part] = (requests[part] ?? 0) + apiRequestsSent() - before));
  };

  try {
    // ---- baseline: read from production when asked, then a normal engine run to it ('unchanged' when there) ----
    const from = r.baselineFrom;
    if (from) {
      const read = await counted('baseline', () => readBaselineTag(plan, from));
      if ('problem' in read) {
        phases.push({ name: 'baseline', seconds: undefined, ok: false, detail: read.problem });
        fail('baseline', `${read.problem}. Nothing in the cluster was changed.`);
        leftOn = NOTHING_CHANGED;
        return await done();
      }
      baselineTag = read.tag;
      reporter.info(`Rehearsal: production's Deployment ${sourceName(from)} runs ${read.image}.`);
      if (read.warning) reporter.warning(read.warning, 'Rehearsal baseline');
      if (baselineTag === plan.tag) {
        const why = `production's Deployment ${sourceName(from)} already runs the target ${plan.tag}: there is no upgrade to rehearse (give the next version as 'tag')`;
        phases.push({ name: 'baseline', seconds: undefined, ok: false, detail: why });
        fail('baseline', `${why}. Nothing in the cluster was changed.`);
        leftOn = NOTHING_CHANGED;
        return await done();
      }
    }
    reporter.info(`Rehearsal: bringing staging to the baseline ${baselineTag} if it runs something else.`);
    const b = await counted('baseline', () => runUpgrade(baselinePlan(plan, baselineTag), runDeps));
    outcomes.push(b);
    addChecks('baseline', b);
    broughtToBaseline = b.result === 'upgraded';
    if (broughtToBaseline)
      reporter.warning(
        `Staging ran ${b.previousImage ?? '?'}, not the baseline ${baselineTag}: it was brought to the baseline first.`,
        'Rehearsal baseline',
      );
    const fromProduction = from ? ` (read from ${sourceName(from)})` : '';
    phases.push({
      name: 'baseline',
      seconds: durationSeconds(b),
      ok: b.result === 'upgraded' || b.result === 'unchanged',
      detail: broughtToBaseline
        ? `brought from ${b.previousImage ?? '?'} to ${baselineTag}${fromProduction}`
        : b.result === 'unchanged'
          ? `already on ${baselineTag}${fromProduction}`
          : `${b.result}: ${b.error?.split('\n')[0] ?? ''}`,
    });
    if (b.result !== 'upgraded' && b.result !== 'unchanged') {
      fail('baseline', b.error ?? b.result);
      leftOn = leftAfterFailure(b, b.previousImage ?? 'what it ran before');
      return await done();
    }
    leftOn = baselineTag;
    if (cancelled()) return await done();

    // ---- upgrade: the real upgrade with every check and verification; a failure is rolled back by the engine ----
    current = 'upgrade';
    reporter.info(`Rehearsal: upgrading staging from ${baselineTag} to ${plan.tag}.`);
    const u = await counted('upgrade', () => runUpgrade({ ...plan, force: false }, runDeps));
    outcomes.push(u);
    addChecks('upgrade', u);
    const upgraded = u.result === 'upgraded';
    phases.push({
      name: 'upgrade',
      seconds: durationSeconds(u),
      ok: upgraded,
      detail: upgraded
        ? `${u.previousImage ?? '?'} → ${u.newImage ?? '?'}`
        : `${u.result}: ${u.error?.split('\n')[0] ?? ''}`,
    });
    const kube = await Kube.connect({ kubeconfig: plan.kubeconfig, context: plan.context });
    if (colored(plan.strategy)) {
      // Green's pods are read while green exists (a plain Deployment); a hand-over has removed it already.
      const bg = Journal.load(journalPath)?.blueGreen;
      const firstReady =
        upgraded && bg && !bg.handedBack
          ? await counted('upgrade', () => firstReadyAt(kube, plan, bg.green))
          : undefined;
      phases.push(
        ...(plan.strategy === 'blue-green-hot-backup'
          ? hotBackupPhases(u, firstReady)
          : blueGreenPhases(u, firstReady)),
      );
    } else await upgradePhases(u, kube);
    if (!upgraded) {
      fail('upgrade', u.error ?? u.result);
      leftOn = leftAfterFailure(u, baselineTag);
      return await done();
    }
    leftOn = plan.tag;

    // ---- rollback on purpose: the route's own rollback from the upgrade's journal (also after a cancel) ----
    current = 'rollback';
    if (!r.restore) {
      phases.push({
        name: 'rollback',
        seconds: undefined,
        ok: true,
        detail: 'rehearsal-restore is false: left on the target',
      });
      return await done();
    }
    const rollbackStarted = now();
    const rb = await counted('rollback', () => rollbackOnPurpose(kube, plan, deps, journalPath, workDir));
    rollbackMethod = rb.method;
    checks.push({
      phase: 'rollback',
      id: 'rollback',
      title: `Roll back to ${baselineTag} (${rb.method ?? 'the route’s rollback'}) and wait for it to be ready`,
      status: rb.ok ? 'ok' : 'failed',
    });
    if (rb.ok && rb.switchedBack && !cancelled()) {
      const behind = await counted('rollback', () => onlyBlueBehindService(kube, plan, rb.switchedBack));
      checks.push({
        phase: 'rollback',
        id: 'endpoints-baseline',
        title: `Confirm the Service's ready endpoints are ${rb.switchedBack?.blue ?? 'blue'}'s pods only`,
        status: behind.ok ? 'ok' : 'failed',
      });
      if (!behind.ok) Object.assign(rb, { ok: false });
      rb.detail = `${rb.detail}; ${behind.detail}`;
    }
    if (rb.ok && !cancelled()) {
      const served = await counted('rollback', () => baselineServes(kube, plan, deps, baselineTag));
      checks.push({
        phase: 'rollback',
        id: 'verify-baseline',
        title: `Verify that ${baselineTag} serves again`,
        status: served.status,
      });
      if (served.status === 'failed') Object.assign(rb, { ok: false, detail: served.detail });
      else rb.detail = `${rb.detail}; ${served.detail}`;
    }
    phases.push({
      name: 'rollback',
      seconds: secondsBetween(rollbackStarted, now()),
      ok: rb.ok,
      detail: rb.detail,
    });
    if (rb.ok) leftOn = baselineTag;
    else if (rb.leftToPostStep)
      leftOn = `unknown until the post step has finished the rollback to ${baselineTag} (the job was cancelled during it)`;
    else {
      fail('rollback', rb.detail);
      leftOn = 'unknown (rollback failed)';
    }
    return await done();
  } catch (err) {
    fail(failedPhase ?? current, message(err));
    return await done();
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }

  /** The phases of a rolling update or export-import upgrade, from its steps and its first new pod. */
  async function upgradePhases(u: Outcome, kube: Kube): Promise<void> {
    const upgraded = u.result === 'upgraded';
    // export-import: the configuration's way out of the old version and into the new one, timed on their own.
    const exported = stepOf(u, 'export');
    if (exported)
      phases.push({
        name: 'export',
        seconds: stepSeconds(exported),
        ok: exported.status === 'ok' || exported.status === 'warning',
        detail: 'configuration exported over the REST API before the change',
      });
    const apply = stepOf(u, 'apply');
    const firstReady = upgraded ? await counted('upgrade', () => firstReadyAt(kube, plan)) : undefined;
    phases.push({
      name: 'migration',
      seconds: apply && firstReady !== undefined ? secondsBetween(apply.endedAt, firstReady) : undefined,
      ok: upgraded,
      detail: 'from the change to the first new pod ready (the database migration runs in it)',
    });
    const wait = stepOf(u, 'wait');
    phases.push({
      name: 'rollout',
      seconds: stepSeconds(wait),
      ok: wait?.status === 'ok' || wait?.status === 'warning',
      detail: wait ? 'until every new pod was ready' : 'did not run',
    });
    const imported = stepOf(u, 'import');
    if (exported)
      phases.push({
        name: 'import',
        seconds: stepSeconds(imported),
        ok: imported?.status === 'ok' || imported?.status === 'warning',
        detail: imported ? 'the exported configuration imported into the new version' : 'did not run',
      });
    const verify = stepOf(u, 'verify');
    phases.push({
      name: 'verification',
      seconds: stepSeconds(verify),
      ok: verify ? verify.status !== 'failed' : upgraded,
      detail: verify
        ? 'MD Core REST checks of the new version'
        : 'no api-url: not verified through the REST API',
    });
  }

  async function done(): Promise<RehearsalResult> {
    const interrupted = cancelled();
    if (interrupted) fail(current, 'the job was cancelled');
    const passed = failedPhase === undefined;
    requests.total = apiRequestsSent() - requestsAtStart;
    const draft: RehearsalReport = {
      version: 1,
      namespace: plan.namespace,
      deployment: plan.deployment,
      baselineTag,
      baselineFrom: r?.baselineFrom ? sourceName(r.baselineFrom) : undefined,
      targetTag: plan.tag,
      startedAt: new Date(startedAt).toISOString(),
      endedAt: new Date(now()).toISOString(),
      passed,
      failedPhase,
      error: error === undefined ? undefined : reporter.mask(error),
      interrupted,
      broughtToBaseline,
      leftOn,
      phases,
      checks,
      rollbackMethod,
      apiRequests: { ...requests },
      trend: [],
    };
    let trend: string[] = [];
    try {
      const earlier = await keepHistory(plan, historyEntry(draft), r?.history ?? 10);
      trend = trendWarnings(historyEntry(draft).seconds, earlier);
      for (const t of trend) reporter.warning(t, 'Rehearsal slower than usual');
    } catch (err) {
      reporter.warning(
        `The rehearsal history was not updated (${message(err)}); the trend is not shown. Check that the Role allows ConfigMap ${historyConfigMapName(plan.deployment)} get, create and update.`,
        'Rehearsal history',
      );
    }
    const report = { ...draft, trend };
    mkdirSync(dirname(reportPath), { recursive: true });
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    return { report, reportPath, outcomes };
  }
}

/** How `baseline-from` is shown: as given, with staging's context spelled out when it was left out. */
export const sourceName = (s: BaselineSource): string =>
  `${s.context ? `${s.context}/` : ''}${s.namespace}/${s.deployment}`;

/**
 * The tag production's md-core container runs (the rehearsal reads it and changes nothing there); a problem
 * naming the input and the fix when it cannot be read or is not a tag.
 */
export function baselineTagOf(
  dep: { spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } } } | undefined,
  plan: Pick<Plan, 'container' | 'image'>,
  source: string,
): { tag: string; image: string; warning?: string } | { problem: string } {
  if (!dep)
    return {
      problem: `input 'baseline-from': Deployment ${source} was not found; name production's md-core Deployment as <context>/<namespace>/<deployment>`,
    };
  const containers = dep.spec?.template?.spec?.containers ?? [];
  const c = containers.find((x) => x.name === plan.container);
  if (!c?.image)
    return {
      problem: `input 'baseline-from': Deployment ${source} has no container '${plan.container}' (it has: ${containers.map((x) => x.name).join(', ') || 'none'}); set 'container' to md-core's container name`,
    };
  const { repository, tag } = splitImage(c.image);
  if (!tag)
    return {
      problem: `input 'baseline-from': Deployment ${source} runs ${c.image}, which names no tag (only a digest): give the version as 'baseline-tag' instead`,
    };
  const warning =
    repository === plan.image
      ? undefined
      : `Production runs ${repository}, staging is upgraded with ${plan.image}: the rehearsal uses production's tag ${tag} with staging's image.`;
  return { tag, image: c.image, ...(warning ? { warning } : {}) };
}

async function readBaselineTag(
  plan: Plan,
  from: BaselineSource,
): Promise<{ tag: string; image: string; warning?: string } | { problem: string }> {
  const source = sourceName(from);
  try {
    const prod = await Kube.connect({ kubeconfig: plan.kubeconfig, context: from.context ?? plan.context });
    return baselineTagOf(await prod.getDeployment(from.namespace, from.deployment), plan, source);
  } catch (err) {
    const text = message(err).replace(/^input 'context'/, "input 'baseline-from'");
    return {
      problem: `input 'baseline-from': production's Deployment ${source} could not be read (${text}); the rehearsal needs get on deployments in ${from.namespace}${from.context ? ` through context ${from.context} of the kubeconfig` : ''}`,
    };
  }
}

/** Through the REST API when api-url is given (verify not off): /readyz answers and /version is the baseline. */
async function baselineServes(
  kube: Kube,
  plan: Plan,
  deps: EngineDeps,
  baselineTag: string,
): Promise<{ status: 'ok' | 'skipped' | 'failed'; detail: string }> {
  if (!plan.apiUrl || plan.verify === 'off')
    return { status: 'skipped', detail: 'no api-url: serving not checked through the REST API' };
  const notes: string[] = [];
  const step = { detail: (t: string) => notes.push(t), warn: (t: string) => deps.reporter.warning(t) };
  try {
    const api = await openApi(
      { plan, kube, reporter: deps.reporter, signal: deps.signal, target: userTarget(plan, '') },
      step,
      { required: true },
    );
    try {
      const problem = await waitForVersion(api.client, baselineTag);
      if (problem) return { status: plan.verify === 'warn' ? 'ok' : 'failed', detail: problem };
      return { status: 'ok', detail: `${baselineTag} serves again (/readyz 200, /version matches)` };
    } finally {
      await api.close();
    }
  } catch (err) {
    return {
      status: plan.verify === 'warn' ? 'ok' : 'failed',
      detail: `REST check after the rollback: ${message(err)}`,
    };
  }
}

export const VERSION_POLL = { attempts: 30, intervalMs: 2_000 } as const;

/**
 * Polls /readyz and /version until the baseline answers (the Service may route to a terminating pod of the
 * target for a moment). Returns the problem, or undefined once it serves; bounded by VERSION_POLL.
 */
export async function waitForVersion(
  client: Pick<MdCoreClient, 'readyz' | 'version'>,
  tag: string,
  poll: { attempts: number; intervalMs: number } = VERSION_POLL,
): Promise<string | undefined> {
  let last = 'no answer yet';
  for (let attempt = 1; attempt <= poll.attempts; attempt++) {
    try {
      const ready = await client.readyz();
      if (!ready.ok) last = `/readyz answered ${ready.status}`;
      else {
        const v = await client.version();
        if (versionMatches(v.version, tag)) return undefined;
        last = `/version reports ${v.version}, not the baseline ${tag}`;
      }
    } catch (err) {
      last = describeApiError(err);
    }
    if (attempt < poll.attempts) await new Promise((res) => setTimeout(res, poll.intervalMs));
  }
  return `after the rollback, ${last} (checked ${poll.attempts} times, ${(poll.attempts * poll.intervalMs) / 1000} s)`;
}

/** Where a failed engine run left staging: rolled back or unchanged is `before`; otherwise nobody knows. */
export function leftAfterFailure(
  o: Pick<Outcome, 'rolledBack' | 'rollbackFailed' | 'error'>,
  before: string,
): string {
  if (o.rolledBack) return before;
  if (o.rollbackFailed) return 'unknown (the rollback failed: see the error)';
  if (/nothing in the cluster was changed/i.test(o.error ?? '')) return before;
  return 'unknown (not rolled back: see the error)';
}

/** When the first pod of the target image of `deployment` turned ready (the migration runs before it can). */
async function firstReadyAt(
  kube: Kube,
  plan: Plan,
  deployment = plan.deployment,
): Promise<number | undefined> {
  const dep = await kube.getDeployment(plan.namespace, deployment);
  if (!dep) return undefined;
  const image = targetImage(plan);
  const times = (await kube.listPods(plan.namespace, podSelector(dep)))
    .filter((p) => p.spec?.containers.some((c) => c.name === plan.container && c.image === image))
    .map(
      (p) => p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime,
    )
    .filter((t): t is Date => t !== undefined)
    .map((t) => new Date(t).getTime());
  return times.length ? Math.min(...times) : undefined;
}

/** The way back on purpose from a finished upgrade's journal, and the journal the rollback works from. */
export interface WayBack {
  readonly method: RollbackMethod;
  /** The engine's rollback mode for the journal (blue-green's undo names the chart's way as well). */
  readonly mode: ReturnType<typeof rollbackMode>;
  readonly journal: JournalData;
  /** Says what the rollback does, for the report and the log. */
  readonly how: string;
  /** Blue-green on a plain Deployment: the record of the colors it switches back. */
  readonly switchBack?: BlueGreenRecord | undefined;
}

/**
 * A finished plain blue-green run goes back by blue-green's own undo (the previous color scaled back up, the
 * Service switched back to it, the new color and its preview removed), so the next run finds the same names.
 * After a helm hand-over the chart's Deployment serves the target and green is gone: it goes back as after a
 * rolling update on its route. Otherwise the route's own rollback, as the engine makes after a failure.
 */
export function wayBack(data: JournalData): WayBack {
  const bg = data.blueGreen;
  // The choice the engine makes after a failure; 'none' is refused with a rehearsal, so this is the route's way.
  const mode = rollbackMode(data.rollback, data.method);
  if (bg?.hotBackup)
    return {
      method: 'hot-backup-switch-back',
      mode,
      journal: data,
      switchBack: bg,
      how: `hot-backup undo: ${hotBackupUndoText(bg, bg.hotBackup)}`,
    };
  if (bg && !bg.handedBack)
    return {
      method: 'blue-green-switch-back',
      mode,
      journal: data,
      switchBack: bg,
      how: `blue-green switch back: Deployment ${bg.blue} back to ${bg.blueReplicas} replica(s), Service ${bg.service} selecting it again, Deployment ${bg.green} and Service ${bg.preview} removed`,
    };
  const journal: JournalData = bg ? { ...data, blueGreen: undefined } : data;
  const how =
    mode === 'helm-rollback'
      ? `helm rollback of release ${data.release ?? '?'} to revision ${data.previousReleaseRevision ?? '?'}`
      : `kubectl rollout undo to Deployment revision ${data.previousRevision ?? '?'}`;
  return { method: mode, mode, journal, how };
}

/**
 * What blue-green-hot-backup's undo does, in its order (undoOrder, the one the engine and the post step follow),
 * with the licence activations the action expects in use afterwards.
 */
export function hotBackupUndoText(bg: BlueGreenRecord, hb: HotBackupJournal): string {
  const undo = undoOrder(hotBackupView(bg, hb));
  const said = undo.actions.map((a): string => {
    switch (a.do) {
      case 'switch-back':
        return `Service ${bg.service} selecting ${bg.blue} again`;
      case 'unregister-green':
        return `green's backup registrations (${a.pods.length}) ended with its pods`;
      case 'delete-green':
        return a.waitGone
          ? `Deployment ${bg.green} removed and its pods gone (their activations released)`
          : `Deployment ${bg.green} removed`;
      case 'delete-preview':
        return `Service ${bg.preview} removed`;
      case 'scale-blue':
        return `Deployment ${bg.blue} back to ${a.replicas} replica(s) (its pods take the activations again)`;
      case 'wait-blue-ready':
        return 'awaited until ready';
    }
  });
  return `${said.join(', ')}; ${undo.activationsAfter} activation(s) in use afterwards`;
}

/**
 * The same rollback the engine makes after a failure (the route's own: helm rollback to the release revision
 * before the upgrade, or rollout undo), under the Deployment's Lease, recorded in the journal. When the job is
 * cancelled while it waits and a post step exists (a journal path was given), the wait stops and the journal
 * keeps the run 'changing' with its Lease: the post step finishes the rollback.
 */
async function rollbackOnPurpose(
  kube: Kube,
  plan: Plan,
  deps: EngineDeps,
  journalPath: string,
  workDir: string,
): Promise<{
  ok: boolean;
  detail: string;
  method: RollbackMethod | undefined;
  leftToPostStep: boolean;
  /** Blue-green: the colors switched back (the Service's endpoints are then checked). */
  switchedBack?: BlueGreenRecord | undefined;
}> {
  const data = Journal.load(journalPath);
  if (!data)
    return {
      ok: false,
      detail: "the upgrade's journal is missing: nothing to roll back from",
      method: undefined,
      leftToPostStep: false,
    };
  const way = wayBack(data);
  const { method, how } = way;
  const kubeconfigFile = join(workDir, 'kubeconfig');
  writeFileSync(kubeconfigFile, kube.exportConfig(), { mode: 0o600 });
  const signal = deps.journalPath ? deps.signal : undefined;
  let lease: LeaseHold | undefined;
  let leftToPostStep = false;
  try {
    lease = await acquireLease(kube, {
      namespace: plan.namespace,
      deployment: plan.deployment,
      holder: deps.leaseHolder ?? currentHolderIdentity(),
      onLost: (why) => deps.reporter.warning(why, 'Lease lost'),
    });
    // From here the post step would finish the rollback if the job is cancelled. The upgrade recorded the
    // generation it left (wrap-up included), so the undo runs only over that run's own change.
    const resumed: JournalData = { ...way.journal, lease: lease.ref, phase: 'changing' };
    const journal = new Journal(resumed, journalPath);
    deps.reporter.info(
      `Rehearsal: rolling back on purpose to ${data.previousImage ?? 'the baseline'} (${how}).`,
    );
    const dep = await kube.getDeployment(plan.namespace, plan.deployment);
    const res = await rollback(journal.data, {
      kube,
      reporter: deps.reporter,
      kubectl: () => deps.tools.kubectl(),
      helm: () => deps.tools.helm(),
      kubeconfigFile,
      selector: dep ? podSelector(dep) : '',
      timeoutSeconds: plan.timeoutSeconds,
      imagePullGraceSeconds: plan.imagePullGraceSeconds,
      mode: way.mode,
      signal,
      detail: (t) => deps.reporter.info(t),
    });
    leftToPostStep = !res.ok && signal?.aborted === true;
    if (leftToPostStep) {
      deps.reporter.warning(
        `The job was cancelled while the rollback on purpose (${how}) waited for ${data.previousImage ?? 'the baseline'}: the post step finishes it.`,
        'Rehearsal interrupted',
      );
      return {
        ok: false,
        detail: `${how}; cancelled while waiting for the baseline: left to the post step`,
        method,
        leftToPostStep,
      };
    }
    journal.update({ phase: res.ok ? 'rolled-back' : 'rollback-failed' });
    const detail = res.ok
      ? `${how}: back on ${data.previousImage ?? 'the baseline'}, every pod ready`
      : `${how}: ${res.problems.join('; ')}. To finish by hand: ${res.manual.join(' && ')}`;
    return {
      ok: res.ok,
      detail,
      method,
      leftToPostStep,
      switchedBack: res.ok ? way.switchBack : undefined,
    };
  } catch (err) {
    return { ok: false, detail: `${how}: ${message(err)}`, method, leftToPostStep };
  } finally {
    // Left to the post step, the Lease stays in the journal: the post step holds it again for the rollback.
    if (lease && !leftToPostStep) {
      const rel = await lease.release();
      const left: JournalData = { ...(Journal.load(journalPath) ?? data), lease: undefined };
      if (rel.released) new Journal(left, journalPath);
    }
  }
}

/** After a blue-green switch back: the serving Service's ready endpoints are blue's pods only (bounded poll). */
async function onlyBlueBehindService(
  kube: Kube,
  plan: Plan,
  bg: BlueGreenRecord | undefined,
): Promise<{ ok: boolean; detail: string }> {
  if (!bg) return { ok: false, detail: 'internal: no blue-green record to check the endpoints by' };
  const ns = plan.namespace;
  try {
    const blue = await kube.getDeployment(ns, bg.blue);
    if (!blue) throw new Error(`Deployment ${ns}/${bg.blue} no longer exists`);
    const selector = podSelector(blue);
    const r = await waitOnlyGreen({
      list: () => kube.listEndpointSlices(ns, bg.service),
      greenIps: async () =>
        new Set(
          (await kube.listPods(ns, selector)).map((p) => p.status?.podIP).filter((ip): ip is string => !!ip),
        ),
      timeoutMs: ENDPOINTS_TIMEOUT_MS,
      intervalMs: ENDPOINTS_POLL_MS,
      whose: `${bg.blue}'s`,
    });
    return {
      ok: true,
      detail: `Service ${bg.service}'s ready endpoints are ${bg.blue}'s pods only (${r.view.ready.join(', ')})`,
    };
  } catch (err) {
    return { ok: false, detail: `after the switch back: ${message(err)}` };
  }
}

/** Appends this rehearsal to the history ConfigMap (bounded), returning the entries before it. */
async function keepHistory(plan: Plan, entry: HistoryEntry, keep: number): Promise<HistoryEntry[]> {
  const kube = await Kube.connect({ kubeconfig: plan.kubeconfig, context: plan.context });
  const name = historyConfigMapName(plan.deployment);
  const current = await kube.getConfigMap(plan.namespace, name);
  const earlier = parseHistory(current?.data?.[HISTORY_KEY]);
  const text = JSON.stringify(boundHistory(earlier, entry, keep));
  if (current)
    await kube.patchConfigMapData(
      plan.namespace,
      name,
      { [HISTORY_KEY]: text },
      current.metadata?.resourceVersion,
    );
  else {
    const { CoreV1Api } = await import('../cluster/client-node.ts');
    await kube.kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace: plan.namespace,
      body: {
        metadata: {
          name,
          labels: { 'app.kubernetes.io/managed-by': 'mdcore-upgrade-action' },
        },
        data: { [HISTORY_KEY]: text },
      },
    });
  }
  return earlier;
}
