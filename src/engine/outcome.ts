// What a run did, for the summary, the outputs and the exit code.
import type { EnvChange } from '../cluster/effective-env.ts';
import type { PodState } from '../cluster/verdict.ts';
import type { Plan } from '../plan/plan.ts';
import type { HelmRevision } from '../tools/helm.ts';
import { colorOutputs } from '../steps/blue-green.ts';
import type { BlueGreenRecord, Phase } from './journal.ts';
import type { StepRecord } from './timeline.ts';

/** The helm route's record of the release: history before and after, and what else the upgrade changed. */
export interface HelmSummary {
  release: string;
  chart: string;
  helmVersion: string;
  valuesMode: string;
  /** The release revision in force before the run (the helm rollback target). */
  currentRevision: number;
  before: HelmRevision[];
  after: HelmRevision[];
  /** Changes besides md-core's image and the upgrade variables (kind/name: what), Secret values never shown. */
  changes: string[];
  notes: string[];
}

export type Result = 'upgraded' | 'unchanged' | 'rolled-back' | 'failed' | 'dry-run';

export interface Outcome {
  readonly plan: Plan;
  result: Result;
  method: 'kubectl' | 'helm' | undefined;
  previousImage: string | undefined;
  newImage: string | undefined;
  previousRevision: string | undefined;
  revision: string | undefined;
  rolledBack: boolean;
  /** True when a rollback was needed and did not succeed: a person must act. */
  rollbackFailed: boolean;
  dbName: string | undefined;
  dbNameReason: string | undefined;
  /** The DB name the upgraded version is expected to use, recorded for the next run. */
  nextDbName: string | undefined;
  startedAt: number;
  endedAt: number;
  error: string | undefined;
  /** Commands a person should run when the action could not finish the job itself. */
  manualSteps: string[];
  env: EnvChange[];
  envWarnings: string[];
  pods: PodState[];
  before: Record<string, string>;
  after: Record<string, string>;
  steps: StepRecord[];
  extraOutputs: Record<string, string>;
  /** Tools taken from PATH without a checksum check (why, per tool): the summary says so. */
  unverifiedTools: string[];
  /** Set by the helm route. */
  helm?: HelmSummary | undefined;
  /** A strategy's own summary sections (markdown under a heading), after "Before and after". */
  sections?: { title: string; markdown: string }[] | undefined;
  /** Blue-green: the journal's record as the run left it (colors, switch, endpoints, databases). */
  blueGreen?: BlueGreenRecord | undefined;
}

export function durationSeconds(o: Pick<Outcome, 'startedAt' | 'endedAt'>): number {
  return Math.max(0, Math.round((o.endedAt - o.startedAt) / 1000));
}

export function newOutcome(plan: Plan, startedAt: number): Outcome {
  return {
    plan,
    result: 'failed',
    method: undefined,
    previousImage: undefined,
    newImage: undefined,
    previousRevision: undefined,
    revision: undefined,
    rolledBack: false,
    rollbackFailed: false,
    dbName: undefined,
    dbNameReason: undefined,
    nextDbName: undefined,
    startedAt,
    endedAt: startedAt,
    error: undefined,
    manualSteps: [],
    env: [],
    envWarnings: [],
    pods: [],
    before: {},
    after: {},
    steps: [],
    extraOutputs: {},
    unverifiedTools: [],
  };
}

/** How a run that got as far as changing things ended, from the journal's last phase. */
export function resultOfPhase(
  phase: Phase | undefined,
): Pick<Outcome, 'result' | 'rolledBack' | 'rollbackFailed'> {
  if (phase === 'done') return { result: 'upgraded', rolledBack: false, rollbackFailed: false };
  if (phase === 'rolled-back') return { result: 'rolled-back', rolledBack: true, rollbackFailed: false };
  return { result: 'failed', rolledBack: false, rollbackFailed: phase === 'rollback-failed' };
}

/**
 * A blue-green run's record, taken into the outcome once the result is known, and the color outputs decided
 * from it (for every end state: upgraded, handed back, rolled back, failed and left).
 */
export function settleBlueGreen(o: Outcome, bg: BlueGreenRecord | undefined): void {
  if (!bg) return;
  o.blueGreen = structuredClone(bg);
  Object.assign(o.extraOutputs, colorOutputs(bg, o.result));
}

const NOTHING_CHANGED = 'Nothing in the cluster was changed.';

/** A failure message that says whether the cluster was changed, as the journal knows it (said once). */
export function withChangeWording(message: string, mutated: boolean): string {
  if (mutated || /nothing in the cluster was changed/i.test(message)) return message;
  return `${message.replace(/[\s.]*$/, '')}. ${NOTHING_CHANGED}`;
}
