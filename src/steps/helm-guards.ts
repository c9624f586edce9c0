// Guards of the helm route, from the planned release's render (`helm upgrade --dry-run=server`) compared with
// what is live and with what the deployed revision rendered (`helm get manifest`). Pure: callers read.
//
// 1. Secret mdcore-license-key must not change unless the `license-key` input asked for exactly that value
//    (the chart's default is a truthy placeholder that overwrites the key on every upgrade that omits it).
// 2. The in-cluster PostgreSQL must keep its data volume (chart 5.20.0 stopped mounting it by default).
// 3. Everything else that would change besides md-core's image and the upgrade variables is listed (refused
//    when `strict`). Secret values are compared decoded and never shown: only their key names.
import { parseAllDocuments } from 'yaml';
import type { V1Container, V1Volume } from '@kubernetes/client-node';
import { effectiveEnv, type ConfigMapData, type EffectiveVar } from '../cluster/effective-env.ts';

export const LICENSE_SECRET = 'mdcore-license-key';

export interface K8sObject {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export function objectKey(kind: string, name: string): string {
  return `${kind}/${name}`;
}

/** A multi-document manifest (what helm renders) as objects by `Kind/name`. */
export function parseManifest(text: string): Map<string, K8sObject> {
  const out = new Map<string, K8sObject>();
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0)
      throw new Error(`the rendered manifest is not valid YAML: ${doc.errors[0]?.message ?? ''}`);
    const o = doc.toJS() as K8sObject | null;
    if (!o || typeof o !== 'object' || !o.kind || !o.metadata?.name) continue;
    if (o.kind.endsWith('List') && Array.isArray(o.items)) {
      for (const item of o.items as K8sObject[])
        if (item?.kind && item.metadata?.name) out.set(objectKey(item.kind, item.metadata.name), item);
      continue;
    }
    out.set(objectKey(o.kind, o.metadata.name), o);
  }
  return out;
}

/** A Secret's values, decoded: `data` (base64) merged with `stringData` (which wins, as the API server does). */
export function secretValues(o: K8sObject | undefined): Record<string, string> | undefined {
  if (!o) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((o.data as Record<string, unknown> | undefined) ?? {})) {
    out[k] = Buffer.from(String(v ?? ''), 'base64').toString('utf8');
  }
  for (const [k, v] of Object.entries((o.stringData as Record<string, unknown> | undefined) ?? {})) {
    out[k] = String(v ?? '');
  }
  return out;
}

const USER_NAME_KEY = /^(user|username|user_name|login)$/i;

/** Secret values to register for masking: every Secret key except user names. */
export function secretsToMask(objects: Iterable<K8sObject>): string[] {
  const out: string[] = [];
  for (const o of objects) {
    if (o.kind !== 'Secret') continue;
    for (const [k, v] of Object.entries(secretValues(o) ?? {})) {
      if (USER_NAME_KEY.test(k) || v.trim().length < 4) continue;
      out.push(v, Buffer.from(v, 'utf8').toString('base64'));
    }
  }
  return out;
}

const SECRET_VALUE_KEY = /(password|passwd|secret|token|license|api_?key|apikey|credential)/i;

/** String leaves of helm values whose key names a secret (e.g. mdcore_license_key, db_password). */
export function secretLeaves(values: unknown, key = ''): string[] {
  if (typeof values === 'string')
    return key !== 'key' && SECRET_VALUE_KEY.test(key) && values.length >= 4 ? [values] : [];
  if (Array.isArray(values)) return values.flatMap((v) => secretLeaves(v, key));
  if (values && typeof values === 'object') {
    return Object.entries(values).flatMap(([k, v]) => secretLeaves(v, k));
  }
  return [];
}

// ---- diff -------------------------------------------------------------------------------------------------

export type PathSegment = string | { name: string } | number;

