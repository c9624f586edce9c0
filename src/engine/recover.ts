// Restores the cluster from a journal left by a run that did not finish (cancelled job, killed runner).
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kube } from '../cluster/kube.ts';
import type { Plan } from '../plan/plan.ts';
import type { Reporter } from '../report/reporter.ts';
import { rollback, type RollbackResult } from '../steps/rollback.ts';
import type { ToolProvider } from './context.ts';
import { Journal, type JournalData } from './journal.ts';

export type RecoveryResult =
  { action: 'none'; why: string } | { action: 'rolled-back' | 'rollback-failed'; result: RollbackResult };

/** Phases in which the cluster may be half-changed. */
export function needsRecovery(j: JournalData | undefined): boolean {
  return (
    j !== undefined && (j.phase === 'changing' || j.phase === 'waiting' || j.phase === 'rollback-failed')
  );
}

export async function recoverFromJournal(
  journalPath: string,
  plan: Plan,
  deps: { reporter: Reporter; tools: ToolProvider },
): Promise<RecoveryResult> {
  const data = Journal.load(journalPath);
  if (!data) return { action: 'none', why: 'no journal: the main step changed nothing' };
  if (!needsRecovery(data)) return { action: 'none', why: `the main step ended cleanly (${data.phase})` };
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
    const selector = Object.entries(dep?.spec?.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const mode =
      data.method === 'helm' && plan.rollback !== 'rollout-undo' ? 'helm-rollback' : 'rollout-undo';
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
