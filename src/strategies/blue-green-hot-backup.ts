// Blue-green + hot backup (plain Deployments, kubectl route): green starts next to blue with its instances
// registered as hot backups (no licence activation), is verified as far as a backup allows, and takes blue's
// activations only at the cutover: blue stops, green's instances are activated one by one, scanning is checked,
// then the Service switches. The peak is max(blue, green) activations instead of blue + green. The REST facts
// and guesses behind it: docs/hot-backup.md; the pure decisions: steps/hot-backup.ts.
import type { V1Pod } from '@kubernetes/client-node';
import { waitForNoPods } from '../cluster/pods-gone.ts';
import { podSelector } from '../cluster/selector.ts';
import { MdCoreClient } from '../core-api/client.ts';
import type { LicenseInfo } from '../core-api/types.ts';
import { checkCancelled, type RunContext } from '../engine/context.ts';
import type { BlueGreenRecord, HotBackupJournal } from '../engine/journal.ts';
import type { Facts, Step, Strategy } from '../engine/step.ts';
import type { StepHandle } from '../engine/timeline.ts';
import type { Target } from '../engine/target.ts';
import { fillGreenUrl } from '../plan/green-url.ts';
import { greenName, pause } from '../steps/blue-green.ts';
import { describeApiError, importConfig, smokeScan, versionMatches } from '../steps/core-api.ts';
import { kedaSteps } from '../steps/keda.ts';
import {
  activateWithRetry,
  activationPhases,
  activationTable,
  cutoverOrder,
  holdsLicence,
  licenceProblem,
  mayActivateNext,
  type CutoverStep,
  type LicenceExpectation,
} from '../steps/hot-backup.ts';
import {
  confirmEndpoints,
  createGreen,
  planBlueGreen,
  reportColors,
  switchService,
  verifyServingPath,
  type BlueGreenCarry,
} from './blue-green.ts';
import {
  connectApi,
  exportConfiguration,
  judgeVerification,
  newCarry,
  recordUpgrade,
  usesApi,
  waitForReadiness,
} from './parts.ts';

/** The chart's Secret and env var holding the licence key: green's pods must start without it. */
export const LICENSE_SECRET = 'mdcore-license-key';
export const LICENSE_ENV = 'LICENSE_KEY';
/** The chart's default key value, never a real key. */
const PLACEHOLDER_KEY = /SET_LICENSE_KEY_HERE/;
/** Pause between two looks at green's pods or a REST answer. */
export const HOT_BACKUP_POLL_MS = 2_000;

interface HotCarry extends BlueGreenCarry {
  /** The admin API key every instance is called with. */
  apiKey?: string;
  /** The licence key for registration and activation (a registered secret). */
  licenceKey?: string;
  /** Blue stopped to green's endpoints confirmed, measured by this run. */
  handoverMs?: number;
}

export const blueGreenHotBackup: Strategy = (plan, facts) => {
  const carry: HotCarry = newCarry();
  // KEDA held at blue's count (and green's, for a ScaledObject already aimed at green), as blue-green does.
  const keda = kedaSteps(facts, (ctx) => [
    { name: ctx.target.deployment, replicas: ctx.state.replicas },
    { name: greenName(ctx.target.deployment).name, replicas: plan.greenReplicas ?? ctx.state.replicas },
  ]);
  const onGreen = (step: Step): Step => ({
    ...step,
    run: (ctx, h) => step.run({ ...ctx, target: greenTarget(ctx, carry) }, h),
  });
  const cutover: Record<CutoverStep, Step> = {
    'stop-blue': stopBlue(),
    'wait-blue-gone': waitBlueGone(),
    'activate-green': activateGreen(carry),
    'check-scanning': checkScanning(carry),
    'switch-service': switchService(),
    'confirm-endpoints': confirmEndpoints(carry),
  };
  return {
    checks: [
      planBlueGreen(facts, carry, activationPhases),
      planHotBackup(facts, carry),
      ...(usesApi(plan) ? [connectApi(carry, false)] : []),
      ...(plan.configPassword ? [exportConfiguration(carry)] : []),
      ...keda.checks,
    ],
    changes: [
      ...keda.changes,
      createGreen(carry),
      registerGreen(carry),
      ...(plan.configPassword ? [importIntoGreen(carry)] : []),
      onGreen(waitForReadiness(carry)),
      verifyBackups(carry),
      ...cutoverOrder().map((s) => cutover[s]),
      measureHandover(carry),
      ...(usesApi(plan) ? [verifyServingPath(carry)] : []),
    ],
    wrapUp: [onGreen(recordUpgrade(facts)), reportColors(carry), reportActivations(carry), ...keda.wrapUp],
    close: async () => carry.api?.close(),
  };
};

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`internal: ${what} is missing (steps out of order)`);
  return v;
}

