// Every mutation is recorded before it is made (what it was, what it will be), so a rollback, and the post
// step after a cancelled job, can restore exactly. Kept in memory and, when a path is given, on disk.
import { writeFileSync, readFileSync, existsSync, renameSync } from 'node:fs';
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { LeaseRef } from '../cluster/lease.ts';

/**
 * Where the run stands. Recovery does not key on these (it keys on `mutated`): they only say that a run ended
 * on purpose (`done`, `rolled-back`, `left-failed`) so the post step leaves it alone.
 */
export type Phase =
  'planned' | 'changing' | 'waiting' | 'done' | 'rolled-back' | 'rollback-failed' | 'left-failed';

/** The `rollback` input as the main step read it: the post step decides with the same value. */
export type RollbackChoice = 'auto' | 'rollout-undo' | 'helm-rollback' | 'none';

export interface JournalData {
  version: 1;
  namespace: string;
  deployment: string;
  container: string;
  method: 'kubectl' | 'helm';
  release?: string | undefined;
  phase: Phase;
  /** What the user asked for after a failure (the `rollback` input). */
  rollback: RollbackChoice;
  previousImage?: string | undefined;
  targetImage?: string | undefined;
  /** Deployment revision before the change (rollout undo target). */
  previousRevision?: string | undefined;
  /** Helm release revision before the change (helm rollback target). */
  previousReleaseRevision?: number | undefined;
  /** Deployment revision our change created. */
  newRevision?: string | undefined;
  /** ConfigMaps as they were before we changed them. */
  configMaps: V1ConfigMap[];
  /**
   * The keys this run wrote into each ConfigMap (null = removed), recorded before the write: a restore puts back
   * only these, and only where they still hold what we wrote (someone else's later edit is reported, not undone).
   */
  configMapWrites: Record<string, Record<string, string | null>>;
  /**
   * metadata.generation of the Deployment as this run last left it (preflight's, then after each of our spec
   * changes). A different generation before a change or an undo means someone else edited the spec meanwhile.
   */
  knownGeneration?: number | undefined;
  /** Deployment spec fields outside the pod template that we changed, with their old values (null = unset). */
  deploymentFields: Record<string, unknown>;
  /** Deployment annotations we changed, with their old values (null = absent). */
  deploymentAnnotations: Record<string, string | null>;
  /** Deployment replicas before a scale-down (MIGRATE_HISTORY). */
  replicas?: number | undefined;
  templateChanged: boolean;
  /** The Deployment's Lease this run holds, until released: the post step releases it (or holds it to recover). */
  lease?: LeaseRef | undefined;
  /** Blue-green: what exists besides blue; each flag is set before the change it names is made. */
  blueGreen?: BlueGreenRecord | undefined;
  /** KEDA ScaledObjects this run paused (each recorded before its patch), restored after the run. */
  keda?: KedaPause[] | undefined;
  /** Set once the ScaledObjects were put back (wrap-up, rollback, or the post step). */
  kedaRestored?: boolean | undefined;
}

/** A blue-green run's changes: a rollback switches back to blue and removes what the run created. */
export interface BlueGreenRecord {
  /** blue: the user's Deployment (serving before the run); green: the one this run creates. */
  blue: string;
  green: string;
  /** The Service that selects green only, to reach it before the switch. */
  preview: string;
  /** The serving Service and its selector before and after the switch. */
  service: string;
  blueSelector: Record<string, string>;
  greenSelector: Record<string, string>;
  /** blue's replicas before the run: what a switch back needs running. */
  blueReplicas: number;
  greenCreated: boolean;
  previewCreated: boolean;
  switched: boolean;
  /** When the selector was switched (ms since the epoch). */
  switchedAt?: number | undefined;
  blueScaled: boolean;
  /**
   * Helm-managed blue: the hand-over (the chart's Deployment upgraded by helm while green serves) started.
   * From here a rollback also puts the chart back (helm rollback) before traffic returns to blue.
   */
  handover?: boolean | undefined;
  /**
   * The EndpointSlice that keeps green's pods behind the serving Service while helm rewrites its selector;
   * set before it is created, cleared once it is deleted.
   */
  bridge?: string | undefined;
  /** The serving Service was switched back to the chart's selector (its pods now run the new version). */
  handedBack?: boolean | undefined;
  /** blue-green-hot-backup: green's licence hand-over (blueScaled then means blue was stopped for it). */
  hotBackup?: HotBackupJournal | undefined;
  /** Which color the serving Service's selector picks now: set with each selector patch (none: blue). */
  selects?: 'blue' | 'green' | undefined;
  /** When the Service went back to blue's selector: a rollback's switch back, or the hand-back (ms since the epoch). */
  switchedBackAt?: number | undefined;
  /** What the run planned and saw, for the summary (the post step's as well). */
  facts?: BlueGreenFacts | undefined;
}

