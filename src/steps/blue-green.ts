// Blue-green's own pieces: green's manifest from blue's, the labels that keep the colors apart, the serving
// Service, the preview Service, the activations arithmetic, and the EndpointSlice check after the switch.
import type { V1Deployment, V1EndpointSlice, V1LabelSelector, V1Service } from '@kubernetes/client-node';
import type { BlueGreenRecord } from '../engine/journal.ts';
import type { Result } from '../engine/outcome.ts';

/** The label that tells the colors apart on green's pods and in its selector. */
export const COLOR_LABEL = 'mdcore-upgrade.opswat.com/color';

export type Color = 'blue' | 'green';

/** Server-set or per-revision annotations that must not be copied onto a new Deployment. */
const NOT_COPIED_ANNOTATIONS = [
  'deployment.kubernetes.io/revision',
  'kubectl.kubernetes.io/last-applied-configuration',
];

/**
 * Green's name and color from blue's: `<name>-green`, and back to `<base>-blue` when blue is itself a green of
 * an earlier run, so names never grow run after run.
 */
export function greenName(blue: string): { name: string; color: Color; blueColor: Color } {
  if (blue.endsWith('-green'))
    return { name: `${blue.slice(0, -6)}-blue`, color: 'blue', blueColor: 'green' };
  if (blue.endsWith('-blue'))
    return { name: `${blue.slice(0, -5)}-green`, color: 'green', blueColor: 'blue' };
  return { name: `${blue}-green`, color: 'green', blueColor: 'blue' };
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A label value of `value` marked with the color, still a valid label value (at most 63 characters). */
export function coloredValue(value: string, color: Color): string {
  const suffix = `-${color}`;
  if (value.endsWith(suffix)) return value;
  const other = color === 'green' ? '-blue' : '-green';
  const base = value.endsWith(other) ? value.slice(0, -other.length) : value;
  const cut = base.slice(0, 63 - suffix.length).replace(/[^A-Za-z0-9]+$/, '');
  return `${cut || 'md'}${suffix}`;
}

/** Whether a label selector (matchLabels and matchExpressions) selects a pod with these labels. */
export function selectorMatches(sel: V1LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const val = labels[e.key];
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(val ?? ''))) return false;
    if (e.operator === 'NotIn' && has && values.includes(val ?? '')) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** A Service's selector (a plain map) as a label selector. */
export const serviceSelector = (svc: V1Service): V1LabelSelector => ({
  matchLabels: { ...(svc.spec?.selector ?? {}) },
});

export interface ServiceChoice {
  readonly service?: V1Service;
  readonly problem?: string;
}

/**
 * The Service that sends traffic to blue: the one named, or the only one in the namespace whose selector
 * matches blue's pods. Refused when none or several match (naming them), or the named one does not select blue.
 */
export function chooseServingService(
  services: readonly V1Service[],
  blueLabels: Readonly<Record<string, string>>,
  named: string | undefined,
  blue: string,
): ServiceChoice {
  const selects = (s: V1Service): boolean =>
    Object.keys(s.spec?.selector ?? {}).length > 0 && selectorMatches(serviceSelector(s), blueLabels);
  if (named) {
    const s = services.find((x) => x.metadata?.name === named);
    if (!s) return { problem: `input 'service': there is no Service "${named}" in the namespace` };
    if (!selects(s))
      return {
        problem: `input 'service': Service ${named} does not select the pods of Deployment ${blue} (its selector: ${JSON.stringify(s.spec?.selector ?? {})}); name the Service that serves md-core`,
      };
    return { service: s };
  }
  const matching = services.filter(selects);
  if (matching.length === 1) return { service: matching[0] as V1Service };
  if (matching.length === 0)
    return {
      problem: `no Service in the namespace selects the pods of Deployment ${blue}: blue-green switches a Service's selector, so there must be one; create it, or name it with input 'service'`,
    };
  return {
    problem: `several Services select the pods of Deployment ${blue} (${matching.map((s) => s.metadata?.name ?? '?').join(', ')}): name the one that serves md-core with input 'service'`,
  };
}

