// Blue-green's rollback, from the journal alone (main step and post step alike): blue back to its replicas
// if it was scaled, the chart put back first if a helm hand-over had started, the serving Service's selector
// back to blue, then green, the bridge EndpointSlice and the preview Service removed.
import type { Kube } from '../cluster/kube.ts';
import { waitForRollout } from '../cluster/rollout-watcher.ts';
import { podSelector } from '../cluster/selector.ts';
import type { BlueGreenRecord, JournalData } from '../engine/journal.ts';
import { formatCommand } from '../tools/exec.ts';
import { bridgeName, bridgeSlice, labelSelector, sameLabels } from './blue-green-bridge.ts';
import { manualHotBackupCommands, rollbackHotBackup } from './hot-backup-rollback.ts';

export interface BlueGreenRollbackDeps {
  readonly kube: Kube;
  readonly timeoutSeconds: number;
  readonly detail: (text: string) => void;
  /**
   * Puts the chart's Deployment back after a hand-over had started (helm rollback or rollout undo, ConfigMaps,
   * settings) and waits for it: the problems, none when its previous version is ready again.
   */
  readonly undoChart?: () => Promise<string[]>;
  /** Records where the Service's selector went (the journal's record, for the summary). */
  readonly recordBlueGreen?: ((change: Partial<BlueGreenRecord>) => void) | undefined;
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
  // Traffic goes back only to a blue that runs again (after a hand-over: at its previous version).
  const scaleBack = (): Promise<boolean> =>
    attempt(`scaling ${bg.blue} back to ${bg.blueReplicas}`, async () => {
      await deps.kube.patchDeployment(ns, bg.blue, { spec: { replicas: bg.blueReplicas } });
      await blueReady(ns, bg, deps.timeoutSeconds * 1000, deps);
    });
  let blueServes = true;
  if (bg.handover) blueServes = await undoHandOver(j, bg, deps, attempt, problems, scaleBack);
  else if (bg.blueScaled) blueServes = await scaleBack();
  if (bg.switched && blueServes) {
    const ok = await attempt(`switching Service ${bg.service} back to blue`, async () => {
      await deps.kube.setServiceSelector(ns, bg.service, bg.blueSelector);
      deps.recordBlueGreen?.({ selects: 'blue', switchedBackAt: bg.switchedBackAt ?? Date.now() });
      const onGreen =
        bg.switchedAt === undefined
          ? ''
          : ` (traffic was on green for ${Math.round((Date.now() - bg.switchedAt) / 1000)} s)`;
      deps.detail(`Service ${bg.service} selects blue again: ${JSON.stringify(bg.blueSelector)}${onGreen}`);
    });
    blueServes = ok;
  }
  // The bridge goes once the selector is settled (on blue, or on green when blue cannot serve).
  if (bg.handover || bg.bridge) {
    const name = bg.bridge ?? bridgeName(bg.green);
    await attempt(`deleting EndpointSlice ${name}`, async () => {
      if (await deps.kube.deleteEndpointSlice(ns, name)) deps.detail(`EndpointSlice ${name} deleted`);
    });
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

/**
 * The hand-over's undo. Green still runs the new version and is ready, while the chart's Deployment may be
 * half-way to it, failing, or already serving: so green takes (or keeps) the traffic first, the chart goes
 * back to its previous version and is awaited, and only then does traffic return to it (by the caller, which
 * switches the selector to blue). The safest order:
 * 1. the bridge EndpointSlice lists green's ready pods: `helm rollback` rewrites the Service's selector as
 *    `helm upgrade` did (blue-green-bridge.ts), and green must stay behind the Service through it;
 * 2. the selector set to the chart's own: helm rollback applies the chart's Service as rendered anyway, and
 *    Helm 4 refuses (a conflict) a selector another field manager set to a different value; with blue at 0
 *    and the chart's new pods about to go, only pods the chart brings back ready join green behind it;
 * 3. the chart put back and awaited (deps.undoChart: helm rollback or rollout undo, as the run chose), then
 *    blue back at its replicas if it was scaled to 0, and awaited;
 * 4. if the chart is not ready again, green keeps the traffic (selector on green), green is kept and the
 *    problems are named; otherwise the caller switches to blue and removes the bridge, green and preview.
 * Returns whether blue (the chart's Deployment) can serve again.
 */
async function undoHandOver(
  j: JournalData,
  bg: BlueGreenRecord,
  deps: BlueGreenRollbackDeps,
  attempt: (what: string, fn: () => Promise<void>) => Promise<boolean>,
  problems: string[],
  scaleBack: () => Promise<boolean>,
): Promise<boolean> {
  const ns = j.namespace;
  const name = bg.bridge ?? bridgeName(bg.green);
  const select = async (selector: Record<string, string>, why: string): Promise<void> => {
    const svc = await deps.kube.getService(ns, bg.service);
    if (sameLabels(svc?.spec?.selector, selector)) return;
    await deps.kube.setServiceSelector(ns, bg.service, selector);
    deps.recordBlueGreen?.({ selects: sameLabels(selector, bg.greenSelector) ? 'green' : 'blue' });
    deps.detail(`Service ${bg.service} selects ${JSON.stringify(selector)}: ${why}`);
  };
  let greenServes = false;
  await attempt(`keeping green behind Service ${bg.service} (EndpointSlice ${name})`, async () => {
    const svc = await deps.kube.getService(ns, bg.service);
    if (!svc) throw new Error(`Service ${ns}/${bg.service} no longer exists`);
    const slice = bridgeSlice(svc, name, await deps.kube.listPods(ns, labelSelector(bg.greenSelector)));
    if ((slice.endpoints?.length ?? 0) === 0) {
      deps.detail('green has no ready pod: nothing can serve while the chart goes back');
      return;
    }
    greenServes = true;
    const existing = (await deps.kube.listEndpointSlices(ns, bg.service)).some(
      (s) => s.metadata?.name === name,
    );
    if (existing) await deps.kube.deleteEndpointSlice(ns, name);
    await deps.kube.createEndpointSlice(ns, slice);
    deps.detail(
      `EndpointSlice ${name} keeps green's ${slice.endpoints?.length ?? 0} ready pod(s) behind the Service`,
    );
  });
  await attempt(`giving Service ${bg.service} the chart's selector for the rollback`, () =>
    select(bg.blueSelector, "the chart's own, as the rollback renders it (green stays behind the bridge)"),
  );
  const chart = deps.undoChart
    ? await deps.undoChart()
    : ['internal: no way to put the chart back was given'];
  if (chart.length === 0) {
    deps.detail(`the chart's Deployment ${bg.blue} is back at its previous version and ready`);
    if (!bg.blueScaled || (await scaleBack())) return true;
  }
  for (const p of chart) problems.push(`putting the chart's Deployment ${bg.blue} back: ${p}`);
  if (greenServes)
    await attempt(`keeping Service ${bg.service} on green`, () =>
      select(bg.greenSelector, 'green (the new version, ready) keeps the traffic while the chart cannot'),
    );
  return false;
}

/** The selector patch a person runs to point the Service at `selector`. */
function selectorCommand(ns: string, service: string, selector: Record<string, string>): string {
  const patch = [{ op: 'replace', path: '/spec/selector', value: selector }];
  return formatCommand('kubectl', [
    'patch',
    'service',
    service,
    '-n',
    ns,
    '--type=json',
    '-p',
    JSON.stringify(patch),
  ]);
}

/**
 * The commands a person runs to do the same by hand, in the same order. `chart`: the commands that put the
 * chart's Deployment back after a hand-over (rollback.ts's, for the run's rollback mode).
 */
export function manualBlueGreenCommands(
  j: JournalData,
  bg: BlueGreenRecord,
  chart: readonly string[] = [],
): string[] {
  if (bg.hotBackup) return manualHotBackupCommands(j, bg);
  const ns = j.namespace;
  const cmds: string[] = [];
  const scaleBack = bg.blueScaled
    ? [
        formatCommand('kubectl', [
          'scale',
          `deployment/${bg.blue}`,
          '-n',
          ns,
          `--replicas=${bg.blueReplicas}`,
        ]),
        formatCommand('kubectl', ['rollout', 'status', `deployment/${bg.blue}`, '-n', ns]),
      ]
    : [];
  if (bg.handover) {
    // Green keeps the traffic (the Service's selector on green) while the chart goes back; helm rollback wants
    // the chart's selector (Helm 4 refuses another manager's value), then green's again until the chart is up.
    const green = selectorCommand(ns, bg.service, bg.greenSelector);
    cmds.push(green);
    for (const c of chart) {
      const helmRollback = c.startsWith('helm rollback ');
      if (helmRollback) cmds.push(selectorCommand(ns, bg.service, bg.blueSelector));
      cmds.push(helmRollback ? c.replace(/ --wait$/, '') : c);
      if (helmRollback) cmds.push(green);
    }
  }
  cmds.push(...scaleBack);
  if (bg.switched) cmds.push(selectorCommand(ns, bg.service, bg.blueSelector));
  if (bg.handover || bg.bridge)
    cmds.push(
      formatCommand('kubectl', [
        'delete',
        'endpointslice',
        bg.bridge ?? bridgeName(bg.green),
        '-n',
        ns,
        '--ignore-not-found',
      ]),
    );
  if (bg.greenCreated) cmds.push(formatCommand('kubectl', ['delete', 'deployment', bg.green, '-n', ns]));
  if (bg.previewCreated) cmds.push(formatCommand('kubectl', ['delete', 'service', bg.preview, '-n', ns]));
  return cmds;
}

/** Blue's rollout awaited after it was scaled back (blue-green's undo and hot backup's). */
export async function blueReady(
  ns: string,
  bg: BlueGreenRecord,
  timeoutMs: number,
  deps: BlueGreenRollbackDeps,
): Promise<void> {
  const dep = await deps.kube.getDeployment(ns, bg.blue);
  if (!dep) throw new Error(`Deployment ${ns}/${bg.blue} no longer exists`);
  const r = await waitForRollout(deps.kube, {
    namespace: ns,
    deployment: bg.blue,
    selector: podSelector(dep),
    timeoutMs,
  });
  if (r.verdict.state !== 'complete') throw new Error(`blue did not become ready: ${r.verdict.message}`);
  deps.detail(`${bg.blue} back at ${bg.blueReplicas} replica(s), ready`);
}
