// Carries out the one after-failure decision (after-failure.ts) inside a run: roll back, or leave the cluster
// as it is and say how to undo it by hand. The post step carries out the same decision in recover.ts.
import { revisionOf } from '../cluster/verdict.ts';
import { manualKedaCommands, pausedAny, resumeKeda } from '../steps/keda.ts';
import { manualRollbackCommands, rollback } from '../steps/rollback.ts';
import { afterFailure } from './after-failure.ts';
import type { RunContext } from './context.ts';

export async function actAfterFailure(ctx: RunContext, cause: string, leaseLost?: string): Promise<void> {
  const { outcome, journal, timeline } = ctx;
  const decision = afterFailure(journal.data, leaseLost);
  if (decision.kind === 'nothing') return;
  if (decision.kind === 'leave') {
    timeline.skip('rollback', 'Rollback', decision.why);
    journal.update({ phase: 'left-failed' });
    outcome.manualSteps = manualRollbackCommands(journal.data, decision.manualMode);
    await resumeKedaLeft(ctx);
    return;
  }
  const { mode } = decision;
  try {
    const bg = journal.data.blueGreen;
    const how = !bg
      ? mode
      : bg.handover
        ? `green keeps serving while the chart goes back (${mode}), then switch back to blue, remove green`
        : 'switch back to blue, remove green';
    await timeline.step('rollback', `Roll back (${how})`, async (h) => {
      h.detail(`cause: ${cause.split('\n')[0] ?? cause}`);
      const r = await rollback(journal.data, {
        kube: ctx.kube,
        reporter: ctx.reporter,
        kubectl: async () => ctx.kubectl,
        helm: () => ctx.tools.helm(),
        kubeconfigFile: ctx.kubeconfigFile,
        selector: ctx.target.selector,
        timeoutSeconds: ctx.plan.timeoutSeconds,
        imagePullGraceSeconds: ctx.plan.imagePullGraceSeconds,
        mode,
        // The rollback must run to its end even when the job is being cancelled.
        signal: undefined,
        detail: (t) => h.detail(t),
        recordBlueGreen: bg ? (c) => journal.recordBlueGreen(c) : undefined,
      });
      if (!r.ok) throw new Error(`rollback incomplete:\n${r.problems.join('\n')}`);
    });
    journal.update({ phase: 'rolled-back' });
    const dep = await ctx.kube
      .getDeployment(journal.data.namespace, journal.data.deployment)
      .catch(() => undefined);
    outcome.revision = revisionOf(dep) ?? outcome.revision;
  } catch (err) {
    journal.update({ phase: 'rollback-failed' });
    outcome.manualSteps = manualRollbackCommands(journal.data, mode);
    outcome.error = `${outcome.error ?? ''}\nROLLBACK FAILED: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * `rollback: none` leaves the upgrade's changes for a person to look at, but KEDA was paused only for the run:
 * it scales again (its commands drop out of the manual steps once it does).
 */
async function resumeKedaLeft(ctx: RunContext): Promise<void> {
  const { journal, outcome } = ctx;
  if (!pausedAny(journal.data)) return;
  await ctx.timeline
    .step('keda-restore', 'Resume KEDA autoscaling (paused only for the run)', async (h) => {
      const problems = await resumeKeda(journal.data, ctx.kube, (t) => h.detail(t));
      if (problems.length > 0) throw new Error(problems.join('\n'));
      journal.update({ kedaRestored: true });
      const done = new Set(manualKedaCommands(journal.data));
      outcome.manualSteps = outcome.manualSteps.filter((c) => !done.has(c));
    })
    .catch(() => undefined);
}
