// Blue-green's hand-over for a helm-managed md-core: once green serves and blue's hold is over, the chart's own
// Deployment is upgraded by the helm route (every guard of a rolling update's helm upgrade, the same upgrade
// variables as green) while green serves; once it is ready at the new version the Service gets the chart's
// selector back, its endpoints are confirmed to be the chart's pods only, and green and its preview go. The
// release then records the new version as after a rolling update.
//
// Order, and why (a failure at any point is undone by steps/blue-green-rollback.ts from the journal):
// 0. (blue-green.ts) blue, the chart's Deployment, is scaled to 0 after the hold, as on a plain Deployment:
//    helm may give the Service the chart's selector back at once (Helm 4 does), and no pod of the old version
//    may be behind it then; the helm upgrade brings the chart's replicas back, at the new version;
// 1. bridge EndpointSlice for green, then `helm upgrade`: helm rewrites the Service's selector towards the
//    chart's (see steps/blue-green-bridge.ts), the bridge keeps green behind the Service meanwhile;
// 2. green's selector set again and seen in the controller's own slices, then the bridge is deleted;
// 3. wait for the chart's Deployment (the same watcher and verdicts as any rollout); green still serves, and
//    its endpoints are watched: green losing them all fails the run (the rollback puts blue back);
// 4. one patch gives the Service the chart's selector; its endpoints must become the chart's pods only;
// 5. (wrap-up) green and the preview Service are deleted: the upgrade is complete by then, so a failure there
//    is a warning naming the command, never a rollback.
import type { V1Service } from '@kubernetes/client-node';
import { checkCancelled, type RunContext } from '../engine/context.ts';
import type { BlueGreenRecord } from '../engine/journal.ts';
import type { Facts, Step } from '../engine/step.ts';
import { targetImage, waitSeconds } from '../plan/plan.ts';
import { waitOnlyGreen, whileGreenServes, type EndpointPoll, type GreenPlan } from '../steps/blue-green.ts';
import {
  bridgeName,
  bridgeSlice,
  controllerSlices,
  labelSelector,
  sameLabels,
} from '../steps/blue-green-bridge.ts';
import { formatCommand } from '../tools/exec.ts';
import {
  applyChange,
  planChange,
  recordUpgrade,
  restoreProgressDeadline,
  waitForReadiness,
  type Carry,
} from './parts.ts';

/** What the hand-over reads from blue-green's plan step. */
export interface HandOverCarry extends Carry {
  green?: GreenPlan;
  serving?: V1Service;
}

/** How long the endpoints may take to show the expected pods after a selector patch. */
export const HANDOVER_ENDPOINTS_TIMEOUT_MS = 60_000;
export const HANDOVER_ENDPOINTS_POLL_MS = 1_000;

function record(ctx: RunContext): BlueGreenRecord {
  const bg = ctx.journal.data.blueGreen;
  if (!bg) throw new Error('internal: the blue-green record is missing (steps out of order)');
  return bg;
}

/** Pod IPs of the pods a label selector picks, read afresh at every poll (a replaced pod has a new one). */
function podIps(ctx: RunContext, selector: string): () => Promise<ReadonlySet<string>> {
  return async () =>
    new Set(
      (await ctx.kube.listPods(ctx.target.namespace, selector))
        .map((p) => p.status?.podIP)
        .filter((ip): ip is string => !!ip),
    );
}

/** The serving Service's own EndpointSlices and green's pod IPs: what the checks of green behind it read. */
function greenBehindService(
  ctx: RunContext,
  bg: BlueGreenRecord,
  green: GreenPlan,
): Pick<EndpointPoll, 'list' | 'greenIps'> {
  return {
    list: async () => controllerSlices(await ctx.kube.listEndpointSlices(ctx.target.namespace, bg.service)),
    greenIps: podIps(ctx, labelSelector(green.selector)),
  };
}

