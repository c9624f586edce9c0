// Blue-green (plain Deployments, kubectl route): green is created next to blue, watched to readiness and
// verified through its own URL before any traffic moves; then one patch switches the serving Service to green,
// the EndpointSlices confirm it, and blue is scaled to 0 after scale-down-delay (kept for a switch back).
import { KubeError } from '../cluster/kube.ts';
import { podSelector } from '../cluster/selector.ts';
import { checkCancelled, type RunContext } from '../engine/context.ts';
import type { BlueGreenRecord } from '../engine/journal.ts';
import type { Facts, Step, Strategy } from '../engine/step.ts';
import type { Target } from '../engine/target.ts';
import { upgradedDbName } from '../plan/db-name.ts';
import { targetImage } from '../plan/plan.ts';
import {
  checkActivations,
  chooseServingService,
  endpointView,
  greenFromBlue,
  greenName,
  holdWatchingEndpoints,
  previewName,
  previewService,
  waitOnlyGreen,
  type GreenPlan,
} from '../steps/blue-green.ts';
import { desiredEnv } from '../steps/configure-env.ts';
import { kedaSteps } from '../steps/keda.ts';
import { verifyServing } from '../steps/core-api.ts';
import { greenRoute, openGreenApi } from '../steps/green-api.ts';
import { greenAccess } from '../plan/green-url.ts';
import type { V1Service } from '@kubernetes/client-node';
import { handOverColors, handOverSteps, handOverWrapUp, planHandOver } from './blue-green-handover.ts';
import {
  connectApi,
  judgeVerification,
  newCarry,
  recordUpgrade,
  usesApi,
  verifyNewVersion,
  waitForReadiness,
  type Carry,
} from './parts.ts';

/** What the plan step hands to the changes. */
export interface BlueGreenCarry extends Carry {
  green?: GreenPlan;
  serving?: V1Service;
  preview?: V1Service;
}

/** How long the EndpointSlices may take to show only green after the switch. */
export const ENDPOINTS_TIMEOUT_MS = 60_000;
export const ENDPOINTS_POLL_MS = 1_000;

export const blueGreen: Strategy = (plan, facts) => {
  const carry: BlueGreenCarry = newCarry();
  // A helm-managed blue is not scaled to 0 but upgraded by helm while green serves (blue-green-handover.ts).
  const handOver = facts.route.name === 'helm';
  const greenTarget = (ctx: RunContext): Target => {
    const g = need(carry.green);
    return { ...ctx.target, deployment: g.name, selector: podSelector(g.manifest) };
  };
  // KEDA held at blue's count, and at green's for a ScaledObject already aimed at green's name.
  const keda = kedaSteps(facts, (ctx) => [
    { name: ctx.target.deployment, replicas: ctx.state.replicas },
    { name: greenName(ctx.target.deployment).name, replicas: plan.greenReplicas ?? ctx.state.replicas },
  ]);
  const onGreen = (step: Step): Step => ({
    ...step,
    run: (ctx, h) => step.run({ ...ctx, target: greenTarget(ctx) }, h),
  });
  return {
    checks: [
      planBlueGreen(facts, carry),
      ...(handOver ? [planHandOver(facts, carry)] : []),
      ...(usesApi(plan) ? [connectApi(carry, false)] : []),
      ...keda.checks,
    ],
    changes: [
      ...keda.changes,
      createGreen(carry),
      onGreen(waitForReadiness(carry)),
      ...(greenAccess(plan).kind !== 'none' ? [verifyGreen(carry)] : []),
      switchService(),
      confirmEndpoints(carry),
      ...(usesApi(plan) ? [verifyServingPath(carry)] : []),
      holdBlue(carry),
      scaleDownBlue(),
      ...(handOver ? handOverSteps(facts, carry) : []),
      ...(handOver && usesApi(plan) ? [verifyChartServing(carry)] : []),
    ],
    wrapUp: [
      ...(handOver ? handOverWrapUp(facts) : [onGreen(recordUpgrade(facts))]),
      reportColors(carry),
      ...keda.wrapUp,
    ],
    close: async () => carry.api?.close(),
  };
};

function need<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('internal: the blue-green plan is missing (steps out of order)');
  return v;
}

function record(ctx: RunContext): BlueGreenRecord {
  return need(ctx.journal.data.blueGreen);
}

