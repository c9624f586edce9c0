// The benchmark's own view of what a Service serves: raw HTTPS watches (no code shared with the action) of the
// Service's EndpointSlices (label kubernetes.io/service-name) and of the Service itself (its selector), every
// event stamped on arrival. Availability figures are computed from these timelines.
import { RawWatch, type Credentials } from './observer.ts';

/** The Service's ready endpoints after one EndpointSlice event, identified by their pods' names. */
export interface EndpointsSample {
  /** Local arrival time, epoch ms. */
  t: number;
  /** Names of the pods behind the ready endpoints (or their addresses when a slice names no pod), sorted. */
  ready: string[];
}

interface K8sEndpointSlice {
  metadata?: { name?: string; resourceVersion?: string };
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean }; targetRef?: { name?: string } }[];
}

/** Ready endpoints of one slice: `conditions.ready` unset counts as ready (the API's meaning). */
export function readyOf(slice: K8sEndpointSlice): string[] {
  return (slice.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .map((e) => e.targetRef?.name ?? (e.addresses ?? []).join(','));
}

export class EndpointSliceObserver extends RawWatch {
  readonly samples: EndpointsSample[] = [];
  readonly service: string;
  private readonly slices = new Map<string, string[]>();

  constructor(creds: Credentials, namespace: string, service: string) {
    super(creds, namespace);
    this.service = service;
  }

  protected collectionPath(): string {
    return `/apis/discovery.k8s.io/v1/namespaces/${this.namespace}/endpointslices`;
  }
  protected selectors(): Record<string, string> {
    return { labelSelector: `kubernetes.io/service-name=${this.service}` };
  }
  protected what(): string {
    return `endpoints of ${this.service}`;
  }
  protected onEvent(type: string, object: unknown, t: number): string {
    const slice = object as K8sEndpointSlice;
    const name = slice.metadata?.name ?? '';
    if (type === 'DELETED') this.slices.delete(name);
    else this.slices.set(name, readyOf(slice));
    this.samples.push({ t, ready: [...this.slices.values()].flat().sort() });
    return slice.metadata?.resourceVersion ?? '';
  }

  latest(): EndpointsSample | undefined {
    return this.samples.at(-1);
  }
}

export interface SelectorEvent {
  t: number;
  selector: Record<string, string>;
}

export class ServiceObserver extends RawWatch {
  readonly events: SelectorEvent[] = [];
  readonly name: string;

  constructor(creds: Credentials, namespace: string, name: string) {
    super(creds, namespace);
    this.name = name;
  }

  protected collectionPath(): string {
    return `/api/v1/namespaces/${this.namespace}/services`;
  }
  protected selectors(): Record<string, string> {
    return { fieldSelector: `metadata.name=${this.name}` };
  }
  protected what(): string {
    return `Service ${this.name}`;
  }
  protected onEvent(_type: string, object: unknown, t: number): string {
    const svc = object as {
      metadata?: { resourceVersion?: string };
      spec?: { selector?: Record<string, string> };
    };
    const selector = svc.spec?.selector ?? {};
    if (JSON.stringify(this.events.at(-1)?.selector) !== JSON.stringify(selector))
      this.events.push({ t, selector });
    return svc.metadata?.resourceVersion ?? '';
  }

  /** The first selector change after `after` whose selector satisfies `pred`. */
  changeAfter(after: number, pred: (s: Record<string, string>) => boolean): SelectorEvent | undefined {
    return this.events.find((e) => e.t >= after && pred(e.selector));
  }
}

export interface Availability {
  /** Time within the window with no ready endpoint at all (ms). */
  zeroReadyMs: number;
  /** The fewest ready endpoints at any moment within the window. */
  minReady: number;
  /** The most ready endpoints at any moment within the window. */
  maxReady: number;
  /** EndpointSlice events that arrived within the window. */
  events: number;
}

/**
 * Availability over [from, to] from a timeline of samples (each holds until the next one): the state at `from`
 * is the last sample before it. Undefined when the timeline says nothing about the window (no sample at or
 * before `to`).
 */
export function availability(
  samples: readonly EndpointsSample[],
  from: number,
  to: number,
): Availability | undefined {
  let current: EndpointsSample | undefined;
  let i = 0;
  for (; i < samples.length && samples[i]!.t <= from; i++) current = samples[i];
  let cursor = from;
  let zero = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let events = 0;
  const hold = (s: EndpointsSample | undefined, until: number): void => {
    if (!s) return;
    min = Math.min(min, s.ready.length);
    max = Math.max(max, s.ready.length);
    if (s.ready.length === 0) zero += until - cursor;
  };
  for (; i < samples.length && samples[i]!.t <= to; i++) {
    const next = samples[i]!;
    hold(current, next.t);
    cursor = next.t;
    current = next;
    events++;
  }
  hold(current, to);
  if (!Number.isFinite(min)) return undefined;
  return { zeroReadyMs: zero, minReady: min, maxReady: max, events };
}

/** The first sample at or after `after` with ready endpoints, all of them satisfying `pred` (e.g. green's pods). */
export function firstOnly(
  samples: readonly EndpointsSample[],
  after: number,
  pred: (endpoint: string) => boolean,
): EndpointsSample | undefined {
  return samples.find((s) => s.t >= after && s.ready.length > 0 && s.ready.every(pred));
}