function record(ctx: RunContext): BlueGreenRecord {
  return need(ctx.journal.data.blueGreen, 'the blue-green record');
}

function hotRecord(ctx: RunContext): HotBackupJournal {
  return need(record(ctx).hotBackup, 'the hot-backup record');
}

function greenTarget(ctx: RunContext, carry: HotCarry): Target {
  const g = need(carry.green, 'the green plan');
  return { ...ctx.target, deployment: g.name, selector: podSelector(g.manifest) };
}

function greenPods(ctx: RunContext, carry: HotCarry): Promise<V1Pod[]> {
  return ctx.kube.listPods(ctx.target.namespace, podSelector(need(carry.green, 'the green plan').manifest));
}

function planHotBackup(facts: Facts, carry: HotCarry): Step {
  return {
    id: 'plan-hot-backup',
    title: 'Plan the hot backup (green starts unlicensed, keys, activations); nothing changed yet',
    async run(ctx, h) {
      const { plan, state, target } = ctx;
      if (facts.route.name !== 'kubectl' || state.helmRelease)
        throw new Error(
          `Deployment ${target.deployment} is ${state.helmRelease ? `managed by helm release ${state.helmRelease}` : 'on the helm route'}: blue-green-hot-backup works on plain Deployments with method kubectl in this version, so nothing was changed; use strategy blue-green (with enough activations) or rolling-update`,
        );
      const green = need(carry.green, 'the green plan');
      const container = green.manifest.spec?.template?.spec?.containers?.find(
        (c) => c.name === target.container,
      );
      if (!container) throw new Error(`internal: green has no container ${target.container}`);
      const keyRef = (container.envFrom ?? []).find((s) => s.secretRef?.name === LICENSE_SECRET);
      if (keyRef)
        throw new Error(
          `container ${target.container} takes all of Secret ${LICENSE_SECRET} through envFrom: green's pods would activate themselves at start, above the licence; nothing was changed`,
        );
      const before = container.env?.length ?? 0;
      container.env = (container.env ?? []).filter(
        (e) => e.name !== LICENSE_ENV && e.valueFrom?.secretKeyRef?.name !== LICENSE_SECRET,
      );
      h.detail(
        before > container.env.length
          ? `green's pods start without the licence key (${before - container.env.length} env entry removed): they stay unlicensed until registered as hot backup`
          : `blue's pods get no licence key through env ${LICENSE_ENV}; green's start unlicensed too`,
      );
      const ns = target.namespace;
      carry.apiKey = plan.apiKey ?? (await ctx.kube.getSecretValue(ns, 'mdcore-api-key', 'value'));
      if (!carry.apiKey)
        throw new Error(
          "no API key for green's instances: give input 'api-key', or keep Secret mdcore-api-key (key value) in the namespace; nothing was changed",
        );
      ctx.reporter.secret(carry.apiKey);
      const key = plan.licenseKey ?? (await ctx.kube.getSecretValue(ns, LICENSE_SECRET, 'value'));
      if (!key || PLACEHOLDER_KEY.test(key))
        throw new Error(
          `no licence key to register and activate green's instances with: give input 'license-key', or keep the real key in Secret ${LICENSE_SECRET} (key value); nothing was changed`,
        );
      ctx.reporter.secret(key);
      carry.licenceKey = key;
      const greenReplicas = plan.greenReplicas ?? state.replicas;
      const act = activationPhases(state.replicas, greenReplicas, plan.activations);
      h.detail(
        `activations: ${act.phases.map((p) => `${p.name} ${p.active}`).join(', ')}; peak ${act.peak}${plan.activations !== undefined ? ` of ${plan.activations}` : ''}`,
      );
      h.detail(
        `each green instance is reached at ${plan.greenApiUrl ?? ''} (with {pod}/{pod-ip} filled in); cutover order: ${cutoverOrder().join(' → ')}`,
      );
      ctx.journal.recordBlueGreen({ hotBackup: { registered: [], activated: [] } });
    },
  };
}

