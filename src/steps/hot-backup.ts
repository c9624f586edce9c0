// The pure decisions of strategy blue-green-hot-backup: the licence arithmetic over the phases, the order of the
// cutover, what the REST licence answers must show after each call, and the undo order from the journal record.
// The facts behind them (which calls, what is documented and what is a guess) are in docs/hot-backup.md.
import type { LicenseInfo } from '../core-api/types.ts';

/** One phase of the run with the licence activations in use during it (each active md-core pod holds one). */
export interface ActivationPhase {
  /** Short name for the summary table. */
  name: 'blue active, green backup' | 'blue stopped' | 'handover' | 'green active';
  blueActive: number;
  greenActive: number;
  greenBackup: number;
  /** Activations in use: blueActive + greenActive (a backup holds none). */
  active: number;
}

export interface ActivationPlan {
  phases: ActivationPhase[];
  /** The most activations in use at any moment of the run. */
  peak: number;
  /** Why the run must not start (nothing changed yet). */
  problem?: string;
  /** Said in the summary when the count could not be checked. */
  warning?: string;
}

/**
 * The activations over the phases: blue's B pods stay active while green's G pods are registered backups (B in
 * use); blue stops (0); green's instances are activated one at a time (1..G); green serves (G). The peak is
 * max(B, G), where plain blue-green needs B + G. `licensed` is input `activations` (undefined: not given).
 */
export function activationPhases(blue: number, green: number, licensed: number | undefined): ActivationPlan {
  for (const [name, n] of [
    ['blue', blue],
    ['green', green],
  ] as const) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`internal: ${name} pod count ${n} is not a count`);
  }
  const phases: ActivationPhase[] = [
    { name: 'blue active, green backup', blueActive: blue, greenActive: 0, greenBackup: green, active: blue },
    { name: 'blue stopped', blueActive: 0, greenActive: 0, greenBackup: green, active: 0 },
    { name: 'handover', blueActive: 0, greenActive: green, greenBackup: 0, active: green },
    { name: 'green active', blueActive: 0, greenActive: green, greenBackup: 0, active: green },
  ];
  const peak = Math.max(...phases.map((p) => p.active));
  if (green < 1)
    return { phases, peak, problem: "green needs at least 1 pod: give 'green-replicas' 1 or more" };
  if (licensed === undefined)
    return {
      phases,
      peak,
      warning: `activations were not checked: give input 'activations' (the licence's activation count) to have the run refuse before any change when green's ${green} pod(s) or blue's ${blue} would need more than the licence holds`,
    };
  if (green > licensed)
    return {
      phases,
      peak,
      problem: `not enough licence activations: green's ${green} pod(s) must all be active after the hand-over, input 'activations' allows ${licensed}; lower 'green-replicas' to at most ${licensed}`,
    };
  if (blue > licensed)
    return {
      phases,
      peak,
      problem: `blue runs ${blue} pod(s) but input 'activations' says the licence holds ${licensed}: the count given is wrong (every running md-core pod holds one); correct 'activations' and run again`,
    };
  return { phases, peak };
}

/**
 * May the next green instance be activated? Only when the activations in use (blue's pods still running plus
 * green's already active) leave one free. Blue's pods are counted while they exist, whatever their phase of
 * termination: a pod releases its activation only when it is gone.
 */
export function mayActivateNext(
  inUse: { bluePods: number; greenActive: number },
  licensed: number | undefined,
): { ok: true } | { ok: false; why: string } {
  if (inUse.bluePods > 0)
    return {
      ok: false,
      why: `${inUse.bluePods} blue pod(s) still exist and may hold activations: green is activated only after they are gone`,
    };
  if (licensed !== undefined && inUse.greenActive >= licensed)
    return {
      ok: false,
      why: `${inUse.greenActive} green instance(s) already hold all ${licensed} licensed activation(s)`,
    };
  return { ok: true };
}

/** How often, and how far apart, an activation is tried while blue's released activations become free. */
export const ACTIVATION_ATTEMPTS = 30;
export const ACTIVATION_RETRY_MS = 1_000;

export interface ActivationTry {
  /** Sends the activation (POST /admin/license/activation). */
  activate: () => Promise<void>;
  /** Whether the instance holds a licence now (an answer lost after the activation went through). */
  licensed: () => Promise<boolean>;
  /** Waits; false when the run is being cancelled. */
  sleep: (ms: number) => Promise<boolean>;
  /** Told of every refusal that will be tried again. */
  onRetry: (attempt: number, err: unknown) => void;
  attempts?: number;
  intervalMs?: number;
}

/**
 * Activates one instance, trying again (bounded: `attempts`, `intervalMs` apart) while Core refuses: the
 * activations blue's pods held are released when they terminate, and the activation service may see that a
 * moment after the pods are gone. A refusal after which the instance holds a licence counts as done. The last
 * refusal is thrown.
 */
export async function activateWithRetry(t: ActivationTry): Promise<{ attempts: number }> {
  const max = Math.max(1, t.attempts ?? ACTIVATION_ATTEMPTS);
  const interval = t.intervalMs ?? ACTIVATION_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await t.activate();
      return { attempts: attempt };
    } catch (err) {
      if (await t.licensed().catch(() => false)) return { attempts: attempt };
      if (attempt >= max) throw err;
      t.onRetry(attempt, err);
      if (!(await t.sleep(interval))) throw err;
    }
  }
}

/** The cutover's steps in the only order that keeps the activations at or below the licensed count. */
export type CutoverStep =
  | 'stop-blue'
  | 'wait-blue-gone'
  | 'activate-green'
  | 'check-scanning'
  | 'switch-service'
  | 'confirm-endpoints';

