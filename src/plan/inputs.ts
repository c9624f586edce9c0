// Turns the action's raw string inputs into a Plan, or into a list of errors that each name the input,
// the value (never for secrets, `set` lines or the mirror URL) and what is accepted. No @actions/core; the only
// I/O is the values-file check (values-files.ts), through an injectable FileAccess, before any cluster contact.
// A namespace import lets the bundler keep only the zod parts used (83 KiB of 443 KiB; bench/README.md).
import * as z from 'zod';
import { valuesTree } from './helm-values.ts';
import { addressesInstances, fillGreenUrl, GREEN_VIA_PROXY, SAMPLE_GREEN_NAMES } from './green-url.ts';
import type { BaselineSource, HelmSetting, IntOrPercent, Plan } from './plan.ts';
import { insecureHttpProblem } from './url-policy.ts';
import { localFiles, valuesFileProblem, type FileAccess } from './values-files.ts';

/** Raw inputs as GitHub passes them: strings, '' when not given. */
export type RawInputs = Readonly<Record<string, string | undefined>>;

export interface InputError {
  readonly input: string;
  readonly message: string;
}

export type ParseResult = { ok: true; plan: Plan } | { ok: false; errors: readonly InputError[] };

/** Inputs whose values are secrets: never echoed in an error, masked everywhere. */
export const SECRET_INPUTS = [
  'kubeconfig',
  'license-key',
  'api-key',
  'config-password',
  'set-secret',
] as const;
/** Inputs whose values are never echoed in an error (a `set` value or mirror credentials may be sensitive). */
const NO_ECHO: readonly string[] = [...SECRET_INPUTS, 'set', 'tools-mirror'];

export const DEFAULT_KUBECTL_VERSION = '1.36.3';
export const DEFAULT_HELM_VERSION = '3.22.0';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const HELM_RELEASE = /^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$/;
// OCI distribution spec: path components, optionally a registry host[:port] first.
const IMAGE_COMPONENT = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$/;
const REGISTRY_HOST =
  /^(localhost|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+)(:[0-9]{1,5})?$|^localhost(:[0-9]{1,5})?$|^[A-Za-z0-9-]+:[0-9]{1,5}$/;
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const SET_KEY = /^[A-Za-z0-9_][A-Za-z0-9_./\-[\]\\]*$/;
const KUBECTL_VERSION = /^(stable|latest|v?\d+\.\d+(\.\d+)?)$/;
const HELM_VERSION = /^(latest|v?[34]|v?\d+\.\d+\.\d+)$/;
const SEMVER_ISH = /^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$|^[<>=~^*xX0-9., |-]+$/;
// Only printable ASCII without quotes or shell metacharacters in values echoed back to the user.
const MAX_ECHO = 60;

function show(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, (c) => `\\u{${c.codePointAt(0)?.toString(16)}}`);
  return printable.length > MAX_ECHO
    ? `${printable.slice(0, MAX_ECHO)}… (${value.length} characters)`
    : printable;
}

/** Parses `900`, `900s`, `15m`, `1h30m` into seconds; undefined when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = DURATION.exec(t);
  if (!m || t === '') return undefined;
  const [, h, mi, s] = m;
  return Number(h ?? 0) * 3600 + Number(mi ?? 0) * 60 + Number(s ?? 0);
}

/** Parses maxSurge / maxUnavailable: a non-negative integer or 0-100%. */
export function parseIntOrPercent(text: string): IntOrPercent | undefined {
  const t = text.trim();
  if (/^\d{1,6}$/.test(t)) return Number(t);
  const m = /^(\d{1,3})%$/.exec(t);
  if (m && Number(m[1]) <= 100) return `${Number(m[1])}%`;
  return undefined;
}

export function isZero(v: IntOrPercent | undefined): boolean {
  return v === 0 || v === '0%';
}

const QUANTITY_UNITS: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** Parses a Kubernetes-style size (500Mi, 20Gi, 1T, 1000) into bytes. */
export function parseQuantity(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (QUANTITY_UNITS[m[2] ?? ''] ?? 1));
}