/** `activations`: the licence arithmetic (blue-green-hot-backup passes its own, where green holds none). */
export function planBlueGreen(
  facts: Facts,
  carry: BlueGreenCarry,
  activations: typeof checkActivations = checkActivations,
): Step {
  return {
    id: 'plan-blue-green',
    title: 'Plan blue-green (green Deployment, preview Service, activations); nothing changed yet',
    async run(ctx, h) {
      const { plan, state, target } = ctx;
      if (facts.route.name !== 'helm' && state.helmRelease)
        throw new Error(
          `Deployment ${target.deployment} is managed by helm release ${state.helmRelease}: with 'method' kubectl, blue-green would scale the chart's Deployment to 0 behind helm's back, so nothing was changed; use method auto (or helm) for blue-green's hand-over to the release`,
        );
      const blue = state.deployment;
      const blueLabels = blue.spec?.template?.metadata?.labels ?? {};
      const services = await ctx.kube.listServices(target.namespace);
      const choice = chooseServingService(services, blueLabels, plan.service, target.deployment);
      if (!choice.service) throw new Error(choice.problem ?? 'no serving Service');
      const serving = choice.service;
      const servingName = serving.metadata?.name ?? '';
      h.detail(`serving Service: ${servingName} (selector ${JSON.stringify(serving.spec?.selector ?? {})})`);
      const greenReplicas = plan.greenReplicas ?? state.replicas;
      const green = greenFromBlue({
        blue,
        container: target.container,
        image: targetImage(plan),
        env: desiredEnv(plan, facts.db.name),
        replicas: greenReplicas,
        serviceSelector: serving.spec?.selector ?? {},
      });
      if (green.problems.length)
        throw new Error(`green cannot be kept apart from blue: ${green.problems.join('; ')}`);
      for (const name of [green.name, previewName(green.name)]) {
        const exists =
          name === green.name
            ? await ctx.kube.getDeployment(target.namespace, name)
            : await ctx.kube.getService(target.namespace, name);
        if (exists)
          throw new Error(
            `${name === green.name ? 'Deployment' : 'Service'} ${target.namespace}/${name} already exists (left by an earlier run?): delete it, or switch to it by hand, then run again`,
          );
      }
      const act = activations(state.replicas, greenReplicas, plan.activations);
      if (act.problem) throw new Error(act.problem);
      if (act.warning) h.warn(act.warning);
      else h.detail(`licence activations at the peak: ${act.peak} of ${String(plan.activations)}`);
      h.detail(
        `green: Deployment ${green.name}, ${greenReplicas} replica(s) of ${targetImage(plan)}, pods labelled ${JSON.stringify(green.selector)}; upgrade variables as container env (blue's ConfigMaps untouched): MDCORE_UPGRADE_FROM_DB_NAME=${facts.db.name} (${facts.db.reason})`,
      );
      if (facts.db.warning) h.warn(facts.db.warning);
      const preview = previewService(serving, previewName(green.name), green.selector);
      h.detail(`preview Service ${preview.metadata?.name ?? ''} selects green only`);
      h.detail(
        `switch: Service ${servingName} selector ${JSON.stringify(serving.spec?.selector ?? {})} → ${JSON.stringify(green.serviceSelector)}; ${facts.route.name === 'helm' ? `after ${plan.scaleDownDelaySeconds} s the chart's Deployment ${target.deployment} is upgraded by helm while green serves, the Service goes back to its selector, green is removed (hand-over)` : `blue scaled to 0 after ${plan.scaleDownDelaySeconds} s`}`,
      );
      const reach = greenRoute(plan, ctx.kube, target.namespace, preview);
      if (reach && 'problem' in reach) throw new Error(reach.problem);
      h.detail(
        reach
          ? `green is verified before the switch through ${reach.via}`
          : "green is not verified over the REST API before the switch (no 'api-url', or 'verify' off)",
      );
      carry.green = green;
      carry.serving = serving;
      carry.preview = preview;
      ctx.journal.update({
        blueGreen: {
          blue: target.deployment,
          green: green.name,
          preview: preview.metadata?.name ?? '',
          service: servingName,
          blueSelector: { ...(serving.spec?.selector ?? {}) },
          greenSelector: green.serviceSelector,
          blueReplicas: state.replicas,
          greenCreated: false,
          previewCreated: false,
          switched: false,
          blueScaled: false,
          selects: 'blue',
          facts: {
            greenImage: targetImage(plan),
            greenReplicas,
            fromDb: facts.db.name,
            greenDb: plan.upgradeDb ? upgradedDbName(plan.tag) : undefined,
            activationsPeak: act.peak,
            activationsOf: plan.activations,
          },
        },
      });
    },
  };
}

