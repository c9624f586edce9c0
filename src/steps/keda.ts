// KEDA: a ScaledObject that scales md-core would fight an upgrade (scale green, reset replicas a helm upgrade
// set, undo a scale-down), so it is paused for the run with its `paused-replicas` annotation at the current
// count, and put back exactly as it was afterwards: in the wrap-up, in every rollback, and by the post step.
import { KubeError, SCALED_OBJECTS, type Kube, type ScaledObject } from '../cluster/kube.ts';
import { checkCancelled, type RunContext } from '../engine/context.ts';
import type { JournalData, KedaPause } from '../engine/journal.ts';
import type { Facts, Step } from '../engine/step.ts';
import type { Plan } from '../plan/plan.ts';
import { formatCommand } from '../tools/exec.ts';

/** KEDA scales the target to this many replicas and stops autoscaling while the annotation is set. */
export const PAUSED_REPLICAS = 'autoscaling.keda.sh/paused-replicas';
/** KEDA (2.13+) stops autoscaling at the current count while this is "true". */
export const PAUSED = 'autoscaling.keda.sh/paused';
const PAUSE_KEYS = [PAUSED_REPLICAS, PAUSED] as const;

/** The strategies that pause KEDA for their run (they change md-core's replicas or start a second Deployment). */
export function pausesKeda(plan: Pick<Plan, 'strategy'>): boolean {
  return (
    plan.strategy === 'rolling-update' ||
    plan.strategy === 'blue-green' ||
    plan.strategy === 'blue-green-hot-backup'
  );
}

/** A Deployment the run changes or creates, and the replica count KEDA is held at meanwhile. */
export interface KedaTarget {
  readonly name: string;
  readonly replicas: number;
}

/** A ScaledObject the plan found, with what the pause will write (the resourceVersion guards the patch). */
export interface PlannedPause extends KedaPause {
  readonly resourceVersion: string | undefined;
}

/** The Deployment a ScaledObject scales; undefined when it scales something else (a StatefulSet, a CR). */
export function scaledDeployment(so: ScaledObject): string | undefined {
  const ref = so.spec?.scaleTargetRef;
  if (!ref?.name) return undefined;
  // KEDA's defaults: kind Deployment, apiVersion apps/v1.
  if ((ref.kind ?? 'Deployment') !== 'Deployment') return undefined;
  if (ref.apiVersion !== undefined && !ref.apiVersion.startsWith('apps/')) return undefined;
  return ref.name;
}

/** Already paused by someone: a paused-replicas count, or `paused: "true"`. */
export function isPaused(annotations: Readonly<Record<string, string>> | undefined): boolean {
  const a = annotations ?? {};
  return a[PAUSED_REPLICAS] !== undefined || a[PAUSED]?.toLowerCase() === 'true';
}

/** The annotations that pause a ScaledObject at `replicas`; none when it is paused already (kept as it is). */
export function pauseAnnotations(so: ScaledObject, replicas: number): Record<string, string> {
  return isPaused(so.metadata?.annotations) ? {} : { [PAUSED_REPLICAS]: String(replicas) };
}

/** The ScaledObjects that scale one of the targets, with what their pause writes and what was there before. */
export function matchScaledObjects(
  objects: readonly ScaledObject[],
  targets: readonly KedaTarget[],
): PlannedPause[] {
  const out: PlannedPause[] = [];
  for (const so of objects) {
    const target = targets.find((t) => t.name === scaledDeployment(so));
    if (!target) continue;
    const ann = so.metadata?.annotations ?? {};
    out.push({
      name: so.metadata?.name ?? '',
      target: target.name,
      before: Object.fromEntries(PAUSE_KEYS.map((k) => [k, ann[k] ?? null])),
      wrote: pauseAnnotations(so, target.replicas),
      resourceVersion: so.metadata?.resourceVersion,
    });
  }
  return out;
}

/** The merge patch that pauses: only the annotations written, only on the version the plan read. */
export function pausePatch(p: PlannedPause): object {
  return {
    metadata: {
      ...(p.resourceVersion ? { resourceVersion: p.resourceVersion } : {}),
      annotations: { ...p.wrote },
    },
  };
}

export interface RestorePlan {
  /** The merge patch to send; undefined when nothing needs changing. */
  readonly patch: object | undefined;
  /** Annotations someone else changed since the run wrote them: left as they set them. */
  readonly conflicts: string[];
  readonly notes: string[];
  /** The patch puts the pause annotations back (else it only retargets, or there is none). */
  readonly resumes: boolean;
}

/**
 * What puts a paused ScaledObject back: each annotation the run wrote goes back to its value before the run
 * (null removes it), but only where it still holds what the run wrote. With `retargetTo`, a ScaledObject that
 * still scales the run's old Deployment is pointed at the one that serves now (blue-green without a hand-over
 * leaves blue at 0 replicas: un-paused on blue, KEDA would start blue's pods again).
 */