/** Checks an OCI image reference without tag or digest; returns a reason when invalid. */
export function imageProblem(ref: string): string | undefined {
  if (ref.includes('@'))
    return 'a digest is not accepted here; give the image without it and the version in `tag`';
  const parts = ref.split('/');
  const first = parts[0] ?? '';
  const hasRegistry =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const path = hasRegistry ? parts.slice(1) : parts;
  if (hasRegistry && !REGISTRY_HOST.test(first)) return `"${show(first)}" is not a valid registry host`;
  const last = path[path.length - 1] ?? '';
  if (last.includes(':'))
    return 'a tag is not accepted here; give the image without it and the version in `tag`';
  if (path.length === 0 || path.some((c) => !IMAGE_COMPONENT.test(c)))
    return 'each path component must be lower-case letters and digits, separated by ".", "_", "__" or "-"';
  if (ref.length > 255) return 'it is longer than 255 characters';
  return undefined;
}

type Check<T> = (value: string) => { value: T } | { problem: string };

interface FieldSpec<T> {
  readonly default: string;
  readonly accepted: string;
  readonly check: Check<T>;
}

const ok = <T>(value: T): { value: T } => ({ value });
const bad = (problem: string): { problem: string } => ({ problem });

function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v) => (v === '' ? ok(undefined) : check(v));
}
function regex(re: RegExp, problem: string): Check<string> {
  return (v) => (re.test(v) ? ok(v) : bad(problem));
}
function oneOf<const T extends string>(values: readonly T[]): Check<T> {
  return (v) => {
    const lower = v.toLowerCase() as T;
    return values.includes(lower) ? ok(lower) : bad(`it must be one of ${values.join(', ')}`);
  };
}
const bool: Check<boolean> = (v) => {
  const l = v.toLowerCase();
  if (l === 'true') return ok(true);
  if (l === 'false') return ok(false);
  return bad('it must be true or false');
};
const duration: Check<number> = (v) => {
  const s = parseDuration(v);
  if (s === undefined) return bad('it must be a duration such as 900, 900s, 15m or 1h30m');
  if (s < 10) return bad('it must be at least 10 seconds');
  if (s > 7 * 24 * 3600) return bad('it must be at most 168h');
  return ok(s);
};
/** A duration of at most 1h; `zero` says what 0 means for the input. */
const durationUpTo1h =
  (zero: string): Check<number> =>
  (v) => {
    const s = parseDuration(v);
    if (s === undefined) return bad(`it must be a duration such as 0, 120, 120s or 2m (0: ${zero})`);
    if (s > 3600) return bad('it must be at most 1h');
    return ok(s);
  };
const pullGrace = durationUpTo1h('no grace');
const intOrPercent: Check<IntOrPercent> = (v) => {
  const p = parseIntOrPercent(v);
  return p === undefined
    ? bad('it must be a whole number of pods (e.g. 1) or a percentage 0-100% (e.g. 25%)')
    : ok(p);
};
const url: Check<string> = (v) => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return bad('it must be an absolute http:// or https:// URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    return bad('it must be an absolute http:// or https:// URL');
  if (/\s/.test(v)) return bad('it must not contain whitespace');
  return ok(v.replace(/\/+$/, ''));
};
const secret: Check<string> = (v) => ok(v);
const noControl =
  (what: string): Check<string> =>
  (v) =>
    // eslint-disable-next-line no-control-regex
    /[\x00-\x1f\x7f]/.test(v) || v.length > 253
      ? bad(`it must be a single-line ${what} of at most 253 characters`)
      : ok(v);
