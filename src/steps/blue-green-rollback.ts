// Blue-green's rollback, from the journal alone (main step and post step alike): blue back to its replicas
// if it was scaled, the serving Service's selector back to blue, then green and the preview Service removed.
import type { Kube } from '../cluster/kube.ts';
import { waitForRollout } from '../cluster/rollout-watcher.ts';
import { podSelector } from '../cluster/selector.ts';
import type { BlueGreenRecord, JournalData } from '../engine/journal.ts';
import { formatCommand } from '../tools/exec.ts';
import { manualHotBackupCommands, rollbackHotBackup } from './hot-backup-rollback.ts';

export interface BlueGreenRollbackDeps {
  readonly kube: Kube;
  readonly timeoutSeconds: number;
  readonly detail: (text: string) => void;
}

/** Undoes a blue-green run's changes; returns the problems (empty when all is back). */
export async function rollbackBlueGreen(
  j: JournalData,
  bg: BlueGreenRecord,
  deps: BlueGreenRollbackDeps,
): Promise<string[]> {
  if (bg.hotBackup) return rollbackHotBackup(j, bg, bg.hotBackup, deps);
  const problems: string[] = [];
  const ns = j.namespace;
  const attempt = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (err) {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  };
  let blueServes = true;
  if (bg.blueScaled) {
    // Traffic goes back only to a blue that runs again.
    blueServes = await attempt(`scaling ${bg.blue} back to ${bg.blueReplicas}`, async () => {
      await deps.kube.patchDeployment(ns, bg.blue, { spec: { replicas: bg.blueReplicas } });
      const dep = await deps.kube.getDeployment(ns, bg.blue);
      if (!dep) throw new Error(`Deployment ${ns}/${bg.blue} no longer exists`);
      const r = await waitForRollout(deps.kube, {
        namespace: ns,
        deployment: bg.blue,
        selector: podSelector(dep),
        timeoutMs: deps.timeoutSeconds * 1000,
      });
      if (r.verdict.state !== 'complete') throw new Error(`blue did not become ready: ${r.verdict.message}`);
      deps.detail(`${bg.blue} back at ${bg.blueReplicas} replica(s), ready`);
    });
  }
  if (bg.switched && blueServes) {
    const ok = await attempt(`switching Service ${bg.service} back to blue`, async () => {
      await deps.kube.setServiceSelector(ns, bg.service, bg.blueSelector);
      const onGreen =
        bg.switchedAt === undefined
          ? ''
          : ` (traffic was on green for ${Math.round((Date.now() - bg.switchedAt) / 1000)} s)`;
      deps.detail(`Service ${bg.service} selects blue again: ${JSON.stringify(bg.blueSelector)}${onGreen}`);
    });
    blueServes = ok;
  }
  // Green is removed only once the Service no longer sends traffic to it.
  if (bg.greenCreated && blueServes) {
    await attempt(`deleting Deployment ${bg.green}`, async () => {
      const existed = await deps.kube.deleteDeployment(ns, bg.green);
      deps.detail(existed ? `Deployment ${bg.green} deleted` : `Deployment ${bg.green} was not there`);
    });
  } else if (bg.greenCreated) {
    problems.push(`Deployment ${bg.green} kept: it still serves while blue cannot`);
  }
  if (bg.previewCreated) {
    await attempt(`deleting Service ${bg.preview}`, async () => {
      const existed = await deps.kube.deleteService(ns, bg.preview);
      deps.detail(existed ? `Service ${bg.preview} deleted` : `Service ${bg.preview} was not there`);
    });
  }
  return problems;
}

/** The commands a person runs to do the same by hand. */
export function manualBlueGreenCommands(j: JournalData, bg: BlueGreenRecord): string[] {
  if (bg.hotBackup) return manualHotBackupCommands(j, bg);
  const ns = j.namespace;
  const cmds: string[] = [];
  if (bg.blueScaled) {
    cmds.push(
      formatCommand('kubectl', ['scale', `deployment/${bg.blue}`, '-n', ns, `--replicas=${bg.blueReplicas}`]),
    );
    cmds.push(formatCommand('kubectl', ['rollout', 'status', `deployment/${bg.blue}`, '-n', ns]));
  }
  if (bg.switched) {
    const patch = [{ op: 'replace', path: '/spec/selector', value: bg.blueSelector }];
    cmds.push(
      formatCommand('kubectl', [
        'patch',
        'service',
        bg.service,
        '-n',
        ns,
        '--type=json',
        '-p',
        JSON.stringify(patch),
      ]),
    );
  }
  if (bg.greenCreated) cmds.push(formatCommand('kubectl', ['delete', 'deployment', bg.green, '-n', ns]));
  if (bg.previewCreated) cmds.push(formatCommand('kubectl', ['delete', 'service', bg.preview, '-n', ns]));
  return cmds;
}
