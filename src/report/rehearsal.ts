// A rehearsal's report (phases, checks, trend), its bounded history entries and the trend decision: pure.

/** The ConfigMap the action owns in staging's namespace with the last rehearsals, for the trend. */
export const historyConfigMapName = (deployment: string): string =>
  `mdcore-upgrade-rehearsals-${deployment}`.slice(0, 253);

/**
 * The phases a rehearsal times; migration and rollout are parts of the upgrade, as export and import are
 * (export-import), and switch, hold and handover (blue-green: the Service switched to green and its endpoints
 * confirmed, blue kept for scale-down-delay, the helm hand-over to the chart's Deployment; blue-green-hot-backup:
 * registration of green's instances as hot backups, and handover, the activation hand-over from blue stopped to
 * green serving).
 */
export const PHASES = [
  'baseline',
  'upgrade',
  'export',
  'migration',
  'registration',
  'rollout',
  'import',
  'verification',
  'switch',
  'hold',
  'handover',
  'rollback',
] as const;
export type PhaseName = (typeof PHASES)[number];

export interface PhaseReport {
  readonly name: PhaseName;
  /** undefined: the phase did not run (or could not be timed). */
  readonly seconds: number | undefined;
  readonly ok: boolean;
  readonly detail: string;
}

export interface CheckReport {
  readonly phase: 'baseline' | 'upgrade' | 'rollback';
  readonly id: string;
  readonly title: string;
  readonly status: string;
}

/**
 * How the rollback on purpose was made: the route's own way back, as after a failed upgrade; blue-green on a
 * plain Deployment: the previous color scaled back up, the Service switched back to it, the new color removed;
 * blue-green-hot-backup: the same, in the order that frees the new color's activations first.
 */
export type RollbackMethod =
  'helm-rollback' | 'rollout-undo' | 'blue-green-switch-back' | 'hot-backup-switch-back';

const WAY_BACK: Record<RollbackMethod, string> = {
  'helm-rollback': 'helm rollback (the release revision before the upgrade)',
  'rollout-undo': 'kubectl rollout undo (the Deployment revision before the upgrade)',
  'blue-green-switch-back':
    'blue-green switch back (the previous color scaled back up, the Service on it again, the new color removed)',
  'hot-backup-switch-back':
    'hot-backup undo (the Service on the previous color, the new color removed and its pods gone so their activations are free, then the previous color scaled back up with the activations and awaited)',
};

/** Kubernetes API requests of the action's own client per part of the rehearsal (kubectl and helm not included). */
export type RequestCounts = Partial<Record<'baseline' | 'upgrade' | 'rollback' | 'total', number>>;

export interface RehearsalReport {
  readonly version: 1;
  readonly namespace: string;
  readonly deployment: string;
  readonly baselineTag: string;
  /** With `baseline-from`: the production Deployment the baseline tag was read from. */
  readonly baselineFrom?: string | undefined;
  readonly targetTag: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly passed: boolean;
  /** The phase that failed, when the rehearsal failed. */
  readonly failedPhase: PhaseName | undefined;
  readonly error: string | undefined;
  /** The job was cancelled during the rehearsal (the post step finishes a rollback left half-way). */
  readonly interrupted: boolean;
  /** True when staging ran something else at the start and was brought to the baseline first. */
  readonly broughtToBaseline: boolean;
  /** Where staging was left: the baseline, the target (rehearsal-restore false) or unknown after a failure. */
  readonly leftOn: string;
  readonly phases: readonly PhaseReport[];
  readonly checks: readonly CheckReport[];
  /** undefined when no rollback on purpose was made. */
  readonly rollbackMethod?: RollbackMethod | undefined;
  readonly apiRequests: RequestCounts;
  readonly trend: readonly string[];
}

/** One rehearsal as kept in the history ConfigMap: what the trend needs, nothing more. */
export interface HistoryEntry {
  readonly at: string;
  readonly baseline: string;
  readonly target: string;
  readonly passed: boolean;
  /** Set when the job was cancelled during the rehearsal. */
  readonly interrupted?: true;
  readonly seconds: Partial<Record<PhaseName, number>>;
  /** The action's own API requests, all parts together. */
  readonly requests?: number;
}

export function historyEntry(r: RehearsalReport): HistoryEntry {
  const seconds: Partial<Record<PhaseName, number>> = {};
  for (const p of r.phases) if (p.seconds !== undefined) seconds[p.name] = p.seconds;
  return {
    at: r.startedAt,
    baseline: r.baselineTag,
    target: r.targetTag,
    passed: r.passed,
    ...(r.interrupted ? { interrupted: true as const } : {}),
    seconds,
    ...(r.apiRequests.total === undefined ? {} : { requests: r.apiRequests.total }),
  };
}