/**
 * The cutover: blue's pods stop (their activations are released on termination) and the run waits until they
 * are gone; green's instances take over the activations (remove backup, activate, check, one at a time); a
 * scan-capable check on green (readiness, licence, and the smoke scan when asked); then the Service switches.
 * Switching before green can scan would send traffic to instances that refuse it.
 */
export function cutoverOrder(): readonly CutoverStep[] {
  return [
    'stop-blue',
    'wait-blue-gone',
    'activate-green',
    'check-scanning',
    'switch-service',
    'confirm-endpoints',
  ];
}

/** True when the days left make a licence: Core shows `days_left` only when a valid licence is present. */
export function holdsLicence(info: LicenseInfo): boolean {
  return typeof info.days_left === 'number' && info.days_left > 0;
}

/** What GET /admin/license must show on an instance after each call (see docs/hot-backup.md). */
export type LicenceExpectation = 'after-register' | 'after-remove' | 'after-activate';

/**
 * The problem with an instance's licence answer after a call, or undefined when it is what the run relies on.
 * After registering, a backup must show a licence (the project's reading of the docs); after removing it, none;
 * after activating, a licence. A wrong reading of the docs then stops the run at the first instance.
 */
export function licenceProblem(
  pod: string,
  after: LicenceExpectation,
  info: LicenseInfo,
): string | undefined {
  const has = holdsLicence(info);
  const shown = has ? `a licence (${String(info.days_left)} days left)` : 'no valid licence';
  switch (after) {
    case 'after-register':
      return has
        ? undefined
        : `instance ${pod} was registered as hot backup (answer 200) but GET /admin/license shows ${shown}: this Core does not behave as the project reads OPSWAT's docs (docs/hot-backup.md)`;
    case 'after-remove':
      return has
        ? `instance ${pod}'s hot-backup registration was removed (answer 200) but GET /admin/license still shows ${shown}`
        : undefined;
    case 'after-activate':
      return has
        ? undefined
        : `instance ${pod} was activated (answer 200) but GET /admin/license shows ${shown}`;
  }
}

/** What the journal keeps of a hot-backup run, written before each change it describes. */
export interface HotBackupRecord {
  /** Blue's replica count before the run (restored by an undo after blue was stopped). */
  blueReplicas: number;
  /** Green pods registered as hot backup (a registration is recorded before it is sent). */
  registered: string[];
  /** Blue was scaled to 0 (recorded before the patch). */
  blueStopped: boolean;
  /** Green pods an activation was sent to (recorded before it is sent). */
  activated: string[];
  /** The serving Service was switched to green (recorded before the patch). */
  switched: boolean;
  greenCreated: boolean;
  previewCreated: boolean;
}

export type UndoAction =
  | { do: 'switch-back' }
  | { do: 'unregister-green'; pods: string[] }
  | { do: 'delete-green'; waitGone: boolean }
  | { do: 'delete-preview' }
  | { do: 'scale-blue'; replicas: number }
  | { do: 'wait-blue-ready' };

export interface UndoPlan {
  actions: UndoAction[];
  /** Activations the action expects in use once the undo is done (blue's pods activate themselves at start). */
  activationsAfter: number;
  /** One line for the summary: what blue went through. */
  blue: string;
}

/**
 * The undo from the journal record. Before blue was stopped, blue is untouched: green's registrations are
 * removed (best effort: a backup holds no activation, so even a failed removal costs none) and green goes.
 * After, the Service goes back to blue first (one patch), green goes and the run waits until its pods are gone
 * (their activations are released on termination), and only then blue is scaled back and awaited: blue's pods
 * need those activations to start licensed.
 */
export function undoOrder(r: HotBackupRecord): UndoPlan {
  const actions: UndoAction[] = [];
  if (!r.blueStopped) {
    if (r.registered.length) actions.push({ do: 'unregister-green', pods: [...r.registered] });
    if (r.greenCreated) actions.push({ do: 'delete-green', waitGone: false });
    if (r.previewCreated) actions.push({ do: 'delete-preview' });
    return { actions, activationsAfter: r.blueReplicas, blue: 'untouched' };
  }
  if (r.switched) actions.push({ do: 'switch-back' });
  if (r.greenCreated) actions.push({ do: 'delete-green', waitGone: true });
  if (r.previewCreated) actions.push({ do: 'delete-preview' });
  actions.push({ do: 'scale-blue', replicas: r.blueReplicas }, { do: 'wait-blue-ready' });
  return {
    actions,
    activationsAfter: r.blueReplicas,
    blue: `stopped for the hand-over, scaled back to ${r.blueReplicas}`,
  };
}

/** The summary's table of activations over the phases, with the peak and the hand-over time when measured. */
export function activationTable(
  plan: ActivationPlan,
  licensed: number | undefined,
  handoverMs: number | undefined,
): string {
  const lines = [
    '| phase | blue active | green backup | green active | activations in use |',
    '| --- | --- | --- | --- | --- |',
    ...plan.phases.map(
      (p) => `| ${p.name} | ${p.blueActive} | ${p.greenBackup} | ${p.greenActive} | ${p.active} |`,
    ),
    '',
    `Peak: ${plan.peak} activation(s)${licensed !== undefined ? ` of ${licensed} licensed` : ' (licensed count not given)'}.` +
      (handoverMs !== undefined
        ? ` Hand-over (blue stopped to green serving): ${(Math.round(handoverMs / 100) / 10).toFixed(1)} s.`
        : ''),
  ];
  return lines.join('\n');
}