export interface GreenPlan {
  readonly name: string;
  readonly color: Color;
  readonly blueColor: Color;
  readonly manifest: V1Deployment;
  /** Green's pod labels (the template's). */
  readonly labels: Record<string, string>;
  /** Green's Deployment selector, which is also the serving Service's selector after the switch. */
  readonly selector: Record<string, string>;
  /** The serving Service's selector after the switch. */
  readonly serviceSelector: Record<string, string>;
  readonly problems: string[];
}

export interface GreenInput {
  readonly blue: V1Deployment;
  readonly container: string;
  readonly image: string;
  /** The upgrade variables, set as container env so they win over every envFrom (blue's ConfigMaps untouched). */
  readonly env: Readonly<Record<string, string>>;
  readonly replicas: number;
  /** The serving Service's selector before the switch (blue's). */
  readonly serviceSelector: Readonly<Record<string, string>>;
}

/**
 * Green = a copy of blue's Deployment with the new image, the upgrade variables and its own name, its status
 * and server-set fields stripped. A Deployment's selector cannot be changed, so blue's selector is kept from
 * matching green's pods by green's values of the labels it (and the serving Service) selects on: each such
 * value gets the color appended, and the color label is added. What still overlaps is reported as a problem.
 */
export function greenFromBlue(input: GreenInput): GreenPlan {
  const { blue } = input;
  const blueName = blue.metadata?.name ?? '';
  const { name, color, blueColor } = greenName(blueName);
  const problems: string[] = [];
  const blueSel = blue.spec?.selector ?? {};
  const template = structuredClone(blue.spec?.template ?? {});
  const blueLabels = { ...(template.metadata?.labels ?? {}) };
  const keys = new Set([...Object.keys(blueSel.matchLabels ?? {}), ...Object.keys(input.serviceSelector)]);
  const labels: Record<string, string> = { ...blueLabels, [COLOR_LABEL]: color };
  for (const k of keys) if (labels[k] !== undefined) labels[k] = coloredValue(labels[k], color);
  const selector: Record<string, string> = { [COLOR_LABEL]: color };
  for (const k of Object.keys(blueSel.matchLabels ?? {})) selector[k] = labels[k] ?? '';
  const svcSel: Record<string, string> = { [COLOR_LABEL]: color };
  for (const k of Object.keys(input.serviceSelector)) svcSel[k] = labels[k] ?? '';
  for (const v of [...Object.values(selector), ...Object.values(labels)])
    if (!LABEL_VALUE.test(v) || v.length > 63) problems.push(`label value "${v}" is not valid`);

  // Each color's selectors must select its own pods only.
  if (selectorMatches(blueSel, labels))
    problems.push(
      `blue's selector ${JSON.stringify(blueSel)} would also select green's pods (labels ${JSON.stringify(labels)}): the two Deployments would fight over them`,
    );
  if (selectorMatches({ matchLabels: { ...input.serviceSelector } }, labels))
    problems.push(
      `the serving Service's selector ${JSON.stringify(input.serviceSelector)} would send traffic to green before it is verified`,
    );
  if (
    selectorMatches({ matchLabels: svcSel }, blueLabels) ||
    selectorMatches({ matchLabels: selector }, blueLabels)
  )
    problems.push(`green's selector would also select blue's pods`);

  template.metadata = { ...template.metadata, labels };
  const spec = template.spec;
  const c = spec?.containers.find((x) => x.name === input.container);
  if (!c) problems.push(`Deployment ${blueName} has no container ${input.container}`);
  else {
    c.image = input.image;
    const env = (c.env ?? []).filter((e) => !Object.hasOwn(input.env, e.name));
    c.env = [...env, ...Object.entries(input.env).map(([n, value]) => ({ name: n, value }))];
  }
  const annotations = { ...(blue.metadata?.annotations ?? {}) };
  for (const a of NOT_COPIED_ANNOTATIONS) delete annotations[a];
  const manifest: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: blue.metadata?.namespace,
      labels: { ...(blue.metadata?.labels ?? {}), [COLOR_LABEL]: color },
      annotations,
    },
    spec: {
      ...structuredClone(blue.spec ?? { selector: {}, template: {} }),
      replicas: input.replicas,
      selector: { matchLabels: selector },
      template,
    },
  };
  if (manifest.spec) delete manifest.spec.paused;
  return { name, color, blueColor, manifest, labels, selector, serviceSelector: svcSel, problems };
}

