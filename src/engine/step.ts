// The unit a strategy is made of: a titled piece of work the engine runs inside the timeline. A strategy is an
// ordered list of checks (change nothing), changes (recorded in the journal before they are made) and wrap-up
// (bookkeeping after a verified change, whose failure is a warning, never a rollback).
import type { DbNameChoice } from '../plan/db-name.ts';
import type { Plan } from '../plan/plan.ts';
import type { Route } from '../steps/route.ts';
import type { ClusterState, RunContext } from './context.ts';
import type { StepHandle } from './timeline.ts';

export interface Step {
  readonly id: string;
  readonly title: string;
  run(ctx: RunContext, h: StepHandle): Promise<void>;
}

export interface StrategySteps {
  readonly checks: readonly Step[];
  readonly changes: readonly Step[];
  readonly wrapUp: readonly Step[];
  /** Releases what the steps opened (API sessions); called once, whatever happened. */
  close(): Promise<void>;
}

/** What the engine read before any strategy runs (connect, preflight): the strategy's input besides the plan. */
export interface Facts {
  readonly state: ClusterState;
  /** How md-core's change is made: from the `method` input, or helm when a release manages the Deployment. */
  readonly route: Route<unknown>;
  /** The database the new version upgrades from, and why. */
  readonly db: DbNameChoice;
}

/** A strategy: from the plan and what preflight read, the ordered steps of the upgrade. */
export type Strategy = (plan: Plan, facts: Facts) => StrategySteps;