export function createGreen(carry: BlueGreenCarry): Step {
  return {
    id: 'create-green',
    title: 'Create green and its preview Service (blue untouched)',
    async run(ctx, h) {
      const ns = ctx.target.namespace;
      const green = need(carry.green);
      checkCancelled(ctx, 'creating green');
      ctx.journal.recordBlueGreen({ greenCreated: true });
      await ctx.kube.createDeployment(ns, green.manifest).catch(notOurs(ctx, { greenCreated: false }));
      h.detail(`Deployment ${green.name} created`);
      checkCancelled(ctx, 'creating the preview Service');
      ctx.journal.recordBlueGreen({ previewCreated: true });
      await ctx.kube.createService(ns, need(carry.preview)).catch(notOurs(ctx, { previewCreated: false }));
      h.detail(`Service ${need(carry.preview).metadata?.name ?? ''} created`);
      ctx.journal.update({ phase: 'waiting' });
    },
  };
}

/**
 * A create refused with 409 found an object someone else made after the plan: it is not this run's, so the
 * journal forgets it and a rollback leaves it alone.
 */
function notOurs(ctx: RunContext, reset: Partial<BlueGreenRecord>): (err: unknown) => never {
  return (err) => {
    if (err instanceof KubeError && err.status === 409) ctx.journal.recordBlueGreen(reset);
    throw err;
  };
}

function verifyGreen(carry: BlueGreenCarry): Step {
  return {
    id: 'verify-green',
    title: 'Verify green before any traffic moves',
    async run(ctx, h) {
      // The same checks as after a rolling update, through the preview Service, which reaches green's pods only.
      const { api, ctx: greenCtx } = await openGreenApi(ctx, h, need(carry.preview));
      try {
        const problems = await verifyServing(greenCtx, api, h);
        judgeVerification(ctx.plan, problems, h, 'verification of green failed (no traffic was moved)');
      } finally {
        await api.close();
      }
    },
  };
}

export function switchService(): Step {
  return {
    id: 'switch',
    title: 'Switch the serving Service to green (one patch)',
    async run(ctx, h) {
      const bg = record(ctx);
      const ns = ctx.target.namespace;
      checkCancelled(ctx, 'switching the Service');
      const now = await ctx.kube.getService(ns, bg.service);
      if (!now) throw new Error(`Service ${ns}/${bg.service} disappeared before the switch`);
      if (JSON.stringify(now.spec?.selector ?? {}) !== JSON.stringify(bg.blueSelector))
        throw new Error(
          `Service ${ns}/${bg.service} was changed by someone else since the plan (selector now ${JSON.stringify(now.spec?.selector ?? {})}): not switched, so their change is not overwritten`,
        );
      const before = endpointView(await ctx.kube.listEndpointSlices(ns, bg.service));
      h.detail(
        `endpoints before the switch: ready ${before.ready.join(', ') || 'none'}; not ready ${before.notReady.join(', ') || 'none'}`,
      );
      checkCancelled(ctx, 'switching the Service');
      ctx.journal.recordBlueGreenFacts({ endpointsBefore: before.ready });
      const at = ctx.now();
      ctx.journal.recordBlueGreen({ switched: true, switchedAt: at, selects: 'green' });
      await ctx.kube.setServiceSelector(ns, bg.service, bg.greenSelector, now.metadata?.resourceVersion);
      h.detail(`Service ${bg.service} selects green since ${new Date(at).toISOString()}`);
    },
  };
}

