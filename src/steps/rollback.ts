// The one place that puts things back: rollout undo (or helm rollback) to the recorded revision, ConfigMaps
// restored from their snapshots, deployment fields and annotations restored, then wait for the old version.
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { KubeError, type Kube } from '../cluster/kube.ts';
import { waitForRollout } from '../cluster/rollout-watcher.ts';
import { kubectlArgs } from '../engine/context.ts';
import type { BlueGreenRecord, JournalData } from '../engine/journal.ts';
import type { Reporter } from '../report/reporter.ts';
import { formatCommand, runTool } from '../tools/exec.ts';
import { manualBlueGreenCommands, rollbackBlueGreen } from './blue-green-rollback.ts';
import { manualKedaCommands, resumeKeda } from './keda.ts';

export interface RollbackDeps {
  readonly kube: Kube;
  readonly reporter: Reporter;
  readonly kubectl: () => Promise<string>;
  readonly helm: () => Promise<string>;
  readonly kubeconfigFile: string;
  readonly selector: string;
  readonly timeoutSeconds: number;
  /** How long a transient image-pull error of the previous version may last (the `image-pull-grace` input). */
  readonly imagePullGraceSeconds?: number;
  readonly mode: 'rollout-undo' | 'helm-rollback';
  readonly signal?: AbortSignal | undefined;
  readonly detail: (text: string) => void;
  /** Blue-green: records where the Service's selector went (the journal's record, for the summary). */
  readonly recordBlueGreen?: ((change: Partial<BlueGreenRecord>) => void) | undefined;
}

export interface RollbackResult {
  readonly ok: boolean;
  readonly problems: string[];
  /** Commands a person can run when the rollback did not finish. */
  readonly manual: string[];
}

/** Quotes live values (names, JSON) for a command a person copies into a shell. */
const sh = (file: string, ...args: string[]): string => formatCommand(file, args);

export function manualRollbackCommands(j: JournalData, mode: RollbackDeps['mode']): string[] {
  if (j.blueGreen) return [...blueGreenManual(j, j.blueGreen, mode), ...manualKedaCommands(j)];
  const cmds: string[] = [];
  const ns = j.namespace;
  for (const cm of j.configMaps) {
    const name = cm.metadata?.name ?? '';
    const restore = configMapRestorePatch(cm, j.configMapWrites[name]);
    cmds.push(
      sh(
        'kubectl',
        'patch',
        'configmap',
        name,
        '-n',
        ns,
        '--type=merge',
        '-p',
        JSON.stringify({ data: restore }),
      ),
    );
  }
  if (mode === 'helm-rollback' && j.release && j.previousReleaseRevision !== undefined) {
    cmds.push(sh('helm', 'rollback', j.release, String(j.previousReleaseRevision), '-n', ns, '--wait'));
  } else if (j.templateChanged && j.previousRevision) {
    cmds.push(
      sh(
        'kubectl',
        'rollout',
        'undo',
        `deployment/${j.deployment}`,
        '-n',
        ns,
        `--to-revision=${j.previousRevision}`,
      ),
    );
  }
  if (j.replicas !== undefined)
    cmds.push(sh('kubectl', 'scale', `deployment/${j.deployment}`, '-n', ns, `--replicas=${j.replicas}`));
  cmds.push(sh('kubectl', 'rollout', 'status', `deployment/${j.deployment}`, '-n', ns));
  cmds.push(...manualKedaCommands(j));
  return cmds;
}

/**
 * The data keys that put a ConfigMap back as its snapshot had them (null removes a key added since). With the
 * keys this run wrote known, only those; without (a chart rendered the change), every key that differs.
 */
export function configMapRestorePatch(
  snapshot: V1ConfigMap,
  written: Readonly<Record<string, string | null>> | undefined,
  current?: V1ConfigMap,
): Record<string, string | null> {
  const before = snapshot.data ?? {};
  const now = current ? (current.data ?? {}) : undefined;
  const patch: Record<string, string | null> = {};
  const keys = written
    ? Object.keys(written)
    : [...new Set([...Object.keys(before), ...Object.keys(now ?? {})])];
  for (const k of keys) {
    const want = before[k] ?? null;
    if (now && (now[k] ?? null) === want) continue;
    patch[k] = want;
  }
  return patch;
}

/** Keys someone else changed after this run wrote them: restoring those would overwrite their edit. */
export function configMapConflicts(
  snapshot: V1ConfigMap,
  written: Readonly<Record<string, string | null>> | undefined,
  current: V1ConfigMap,
): string[] {
  if (!written) return [];
  const before = snapshot.data ?? {};
  const now = current.data ?? {};
  const out: string[] = [];
  for (const [k, ours] of Object.entries(written)) {
    const cur = now[k] ?? null;
    if (cur === (before[k] ?? null) || cur === ours) continue;
    out.push(`${k} (this run wrote ${JSON.stringify(ours)}, it now holds ${JSON.stringify(cur)})`);
  }
  return out;
}

export type UndoDecision =
  | { readonly kind: 'undo' }
  | { readonly kind: 'already'; readonly why: string }
  | { readonly kind: 'refuse'; readonly why: string };

const containerImage = (d: V1Deployment, container: string): string | undefined =>
  d.spec?.template?.spec?.containers?.find((c) => c.name === container)?.image;

/**
 * Whether `rollout undo` may run: only over this run's own change. The generation tells that the spec is as
 * this run left it (also when the tag did not change, with `force`); an image already back at the previous
 * one means an earlier attempt undid it (undo renumbers revisions, so a second --to-revision would fail).
 */
