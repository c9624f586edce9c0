// The one decision of what happens once a run has failed or was interrupted: the main step (after an error),
// the post step (after a cancelled or killed main step) and the CLI all ask this function, with the journal.
import { wasMutated, type JournalData, type RollbackChoice } from './journal.ts';

export type RollbackMode = 'rollout-undo' | 'helm-rollback';

export type AfterFailure =
  /** Nothing to do: nothing was changed, or the run already ended on purpose. */
  | { readonly kind: 'nothing'; readonly why: string }
  /** The user said `rollback: none`: leave the cluster as the failed run left it, and say how to undo it. */
  | { readonly kind: 'leave'; readonly why: string; readonly manualMode: RollbackMode }
  /** Put everything back the way the journal recorded it. */
  | { readonly kind: 'rollback'; readonly mode: RollbackMode };

/** Phases in which a run ended on purpose: nobody may act on them again. */
const ENDED = new Set<JournalData['phase']>(['done', 'rolled-back', 'left-failed']);

/** How a rollback is made for a release managed by `method`, given the user's choice. */
export function rollbackMode(choice: RollbackChoice, method: JournalData['method']): RollbackMode {
  if (choice === 'rollout-undo' || choice === 'helm-rollback') return choice;
  return method === 'helm' ? 'helm-rollback' : 'rollout-undo';
}

/**
 * @param leaseLost why the run lost the Deployment's Lease, if it did: another run may be changing the
 *   Deployment now, so this one undoes nothing (it would fight that run) and says how to undo by hand.
 */
export function afterFailure(j: JournalData | undefined, leaseLost?: string): AfterFailure {
  if (!j) return { kind: 'nothing', why: 'no journal: the run changed nothing' };
  if (ENDED.has(j.phase)) return { kind: 'nothing', why: `the run already ended (${j.phase})` };
  if (!wasMutated(j)) return { kind: 'nothing', why: 'nothing in the cluster was changed' };
  const mode = rollbackMode(j.rollback, j.method);
  if (leaseLost) {
    return {
      kind: 'leave',
      why: `not rolled back automatically: ${leaseLost}. Another run may be changing the Deployment now; check it before undoing anything by hand`,
      manualMode: mode,
    };
  }
  if (j.rollback === 'none') {
    return {
      kind: 'leave',
      why: "rollback is 'none': the cluster was left as the failed upgrade left it",
      manualMode: mode,
    };
  }
  return { kind: 'rollback', mode };
}
