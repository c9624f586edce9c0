// Restores the cluster from a journal left by a run that did not finish (cancelled job, killed runner).
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kube } from '../cluster/kube.ts';
import type { Plan } from '../plan/plan.ts';
import type { Reporter } from '../report/reporter.ts';
import { podSelector } from '../cluster/selector.ts';
import { manualRollbackCommands, rollback, type RollbackResult } from '../steps/rollback.ts';
import { afterFailure } from './after-failure.ts';
import type { ToolProvider } from './context.ts';
import { Journal } from './journal.ts';

export type RecoveryResult =
  | { action: 'none'; why: string }
  | { action: 'left'; why: string; manual: string[] }
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
    return { action: 'none', why: decision.kind === 'nothing' ? decision.why : 'no journal' };
  }
  if (decision.kind === 'leave') {
    new Journal(data, journalPath).update({ phase: 'left-failed' });
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
  try {
    const dep = await kube.getDeployment(data.namespace, data.deployment);
    const selector = dep ? podSelector(dep) : '';
    const { mode } = decision;
    const result = await rollback(data, {
      kube,
      reporter,
      kubectl: () => deps.tools.kubectl(),
      helm: () => deps.tools.helm(),
      kubeconfigFile,
      selector,
      timeoutSeconds: plan.timeoutSeconds,
      mode,
      detail: (t) => reporter.info(t),
    });
    new Journal(data, journalPath).update({ phase: result.ok ? 'rolled-back' : 'rollback-failed' });
    return { action: result.ok ? 'rolled-back' : 'rollback-failed', result };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
