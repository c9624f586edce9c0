// The one place that puts things back: rollout undo (or helm rollback) to the recorded revision, ConfigMaps
// restored from their snapshots, deployment fields and annotations restored, then wait for the old version.
import type { Kube } from '../cluster/kube.ts';
import { waitForRollout } from '../cluster/rollout-watcher.ts';
import type { JournalData } from '../engine/journal.ts';
import type { Reporter } from '../report/reporter.ts';
import { runTool } from '../tools/exec.ts';

export interface RollbackDeps {
  readonly kube: Kube;
  readonly reporter: Reporter;
  readonly kubectl: () => Promise<string>;
  readonly helm: () => Promise<string>;
  readonly kubeconfigFile: string;
  readonly selector: string;
  readonly timeoutSeconds: number;
  readonly mode: 'rollout-undo' | 'helm-rollback';
  readonly signal?: AbortSignal | undefined;
  readonly detail: (text: string) => void;
}

export interface RollbackResult {
  readonly ok: boolean;
  readonly problems: string[];
  /** Commands a person can run when the rollback did not finish. */
  readonly manual: string[];
}

export function manualRollbackCommands(j: JournalData, mode: RollbackDeps['mode']): string[] {
  const cmds: string[] = [];
  if (mode === 'helm-rollback' && j.release && j.previousReleaseRevision !== undefined) {
    cmds.push(`helm rollback ${j.release} ${j.previousReleaseRevision} -n ${j.namespace} --wait`);
  } else if (j.templateChanged && j.previousRevision) {
    cmds.push(
      `kubectl rollout undo deployment/${j.deployment} -n ${j.namespace} --to-revision=${j.previousRevision}`,
    );
  }
  for (const cm of j.configMaps) {
    const data = JSON.stringify({ data: cm.data ?? {} });
    cmds.push(
      `kubectl patch configmap ${cm.metadata?.name ?? ''} -n ${j.namespace} --type=merge -p '${data}'  # and remove keys added since`,
    );
  }
  if (j.replicas !== undefined)
    cmds.push(`kubectl scale deployment/${j.deployment} -n ${j.namespace} --replicas=${j.replicas}`);
  cmds.push(`kubectl rollout status deployment/${j.deployment} -n ${j.namespace}`);
  return cmds;
}

export async function rollback(j: JournalData, deps: RollbackDeps): Promise<RollbackResult> {
  const problems: string[] = [];
  const ns = j.namespace;
  const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      deps.reporter.error(
        `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
        'Rollback problem',
      );
    }
  };

  if (j.templateChanged) {
    if (deps.mode === 'helm-rollback' && j.release && j.previousReleaseRevision !== undefined) {
      await attempt(`helm rollback ${j.release} ${j.previousReleaseRevision}`, async () => {
        const helm = await deps.helm();
        await runTool(
          deps.reporter,
          helm,
          [
            'rollback',
            j.release ?? '',
            String(j.previousReleaseRevision),
            '--namespace',
            ns,
            '--kubeconfig',
            deps.kubeconfigFile,
          ],
          { announce: true },
        );
        deps.detail(`helm rollback ${j.release} to release revision ${j.previousReleaseRevision}`);
      });
    } else if (j.previousRevision) {
      await attempt(`kubectl rollout undo --to-revision=${j.previousRevision}`, async () => {
        const kubectl = await deps.kubectl();
        // An earlier attempt (the main step, before the runner killed it) may have undone it already; the
        // undo then renumbered revision N, so a second --to-revision=N would fail. The image tells.
        const current = await deps.kube.getDeployment(ns, j.deployment);
        const image = current?.spec?.template?.spec?.containers?.find((c) => c.name === j.container)?.image;
        if (j.previousImage && image === j.previousImage) {
          deps.detail(`the Deployment already runs ${image} again: no undo needed`);
          return;
        }
        await runTool(
          deps.reporter,
          kubectl,
          [
            '--kubeconfig',
            deps.kubeconfigFile,
            '--namespace',
            ns,
            'rollout',
            'undo',
            `deployment/${j.deployment}`,
            `--to-revision=${j.previousRevision}`,
          ],
          { announce: true },
        );
        deps.detail(`rollout undo to revision ${j.previousRevision}`);
      });
    }
  }

  for (const cm of j.configMaps) {
    await attempt(`restoring ConfigMap ${cm.metadata?.name ?? ''}`, async () => {
      await deps.kube.restoreConfigMap(cm);
      deps.detail(`ConfigMap ${cm.metadata?.name ?? ''} restored from its snapshot`);
    });
  }

  const fields = Object.entries(j.deploymentFields);
  const annotations = j.deploymentAnnotations;
  const spec: Record<string, unknown> = {};
  for (const [k, v] of fields) spec[k] = v;
  if (j.replicas !== undefined) spec.replicas = j.replicas;
  if (Object.keys(spec).length > 0 || Object.keys(annotations).length > 0) {
    await attempt('restoring Deployment settings', async () => {
      // A JSON merge patch: null removes a field we added, and annotations removed by undo stay removed.
      await deps.kube.annotateDeployment(ns, j.deployment, annotations);
      if (Object.keys(spec).length > 0) await deps.kube.patchDeployment(ns, j.deployment, { spec });
      deps.detail(
        `Deployment settings restored: ${[...Object.keys(spec), ...Object.keys(annotations)].join(', ')}`,
      );
    });
  }

  if (problems.length === 0) {
    await attempt('waiting for the previous version to be ready', async () => {
      const res = await waitForRollout(deps.kube, {
        namespace: ns,
        deployment: j.deployment,
        selector: deps.selector,
        timeoutMs: deps.timeoutSeconds * 1000,
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
      if (res.verdict.state !== 'complete') {
        throw new Error(
          `${res.verdict.state === 'failed' ? res.verdict.reason : 'not complete'}: ${res.verdict.message}`,
        );
      }
      deps.detail(`previous version ready again (${res.verdict.message})`);
    });
  }
  const ok = problems.length === 0;
  return { ok, problems, manual: ok ? [] : manualRollbackCommands(j, deps.mode) };
}