function needGreen(carry: HandOverCarry): GreenPlan {
  if (!carry.green) throw new Error('internal: the blue-green plan is missing (steps out of order)');
  return carry.green;
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

/** The serving Service, refused when it is gone or no longer selects green (someone else's change wins). */
async function servingOnGreen(ctx: RunContext, bg: BlueGreenRecord, before: string): Promise<V1Service> {
  const ns = ctx.target.namespace;
  checkCancelled(ctx, before);
  const now = await ctx.kube.getService(ns, bg.service);
  if (!now) throw new Error(`Service ${ns}/${bg.service} disappeared before ${before}`);
  if (!sameLabels(now.spec?.selector, bg.greenSelector))
    throw new Error(
      `Service ${ns}/${bg.service} no longer selects green (selector now ${JSON.stringify(now.spec?.selector ?? {})}, changed by someone else): stopped before ${before}`,
    );
  return now;
}

/** The helm route's prepare (dry-run render and every guard), before any change: a refusal changes nothing. */
export function planHandOver(facts: Facts, carry: Carry): Step {
  return {
    ...planChange(facts, carry),
    title:
      "Plan the hand-over's helm upgrade of the chart's Deployment (every helm guard); nothing changed yet",
  };
}

/** Steps 1 and 2 of the order above. */
export function upgradeChart(facts: Facts, carry: HandOverCarry): Step {
  const apply = applyChange(facts, carry);
  return {
    id: 'handover-upgrade',
    title: "Hand-over: helm upgrade of the chart's Deployment while green serves",
    async run(ctx, h) {
      const bg = record(ctx);
      const ns = ctx.target.namespace;
      const green = needGreen(carry);
      const serving = await servingOnGreen(ctx, bg, 'the hand-over');
      const name = bridgeName(bg.green);
      const slice = bridgeSlice(serving, name, await ctx.kube.listPods(ns, labelSelector(green.selector)));
      const n = slice.endpoints?.length ?? 0;
      if (n === 0)
        throw new Error('green has no ready pod to serve through the hand-over: it was not started');
      checkCancelled(ctx, 'the hand-over');
      ctx.journal.recordBlueGreen({ bridge: name });
      await ctx.kube.createEndpointSlice(ns, slice);
      h.detail(
        `EndpointSlice ${name} keeps green's ${n} ready pod(s) behind Service ${bg.service} while helm rewrites its selector`,
      );
      ctx.journal.recordBlueGreen({ handover: true });
      await apply.run(ctx, h);

      const after = (await ctx.kube.getService(ns, bg.service))?.spec?.selector ?? {};
      if (sameLabels(after, bg.greenSelector)) h.detail('helm upgrade left the Service selector on green');
      else {
        h.detail(
          `helm upgrade set the Service selector to ${JSON.stringify(after)} (${sameLabels(after, bg.blueSelector) ? "the chart's" : "the chart's keys over green's"}); set back to green's ${JSON.stringify(bg.greenSelector)}`,
        );
        await ctx.kube.setServiceSelector(ns, bg.service, bg.greenSelector);
      }
      // The Service's own slices list green again before the bridge goes: no moment without green.
      const r = await waitOnlyGreen({
        ...greenBehindService(ctx, bg, green),
        timeoutMs: HANDOVER_ENDPOINTS_TIMEOUT_MS,
        intervalMs: HANDOVER_ENDPOINTS_POLL_MS,
        signal: ctx.signal,
      });
      await ctx.kube.deleteEndpointSlice(ns, name);
      ctx.journal.recordBlueGreen({ bridge: undefined });
      h.detail(
        `EndpointSlice ${name} deleted: the Service's selector shows green's pods again (${r.view.ready.join(', ')})`,
      );
    },
  };
}

/** How often green's endpoints are checked while the chart's Deployment is awaited. */
export const HANDOVER_WATCH_MS = 2_000;

/**
 * Step 3: the chart's Deployment (ctx.target, blue's name) watched to readiness, as any rollout, while green,
 * the only one serving, is watched as in the hold: should green lose every ready endpoint, the wait stops and
 * the run fails (the rollback then puts the chart back and blue serves again).
 */
export function waitForChart(carry: HandOverCarry): Step {
  const wait = waitForReadiness(carry);
  return {
    ...wait,
    id: 'handover-wait',
    title: "Hand-over: wait for the chart's Deployment at the new version (green serves meanwhile, watched)",
    async run(ctx, h) {
      await whileGreenServes(
        {
          ...greenBehindService(ctx, record(ctx), needGreen(carry)),
          intervalMs: HANDOVER_WATCH_MS,
          maxMs: (waitSeconds(ctx.plan) + ctx.plan.imagePullGraceSeconds) * 1000,
          during: "while the chart's Deployment was awaited in the hand-over (nothing else serves)",
          signal: ctx.signal,
        },
        (signal) => wait.run({ ...ctx, signal }, h),
      );
    },
  };
}

/** Step 4: one patch back to the chart's selector, refused when someone else changed it meanwhile. */
export function handBack(): Step {
  return {
    id: 'handback',
    title: "Hand-over: switch the Service back to the chart's selector (its pods run the new version)",
    async run(ctx, h) {
      const bg = record(ctx);
      const ns = ctx.target.namespace;
      const now = await servingOnGreen(ctx, bg, "switching the Service back to the chart's pods");
      ctx.journal.recordBlueGreen({ handedBack: true, selects: 'blue', switchedBackAt: ctx.now() });
      await ctx.kube.setServiceSelector(ns, bg.service, bg.blueSelector, now.metadata?.resourceVersion);
      const onGreen =
        bg.switchedAt === undefined ? '' : ` after ${seconds(ctx.now() - bg.switchedAt)} on green`;
      h.detail(
        `Service ${bg.service} selects the chart's Deployment ${bg.blue} again: ${JSON.stringify(bg.blueSelector)}${onGreen}`,
      );
    },
  };
}

/** Step 4, confirmed: the ready endpoints are the chart's pods only. */
export function confirmChartEndpoints(): Step {
  return {
    id: 'handover-endpoints',
    title: "Confirm the Service's endpoints are the chart's pods only",
    async run(ctx, h) {
      const bg = record(ctx);
      const r = await waitOnlyGreen({
        list: () => ctx.kube.listEndpointSlices(ctx.target.namespace, bg.service),
        greenIps: podIps(ctx, ctx.target.selector),
        timeoutMs: HANDOVER_ENDPOINTS_TIMEOUT_MS,
        intervalMs: HANDOVER_ENDPOINTS_POLL_MS,
        signal: ctx.signal,
      }).catch((err: unknown) => {
        throw new Error(
          (err instanceof Error ? err.message : String(err)).replace(
            "green's pods",
            `the pods of ${bg.blue}`,
          ),
        );
      });
      ctx.journal.recordBlueGreenFacts({ endpointsHandedBack: r.view.ready });
      h.detail(
        `ready endpoints: ${r.view.ready.join(', ')} (the chart's pods only, ${seconds(r.ms)} after the patch)`,
      );
    },
  };
}

/** Step 5 (wrap-up): green and its preview deleted; a failure is a warning with the command to finish it. */
export function removeGreen(): Step {
  return {
    id: 'remove-green',
    title: 'Remove green and its preview Service (the chart serves the new version)',
    async run(ctx, h) {
      const bg = record(ctx);
      const ns = ctx.target.namespace;
      const parts = [
        { kind: 'deployment', name: bg.green, del: () => ctx.kube.deleteDeployment(ns, bg.green) },
        { kind: 'service', name: bg.preview, del: () => ctx.kube.deleteService(ns, bg.preview) },
      ];
      for (const p of parts) {
        try {
          const existed = await p.del();
          h.detail(`${p.kind} ${p.name} ${existed ? 'deleted' : 'was not there'}`);
        } catch (err) {
          h.warn(
            `the upgrade is done, but ${p.kind} ${p.name} could not be deleted (${err instanceof Error ? err.message : String(err)}); delete it by hand: ${formatCommand('kubectl', ['delete', p.kind, p.name, '-n', ns])}`,
          );
        }
      }
      ctx.journal.recordBlueGreen({ greenCreated: false, previewCreated: false });
    },
  };
}

/** The changes after blue's hold and its scale-down, for a helm-managed blue. */
export function handOverSteps(facts: Facts, carry: HandOverCarry): Step[] {
  return [upgradeChart(facts, carry), waitForChart(carry), handBack(), confirmChartEndpoints()];
}

/** Wrap-up of a hand-over: green removed, the upgrade recorded on the chart's Deployment (not on green). */
export function handOverWrapUp(facts: Facts): Step[] {
  return [removeGreen(), recordUpgrade(facts), restoreProgressDeadline()];
}

/** What the colors mean after a hand-over, for the summary. */
export function handOverColors(ctx: RunContext, bg: BlueGreenRecord, blueColor: string): string {
  return `active: ${blueColor} (Deployment ${bg.blue}, the chart's, now at ${targetImage(ctx.plan)}: green handed the traffic back to it and was removed); previous: ${blueColor} (the same Deployment before the run, at ${ctx.journal.data.previousImage ?? '?'})`;
}