export function formatPath(path: readonly PathSegment[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (typeof seg === 'object') s += `[${seg.name}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) s += s === '' ? seg : `.${seg}`;
    else s += `["${seg}"]`;
  }
  return s;
}

export interface Difference {
  readonly path: PathSegment[];
  readonly before: unknown;
  readonly after: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function namedList(a: unknown[]): boolean {
  return a.length > 0 && a.every((e) => isObject(e) && typeof e.name === 'string');
}

/** Leaf-level differences between two JSON values; lists of `{name: ...}` objects are matched by name. */
export function diffValues(a: unknown, b: unknown, path: PathSegment[] = []): Difference[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffValues(a[k], b[k], [...path, k]));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if ((namedList(a) || a.length === 0) && (namedList(b) || b.length === 0) && a.length + b.length > 0) {
      const byName = (l: unknown[]): Map<string, unknown> =>
        new Map(l.map((e) => [String((e as { name: string }).name), e]));
      const ma = byName(a);
      const mb = byName(b);
      const names = [...new Set([...ma.keys(), ...mb.keys()])];
      return names.flatMap((n) => diffValues(ma.get(n), mb.get(n), [...path, { name: n }]));
    }
    if (a.length === b.length && a.every(isObject) && b.every(isObject)) {
      return a.flatMap((e, i) => diffValues(e, b[i], [...path, i]));
    }
  }
  return [{ path, before: a, after: b }];
}

// ---- guard 3: what else would change ---------------------------------------------------------------------

export interface ObjectChange {
  readonly object: string;
  readonly kind: 'added' | 'removed' | 'changed';
  /** Human-readable changes; Secret values never appear. */
  readonly details: string[];
}

/** Decides whether a difference was asked for (the image, the variables, the strategy inputs). */
export type Allowed = (object: string, path: readonly PathSegment[]) => boolean;

const CHART_VERSION_LABELS = new Set(['helm.sh/chart', 'app.kubernetes.io/version', 'chart', 'version']);

/** Labels that only carry the chart's version: they change with every chart version and mean nothing else. */
export function isChartVersionLabel(path: readonly PathSegment[]): boolean {
  const i = path.indexOf('labels');
  const last = path[path.length - 1];
  return i >= 0 && i === path.length - 2 && typeof last === 'string' && CHART_VERSION_LABELS.has(last);
}

function show(v: unknown): string {
  if (v === undefined) return '(unset)';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function describeDifference(d: Difference, secret: boolean): string {
  const p = formatPath(d.path);
  if (secret) {
    if (d.before === undefined) return `${p} added (value not shown)`;
    if (d.after === undefined) return `${p} removed`;
    return `${p} changed (value not shown)`;
  }
  if (d.before === undefined) return `${p} added: ${show(d.after)}`;
  if (d.after === undefined) return `${p} removed (was ${show(d.before)})`;
  return `${p}: ${show(d.before)} → ${show(d.after)}`;
}

/** For comparison a Secret is its decoded values; everything else is compared as rendered. */
function comparable(o: K8sObject): Record<string, unknown> {
  if (o.kind !== 'Secret') return o;
  const rest: Record<string, unknown> = { ...o };
  delete rest.data;
  delete rest.stringData;
  return { ...rest, data: secretValues(o) };
}

export function compareManifests(
  current: ReadonlyMap<string, K8sObject>,
  planned: ReadonlyMap<string, K8sObject>,
  allowed: Allowed,
): ObjectChange[] {
  const out: ObjectChange[] = [];
  const keys = [...new Set([...current.keys(), ...planned.keys()])].sort();
  for (const key of keys) {
    const a = current.get(key);
    const b = planned.get(key);
    if (!a && b) {
      out.push({ object: key, kind: 'added', details: ['would be created'] });
    } else if (a && !b) {
      const kept =
        (a.metadata as { annotations?: Record<string, string> }).annotations?.['helm.sh/resource-policy'] ===
        'keep';
      out.push({
        object: key,
        kind: 'removed',
        details: [
          kept ? 'no longer in the chart (kept in the cluster: resource-policy keep)' : 'would be deleted',
        ],
      });
    } else if (a && b) {
      const diffs = diffValues(comparable(a), comparable(b)).filter(
        (d) => !isChartVersionLabel(d.path) && !allowed(key, d.path),
      );
      if (diffs.length > 0) {
        const secret = a.kind === 'Secret' || b.kind === 'Secret';
        const details = diffs.slice(0, 12).map((d) => describeDifference(d, secret));
        if (diffs.length > 12) details.push(`… ${diffs.length - 12} more`);
        out.push({ object: key, kind: 'changed', details });
      }
    }
  }
  return out;
}

export function formatChange(c: ObjectChange): string {
  return `${c.object}: ${c.details.join('; ')}`;
}

// ---- guard 1: the license key ----------------------------------------------------------------------------

export type GuardResult = { ok: true; notes: string[] } | { ok: false; message: string };

export function looksLikePlaceholder(value: string): boolean {
  return /SET_LICENSE_KEY|^<.*>$|^\s*$|changeme|placeholder/i.test(value);
}

/**
 * `rendered`/`live`: the decoded values of Secret mdcore-license-key in the planned render and in the cluster
 * (undefined when absent). `asked`: the `license-key` input.
 */
export function licenseGuard(i: {
  rendered: Record<string, string> | undefined;
  live: Record<string, string> | undefined;
  asked: string | undefined;
}): GuardResult {
  const fix =
    "Give the key in the 'license-key' input (from a repository or environment secret; it is masked and passed to helm in a private values file, never on the command line).";
  if (!i.rendered)
    return { ok: true, notes: [`the chart renders no Secret ${LICENSE_SECRET}: it is left as it is`] };
  const keys = [...new Set([...Object.keys(i.rendered), ...Object.keys(i.live ?? {})])].sort();
  const changed = keys.filter((k) => i.rendered?.[k] !== i.live?.[k]);
  if (i.asked !== undefined) {
    const wrong = Object.entries(i.rendered).filter(([, v]) => v !== i.asked);
    if (wrong.length > 0) {
      return {
        ok: false,
        message: `Secret ${LICENSE_SECRET} would not hold the 'license-key' input (key ${wrong.map(([k]) => k).join(', ')} renders another value): a 'set' line or values file overrides mdcore_license_key. Remove that override. Nothing in the cluster was changed.`,
      };
    }
  }
  if (changed.length === 0) {
    const notes = [`Secret ${LICENSE_SECRET} stays as it is`];
    if (Object.values(i.rendered).some(looksLikePlaceholder)) {
      notes.push(`Secret ${LICENSE_SECRET} already holds a placeholder, not a license key. ${fix}`);
    }
    return { ok: true, notes };
  }
  if (i.asked !== undefined) {
    return {
      ok: true,
      notes: [`Secret ${LICENSE_SECRET} changes to the 'license-key' input (value not shown)`],
    };
  }
  const placeholder = changed.some((k) => looksLikePlaceholder(i.rendered?.[k] ?? ''));
  return {
    ok: false,
    message: `${placeholder ? `The upgrade would overwrite Secret ${LICENSE_SECRET} with the chart's placeholder` : `The upgrade would change Secret ${LICENSE_SECRET} to a value that was not asked for`} (key ${changed.join(', ')}): the new md-core pods would start without a valid license and be restarted in a loop. ${fix} Nothing in the cluster was changed.`,
  };
}

// ---- guard 2: the database's data volume -----------------------------------------------------------------

interface PodSpecLike {
  containers?: V1Container[];
  volumes?: V1Volume[];
}

function podSpec(o: K8sObject): PodSpecLike | undefined {
  return (o.spec as { template?: { spec?: PodSpecLike } } | undefined)?.template?.spec ?? undefined;
}

const POSTGRES_IMAGE = /(^|\/)postgres(ql)?([:@]|$)/i;

export function isDatabaseWorkload(o: K8sObject): boolean {
  if (o.kind !== 'Deployment' && o.kind !== 'StatefulSet') return false;
  if (o.metadata.name === 'postgres-core') return true;
  return (podSpec(o)?.containers ?? []).some((c) => POSTGRES_IMAGE.test(c.image ?? ''));
}

const EPHEMERAL = ['emptyDir', 'configMap', 'secret', 'downwardAPI', 'projected', 'ephemeral'];

function claimTemplates(o: K8sObject): string[] {
  const t =
    (o.spec as { volumeClaimTemplates?: { metadata?: { name?: string } }[] } | undefined)
      ?.volumeClaimTemplates ?? [];
  return t.map((c) => c.metadata?.name ?? '').filter(Boolean);
}

/** 'persistent', 'ephemeral' or undefined (no such volume) for the volume a mount uses. */
function volumeKind(o: K8sObject, volumeName: string): 'persistent' | 'ephemeral' | undefined {
  if (claimTemplates(o).includes(volumeName)) return 'persistent';
  const v = (podSpec(o)?.volumes ?? []).find((x) => x.name === volumeName);
  if (!v) return undefined;
  return Object.keys(v).some((k) => k !== 'name' && EPHEMERAL.includes(k)) ? 'ephemeral' : 'persistent';
}

/**
 * Problems where a database workload that mounts persistent data now (live, or the deployed manifest when it
 * is not live) would lose that mount, or be deleted. Pure.
 */
export function databaseVolumeProblems(
  before: ReadonlyMap<string, K8sObject>,
  planned: ReadonlyMap<string, K8sObject>,
): string[] {
  const problems: string[] = [];
  for (const [key, b] of before) {
    if (!isDatabaseWorkload(b)) continue;
    const persistentMounts = (podSpec(b)?.containers ?? []).flatMap((c) =>
      (c.volumeMounts ?? [])
        .filter((m) => volumeKind(b, m.name) === 'persistent')
        .map((m) => ({ container: c.name, mount: m })),
    );
    if (persistentMounts.length === 0) continue;
    const a = planned.get(key);
    if (!a) {
      problems.push(`${key} (the in-cluster database with its data volume) would be deleted`);
      continue;
    }
    for (const { container, mount } of persistentMounts) {
      const c = (podSpec(a)?.containers ?? []).find((x) => x.name === container);
      const m = c?.volumeMounts?.find((x) => x.mountPath === mount.mountPath);
      if (!m) {
        problems.push(
          `${key}: container ${container} would no longer mount its data volume at ${mount.mountPath} (volume ${mount.name}); PostgreSQL would restart with an empty database`,
        );
      } else if (volumeKind(a, m.name) !== 'persistent') {
        problems.push(
          `${key}: container ${container} would mount ${mount.mountPath} from a temporary volume instead of its data volume; PostgreSQL would restart with an empty database`,
        );
      }
    }
  }
  return problems;
}

// ---- the variables that really arrive --------------------------------------------------------------------

export interface PlannedEnv {
  readonly container: V1Container | undefined;
  readonly after: Map<string, EffectiveVar>;
  readonly problems: string[];
}

/**
 * What md-core's container will see after the upgrade: the rendered container with the rendered ConfigMaps
 * (ConfigMaps the release does not render keep their live data; ones it stops rendering are deleted).
 */
export function plannedEnv(i: {
  planned: ReadonlyMap<string, K8sObject>;
  current: ReadonlyMap<string, K8sObject>;
  live: ConfigMapData;
  deployment: string;
  container: string;
  desired: Readonly<Record<string, string>>;
}): PlannedEnv {
  const dep = i.planned.get(objectKey('Deployment', i.deployment));
  const container = dep ? (podSpec(dep)?.containers ?? []).find((c) => c.name === i.container) : undefined;
  if (!container) {
    return {
      container: undefined,
      after: new Map(),
      problems: [`the planned release renders no Deployment ${i.deployment} with a container ${i.container}`],
    };
  }
  const maps = new Map(i.live);
  for (const [key] of i.current) {
    if (key.startsWith('ConfigMap/') && !i.planned.has(key))
      maps.set(key.slice('ConfigMap/'.length), undefined);
  }
  for (const [key, o] of i.planned) {
    if (o.kind !== 'ConfigMap') continue;
    const data = Object.fromEntries(
      Object.entries((o.data as Record<string, unknown> | undefined) ?? {}).map(([k, v]) => [k, String(v)]),
    );
    maps.set(key.slice('ConfigMap/'.length), data);
  }
  const env = effectiveEnv(container, maps);
  const after = new Map<string, EffectiveVar>();
  const problems: string[] = [];
  for (const [name, value] of Object.entries(i.desired)) {
    const v = env.get(name);
    if (v) after.set(name, v);
    if (v?.value !== value) {
      problems.push(
        `${name} would be ${v ? (v.value === undefined ? 'read from a Secret or field' : `"${v.value}"`) : 'unset'} for the new pods, not "${value}"`,
      );
    }
  }
  return { container, after, problems };
}
