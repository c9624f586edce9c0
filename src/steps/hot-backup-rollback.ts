// blue-green-hot-backup's rollback, from the journal alone (main step and post step alike), in undoOrder's
// order (hot-backup.ts): the Service back to blue, green removed and awaited until its pods are gone (their
// activations are released on termination), the preview Service removed, then blue scaled back and awaited.
import type { JournalData, BlueGreenRecord, HotBackupJournal } from '../engine/journal.ts';
import { waitForNoPods } from '../cluster/pods-gone.ts';
import { formatCommand } from '../tools/exec.ts';
import { blueReady, type BlueGreenRollbackDeps } from './blue-green-rollback.ts';
import { undoOrder, type HotBackupRecord } from './hot-backup.ts';

/** `k=v,k2=v2`: the label selector of a Service selector. */
function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The pure view undoOrder decides on, from the journal's blue-green record. */
export function hotBackupView(bg: BlueGreenRecord, hb: HotBackupJournal): HotBackupRecord {
  return {
    blueReplicas: bg.blueReplicas,
    registered: [...hb.registered],
    blueStopped: bg.blueScaled,
    activated: [...hb.activated],
    switched: bg.switched,
    greenCreated: bg.greenCreated,
    previewCreated: bg.previewCreated,
  };
}

/** Undoes a hot-backup run; returns the problems (empty when blue serves again and green is gone). */
export async function rollbackHotBackup(
  j: JournalData,
  bg: BlueGreenRecord,
  hb: HotBackupJournal,
  deps: BlueGreenRollbackDeps,
): Promise<string[]> {
  const ns = j.namespace;
  const plan = undoOrder(hotBackupView(bg, hb));
  const timeoutMs = deps.timeoutSeconds * 1000;
  const work = plan.actions.map((a): { what: string; run: () => Promise<void> } => {
    switch (a.do) {
      case 'switch-back':
        return {
          what: `switching Service ${bg.service} back to blue`,
          run: async () => {
            await deps.kube.setServiceSelector(ns, bg.service, bg.blueSelector);
            deps.detail(`Service ${bg.service} selects blue again: ${JSON.stringify(bg.blueSelector)}`);
          },
        };
      case 'unregister-green':
        // The journal holds no credentials; a backup holds no activation, so its pods simply end.
        return {
          what: "green's hot-backup registrations",
          run: async () =>
            deps.detail(
              `green's hot-backup registration(s) (${a.pods.join(', ')}) end with its pods: a backup holds no activation`,
            ),
        };
      case 'delete-green':
        return { what: `deleting Deployment ${bg.green}`, run: () => deleteGreen(ns, bg, a.waitGone, deps) };
      case 'delete-preview':
        return {
          what: `deleting Service ${bg.preview}`,
          run: async () => {
            const existed = await deps.kube.deleteService(ns, bg.preview);
            deps.detail(existed ? `Service ${bg.preview} deleted` : `Service ${bg.preview} was not there`);
          },
        };
      case 'scale-blue':
        return {
          what: `scaling ${bg.blue} back to ${a.replicas}`,
          run: async () =>
            void (await deps.kube.patchDeployment(ns, bg.blue, { spec: { replicas: a.replicas } })),
        };
      case 'wait-blue-ready':
        return { what: `waiting for ${bg.blue}`, run: () => blueReady(ns, bg, timeoutMs, deps) };
    }
  });
  const problems: string[] = [];
  for (const w of work) {
    await w.run().catch((err: unknown) => {
      problems.push(`${w.what}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
  deps.detail(
    `licence activations after the rollback: ${plan.activationsAfter} expected (blue's pods; the action's count, not OPSWAT's); blue ${plan.blue}`,
  );
  return problems;
}

/** Green removed; with `waitGone`, awaited until its pods (and their activations) are gone. */
async function deleteGreen(
  ns: string,
  bg: BlueGreenRecord,
  waitGone: boolean,
  deps: BlueGreenRollbackDeps,
): Promise<void> {
  const existed = await deps.kube.deleteDeployment(ns, bg.green);
  deps.detail(existed ? `Deployment ${bg.green} deleted` : `Deployment ${bg.green} was not there`);
  if (!waitGone) return;
  const left = await waitForNoPods(deps.kube, {
    namespace: ns,
    selector: labelSelector(bg.greenSelector),
    timeoutMs: deps.timeoutSeconds * 1000,
  });
  if (left > 0)
    throw new Error(
      `${left} green pod(s) still exist after ${deps.timeoutSeconds} s: their activations may not be free for blue`,
    );
  deps.detail("green's pods are gone: their activations are released");
}

/** The same undo by hand, in the same order. */
export function manualHotBackupCommands(j: JournalData, bg: BlueGreenRecord): string[] {
  const ns = j.namespace;
  const hb = bg.hotBackup ?? { registered: [], activated: [] };
  const cmds: string[] = [];
  for (const a of undoOrder(hotBackupView(bg, hb)).actions) {
    if (a.do === 'switch-back')
      cmds.push(
        formatCommand('kubectl', [
          'patch',
          'service',
          bg.service,
          '-n',
          ns,
          '--type=json',
          '-p',
          JSON.stringify([{ op: 'replace', path: '/spec/selector', value: bg.blueSelector }]),
        ]),
      );
    if (a.do === 'delete-green') {
      cmds.push(formatCommand('kubectl', ['delete', 'deployment', bg.green, '-n', ns, '--wait=true']));
      if (a.waitGone)
        cmds.push(
          formatCommand('kubectl', [
            'wait',
            '--for=delete',
            'pod',
            '-l',
            labelSelector(bg.greenSelector),
            '-n',
            ns,
            '--timeout=600s',
          ]),
        );
    }
    if (a.do === 'delete-preview')
      cmds.push(formatCommand('kubectl', ['delete', 'service', bg.preview, '-n', ns]));
    if (a.do === 'scale-blue')
      cmds.push(
        formatCommand('kubectl', ['scale', `deployment/${bg.blue}`, '-n', ns, `--replicas=${a.replicas}`]),
      );
    if (a.do === 'wait-blue-ready')
      cmds.push(formatCommand('kubectl', ['rollout', 'status', `deployment/${bg.blue}`, '-n', ns]));
  }
  return cmds;
}