export function undoDecision(j: JournalData, current: V1Deployment | undefined): UndoDecision {
  if (!current) return { kind: 'refuse', why: `Deployment ${j.namespace}/${j.deployment} no longer exists` };
  const image = containerImage(current, j.container);
  const generation = current.metadata?.generation;
  if (j.knownGeneration !== undefined && generation === j.knownGeneration) return { kind: 'undo' };
  if (j.previousImage && image === j.previousImage) {
    return { kind: 'already', why: `the Deployment already runs ${image} again: no undo needed` };
  }
  if (j.knownGeneration === undefined && image === j.targetImage) return { kind: 'undo' };
  return {
    kind: 'refuse',
    why: `the Deployment was changed by someone else after this run's change (generation ${String(generation)}, this run left ${String(j.knownGeneration ?? '?')}; image ${image ?? '?'}): not undone, to keep their change`,
  };
}

/** Blue-green's manual commands, with the chart's own (for the run's mode) after a hand-over had started. */
function blueGreenManual(j: JournalData, bg: BlueGreenRecord, mode: RollbackDeps['mode']): string[] {
  return manualBlueGreenCommands(j, bg, bg.handover ? manualRollbackCommands(chartPart(j), mode) : []);
}

/** The journal of a blue-green hand-over as a plain upgrade of the chart's Deployment (no colors, no KEDA). */
function chartPart(j: JournalData): JournalData {
  return { ...j, blueGreen: undefined, keda: undefined };
}

export async function rollback(j: JournalData, deps: RollbackDeps): Promise<RollbackResult> {
  const r = await rollbackWorkload(j, deps);
  // KEDA last: it resumes on a Deployment that is back as it was (or as far as the rollback got).
  const keda = await resumeKeda(j, deps.kube, deps.detail);
  for (const p of keda) deps.reporter.error(p, 'Rollback problem');
  if (keda.length === 0) return r;
  return { ok: false, problems: [...r.problems, ...keda], manual: manualRollbackCommands(j, deps.mode) };
}

async function rollbackWorkload(j: JournalData, deps: RollbackDeps): Promise<RollbackResult> {
  // Blue-green changes blue's template only in a helm hand-over: the chart is then put back by the rollback
  // below, called from blue-green's own (which keeps green serving meanwhile); otherwise its rollback is a
  // switch back and a clean-up.
  if (j.blueGreen) {
    const bgProblems = await rollbackBlueGreen(j, j.blueGreen, {
      ...deps,
      undoChart: async () => (await rollbackWorkload(chartPart(j), deps)).problems,
    });
    for (const p of bgProblems) deps.reporter.error(`${p} failed`, 'Rollback problem');
    const done = bgProblems.length === 0;
    return { ok: done, problems: bgProblems, manual: done ? [] : blueGreenManual(j, j.blueGreen, deps.mode) };
  }
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

  // ConfigMaps first: old pods started by the undo must never read this run's UPGRADE_DB=true.
  for (const cm of j.configMaps) {
    const name = cm.metadata?.name ?? '';
    await attempt(`restoring ConfigMap ${name}`, () =>
      restoreConfigMap(deps.kube, cm, j.configMapWrites[name], deps.detail),
    );
  }

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
        const decision = undoDecision(j, await deps.kube.getDeployment(ns, j.deployment));
        if (decision.kind === 'already') {
          deps.detail(decision.why);
          return;
        }
        if (decision.kind === 'refuse') throw new Error(decision.why);
        await runTool(
          deps.reporter,
          kubectl,
          kubectlArgs(
            { kubeconfigFile: deps.kubeconfigFile, namespace: ns },
            'rollout',
            'undo',
            `deployment/${j.deployment}`,
            `--to-revision=${j.previousRevision}`,
          ),
          { announce: true },
        );
        deps.detail(`rollout undo to revision ${j.previousRevision}`);
      });
    }
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
        imagePullGraceMs: (deps.imagePullGraceSeconds ?? 0) * 1000,
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

/** Puts back the keys a run changed, refusing keys someone else has changed since (their edit wins). */
async function restoreConfigMap(
  kube: Kube,
  snapshot: V1ConfigMap,
  written: Readonly<Record<string, string | null>> | undefined,
  detail: (t: string) => void,
): Promise<void> {
  const ns = snapshot.metadata?.namespace ?? '';
  const name = snapshot.metadata?.name ?? '';
  // A concurrent writer makes the precondition fail: read again and decide again (bounded).
  for (let attempt = 1; ; attempt++) {
    const current = await kube.getConfigMap(ns, name);
    if (!current)
      throw new Error(
        `ConfigMap ${name} was deleted after this run changed it; recreate it from the snapshot in the journal`,
      );
    const conflicts = configMapConflicts(snapshot, written, current);
    if (conflicts.length > 0) {
      throw new Error(
        `ConfigMap ${name}: changed by someone else since this run wrote it, left as they set it: ${conflicts.join('; ')}`,
      );
    }
    const patch = configMapRestorePatch(snapshot, written, current);
    if (Object.keys(patch).length === 0) {
      detail(`ConfigMap ${name} already as before the run`);
      return;
    }
    try {
      await kube.patchConfigMapData(ns, name, patch, current.metadata?.resourceVersion);
      detail(`ConfigMap ${name} restored: ${Object.keys(patch).join(', ')}`);
      return;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409) || attempt >= 3) throw err;
    }
  }
}
