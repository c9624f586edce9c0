// The stand-in's licence model: what OPSWAT's activation service and each Core instance would say about
// activations, kept by the stand-in itself (never taken from the action), so tests can assert "never above the
// licensed count" against a record the action cannot influence except through REST calls and pod lifecycles.
//
// An instance is one md-core pod, named by the pod. States: `active` (holds one activation, scans), `backup`
// (registered hot backup: no activation, refuses scans), `unlicensed` (neither). Choices where OPSWAT's
// documentation is silent (see docs/hot-backup.md) are marked "(choice)".

export type InstanceState = 'active' | 'backup' | 'unlicensed';

/** One change of an instance's state, with the active count right after it. */
export interface LicenceEvent {
  seq: number;
  instance: string;
  from: InstanceState | 'absent';
  to: InstanceState | 'absent';
  active: number;
  why: string;
}

/** A refusal as Core would answer it: the status and the `err` text. */
export interface Refusal {
  status: number;
  err: string;
}

/** What the pod lister tells the model about one running pod. */
export interface PodSighting {
  name: string;
  /** The pod starts with the licence key (the chart's LICENSE_KEY env): it activates itself on start. */
  selfActivates: boolean;
}

export class StandinLicence {
  readonly instances = new Map<string, InstanceState>();
  readonly events: LicenceEvent[] = [];
  /** Refused activations (self-activations of new pods included), for tests to assert. */
  readonly refusals: { instance: string; err: string }[] = [];
  peakActive = 0;
  /** (choice) Whether GET /admin/license on a backup shows the licence; false models a Core that hides it. */
  backupShowsLicence = true;

  /** Licensed activations of the key. */
  readonly licensed: number;
  /** The activation key the instances accept in request bodies. */
  readonly key: string;

  constructor(licensed: number, key: string) {
    if (!Number.isInteger(licensed) || licensed < 0) throw new Error('licensed must be a whole number');
    this.licensed = licensed;
    this.key = key;
  }

  get active(): number {
    let n = 0;
    for (const s of this.instances.values()) if (s === 'active') n++;
    return n;
  }

  state(instance: string): InstanceState | undefined {
    return this.instances.get(instance);
  }

  /** Instances in a state, sorted. */
  inState(state: InstanceState): string[] {
    return [...this.instances]
      .filter(([, s]) => s === state)
      .map(([i]) => i)
      .sort();
  }

  /** A pod seen for the first time: it self-activates when it has the key and a slot is free. */
  appear(pod: PodSighting): void {
    if (this.instances.has(pod.name)) return;
    this.set(pod.name, 'unlicensed', 'pod started');
    if (pod.selfActivates) {
      const r = this.activate(pod.name, this.key, 'self-activation at start');
      if (r) this.refusals.push({ instance: pod.name, err: r.err });
    }
  }

  /** A pod that stopped: an active instance releases its activation on termination. */
  stop(instance: string): void {
    if (!this.instances.has(instance)) return;
    this.set(instance, 'absent', 'pod stopped');
  }

  /** Brings the model in line with the pods running now: new ones appear, missing ones stop. */
  sync(pods: readonly PodSighting[]): void {
    const names = new Set(pods.map((p) => p.name));
    for (const instance of [...this.instances.keys()]) if (!names.has(instance)) this.stop(instance);
    for (const p of pods) this.appear(p);
  }

  /** "Setup hot-backup instance". */
  registerBackup(instance: string, key: unknown): Refusal | undefined {
    if (key !== this.key) return { status: 400, err: 'Invalid activation key' };
    const s = this.ensure(instance);
    // (choice) An active instance must give up its activation first; registering it again is a no-op.
    if (s === 'active')
      return { status: 400, err: 'The instance is activated; it cannot be registered as backup' };
    if (s === 'backup') return undefined;
    this.set(instance, 'backup', 'registered as backup');
    return undefined;
  }

  /** "Remove a backup instance". */
  removeBackup(instance: string): Refusal | undefined {
    const s = this.ensure(instance);
    // (choice) 400 when the instance is not a backup.
    if (s !== 'backup') return { status: 400, err: 'The instance is not registered as backup' };
    this.set(instance, 'unlicensed', 'backup removed');
    return undefined;
  }

  /** POST /admin/license/activation: refused on a backup (documented) and above the licensed count. */
  activate(instance: string, key: unknown, why = 'activated'): Refusal | undefined {
    if (key !== this.key) return { status: 400, err: 'Invalid activation key' };
    const s = this.ensure(instance);
    if (s === 'active') return undefined;
    if (s === 'backup')
      return {
        status: 400,
        err: 'The instance is registered as backup: nominate it or remove the backup first',
      };
    if (this.active >= this.licensed) {
      // (choice) 500 with the reason, as the spec's only error answer besides 403.
      const err = `Activation refused: all ${this.licensed} activation(s) of the key are in use`;
      return { status: 500, err };
    }
    this.set(instance, 'active', why);
    return undefined;
  }

  /** Only an active instance scans. */
  scanRefusal(instance: string): Refusal | undefined {
    const s = this.ensure(instance);
    if (s === 'active') return undefined;
    // (choice) 403: scanning is not allowed on this instance.
    return {
      status: 403,
      err: s === 'backup' ? 'Scanning is not allowed on a backup instance' : 'The instance is not licensed',
    };
  }

  /** What GET /admin/license shows on the instance: the licence, or only the deployment id (no valid licence). */
  showsLicence(instance: string): boolean {
    const s = this.ensure(instance);
    return s === 'active' || (s === 'backup' && this.backupShowsLicence);
  }

  /** An instance addressed over REST before the pod lister saw it starts unlicensed. */
  private ensure(instance: string): InstanceState {
    const s = this.instances.get(instance);
    if (s) return s;
    this.set(instance, 'unlicensed', 'first REST request');
    return 'unlicensed';
  }

  private set(instance: string, to: InstanceState | 'absent', why: string): void {
    const from = this.instances.get(instance) ?? 'absent';
    if (to === 'absent') this.instances.delete(instance);
    else this.instances.set(instance, to);
    const active = this.active;
    this.peakActive = Math.max(this.peakActive, active);
    this.events.push({ seq: this.events.length + 1, instance, from, to, active, why });
  }
}