export function restorePlan(
  pause: KedaPause,
  current: ScaledObject | undefined,
  retargetTo?: string,
): RestorePlan {
  if (!current)
    return {
      patch: undefined,
      conflicts: [],
      notes: [`ScaledObject ${pause.name} no longer exists`],
      resumes: false,
    };
  const ann = current.metadata?.annotations ?? {};
  const annotations: Record<string, string | null> = {};
  const conflicts: string[] = [];
  const notes: string[] = [];
  for (const [k, ours] of Object.entries(pause.wrote)) {
    const now = ann[k] ?? null;
    const was = pause.before[k] ?? null;
    if (now === ours) annotations[k] = was;
    else if (now !== was)
      conflicts.push(
        `${k} (this run wrote ${JSON.stringify(ours)}, it now holds ${JSON.stringify(now)}: left as it is)`,
      );
  }
  const retarget =
    retargetTo !== undefined && retargetTo !== pause.target && scaledDeployment(current) === pause.target;
  if (retarget) notes.push(`now scales Deployment ${retargetTo} (was ${pause.target}, left at 0 replicas)`);
  const resumes = Object.keys(annotations).length > 0;
  if (!resumes && !retarget) return { patch: undefined, conflicts, notes, resumes };
  const patch = {
    metadata: {
      ...(current.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      ...(resumes ? { annotations } : {}),
    },
    ...(retarget ? { spec: { scaleTargetRef: { name: retargetTo } } } : {}),
  };
  return { patch, conflicts, notes, resumes };
}

/**
 * The Deployment that serves once a run ended well, when it is not the one the ScaledObjects scaled: green
 * after a blue-green run that scaled blue to 0. Undefined otherwise (rollbacks leave blue serving).
 */
export function servingAfterRun(j: JournalData): string | undefined {
  const bg = j.blueGreen;
  // After a helm hand-over the chart's Deployment (blue's name) serves again: nothing to retarget.
  if (j.phase !== 'done' || !bg?.blueScaled || bg.handedBack) return undefined;
  // Two ScaledObjects on one Deployment conflict: one that already scales green keeps that job alone.
  if ((j.keda ?? []).some((k) => k.target === bg.green)) return undefined;
  return bg.green;
}

/** Whether the run paused anything (so something must be put back). */
export function pausedAny(j: JournalData): boolean {
  return (j.keda ?? []).some((k) => Object.keys(k.wrote).length > 0);
}

/** A finished run whose wrap-up did not get to put KEDA back (killed in it): the post step does. */
export function kedaLeftPaused(j: JournalData): boolean {
  return j.phase === 'done' && !j.kedaRestored && pausedAny(j);
}

function describePause(a: Readonly<Record<string, string | null>>): string {
  const set = Object.entries(a).filter(([, v]) => v !== null);
  return set.length ? set.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ') : 'not paused';
}

/**
 * Puts back every ScaledObject the journal says this run paused (and retargets after a blue-green run, see
 * servingAfterRun). Safe to repeat: what is already back is left alone. Returns the problems.
 */
export async function resumeKeda(
  j: JournalData,
  kube: Kube,
  detail: (text: string) => void,
): Promise<string[]> {
  const entries = j.keda ?? [];
  const retargetTo = servingAfterRun(j);
  if (!entries.some((e) => Object.keys(e.wrote).length > 0) && retargetTo === undefined) return [];
  const problems: string[] = [];
  for (const e of entries) {
    // A concurrent writer fails the resourceVersion precondition: read again and decide again (bounded).
    for (let attempt = 1; ; attempt++) {
      try {
        const list = (await kube.listScaledObjects(j.namespace)) ?? [];
        const plan = restorePlan(
          e,
          list.find((so) => so.metadata?.name === e.name),
          retargetTo,
        );
        if (plan.patch) await kube.patchScaledObject(j.namespace, e.name, plan.patch);
        // Counted once the patch went through: a retry after a 409 decides again.
        for (const c of plan.conflicts)
          problems.push(`ScaledObject ${e.name}: changed by someone else: ${c}`);
        const what = plan.resumes
          ? [`restored (${describePause(e.before)})`]
          : plan.patch || plan.conflicts.length > 0
            ? []
            : ['already as before the run'];
        if (what.length + plan.notes.length > 0)
          detail(`ScaledObject ${e.name}: ${[...what, ...plan.notes].join('; ')}`);
        break;
      } catch (err) {
        if (err instanceof KubeError && err.status === 409 && attempt < 3) continue;
        problems.push(
          `restoring ScaledObject ${e.name}: ${err instanceof Error ? err.message : String(err)}`,
        );
        break;
      }
    }
  }
  return problems;
}

/** The commands that put the paused ScaledObjects back by hand. */
export function manualKedaCommands(j: JournalData): string[] {
  return (j.keda ?? [])
    .filter((e) => Object.keys(e.wrote).length > 0)
    .map((e) =>
      formatCommand('kubectl', [
        'annotate',
        'scaledobject',
        e.name,
        '-n',
        j.namespace,
        '--overwrite',
        ...Object.keys(e.wrote).map((k) => {
          const was = e.before[k] ?? null;
          return was === null ? `${k}-` : `${k}=${was}`;
        }),
      ]),
    );
}

// ---- steps ----

interface KedaCarry {
  found?: PlannedPause[];
}

/** Check: the ScaledObjects that scale the targets, and what the run will do with each (changes nothing). */
export function findScaledObjects(carry: KedaCarry, targets: (ctx: RunContext) => KedaTarget[]): Step {
  return {
    id: 'keda',
    title: 'Find KEDA ScaledObjects that scale md-core (paused for the run); nothing changed yet',
    async run(ctx, h) {
      const ns = ctx.target.namespace;
      const list = await ctx.kube.listScaledObjects(ns).catch((err: unknown) => {
        if (err instanceof KubeError && err.status === 403)
          throw new Error(
            `list on ${SCALED_OBJECTS.plural}.${SCALED_OBJECTS.group} in namespace "${ns}" is forbidden: a ScaledObject could scale md-core during the upgrade. Grant list and patch on ${SCALED_OBJECTS.plural}.${SCALED_OBJECTS.group} (README.md, "Permissions (RBAC)", the KEDA rules), then run again.`,
            { cause: err },
          );
        throw err;
      });
      const want = targets(ctx);
      if (!list) {
        carry.found = [];
        h.detail(
          `KEDA is not installed (no ${SCALED_OBJECTS.group}/${SCALED_OBJECTS.version} API): nothing to pause`,
        );
        return;
      }
      carry.found = matchScaledObjects(list, want);
      if (carry.found.length === 0) {
        h.detail(
          `no ScaledObject scales ${want.map((t) => `Deployment ${t.name}`).join(' or ')}: nothing to pause`,
        );
        return;
      }
      for (const p of carry.found) {
        const value = p.wrote[PAUSED_REPLICAS];
        h.detail(
          value === undefined
            ? `ScaledObject ${p.name} (scales ${p.target}) is paused already (${describePause(p.before)}): left as it is`
            : `ScaledObject ${p.name} (scales ${p.target}): paused for the run with ${PAUSED_REPLICAS}="${value}", put back afterwards`,
        );
      }
    },
  };
}

/** Change: pauses each ScaledObject found, each recorded in the journal before its patch. */
export function pauseKeda(carry: KedaCarry): Step {
  return {
    id: 'keda-pause',
    title: 'Pause KEDA autoscaling for the run',
    async run(ctx, h) {
      const found = carry.found;
      if (!found) throw new Error('internal: the ScaledObjects were not looked up (steps out of order)');
      const ns = ctx.target.namespace;
      for (const p of found) {
        const entry: KedaPause = { name: p.name, target: p.target, before: p.before, wrote: p.wrote };
        const prior = ctx.journal.data.keda ?? [];
        ctx.journal.update({ keda: [...prior, entry] });
        if (Object.keys(p.wrote).length === 0) continue;
        checkCancelled(ctx, `pausing ScaledObject ${p.name}`);
        try {
          await ctx.kube.patchScaledObject(ns, p.name, pausePatch(p));
        } catch (err) {
          // Refused on the version check: not written, so nothing of it is to be put back.
          if (err instanceof KubeError && err.status === 409) {
            ctx.journal.update({ keda: prior });
            throw new Error(
              `ScaledObject ${ns}/${p.name} was changed by someone else since the plan: not paused; run again`,
              { cause: err },
            );
          }
          throw err;
        }
        h.detail(`ScaledObject ${p.name}: ${describePause(p.wrote)}`);
      }
      if (!found.some((p) => Object.keys(p.wrote).length > 0)) h.detail('nothing to pause');
    },
  };
}

/** Wrap-up: puts the ScaledObjects back (a failure is a warning with the commands, never a rollback). */
export function restoreKeda(): Step {
  return {
    id: 'keda-restore',
    title: 'Resume KEDA autoscaling (paused only for the run)',
    async run(ctx, h) {
      if ((ctx.journal.data.keda ?? []).length === 0) {
        h.detail('no ScaledObject was paused');
        return;
      }
      const problems = await resumeKeda(ctx.journal.data, ctx.kube, (t) => h.detail(t));
      if (problems.length === 0) {
        ctx.journal.update({ kedaRestored: true });
        return;
      }
      for (const p of problems) h.warn(p);
      h.warn(
        `the upgrade is done, but KEDA is still paused; by hand: ${manualKedaCommands(ctx.journal.data).join(' && ')}`,
      );
    },
  };
}

/** The KEDA steps of a strategy: none when the cluster does not serve ScaledObjects (preflight found out). */
export function kedaSteps(
  facts: Facts,
  targets: (ctx: RunContext) => KedaTarget[],
): { checks: Step[]; changes: Step[]; wrapUp: Step[] } {
  if (!facts.state.kedaServed) return { checks: [], changes: [], wrapUp: [] };
  const carry: KedaCarry = {};
  return {
    checks: [findScaledObjects(carry, targets)],
    changes: [pauseKeda(carry)],
    wrapUp: [restoreKeda()],
  };
}