/** Non-empty, non-comment lines with their 1-based line numbers in the input. */
const numberedLines = (v: string): { n: number; text: string }[] =>
  v
    .split(/\r?\n/)
    .map((l, i) => ({ n: i + 1, text: l.trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
const lines = (v: string): string[] => numberedLines(v).map((l) => l.text);
const valuesFiles: Check<string[]> = (v) => {
  const files = lines(v);
  // eslint-disable-next-line no-control-regex
  const badFile = files.find((f) => /[\x00-\x1f\x7f]/.test(f) || f.length > 4096);
  if (badFile !== undefined) return bad('each line must be one file path');
  const flag = files.find((f) => f.startsWith('-'));
  return flag === undefined
    ? ok(files)
    : bad(`"${show(flag)}" begins with "-": helm would read it as an option; write it as ./${show(flag)}`);
};
/** `key=value` lines; a problem names the line number and, when it is a valid path, the key: never a value. */
const setLines: Check<HelmSetting[]> = (v) => {
  const out: HelmSetting[] = [];
  for (const { n, text } of numberedLines(v)) {
    const eq = text.indexOf('=');
    if (eq < 0) return bad(`line ${n} has no "=": each line must be key=value`);
    const key = text.slice(0, eq).trim();
    if (!SET_KEY.test(key))
      return bad(
        `line ${n}: the text before "=" is not a Helm value path (letters, digits, "_", "-", "/", "." and "[n]"); each line must be key=value`,
      );
    out.push({ key, value: text.slice(eq + 1) });
  }
  return ok(out);
};
const retryUpgrade: Check<number> = (v) =>
  /^\d{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= 100
    ? ok(Number(v))
    : bad('it must be a whole number from 1 to 100');

const historyLength: Check<number> = (v) =>
  /^\d{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= 100
    ? ok(Number(v))
    : bad('it must be a whole number from 1 to 100');

export const INPUT_SPECS = {
  namespace: {
    default: '',
    accepted: 'a Kubernetes namespace name (DNS-1123 label)',
    check: regex(
      DNS1123_LABEL,
      'it must be a DNS-1123 label: lower-case a-z, 0-9 and "-", at most 63 characters',
    ),
  },
  tag: {
    default: '',
    accepted: 'an image tag such as 5.20.0',
    check: regex(TAG, 'it must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}, for example 5.20.0'),
  },
  strategy: {
    default: 'rolling-update',
    accepted: 'rolling-update, export-import, blue-green or blue-green-hot-backup',
    check: oneOf(['rolling-update', 'export-import', 'blue-green', 'blue-green-hot-backup'] as const),
  },
  'migrate-history': { default: 'false', accepted: 'true or false', check: bool },
  method: {
    default: 'auto',
    accepted: 'auto, kubectl or helm',
    check: oneOf(['auto', 'kubectl', 'helm'] as const),
  },
  deployment: {
    default: 'md-core',
    accepted: 'a Deployment name',
    check: regex(DNS1123_SUBDOMAIN, 'it must be a DNS-1123 subdomain such as md-core'),
  },
  container: {
    default: 'md-core',
    accepted: 'a container name',
    check: regex(DNS1123_LABEL, 'it must be a DNS-1123 label such as md-core'),
  },
  image: {
    default: 'opswat/metadefendercore-debian',
    accepted: 'an image repository without tag or digest, e.g. opswat/metadefendercore-debian',
    check: (v: string) => {
      const p = imageProblem(v);
      return p ? bad(p) : ok(v);
    },
  },
  release: {
    default: '',
    accepted: 'a Helm release name',
    check: optional(
      regex(
        HELM_RELEASE,
        'it must be a Helm release name: lower-case a-z, 0-9 and "-", at most 53 characters',
      ),
    ),
  },
  chart: {
    default: '',
    accepted: 'a chart path or repository reference',
    check: optional((v: string) =>
      v.startsWith('-')
        ? bad('it begins with "-", so helm would read it as an option; write a path as ./' + show(v))
        : noControl('chart reference')(v),
    ),
  },
  'chart-version': {
    default: '',
    accepted: 'a chart version such as 5.20.0',
    check: optional(regex(SEMVER_ISH, 'it must be a chart version such as 5.20.0 or a range such as ~5.20')),
  },
  'values-files': { default: '', accepted: 'one values file path per line', check: valuesFiles },
  set: { default: '', accepted: 'one key=value per line', check: setLines },
  'set-secret': {
    default: '',
    accepted: 'one key=value per line (secret values)',
    check: setLines,
  },
  'upgrade-db': { default: 'true', accepted: 'true or false', check: bool },
  'from-db-name': {
    default: '',
    accepted: 'a PostgreSQL database name',
    check: optional(
      regex(
        /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/,
        'it must be a database name: letters, digits and _, at most 63',
      ),
    ),
  },
  'retry-upgrade': { default: '', accepted: 'a whole number from 1 to 100', check: optional(retryUpgrade) },
  'max-surge': { default: '', accepted: 'a whole number or a percentage', check: optional(intOrPercent) },
  'max-unavailable': {
    default: '',
    accepted: 'a whole number or a percentage',
    check: optional(intOrPercent),
  },
  timeout: { default: '15m', accepted: 'a duration such as 900, 900s, 15m or 1h30m', check: duration },
  'migration-timeout': { default: '2h', accepted: 'a duration such as 2h', check: duration },
  'image-pull-grace': { default: '120', accepted: 'a duration such as 0, 120 or 2m', check: pullGrace },
  rollback: {
    default: 'auto',
    accepted: 'auto, rollout-undo, helm-rollback or none',
    check: oneOf(['auto', 'rollout-undo', 'helm-rollback', 'none'] as const),
  },
  kubeconfig: { default: '', accepted: 'the content of a kubeconfig file', check: secret },
  context: { default: '', accepted: 'a kubeconfig context name', check: optional(noControl('context name')) },
  'kubectl-version': {
    default: DEFAULT_KUBECTL_VERSION,
    accepted: 'stable, latest, a minor such as 1.34 or an exact version such as 1.36.3',
    check: regex(
      KUBECTL_VERSION,
      'it must be stable, latest, a minor such as 1.34 or an exact version such as 1.36.3',
    ),
  },
  'helm-version': {
    default: DEFAULT_HELM_VERSION,
    accepted: 'latest, 3, 4 or an exact version such as 3.22.0',
    check: regex(HELM_VERSION, 'it must be latest, 3, 4 or an exact version such as 3.22.0'),
  },
  'tools-mirror': { default: '', accepted: 'an http(s) base URL', check: optional(url) },
  'path-tools': {
    default: 'verify',
    accepted: 'verify, trust or ignore',
    check: oneOf(['verify', 'trust', 'ignore'] as const),
  },
  'license-key': { default: '', accepted: 'the MD Core license key', check: secret },
  'api-url': {
    default: '',
    accepted: 'the MD Core REST base URL, e.g. http://md-core:8008',
    check: optional(url),
  },
  'api-key': { default: '', accepted: 'the MD Core admin API key', check: secret },
  'config-password': { default: '', accepted: 'the configuration archive password', check: secret },
  'allow-insecure-http': { default: 'false', accepted: 'true or false', check: bool },
  'dry-run': { default: 'false', accepted: 'true or false', check: bool },
  force: { default: 'false', accepted: 'true or false', check: bool },
  'allow-postgres-without-volume': { default: 'false', accepted: 'true or false', check: bool },
  strict: { default: 'false', accepted: 'true or false', check: bool },
  'db-free-space': {
    default: 'auto',
    accepted: 'auto, skip, or the space the migration needs such as 20Gi',
    check: (v: string) => {
      const l = v.toLowerCase();
      if (l === 'auto' || l === 'skip') return ok(l as 'auto' | 'skip');
      const b = parseQuantity(v);
      return b === undefined ? bad('it must be auto, skip, or a size such as 500Mi, 20Gi or 1Ti') : ok(b);
    },
  },
  verify: { default: 'fail', accepted: 'fail, warn or off', check: oneOf(['fail', 'warn', 'off'] as const) },
  'verify-engines': { default: 'false', accepted: 'true or false', check: bool },
  'verify-license': { default: 'false', accepted: 'true or false', check: bool },
  'verify-scan': { default: 'false', accepted: 'true or false', check: bool },
  'export-dir': { default: '', accepted: 'a directory path', check: optional(noControl('directory path')) },
  service: {
    default: '',
    accepted: 'a Service name (DNS-1123 label)',
    check: optional(regex(DNS1123_LABEL, 'it must be a DNS-1123 label such as md-core')),
  },
  'green-replicas': {
    default: '',
    accepted: 'a whole number from 1 to 100',
    check: optional((v: string) =>
      /^\d{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= 100
        ? ok(Number(v))
        : bad('it must be a whole number from 1 to 100'),
    ),
  },
  activations: {
    default: '',
    accepted: 'a whole number from 1 to 10000',
    check: optional((v: string) =>
      /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 10000
        ? ok(Number(v))
        : bad('it must be a whole number from 1 to 10000 (the licensed activations md-core may use)'),
    ),
  },
  'scale-down-delay': {
    default: '60',
    accepted: 'a duration such as 0, 60 or 5m',
    check: durationUpTo1h('blue goes right after the switch'),
  },
  'green-api-url': {
    default: '',
    accepted: "proxy, or the REST base URL of green's pods, e.g. http://{preview}.{namespace}.svc:8008",
    check: optional((v: string) => {
      if (v === GREEN_VIA_PROXY) return ok(v);
      const r = url(fillGreenUrl(v, SAMPLE_GREEN_NAMES));
      return 'problem' in r ? r : ok(v);
    }),
  },
  rehearsal: { default: 'false', accepted: 'true or false', check: bool },
  'baseline-tag': {
    default: '',
    accepted: 'the image tag production runs, such as 5.19.0',
    check: optional(regex(TAG, 'it must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}, for example 5.19.0')),
  },
  'baseline-from': {
    default: '',
    accepted:
      "the production Deployment to read the baseline tag from: <context>/<namespace>/<deployment>, or <namespace>/<deployment> in staging's context",
    check: optional(baselineFrom),
  },
  'rehearsal-restore': { default: 'true', accepted: 'true or false', check: bool },
  'rehearsal-report': {
    default: '',
    accepted: 'a file path (default: a file in the runner temp directory)',
    check: optional(noControl('file path')),
  },
  'rehearsal-history': { default: '10', accepted: 'a whole number from 1 to 100', check: historyLength },
} as const satisfies Record<string, FieldSpec<unknown>>;

export type InputName = keyof typeof INPUT_SPECS;
/** The inputs only the blue-green strategy reads: given with another strategy they are refused, not ignored. */
const BLUE_GREEN_INPUTS = [
  'service',
  'green-replicas',
  'activations',
  'scale-down-delay',
  'green-api-url',
] as const;

/** What blue-green cannot do, refused before any contact. */
function blueGreenProblems(v: {
  method: string;
  'migrate-history': boolean;
}): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  if (v['migrate-history'])
    out.push({
      path: ['migrate-history'],
      message:
        "input 'migrate-history' cannot be combined with 'strategy' blue-green: MIGRATE_HISTORY stops every pod, which blue-green exists to avoid; use strategy rolling-update for it",
    });
  return out;
}
/** What blue-green-hot-backup needs besides blue-green's inputs: a way to reach each green instance. */
function hotBackupProblems(v: {
  'green-api-url'?: string | undefined;
  'api-url'?: string | undefined;
  'config-password'?: string | undefined;
}): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  const given = v['green-api-url'] ?? '';
  if (!addressesInstances(given))
    out.push({
      path: ['green-api-url'],
      message: `input 'green-api-url' must address each green instance when 'strategy' is blue-green-hot-backup (every pod is registered as hot backup, then activated, one by one): give a template with {pod-ip} or {pod}, e.g. http://{pod-ip}:8008${given ? `; "${given}" names neither` : ''}`,
    });
  if (v['config-password'] && !v['api-url'])
    out.push({
      path: ['api-url'],
      message:
        "input 'config-password' with 'strategy' blue-green-hot-backup exports blue's configuration through 'api-url' (then imports it into green): give 'api-url', or leave 'config-password' out",
    });
  return out;
}

/**
 * `baseline-from`: the Deployment is the last part, the namespace the one before it, the context everything
 * before that (context names may contain `/`, e.g. EKS ARNs); without a context, staging's is read.
 */
function baselineFrom(v: string): { value: BaselineSource } | { problem: string } {
  const parts = v.split('/');
  if (parts.length < 2)
    return bad(
      'it must be <context>/<namespace>/<deployment> or <namespace>/<deployment>, for example production/prod/md-core',
    );
  const deployment = parts.at(-1) ?? '';
  const namespace = parts.at(-2) ?? '';
  const context = parts.length > 2 ? parts.slice(0, -2).join('/') : undefined;
  if (context === '') return bad('the context part (before <namespace>/<deployment>) is empty');
  const contextCheck = context === undefined ? undefined : noControl('context name')(context);
  if (contextCheck && 'problem' in contextCheck) return bad(`the context part: ${contextCheck.problem}`);
  if (!DNS1123_LABEL.test(namespace))
    return bad(`the namespace part "${show(namespace)}" is not a valid namespace name`);
  if (!DNS1123_SUBDOMAIN.test(deployment))
    return bad(`the deployment part "${show(deployment)}" is not a valid Deployment name`);
  return ok({ context, namespace, deployment });
}

/** Rehearsal inputs that only mean something with `rehearsal: true`: given without it they are refused. */
const REHEARSAL_INPUTS = ['baseline-tag', 'baseline-from', 'rehearsal-report'] as const;

/** What a rehearsal needs, and the combinations not built yet, refused before any contact. */
export function rehearsalProblems(v: {
  rehearsal: boolean;
  'baseline-tag': string | undefined;
  'baseline-from': BaselineSource | undefined;
  'rehearsal-report': string | undefined;
  tag: string;
  strategy: string;
  namespace: string;
  deployment: string;
  context: string | undefined;
  rollback: string;
  'dry-run': boolean;
}): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  if (!v.rehearsal) {
    for (const name of REHEARSAL_INPUTS)
      if (v[name])
        out.push({
          path: [name],
          message: `input '${name}' applies to 'rehearsal' true only; 'rehearsal' is false`,
        });
    return out;
  }
  const from = v['baseline-from'];
  if (v['baseline-tag'] && from)
    out.push({
      path: ['baseline-from'],
      message:
        "inputs 'baseline-tag' and 'baseline-from' cannot be combined: give the tag production runs, or the production Deployment to read it from, not both",
    });
  else if (!v['baseline-tag'] && !from)
    out.push({
      path: ['baseline-tag'],
      message:
        "input 'baseline-tag' or 'baseline-from' is required when 'rehearsal' is true: give the tag production runs, or the production Deployment to read it from as baseline-from: <context>/<namespace>/<deployment>",
    });
  else if (
    from &&
    from.namespace === v.namespace &&
    from.deployment === v.deployment &&
    (from.context === undefined || from.context === v.context)
  )
    out.push({
      path: ['baseline-from'],
      message: `input 'baseline-from' names staging's own Deployment (${v.namespace}/${v.deployment}): give production's, which the rehearsal reads and never changes`,
    });
  else if (v['baseline-tag'] === v.tag)
    out.push({
      path: ['baseline-tag'],
      message: `input 'baseline-tag' is the same as 'tag' (${v.tag}): a rehearsal needs a different target to upgrade to`,
    });
  if (v.rollback === 'none')
    out.push({
      path: ['rollback'],
      message:
        "inputs 'rehearsal' and 'rollback' none cannot be combined: a rehearsal leaves staging on the baseline whatever happens",
    });
  if (v['dry-run'])
    out.push({
      path: ['dry-run'],
      message: "inputs 'rehearsal' and 'dry-run' cannot be combined: a rehearsal exists to make the changes",
    });
  return out;
}

export const INPUT_NAMES = Object.keys(INPUT_SPECS) as InputName[];
const REQUIRED: readonly InputName[] = ['namespace', 'tag'];
const isSecret = (name: string): boolean => (SECRET_INPUTS as readonly string[]).includes(name);

type Checked = { [K in InputName]: (typeof INPUT_SPECS)[K]['check'] extends Check<infer T> ? T : never };

/** zod carries the whole object through one schema so every problem is collected in one pass. */
const schema = z
  .object(
    Object.fromEntries(
      INPUT_NAMES.map((name) => {
        const spec: FieldSpec<unknown> = INPUT_SPECS[name];
        return [
          name,
          z.string().transform((raw, ctx) => {
            const value = isSecret(name) ? raw : raw.trim();
            if (value === '' && REQUIRED.includes(name)) {
              ctx.addIssue({ code: 'custom', message: `input '${name}' is required: give ${spec.accepted}` });
              return z.NEVER;
            }
            const res = spec.check(value === '' ? spec.default : value);
            if ('problem' in res) {
              const echo = NO_ECHO.includes(name) ? '' : ` "${show(value)}"`;
              ctx.addIssue({
                code: 'custom',
                message: `input '${name}'${echo} is not valid: ${res.problem}`,
              });
              return z.NEVER;
            }
            return res.value;
          }),
        ];
      }),
    ),
  )
  .transform((v) => v as unknown as Checked)
  .superRefine((v, ctx) => {
    if (isZero(v['max-surge']) && isZero(v['max-unavailable'])) {
      ctx.addIssue({
        code: 'custom',
        path: ['max-unavailable'],
        message:
          "inputs 'max-surge' and 'max-unavailable' cannot both be zero: the rollout could never progress",
      });
    }
    if (v['migrate-history'] && v['migration-timeout'] < v.timeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['migration-timeout'],
        message:
          "input 'migration-timeout' must not be shorter than 'timeout' when 'migrate-history' is true",
      });
    }
    if (v.strategy === 'blue-green' || v.strategy === 'blue-green-hot-backup') {
      for (const problem of blueGreenProblems(v)) ctx.addIssue({ code: 'custom', ...problem });
      if (v.strategy === 'blue-green-hot-backup')
        for (const problem of hotBackupProblems(v)) ctx.addIssue({ code: 'custom', ...problem });
    } else {
      for (const name of BLUE_GREEN_INPUTS) {
        // scale-down-delay always has a value (its default): only a different one was given on purpose.
        if (v[name] !== undefined && !(name === 'scale-down-delay' && v[name] === 60)) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `input '${name}' applies to 'strategy' blue-green only; 'strategy' is ${v.strategy}`,
          });
        }
      }
    }
    for (const problem of rehearsalProblems(v)) ctx.addIssue({ code: 'custom', ...problem });
    if (v.strategy === 'export-import' && !v['config-password']) {
      ctx.addIssue({
        code: 'custom',
        path: ['config-password'],
        message:
          "input 'config-password' is required when 'strategy' is export-import: the export archive is encrypted with it",
      });
    }
    if (v.method === 'kubectl' && v.rollback === 'helm-rollback') {
      ctx.addIssue({
        code: 'custom',
        path: ['rollback'],
        message: "input 'rollback' helm-rollback needs 'method' helm (or auto on a helm-managed Deployment)",
      });
    }
    if (
      v.method === 'kubectl' &&
      (v.chart || v['chart-version'] || v['values-files'].length || v.set.length || v['set-secret'].length)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['method'],
        message:
          "inputs 'chart', 'chart-version', 'values-files', 'set' and 'set-secret' apply to the helm route; 'method' is kubectl",
      });
    }
    for (const name of ['api-url', 'tools-mirror', 'green-api-url'] as const) {
      const given =
        name !== 'green-api-url' || !v[name]
          ? v[name]
          : v[name] === GREEN_VIA_PROXY
            ? undefined
            : fillGreenUrl(v[name], SAMPLE_GREEN_NAMES);
      const problem = given ? insecureHttpProblem(name, given, v['allow-insecure-http']) : undefined;
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
    const secretSet = [
      ...v['set-secret'],
      ...(v['license-key'] ? [{ key: LICENSE_VALUE_KEY, value: v['license-key'] }] : []),
    ];
    const tree = valuesTree(secretSet);
    if ('problems' in tree) {
      for (const p of tree.problems) {
        ctx.addIssue({
          code: 'custom',
          path: ['set-secret'],
          message:
            p.key === LICENSE_VALUE_KEY
              ? `input 'set-secret' sets ${LICENSE_VALUE_KEY}, which the 'license-key' input already sets: give the key in one of them`
              : `input 'set-secret' key "${p.key}": ${p.problem}`,
        });
      }
    }
  });

