// Every mutation is recorded before it is made (what it was, what it will be), so a rollback, and the post
// step after a cancelled job, can restore exactly. Kept in memory and, when a path is given, on disk.
import { writeFileSync, readFileSync, existsSync, renameSync } from 'node:fs';
import type { V1ConfigMap } from '@kubernetes/client-node';

export type Phase = 'planned' | 'changing' | 'waiting' | 'done' | 'rolled-back' | 'rollback-failed';

export interface JournalData {
  version: 1;
  namespace: string;
  deployment: string;
  container: string;
  method: 'kubectl' | 'helm';
  release?: string | undefined;
  phase: Phase;
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
  /** Deployment spec fields outside the pod template that we changed, with their old values (null = unset). */
  deploymentFields: Record<string, unknown>;
  /** Deployment annotations we changed, with their old values (null = absent). */
  deploymentAnnotations: Record<string, string | null>;
  /** Deployment replicas before a scale-down (MIGRATE_HISTORY). */
  replicas?: number | undefined;
  templateChanged: boolean;
}

export class Journal {
  data: JournalData;
  private readonly path: string | undefined;

  constructor(
    init: Omit<
      JournalData,
      'version' | 'phase' | 'configMaps' | 'deploymentFields' | 'deploymentAnnotations' | 'templateChanged'
    >,
    path?: string,
  ) {
    this.path = path;
    this.data = {
      version: 1,
      phase: 'planned',
      configMaps: [],
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
    return d.version === 1 ? d : undefined;
  }

  /** True once anything in the cluster was (or may have been) changed. */
  get mutated(): boolean {
    const d = this.data;
    return (
      d.configMaps.length > 0 ||
      d.templateChanged ||
      Object.keys(d.deploymentFields).length > 0 ||
      Object.keys(d.deploymentAnnotations).length > 0 ||
      d.replicas !== undefined
    );
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

  recordField(path: string, oldValue: unknown): void {
    if (!(path in this.data.deploymentFields)) this.data.deploymentFields[path] = oldValue ?? null;
    this.save();
  }

  recordAnnotation(key: string, oldValue: string | undefined): void {
    if (!(key in this.data.deploymentAnnotations)) this.data.deploymentAnnotations[key] = oldValue ?? null;
    this.save();
  }

  private save(): void {
    if (!this.path) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
