// The `helm upgrade` command line of the helm route, built in one pure function so the render the guards check
// (`--dry-run=server`) and the upgrade that follows differ only in that flag.
//
// Why neither `--wait` nor `--atomic` (Helm 3) / `--rollback-on-failure` (Helm 4):
// - Helm 3's `--wait` polls every 2 s and counts a Deployment ready at `replicas - maxUnavailable`, so with
//   maxUnavailable 1 it can report success before any new md-core pod is ready; it knows nothing of
//   CrashLoopBackOff or image pull failures and just waits for `--timeout`.
// - Helm 4 renamed `--atomic` to `--rollback-on-failure`; its default wait mode (`hookOnly`) does not wait for
//   pods at all, and `--rollback-on-failure` switches `--wait` to `watcher`, which again only ends at its timeout.
// - Both roll back by themselves inside the helm process: the journal would not know, a cancelled job would leave
//   the release half-way, and the summary could not say which pod failed and why.
// So helm only applies the change; the engine watches the rollout with the same watcher as the kubectl route
// (failing early on pod reasons) and rolls back with `helm rollback <release> <recorded revision>` itself.
import { valuesTree } from '../plan/helm-values.ts';
import { LICENSE_VALUE_KEY } from '../plan/inputs.ts';
import type { HelmSetting, IntOrPercent, Plan } from '../plan/plan.ts';
import { targetImage } from '../plan/plan.ts';
import type { HelmFeatures } from '../tools/helm.ts';

/** The chart's value key of md-core's full image reference (repository:tag), as the real chart has it. */
export const IMAGE_KEY = 'core_components.md-core.image';
export const STRATEGY_KEY = 'core_components.md-core.strategy.rollingUpdate';
export const STARTUP_PROBE_KEY = 'core_components.md-core.startupProbe';
/** Values map rendered into ConfigMap `<release>-config`, md-core's last envFrom source. */
export const ENV_KEY = 'env';
export const LICENSE_VALUE = LICENSE_VALUE_KEY;

export interface UpgradeArgsInput {
  readonly plan: Pick<Plan, 'namespace' | 'tag' | 'image' | 'chartVersion' | 'valuesFiles' | 'set'>;
  readonly release: string;
  /** Chart path or repository reference. */
  readonly chart: string;
  /** Send `--version` (repository references only: a local chart has just the version it has). */
  readonly sendVersion: boolean;
  readonly kubeconfigFile: string;
  readonly features: HelmFeatures;
  /** Helm 4 and a release applied server-side (see HelmFeatures.forceConflicts). */
  readonly forceConflicts: boolean;
  /** Upgrade variables (name → value), set as strings under `env.`. */
  readonly env: Readonly<Record<string, string>>;
  /** The temp values file holding secret values (never on the command line); undefined when there is none. */
  readonly secretValuesFile: string | undefined;
  /** Recorded in the release history. */
  readonly description: string;
  /** md-core's rollingUpdate from the max-surge / max-unavailable inputs (both keys, as the kubectl route sets them). */
  readonly rolling: { readonly maxSurge?: IntOrPercent; readonly maxUnavailable?: IntOrPercent } | undefined;
  /** MIGRATE_HISTORY: the startup probe that holds the liveness probe off during the migration. */
  readonly startupProbe: object | undefined;
}

/** Escapes a value for --set / --set-string, where `,` separates assignments and `\` escapes. */
export function escapeSetValue(value: string): string {
  return value.replace(/[\\,]/g, (c) => `\\${c}`);
}

function strategyArgs(name: 'maxSurge' | 'maxUnavailable', v: IntOrPercent | undefined): string[] {
  if (v === undefined) return [];
  // An integer must stay an integer (Kubernetes reads the string "1" as an invalid percentage).
  return typeof v === 'number'
    ? ['--set', `${STRATEGY_KEY}.${name}=${v}`]
    : ['--set-string', `${STRATEGY_KEY}.${name}=${escapeSetValue(v)}`];
}

function userSet(s: HelmSetting): string[] {
  // The user wrote key=value for helm's --set: passed as written.
  return ['--set', `${s.key}=${s.value}`];
}

/**
 * `helm upgrade` arguments. Value precedence in helm is by kind, not by position: values files (lowest), then
 * --set-json, then --set, then --set-string. So the user's files and the secret file come first, the user's `set`
 * lines next, and the image and the upgrade variables last as --set-string (they are the point of the run and
 * must win). The migration's startup probe is --set-json (a whole object).
 */
export function buildUpgradeArgs(i: UpgradeArgsInput): string[] {
  const f = i.features;
  // Input parsing refuses these already; a positional that begins with "-" would be read by helm as an option.
  for (const [what, value] of [
    ['release', i.release],
    ['chart', i.chart],
  ] as const) {
    if (value === '' || value.startsWith('-')) {
      throw new Error(
        `the helm ${what} "${value}" is empty or begins with "-", which helm would read as an option. Nothing in the cluster was changed.`,
      );
    }
  }
  const args = [
    'upgrade',
    i.release,
    i.chart,
    '--namespace',
    i.plan.namespace,
    '--kubeconfig',
    i.kubeconfigFile,
  ];
  if (i.sendVersion && i.plan.chartVersion) args.push('--version', i.plan.chartVersion);
  args.push(f.resetThenReuseValues ? '--reset-then-reuse-values' : '--reuse-values');
  if (f.forceConflicts && i.forceConflicts) args.push('--force-conflicts');
  args.push('--description', i.description);
  for (const file of i.plan.valuesFiles) args.push('-f', file);
  if (i.secretValuesFile) args.push('-f', i.secretValuesFile);
  for (const s of i.plan.set) args.push(...userSet(s));
  args.push(...strategyArgs('maxSurge', i.rolling?.maxSurge));
  args.push(...strategyArgs('maxUnavailable', i.rolling?.maxUnavailable));
  if (i.startupProbe) args.push('--set-json', `${STARTUP_PROBE_KEY}=${JSON.stringify(i.startupProbe)}`);
  args.push('--set-string', `${IMAGE_KEY}=${escapeSetValue(targetImage(i.plan))}`);
  for (const [k, v] of Object.entries(i.env)) {
    args.push('--set-string', `${ENV_KEY}.${k}=${escapeSetValue(v)}`);
  }
  return args;
}

/** The render the guards check: the same upgrade, simulated with the cluster's lookups, printed as JSON. */
export function dryRunArgs(upgradeArgs: readonly string[]): string[] {
  return [...upgradeArgs, '--dry-run=server', '-o', 'json'];
}

/**
 * Contents of the secret values file: only values the user gave as masked inputs (`license-key` and the
 * `set-secret` lines, every value a string). Input parsing already refused overlapping paths.
 */
export function secretValues(
  plan: Pick<Plan, 'licenseKey' | 'setSecret'>,
): Record<string, unknown> | undefined {
  const settings = [
    ...plan.setSecret,
    ...(plan.licenseKey ? [{ key: LICENSE_VALUE, value: plan.licenseKey }] : []),
  ];
  if (settings.length === 0) return undefined;
  const t = valuesTree(settings);
  if ('problems' in t) {
    throw new Error(
      `input 'set-secret': ${t.problems.map((p) => `key "${p.key}": ${p.problem}`).join('; ')}. Nothing in the cluster was changed.`,
    );
  }
  return t.tree;
}