/** The chart's value holding the license key (the helm route writes it to the secret values file). */
export const LICENSE_VALUE_KEY = 'mdcore_license_key';

/**
 * Every piece of an input's raw value that must be masked from the moment it is read: the whole value of a
 * secret input, each value (and line) of `set-secret`, the password or token in a `tools-mirror` URL.
 */
export function secretsOfInput(name: string, raw: string): string[] {
  if (raw === '') return [];
  if (name === 'set-secret') {
    const out = [raw];
    for (const { text } of numberedLines(raw)) {
      out.push(text);
      const eq = text.indexOf('=');
      if (eq >= 0) out.push(text.slice(eq + 1));
    }
    return out;
  }
  if ((SECRET_INPUTS as readonly string[]).includes(name)) return [raw];
  if (name === 'tools-mirror') {
    // Not a parse: the raw text may not be a valid URL yet, and still hold a token.
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*)@/i.exec(raw.trim());
    if (!m?.[1]) return [];
    const [user = '', pass = ''] = m[1].split(':');
    return [m[1], user, pass, safeDecode(user), safeDecode(pass)].filter((s) => s !== '');
  }
  return [];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface ParseOptions {
  /**
   * How values files are checked; default the local disk with GITHUB_WORKSPACE (else the working directory)
   * as the workspace. false skips the check (the post step: the main step checked them, and a file removed
   * since must not stop the recovery).
   */
  readonly files?: FileAccess | false;
}