/** A ClusterIP Service with the serving Service's ports that selects green only: the way to green before the switch. */
export function previewService(
  serving: V1Service,
  name: string,
  selector: Record<string, string>,
): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: serving.metadata?.namespace,
      labels: { [COLOR_LABEL]: selector[COLOR_LABEL] ?? '' },
    },
    spec: {
      type: 'ClusterIP',
      selector: { ...selector },
      ports: (serving.spec?.ports ?? []).map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
        ...(p.protocol ? { protocol: p.protocol } : {}),
        // Says https to the API server's service proxy (steps/green-api.ts).
        ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
      })),
    },
  };
}

/** The preview Service's name: green's name with `-preview`, kept to a DNS-1123 label. */
export function previewName(green: string): string {
  const suffix = '-preview';
  return `${green.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

export interface ActivationsCheck {
  readonly peak: number;
  readonly problem?: string;
  readonly warning?: string;
}

/** Every md-core pod holds one licence activation: at the peak blue and green both run. */
export function checkActivations(
  blueReplicas: number,
  greenReplicas: number,
  activations: number | undefined,
): ActivationsCheck {
  const peak = blueReplicas + greenReplicas;
  if (activations === undefined)
    return {
      peak,
      warning: `activations were not checked: blue (${blueReplicas}) and green (${greenReplicas}) run side by side, ${peak} pods at the peak, each using one licence activation; give input 'activations' to have the run refuse when the licence has fewer`,
    };
  if (peak > activations)
    return {
      peak,
      problem: `not enough licence activations: blue's ${blueReplicas} pod(s) plus green's ${greenReplicas} need ${peak} at the peak, input 'activations' allows ${activations}; lower 'green-replicas' (at least 1) to at most ${Math.max(0, activations - blueReplicas)}, or use strategy rolling-update`,
    };
  return { peak };
}

export interface EndpointView {
  readonly ready: string[];
  readonly notReady: string[];
}

/** The ready and not-ready endpoint addresses of a Service's EndpointSlices. */
export function endpointView(slices: readonly V1EndpointSlice[]): EndpointView {
  const ready: string[] = [];
  const notReady: string[] = [];
  for (const s of slices)
    for (const e of s.endpoints ?? []) {
      const list = e.conditions?.ready === false ? notReady : ready;
      list.push(...(e.addresses ?? []));
    }
  return { ready: ready.sort(), notReady: notReady.sort() };
}

/** True when the ready endpoints are exactly green's pods (and at least one). */
export function onlyGreenReady(view: EndpointView, greenIps: ReadonlySet<string>): boolean {
  return view.ready.length > 0 && view.ready.every((ip) => greenIps.has(ip));
}

/** Waits `ms`, ended early by the signal (a cancelled job). Returns false when cancelled. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface EndpointPoll {
  readonly list: () => Promise<V1EndpointSlice[]>;
  readonly greenIps: () => Promise<ReadonlySet<string>>;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Whose pods `greenIps` lists, for the error ("green's" unless said; a rehearsal's switch back: blue's). */
  readonly whose?: string | undefined;
}

/**
 * Polls the serving Service's EndpointSlices until only green's pod addresses are ready; bounded by time and
 * by count. Returns the view and how long it took, or throws naming what it last saw.
 */
export async function waitOnlyGreen(p: EndpointPoll): Promise<{ view: EndpointView; ms: number }> {
  const start = Date.now();
  const maxPolls = Math.ceil(p.timeoutMs / p.intervalMs) + 1;
  let view: EndpointView = { ready: [], notReady: [] };
  for (let i = 0; i < maxPolls; i++) {
    const [slices, ips] = await Promise.all([p.list(), p.greenIps()]);
    view = endpointView(slices);
    if (onlyGreenReady(view, ips)) return { view, ms: Date.now() - start };
    if (Date.now() - start >= p.timeoutMs) break;
    if (!(await pause(p.intervalMs, p.signal)))
      throw new Error('the job was cancelled while checking the endpoints');
  }
  throw new Error(
    `the Service's endpoints did not show only ${p.whose ?? "green's"} pods within ${Math.round(p.timeoutMs / 1000)} s (ready: ${view.ready.join(', ') || 'none'}; not ready: ${view.notReady.join(', ') || 'none'})`,
  );
}

