// The action's main step for `rehearsal: true`: runs the rehearsal driver, sets its outputs, writes the job
// summary (the rehearsal's section, then each engine run's own summary) and fails the job naming the phase.
import { runRehearsal, type RehearsalResult } from './engine/rehearsal.ts';
import type { EngineDeps } from './engine/run.ts';
import type { Plan } from './plan/plan.ts';
import { SUMMARY_BUDGET_BYTES } from './report/github.ts';
import { renderRehearsal } from './report/rehearsal.ts';
import { renderSummary } from './report/summary.ts';

export interface RehearsalStepIo {
  setOutput(name: string, value: string): void;
  setFailed(message: string): void;
  /** Writes the job summary (the one writer main.ts uses, which falls back to the log). */
  writeSummary(markdown: string): Promise<unknown>;
}

const RUN_TITLES = ['To the baseline', 'Upgrade to the target'] as const;
/** Each engine run's summary gets a third of the budget: the rehearsal's own section is small. */
const RUN_SUMMARY_BYTES = Math.floor(SUMMARY_BUDGET_BYTES / 3);

export async function rehearsalStep(
  plan: Plan,
  deps: EngineDeps,
  io: RehearsalStepIo,
  rehearse: typeof runRehearsal = runRehearsal,
): Promise<RehearsalResult> {
  const res = await rehearse(plan, deps);
  const { report } = res;
  const mask = (t: string): string => deps.reporter.mask(t);
  io.setOutput('rehearsal-report', res.reportPath);
  io.setOutput('result', report.passed ? 'rehearsed' : 'failed');
  const runs = res.outcomes.map(
    (o, i) =>
      `### ${RUN_TITLES[i] ?? `Run ${i + 1}`}\n\n${renderSummary(o, { timeline: 'mermaid', maxBytes: RUN_SUMMARY_BYTES })}`,
  );
  await io.writeSummary(mask([renderRehearsal(report, res.reportPath), ...runs].join('\n')));
  if (!report.passed) {
    const what = report.interrupted ? 'interrupted (job cancelled)' : 'failed';
    io.setFailed(
      mask(
        `Rehearsal ${what} in the ${report.failedPhase ?? '?'} phase; staging left on ${report.leftOn}. ${report.error ?? ''}`.trim(),
      ),
    );
  }
  return res;
}