export function parseInputs(raw: RawInputs, options: ParseOptions = {}): ParseResult {
  const normalized = Object.fromEntries(INPUT_NAMES.map((n) => [n, raw[n] ?? '']));
  const unknown = Object.keys(raw).filter((k) => !(INPUT_NAMES as string[]).includes(k));
  const res = schema.safeParse(normalized);
  const errors: InputError[] = unknown.map((k) => ({
    input: k,
    message: `input '${k}' is not known: see action.yml for the accepted inputs`,
  }));
  if (!res.success) {
    for (const issue of res.error.issues) {
      errors.push({ input: String(issue.path[0] ?? ''), message: issue.message });
    }
  }
  // Checked even when other inputs are wrong, so one run reports every problem.
  const listed = valuesFiles(normalized['values-files']?.trim() ?? '');
  if (options.files !== false && 'value' in listed && listed.value.length > 0) {
    const files = options.files ?? localFiles();
    for (const file of listed.value) {
      const problem = valuesFileProblem(file, files);
      if (problem) errors.push({ input: 'values-files', message: `input 'values-files': ${problem}` });
    }
  }
  if (errors.length > 0 || !res.success) return { ok: false, errors };
  const v = res.data;
  const plan: Plan = Object.freeze({
    namespace: v.namespace,
    tag: v.tag,
    image: v.image,
    strategy: v.strategy,
    method: v.method,
    migrateHistory: v['migrate-history'],
    deployment: v.deployment,
    container: v.container,
    release: v.release,
    chart: v.chart,
    chartVersion: v['chart-version'],
    valuesFiles: Object.freeze(v['values-files']),
    set: Object.freeze(v.set),
    setSecret: Object.freeze(v['set-secret']),
    upgradeDb: v['upgrade-db'],
    fromDbName: v['from-db-name'],
    retryUpgrade: v['retry-upgrade'],
    maxSurge: v['max-surge'],
    maxUnavailable: v['max-unavailable'],
    timeoutSeconds: v.timeout,
    migrationTimeoutSeconds: v['migration-timeout'],
    imagePullGraceSeconds: v['image-pull-grace'],
    rollback: v.rollback,
    kubeconfig: v.kubeconfig || undefined,
    context: v.context,
    kubectlVersion: v['kubectl-version'].replace(/^v/, ''),
    helmVersion: v['helm-version'].replace(/^v/, ''),
    toolsMirror: v['tools-mirror'],
    pathTools: v['path-tools'],
    licenseKey: v['license-key'] || undefined,
    apiUrl: v['api-url'],
    apiKey: v['api-key'] || undefined,
    configPassword: v['config-password'] || undefined,
    allowInsecureHttp: v['allow-insecure-http'],
    dryRun: v['dry-run'],
    force: v.force,
    allowPostgresWithoutVolume: v['allow-postgres-without-volume'],
    strict: v.strict,
    dbFreeSpace: v['db-free-space'],
    verify: v.verify,
    verifyEngines: v['verify-engines'],
    verifyLicense: v['verify-license'],
    verifyScan: v['verify-scan'],
    exportDir: v['export-dir'],
    service: v.service,
    greenReplicas: v['green-replicas'],
    activations: v.activations,
    scaleDownDelaySeconds: v['scale-down-delay'],
    greenApiUrl: v['green-api-url'],
    rehearsal: v.rehearsal
      ? {
          baselineTag: v['baseline-tag'],
          baselineFrom: v['baseline-from'],
          restore: v['rehearsal-restore'],
          reportPath: v['rehearsal-report'],
          history: v['rehearsal-history'],
        }
      : undefined,
  });
  return { ok: true, plan };
}

/** One message listing every problem, for a single error annotation. */
export function formatInputErrors(errors: readonly InputError[]): string {
  const noun = errors.length === 1 ? 'input is' : 'inputs are';
  return `${errors.length} ${noun} not valid; nothing in the cluster was changed:\n${errors.map((e) => `- ${e.message}`).join('\n')}`;
}
