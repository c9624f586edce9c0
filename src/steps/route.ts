// A route is how the change is made: kubectl (ConfigMaps + one image change) or helm (one helm upgrade).
// Both are prepared (checked, nothing changed) before either applies anything; rollback lives in rollback.ts.
import type { RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';

export interface Route<P> {
  readonly name: 'kubectl' | 'helm';
  /** Plans the change and runs every check that may refuse it. Changes nothing. */
  prepare(ctx: RunContext, desired: Readonly<Record<string, string>>, step: StepHandle): Promise<P>;
  readonly applyTitle: string;
  /** Makes the change; records it in the journal before each mutation. */
  apply(ctx: RunContext, prepared: P, step: StepHandle): Promise<void>;
  /** Optional: reads what the summary needs once the run (and any rollback) is over. Must not throw. */
  finish?(ctx: RunContext): Promise<void>;
}