/** A blue-green run's figures for the summary; each set when known. */
export interface BlueGreenFacts {
  greenImage?: string | undefined;
  greenReplicas?: number | undefined;
  /** Blue's database: MDCORE_UPGRADE_FROM_DB_NAME given to green. */
  fromDb?: string | undefined;
  /** The database green creates (UPGRADE_DB=true), as the project derives its name; unset when green reuses blue's. */
  greenDb?: string | undefined;
  /** Licence activations at the peak, and how many the licence has (the 'activations' input) when known. */
  activationsPeak?: number | undefined;
  activationsOf?: number | undefined;
  /** Ready endpoints of the serving Service before the switch, once it showed only green, and after a hand-back. */
  endpointsBefore?: string[] | undefined;
  endpointsAfter?: string[] | undefined;
  endpointsHandedBack?: string[] | undefined;
  /** From the switch patch to the endpoints showing only green (ms). */
  onlyGreenMs?: number | undefined;
}

/** blue-green-hot-backup's licence steps, each pod recorded before its call is sent. */
export interface HotBackupJournal {
  /** Green pods registered as hot backup. */
  registered: string[];
  /** Green pods an activation was sent to. */
  activated: string[];
  /** When blue was scaled to 0 for the hand-over (ms since the epoch). */
  stoppedAt?: number | undefined;
}

/** One ScaledObject this run paused: what its pause annotations were, and what the run wrote. */
export interface KedaPause {
  name: string;
  /** The Deployment it scaled when the run began. */
  target: string;
  /** The pause annotations before the run (null = absent): a restore puts exactly these back. */
  before: Record<string, string | null>;
  /** What this run set; empty when it was paused already (then it is left as it is). */
  wrote: Record<string, string>;
}

export class Journal {
  data: JournalData;
  private readonly path: string | undefined;

  constructor(
    init: Omit<
      JournalData,
      | 'version'
      | 'phase'
      | 'configMaps'
      | 'configMapWrites'
      | 'deploymentFields'
      | 'deploymentAnnotations'
      | 'templateChanged'
    >,
    path?: string,
  ) {
    this.path = path;
    this.data = {
      version: 1,
      phase: 'planned',
      configMaps: [],
      configMapWrites: {},
      deploymentFields: {},
      deploymentAnnotations: {},
      templateChanged: false,
      ...init,
    };
    this.save();
  }

  static load(path: string): JournalData | undefined {
    if (!existsSync(path)) return undefined;
    const d = JSON.parse(readFileSync(path, 'utf8')) as JournalData;
    if (d.version !== 1) return undefined;
    return { ...d, configMapWrites: d.configMapWrites ?? {}, rollback: d.rollback ?? 'auto' };
  }

  /** True once anything in the cluster was (or may have been) changed. */
  get mutated(): boolean {
    return wasMutated(this.data);
  }

  update(change: Partial<JournalData>): void {
    this.data = { ...this.data, ...change };
    this.save();
  }

  /** Records a ConfigMap's state before its first change (later changes keep the first snapshot). */
  snapshotConfigMap(cm: V1ConfigMap): void {
    const name = cm.metadata?.name;
    if (this.data.configMaps.some((c) => c.metadata?.name === name)) return;
    this.data.configMaps.push(structuredClone(cm));
    this.save();
  }

  /** Records the keys about to be written into a ConfigMap (call before the write, after its snapshot). */
  recordConfigMapWrite(name: string, keys: Record<string, string | null>): void {
    this.data.configMapWrites[name] = { ...this.data.configMapWrites[name], ...keys };
    this.save();
  }

  recordField(path: string, oldValue: unknown): void {
    if (!(path in this.data.deploymentFields)) this.data.deploymentFields[path] = oldValue ?? null;
    this.save();
  }

  recordAnnotation(key: string, oldValue: string | undefined): void {
    if (!(key in this.data.deploymentAnnotations)) this.data.deploymentAnnotations[key] = oldValue ?? null;
    this.save();
  }

  /** Merges into the blue-green record (set up by the plan step) and saves before the change is made. */
  recordBlueGreen(change: Partial<BlueGreenRecord>): void {
    if (!this.data.blueGreen) throw new Error('internal: the blue-green record is missing from the journal');
    this.data.blueGreen = { ...this.data.blueGreen, ...change };
    this.save();
  }

  /** Merges figures for the summary into the blue-green record (nothing is undone from these). */
  recordBlueGreenFacts(change: BlueGreenFacts): void {
    this.recordBlueGreen({ facts: { ...this.data.blueGreen?.facts, ...change } });
  }

  private save(): void {
    if (!this.path) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

/**
 * True once anything in the cluster was (or may have been) changed: every mutation is recorded before it is
 * made, so this errs on the side of "changed" (a recorded change that never reached the server restores as a
 * no-op).
 */
export function wasMutated(d: JournalData): boolean {
  return (
    d.configMaps.length > 0 ||
    Object.keys(d.configMapWrites ?? {}).length > 0 ||
    d.templateChanged ||
    Object.keys(d.deploymentFields).length > 0 ||
    Object.keys(d.deploymentAnnotations).length > 0 ||
    d.replicas !== undefined ||
    (d.keda ?? []).some((k) => Object.keys(k.wrote).length > 0) ||
    (d.blueGreen !== undefined &&
      (d.blueGreen.greenCreated ||
        d.blueGreen.previewCreated ||
        d.blueGreen.switched ||
        d.blueGreen.blueScaled ||
        d.blueGreen.handover === true ||
        d.blueGreen.bridge !== undefined))
  );
}
