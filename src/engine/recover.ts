// Restores the cluster from a journal left by a run that did not finish (cancelled job, killed runner).
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kube } from '../cluster/kube.ts';
import {
  acquireLease,
  LeaseHeldError,
  releaseLease,
  type LeaseHold,
  type LeaseRef,
} from '../cluster/lease.ts';
import type { Plan } from '../plan/plan.ts';
import type { Reporter } from '../report/reporter.ts';
import { podSelector } from '../cluster/selector.ts';
import { kedaLeftPaused, manualKedaCommands, pausedAny, resumeKeda } from '../steps/keda.ts';
import { manualRollbackCommands, rollback, type RollbackResult } from '../steps/rollback.ts';
import { afterFailure } from './after-failure.ts';
import type { ToolProvider } from './context.ts';
import { Journal } from './journal.ts';

export type RecoveryResult =
  | { action: 'none'; why: string }
  | { action: 'left'; why: string; manual: string[] }
  /** Another run holds the Deployment's Lease now: undoing this run's change could undo theirs. */
  | { action: 'blocked'; why: string; manual: string[] }
  | { action: 'rolled-back' | 'rollback-failed'; result: RollbackResult };

export async function recoverFromJournal(
  journalPath: string,
  plan: Plan,
  deps: { reporter: Reporter; tools: ToolProvider },
): Promise<RecoveryResult> {
  const data = Journal.load(journalPath);
  // The same decision the main step makes after a failure (engine/after-failure.ts).
  const decision = afterFailure(data);
  if (!data || decision.kind === 'nothing') {
    if (data && kedaLeftPaused(data)) await resumeLeftKeda(plan, journalPath, deps.reporter);
    if (data?.lease) await releaseLeftLease(plan, data.lease, deps.reporter);
    return { action: 'none', why: decision.kind === 'nothing' ? decision.why : 'no journal' };
  }
  if (decision.kind === 'leave') {
    new Journal(data, journalPath).update({ phase: 'left-failed' });
    if (pausedAny(data) && !data.kedaRestored) await resumeLeftKeda(plan, journalPath, deps.reporter);
    if (data.lease) await releaseLeftLease(plan, data.lease, deps.reporter);
    return { action: 'left', why: decision.why, manual: manualRollbackCommands(data, decision.manualMode) };
  }
  const { reporter } = deps;
  reporter.warning(
    `The main step stopped while the upgrade was ${data.phase}; restoring ${data.namespace}/${data.deployment} to ${data.previousImage ?? 'its previous state'}.`,
    'Cleaning up an interrupted upgrade',
  );
  const kube = await Kube.connect({ kubeconfig: plan.kubeconfig, context: plan.context });
  const dir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'mdcore-post-'));
  const kubeconfigFile = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigFile, kube.exportConfig(), { mode: 0o600 });
  let lease: LeaseHold | undefined;
  try {
    if (data.lease) {
      // Hold the Lease again for the rollback (same job, same holder): a second run must not start meanwhile.
      try {
        lease = await acquireLease(kube, {
          namespace: data.lease.namespace,
          deployment: data.deployment,
          holder: data.lease.holder,
          resume: data.lease.acquireTime,
          onLost: (why) => reporter.warning(why, 'Lease lost'),
        });
      } catch (err) {
        if (!(err instanceof LeaseHeldError)) throw err;
        return {
          action: 'blocked',
          why: `${err.message.replace(/ This run changed nothing\..*$/s, '')} The interrupted upgrade was NOT rolled back, so as not to undo that run's change.`,
          manual: manualRollbackCommands(data, decision.mode),
        };
      }
    }
    const dep = await kube.getDeployment(data.namespace, data.deployment);
    const selector = dep ? podSelector(dep) : '';
    const { mode } = decision;
    const journal = new Journal(data, journalPath);
    const result = await rollback(data, {
      kube,
      reporter,
      kubectl: () => deps.tools.kubectl(),
      helm: () => deps.tools.helm(),
      kubeconfigFile,
      selector,
      timeoutSeconds: plan.timeoutSeconds,
      imagePullGraceSeconds: plan.imagePullGraceSeconds,
      mode,
      detail: (t) => reporter.info(t),
      // Where the Service went, for the post step's summary.
      recordBlueGreen: data.blueGreen ? (c) => journal.recordBlueGreen(c) : undefined,
    });
    journal.update({ phase: result.ok ? 'rolled-back' : 'rollback-failed' });
    return { action: result.ok ? 'rolled-back' : 'rollback-failed', result };
  } finally {
    if (lease) {
      const r = await lease.release();
      if (r.released)
        new Journal(Journal.load(journalPath) ?? data, journalPath).update({ lease: undefined });
      else if (!lease.lost) reporter.warning(`Lease was not released: ${r.why}.`, 'Lease');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Puts back the ScaledObjects a run paused when its main step could not (killed, or `rollback: none`). */
async function resumeLeftKeda(plan: Plan, journalPath: string, reporter: Reporter): Promise<void> {
  const data = Journal.load(journalPath);
  if (!data) return;
  try {
    const kube = await Kube.connect({ kubeconfig: plan.kubeconfig, context: plan.context });
    const problems = await resumeKeda(data, kube, (t) => reporter.info(t));
    if (problems.length === 0) {
      new Journal(data, journalPath).update({ kedaRestored: true });
      return;
    }
    reporter.warning(
      `KEDA is still paused: ${problems.join('; ')}. By hand: ${manualKedaCommands(data).join(' && ')}`,
      'KEDA',
    );
  } catch (err) {
    reporter.warning(
      `KEDA is still paused (${err instanceof Error ? err.message : String(err)}). By hand: ${manualKedaCommands(data).join(' && ')}`,
      'KEDA',
    );
  }
}

/** Releases a Lease the main step could not release (killed), only if it is still that run's. */
async function releaseLeftLease(plan: Plan, ref: LeaseRef, reporter: Reporter): Promise<void> {
  try {
    const kube = await Kube.connect({ kubeconfig: plan.kubeconfig, context: plan.context });
    const r = await releaseLease(kube, ref);
    if (r.released) reporter.info(`Released Lease ${ref.namespace}/${ref.name} left by the main step.`);
    else reporter.debug(`Lease ${ref.namespace}/${ref.name}: ${r.why}`);
  } catch (err) {
    reporter.debug(
      `Lease ${ref.namespace}/${ref.name} left to expire: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