export function confirmEndpoints(carry: BlueGreenCarry): Step {
  return {
    id: 'endpoints',
    title: "Confirm the Service's endpoints are green's pods only",
    async run(ctx, h) {
      const bg = record(ctx);
      const ns = ctx.target.namespace;
      const r = await waitOnlyGreen({
        list: () => ctx.kube.listEndpointSlices(ns, bg.service),
        greenIps: greenIps(ctx, carry),
        timeoutMs: ENDPOINTS_TIMEOUT_MS,
        intervalMs: ENDPOINTS_POLL_MS,
        signal: ctx.signal,
      });
      ctx.journal.recordBlueGreenFacts({ endpointsAfter: r.view.ready, onlyGreenMs: r.ms });
      h.detail(
        `ready endpoints: ${r.view.ready.join(', ')} (green only, ${Math.round(r.ms / 100) / 10} s after the switch patch)`,
      );
    },
  };
}

/** The pod IPs of green's pods, read afresh (a replaced pod gets a new one). */
function greenIps(ctx: RunContext, carry: BlueGreenCarry): () => Promise<ReadonlySet<string>> {
  const sel = podSelector(need(carry.green).manifest);
  return async () =>
    new Set(
      (await ctx.kube.listPods(ctx.target.namespace, sel))
        .map((p) => p.status?.podIP)
        .filter((ip): ip is string => !!ip),
    );
}

export function verifyServingPath(carry: BlueGreenCarry): Step {
  const verify = verifyNewVersion(carry);
  return {
    ...verify,
    id: 'verify-serving',
    title: "Verify the new version through the serving path ('api-url')",
  };
}

/** After a hand-over: the new version verified again through 'api-url', now served by the chart's pods. */
export function verifyChartServing(carry: BlueGreenCarry): Step {
  return {
    ...verifyServingPath(carry),
    id: 'verify-handover',
    title: "Verify the new version through the serving path ('api-url') after the hand-over",
  };
}

/** How often the serving Service's endpoints are checked while blue is kept. */
export const HOLD_POLL_MS = 2_000;

export function holdBlue(carry: BlueGreenCarry): Step {
  return {
    id: 'hold-blue',
    title: 'Keep blue for scale-down-delay while green serves (endpoints watched)',
    async run(ctx, h) {
      const bg = record(ctx);
      const delay = ctx.plan.scaleDownDelaySeconds;
      h.detail(`blue keeps running for ${delay} s`);
      const r = await holdWatchingEndpoints({
        list: () => ctx.kube.listEndpointSlices(ctx.target.namespace, bg.service),
        greenIps: greenIps(ctx, carry),
        durationMs: delay * 1000,
        intervalMs: HOLD_POLL_MS,
        signal: ctx.signal,
      });
      if (r === false) checkCancelled(ctx, 'scaling blue to 0');
      else h.detail(`green kept ready endpoints through ${r.checks} check(s)`);
    },
  };
}

export function scaleDownBlue(): Step {
  return {
    id: 'scale-down-blue',
    title: 'Scale blue to 0 (kept for a switch back)',
    async run(ctx, h) {
      const bg = record(ctx);
      const ns = ctx.target.namespace;
      checkCancelled(ctx, 'scaling blue to 0');
      ctx.journal.recordBlueGreen({ blueScaled: true });
      const scaled = await ctx.kube.patchDeployment(ns, bg.blue, { spec: { replicas: 0 } });
      // This run's own spec change: a later step (the helm hand-over) must not take it for someone else's.
      const generation = scaled.metadata?.generation;
      if (generation !== undefined) ctx.journal.update({ knownGeneration: generation });
      h.detail(
        `Deployment ${bg.blue} scaled to 0 (was ${bg.blueReplicas}); to switch back by hand: scale it up, then set Service ${bg.service}'s selector to ${JSON.stringify(bg.blueSelector)}`,
      );
    },
  };
}

export function reportColors(carry: BlueGreenCarry): Step {
  return {
    id: 'colors',
    title: 'Colors after the switch',
    async run(ctx, h) {
      const green = need(carry.green);
      const bg = record(ctx);
      // The outputs active-color and previous-color are set from the journal at the run's end (colorOutputs).
      if (bg.handedBack) {
        // The chart's Deployment (blue's name and color) serves the new version again: green is gone.
        h.detail(handOverColors(ctx, bg, green.blueColor));
        return;
      }
      h.detail(
        `active: ${green.color} (Deployment ${bg.green}); previous: ${green.blueColor} (Deployment ${bg.blue}, at 0 replicas); switched at ${bg.switchedAt ? new Date(bg.switchedAt).toISOString() : '?'}`,
      );
    },
  };
}