/** The newest `keep` entries, oldest first, with `entry` appended. */
export function boundHistory(
  earlier: readonly HistoryEntry[],
  entry: HistoryEntry,
  keep: number,
): HistoryEntry[] {
  return [...earlier, entry].slice(-Math.max(1, keep));
}

/** Reads a stored history; anything unreadable counts as no history (it is rewritten on the next run). */
export function parseHistory(text: string | undefined): HistoryEntry[] {
  if (!text) return [];
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v)) return [];
    return v.filter(
      (e): e is HistoryEntry =>
        typeof e === 'object' && e !== null && typeof (e as HistoryEntry).seconds === 'object',
    );
  } catch {
    return [];
  }
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export const TREND_FACTOR = 1.5;
export const TREND_MIN_EARLIER = 3;
/** Below this a phase's jitter is noise, not a trend. */
export const TREND_MIN_SECONDS = 5;

/**
 * Phases markedly slower than the median of the earlier passed rehearsals: more than TREND_FACTOR times it,
 * with at least TREND_MIN_EARLIER earlier values of that phase.
 */
export function trendWarnings(
  current: Partial<Record<PhaseName, number>>,
  earlier: readonly HistoryEntry[],
): string[] {
  const out: string[] = [];
  for (const name of PHASES) {
    const now = current[name];
    if (now === undefined) continue;
    const before = earlier
      .filter((e) => e.passed)
      .map((e) => e.seconds[name])
      .filter((s): s is number => typeof s === 'number');
    if (before.length < TREND_MIN_EARLIER) continue;
    const m = median(before);
    if (now > TREND_FACTOR * m && now - m >= TREND_MIN_SECONDS) {
      out.push(
        `${name} took ${now} s, ${(now / Math.max(m, 1)).toFixed(1)}× the median ${m} s of the last ${before.length} passed rehearsals`,
      );
    }
  }
  return out;
}

const show = (s: number | undefined): string => (s === undefined ? '–' : `${s} s`);

/** The rehearsal's section of the job summary (Markdown). */
export function renderRehearsal(r: RehearsalReport, reportPath: string | undefined): string {
  const head = r.passed
    ? `## Rehearsal passed: ${r.baselineTag} → ${r.targetTag}${r.leftOn === r.baselineTag ? ` → ${r.baselineTag}` : ''}`
    : r.interrupted
      ? `## Rehearsal INTERRUPTED (job cancelled) in the ${r.failedPhase ?? '?'} phase: ${r.baselineTag || '?'} → ${r.targetTag}`
      : `## Rehearsal FAILED in the ${r.failedPhase ?? '?'} phase: ${r.baselineTag || '?'} → ${r.targetTag}`;
  const lines = [head, ''];
  if (r.baselineFrom)
    lines.push(
      `Baseline ${r.baselineTag || '(not read)'} read from production's Deployment ${r.baselineFrom}.`,
      '',
    );
  if (r.broughtToBaseline)
    lines.push(
      `Staging did not run the baseline ${r.baselineTag} at the start: it was brought there first (the baseline phase).`,
      '',
    );
  if (r.error) lines.push('```', r.error, '```', '');
  lines.push('| Phase | Duration | Result | Detail |', '| --- | --- | --- | --- |');
  for (const p of r.phases)
    lines.push(
      `| ${p.name} | ${show(p.seconds)} | ${p.ok ? 'ok' : 'failed'} | ${p.detail.replace(/\|/g, '\\|')} |`,
    );
  lines.push('', `Staging left on: ${r.leftOn}.`);
  if (r.rollbackMethod) lines.push(`Way back: ${WAY_BACK[r.rollbackMethod]}.`);
  const counted = (['baseline', 'upgrade', 'rollback'] as const).filter(
    (k) => r.apiRequests[k] !== undefined,
  );
  if (counted.length)
    lines.push(
      `API requests of the action's own client: ${counted.map((k) => `${k} ${r.apiRequests[k]}`).join(', ')}; total ${r.apiRequests.total ?? '?'} (kubectl and helm calls not counted).`,
    );
  const failed = r.checks.filter((c) => c.status === 'failed');
  lines.push(
    `Checks: ${r.checks.length - failed.length} of ${r.checks.length} passed${failed.length ? ` (failed: ${failed.map((c) => `${c.phase}/${c.id}`).join(', ')})` : ''}.`,
  );
  if (r.trend.length) lines.push('', '**Slower than usual:**', ...r.trend.map((t) => `- ${t}`));
  if (reportPath) lines.push('', `Report: \`${reportPath}\``);
  return `${lines.join('\n')}\n`;
}