/** A client for one green instance, by the `green-api-url` template. */
function instanceClient(ctx: RunContext, carry: HotCarry, pod: V1Pod): MdCoreClient {
  const name = pod.metadata?.name ?? '';
  const ip = pod.status?.podIP;
  const url = fillGreenUrl(ctx.plan.greenApiUrl ?? '', {
    preview: record(ctx).preview,
    namespace: ctx.target.namespace,
    pod: name,
    ...(ip ? { podIp: ip } : {}),
  });
  if (url.includes('{pod-ip}')) throw new Error(`green pod ${name} has no IP yet`);
  return new MdCoreClient({
    baseUrl: url,
    reporter: ctx.reporter,
    apiKey: need(carry.apiKey, 'the API key'),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
}

/** Green's pods once each is running with an IP and answers /version; bounded by the run's timeout. */
async function runningGreen(ctx: RunContext, carry: HotCarry, h: StepHandle): Promise<V1Pod[]> {
  const want = need(carry.green, 'the green plan').manifest.spec?.replicas ?? 1;
  const deadline = ctx.now() + ctx.plan.timeoutSeconds * 1000;
  let last = '';
  for (let round = 0; ctx.now() < deadline; round++) {
    const pods = (await greenPods(ctx, carry)).filter(
      (p) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp,
    );
    if (pods.length >= want) {
      const answers = await Promise.all(
        pods.map((p) =>
          instanceClient(ctx, carry, p)
            .version()
            .then(() => undefined)
            .catch((e: unknown) => `${p.metadata?.name ?? '?'}: ${describeApiError(e)}`),
        ),
      );
      const silent = answers.filter((a): a is string => a !== undefined);
      if (silent.length === 0) return pods;
      last = silent.join('; ');
    } else last = `${pods.length} of ${want} green pod(s) running`;
    if (round % 10 === 0) h.detail(`waiting for green's instances: ${last}`);
    if (!(await pause(HOT_BACKUP_POLL_MS, ctx.signal))) checkCancelled(ctx, 'registering green');
  }
  throw new Error(
    `green's instances were not all reachable within ${ctx.plan.timeoutSeconds} s (${last}); blue was not touched`,
  );
}

async function expectLicence(
  client: MdCoreClient,
  pod: string,
  after: LicenceExpectation,
): Promise<LicenseInfo> {
  const info = await client.license();
  const problem = licenceProblem(pod, after, info);
  if (problem) throw new Error(`${problem}; blue was not touched unless said otherwise`);
  return info;
}

function registerGreen(carry: HotCarry): Step {
  return {
    id: 'register-backup',
    title: "Register green's instances as hot backup (no activation used; blue untouched)",
    async run(ctx, h) {
      const key = need(carry.licenceKey, 'the licence key');
      const pods = await runningGreen(ctx, carry, h);
      const green = record(ctx).green;
      for (const [i, pod] of pods.entries()) {
        const name = pod.metadata?.name ?? '';
        const client = instanceClient(ctx, carry, pod);
        checkCancelled(ctx, `registering ${name}`);
        const hb = hotRecord(ctx);
        ctx.journal.recordBlueGreen({ hotBackup: { ...hb, registered: [...hb.registered, name] } });
        await client.registerBackup(key, `${name} (green of ${green}, mdcore-upgrade-action)`);
        await expectLicence(client, name, 'after-register');
        if (i === 0) {
          // The remove call is a guess too (docs/hot-backup.md): prove it here, while blue still serves.
          await client.removeBackup();
          await expectLicence(client, name, 'after-remove');
          await client.registerBackup(key, `${name} (green of ${green}, mdcore-upgrade-action)`);
          await expectLicence(client, name, 'after-register');
          h.detail(`${name}: registered, removed and registered again: both calls work on this Core`);
        } else h.detail(`${name}: registered as hot backup`);
      }
    },
  };
}

/** Blue's exported configuration into every green instance (a hot backup takes imports). */
function importIntoGreen(carry: HotCarry): Step {
  return {
    id: 'import-green',
    title: "Import blue's configuration into each green instance (blue untouched)",
    async run(ctx, h) {
      const exported = need(carry.exported, 'the export');
      for (const pod of await greenPods(ctx, carry)) {
        const client = instanceClient(ctx, carry, pod);
        h.detail(`${pod.metadata?.name ?? ''}:`);
        await importConfig(ctx, { client, close: async () => undefined }, exported, h);
      }
    },
  };
}

function verifyBackups(carry: HotCarry): Step {
  return {
    id: 'verify-backups',
    title: 'Verify green as far as a backup allows (version, engines, readiness as a backup answers it)',
    async run(ctx, h) {
      const problems: string[] = [];
      for (const pod of await greenPods(ctx, carry)) {
        const name = pod.metadata?.name ?? '';
        const client = instanceClient(ctx, carry, pod);
        try {
          const v = await client.version();
          if (versionMatches(v.version, ctx.plan.tag)) h.detail(`${name}: /version ${v.version}`);
          else problems.push(`${name}: /version reports ${v.version}, not ${ctx.plan.tag}`);
          const r = await client.readyz();
          h.detail(`${name}: /readyz ${r.status} (as a hot backup answers it)`);
          if (ctx.plan.verifyEngines) {
            const bad = (await client.engines()).filter(
              (e) => e.state !== 'production' || e.active === false,
            );
            if (bad.length) problems.push(`${name}: ${bad.length} engine(s) not in production`);
            else h.detail(`${name}: engines in production`);
          }
        } catch (err) {
          problems.push(`${name}: ${describeApiError(err)}`);
        }
      }
      h.detail(
        'not verified before the cutover: scanning (a hot backup refuses scans); checked after activation',
      );
      judgeVerification(
        ctx.plan,
        problems,
        h,
        'verification of green failed (blue untouched, no traffic moved)',
      );
    },
  };
}

function stopBlue(): Step {
  return {
    id: 'stop-blue',
    title: 'Stop blue (its pods release their activations; downtime starts)',
    async run(ctx, h) {
      const bg = record(ctx);
      checkCancelled(ctx, 'stopping blue');
      const at = ctx.now();
      ctx.journal.recordBlueGreen({ blueScaled: true, hotBackup: { ...hotRecord(ctx), stoppedAt: at } });
      await ctx.kube.patchDeployment(ctx.target.namespace, bg.blue, { spec: { replicas: 0 } });
      h.detail(`Deployment ${bg.blue} scaled to 0 at ${new Date(at).toISOString()} (was ${bg.blueReplicas})`);
    },
  };
}

function waitBlueGone(): Step {
  return {
    id: 'wait-blue-gone',
    title: "Wait until blue's pods are gone (their activations free)",
    async run(ctx, h) {
      const left = await waitForNoPods(ctx.kube, {
        namespace: ctx.target.namespace,
        selector: ctx.target.selector,
        timeoutMs: ctx.plan.timeoutSeconds * 1000,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onProgress: (n) => h.detail(`${n} blue pod(s) left`),
      });
      checkCancelled(ctx, 'activating green');
      if (left > 0)
        throw new Error(
          `${left} blue pod(s) still exist after ${ctx.plan.timeoutSeconds} s: green was not activated`,
        );
    },
  };
}

function activateGreen(carry: HotCarry): Step {
  return {
    id: 'activate-green',
    title: "Green's instances take the activations (remove backup, activate, check; one at a time)",
    async run(ctx, h) {
      const key = need(carry.licenceKey, 'the licence key');
      const pods = (await greenPods(ctx, carry)).sort((a, b) =>
        (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
      );
      for (const pod of pods) {
        const name = pod.metadata?.name ?? '';
        const hb = hotRecord(ctx);
        const bluePods = (await ctx.kube.listPods(ctx.target.namespace, ctx.target.selector)).length;
        const may = mayActivateNext({ bluePods, greenActive: hb.activated.length }, ctx.plan.activations);
        if (!may.ok) throw new Error(`${name} not activated: ${may.why}`);
        checkCancelled(ctx, `activating ${name}`);
        const client = instanceClient(ctx, carry, pod);
        ctx.journal.recordBlueGreen({ hotBackup: { ...hb, activated: [...hb.activated, name] } });
        if (hb.registered.includes(name)) {
          await client.removeBackup();
          await expectLicence(client, name, 'after-remove');
        }
        const tried = await activateWithRetry({
          activate: () => client.activate(key, `${name} (mdcore-upgrade-action)`),
          licensed: async () => holdsLicence(await client.license()),
          sleep: (ms) => pause(ms, ctx.signal),
          onRetry: (n, err) =>
            h.detail(`${name}: activation refused (attempt ${n}): ${describeApiError(err)}; trying again`),
        });
        const info = await expectLicence(client, name, 'after-activate');
        h.detail(
          `${name}: active (${String(info.days_left)} days left)${tried.attempts > 1 ? ` after ${tried.attempts} attempts` : ''}`,
        );
      }
    },
  };
}

function checkScanning(carry: HotCarry): Step {
  return {
    id: 'check-scanning',
    title: 'Check green can scan before the Service switches',
    async run(ctx, h) {
      const pods = await greenPods(ctx, carry);
      for (const pod of pods) {
        const name = pod.metadata?.name ?? '';
        const client = instanceClient(ctx, carry, pod);
        let ready = false;
        for (let i = 0; i < 30 && !ready; i++) {
          ready = (await client.readyz().catch(() => ({ ok: false }))).ok;
          if (!ready && !(await pause(HOT_BACKUP_POLL_MS, ctx.signal))) checkCancelled(ctx, 'switching');
        }
        if (!ready) throw new Error(`${name}: /readyz did not answer 200 after activation`);
        h.detail(`${name}: /readyz 200 after activation`);
      }
      const first = pods[0];
      if (!ctx.plan.verifyScan || !first) {
        h.detail(
          "no smoke scan (input 'verify-scan' is off): readiness after activation is the scan-capable check",
        );
        return;
      }
      const problems = await smokeScan(instanceClient(ctx, carry, first), h, { signal: ctx.signal });
      judgeVerification(
        ctx.plan,
        problems,
        h,
        'the smoke scan on green failed (the Service still selects blue)',
      );
    },
  };
}

function measureHandover(carry: HotCarry): Step {
  return {
    id: 'handover-time',
    title: 'Hand-over time (blue stopped to green serving)',
    async run(ctx, h) {
      const stoppedAt = hotRecord(ctx).stoppedAt;
      if (stoppedAt === undefined) return;
      carry.handoverMs = ctx.now() - stoppedAt;
      ctx.outcome.extraOutputs['handover-seconds'] = (carry.handoverMs / 1000).toFixed(1);
      h.detail(
        `${(carry.handoverMs / 1000).toFixed(1)} s without a serving md-core (the activation hand-over)`,
      );
    },
  };
}

function reportActivations(carry: HotCarry): Step {
  return {
    id: 'activations',
    title: 'Licence activations over the run',
    async run(ctx, h) {
      const bg = record(ctx);
      const green = need(carry.green, 'the green plan').manifest.spec?.replicas ?? 1;
      const act = activationPhases(bg.blueReplicas, green, ctx.plan.activations);
      ctx.outcome.extraOutputs['activations-peak'] = String(act.peak);
      const table = activationTable(act, ctx.plan.activations, carry.handoverMs);
      ctx.outcome.sections = [
        ...(ctx.outcome.sections ?? []),
        { title: 'Licence activations', markdown: table },
      ];
      h.detail(`peak ${act.peak} activation(s); the table is in the section "Licence activations"`);
    },
  };
}