export interface HoldOptions extends Omit<EndpointPoll, 'timeoutMs'> {
  readonly durationMs: number;
  /** When the watch runs, for the error (default: after the switch). */
  readonly during?: string;
}

/**
 * Keeps watching the serving Service while blue is kept (scale-down-delay): green must keep at least one ready
 * endpoint. Returns how many checks passed, or false when cancelled; throws when green has none ready.
 */
export async function holdWatchingEndpoints(p: HoldOptions): Promise<{ checks: number } | false> {
  const start = Date.now();
  const maxChecks = Math.ceil(p.durationMs / p.intervalMs) + 1;
  let checks = 0;
  for (let i = 0; i < maxChecks; i++) {
    const [slices, ips] = await Promise.all([p.list(), p.greenIps()]);
    const view = endpointView(slices);
    if (!view.ready.some((ip) => ips.has(ip)))
      throw new Error(
        `${p.during ?? 'after the switch'}, green has no ready endpoint behind the Service (ready: ${view.ready.join(', ') || 'none'}; not ready: ${view.notReady.join(', ') || 'none'})`,
      );
    checks++;
    const left = p.durationMs - (Date.now() - start);
    if (left <= 0) break;
    if (!(await pause(Math.min(p.intervalMs, left), p.signal))) return false;
  }
  return { checks };
}

export interface WatchWhileOptions extends Omit<HoldOptions, 'durationMs' | 'signal'> {
  /** The longest the watch runs (the work's own time limit); after it the work runs on unwatched. */
  readonly maxMs: number;
  /** The job's cancel signal, passed on to the work. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Runs `work` while green's endpoints behind the serving Service are watched as in the hold: when green has no
 * ready endpoint left, the work is stopped through its signal and the loss is thrown (nothing would serve).
 */
export async function whileGreenServes<T>(
  p: WatchWhileOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const stop = new AbortController();
  let lost: unknown;
  const watch = holdWatchingEndpoints({ ...p, durationMs: p.maxMs, signal: stop.signal }).then(
    () => undefined,
    (err: unknown) => {
      lost = err;
      stop.abort();
    },
  );
  const signal = p.signal ? AbortSignal.any([p.signal, stop.signal]) : stop.signal;
  let result: T;
  try {
    result = await work(signal);
  } catch (err) {
    stop.abort();
    await watch;
    throw lost ?? err;
  }
  stop.abort();
  await watch;
  if (lost !== undefined) throw lost;
  return result;
}

/** Which Deployment serves at a run's end: a rollback put blue back, else the selector last patched. */
export function servingRole(bg: Pick<BlueGreenRecord, 'selects'>, result: Result): 'blue' | 'green' {
  return result === 'rolled-back' ? 'blue' : (bg.selects ?? 'blue');
}

/** The outputs active-color (the color serving at the run's end) and previous-color (the one before it). */
export function colorOutputs(
  bg: Pick<BlueGreenRecord, 'blue' | 'selects'>,
  result: Result,
): { 'active-color': Color; 'previous-color': Color } {
  const names = greenName(bg.blue);
  return {
    'active-color': servingRole(bg, result) === 'green' ? names.color : names.blueColor,
    'previous-color': names.blueColor,
  };
}

export { fillGreenUrl, SAMPLE_GREEN_NAMES } from '../plan/green-url.ts';
