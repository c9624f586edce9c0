// The Plan: one typed, validated, immutable description of the upgrade that every later step reads.

export type Strategy = 'rolling-update' | 'export-import' | 'blue-green' | 'blue-green-hot-backup';
export type Method = 'auto' | 'kubectl' | 'helm';
export type RollbackMode = 'auto' | 'rollout-undo' | 'helm-rollback' | 'none';

/** An integer (pods) or a percentage, as Kubernetes' IntOrString accepts for maxSurge/maxUnavailable. */
export type IntOrPercent = number | `${number}%`;

export interface HelmSetting {
  readonly key: string;
  readonly value: string;
}

export interface Plan {
  readonly namespace: string;
  readonly tag: string;
  readonly image: string;
  readonly strategy: Strategy;
  readonly method: Method;
  readonly migrateHistory: boolean;
  readonly deployment: string;
  readonly container: string;
  readonly release: string | undefined;
  readonly chart: string | undefined;
  readonly chartVersion: string | undefined;
  readonly valuesFiles: readonly string[];
  readonly set: readonly HelmSetting[];
  /** Helm route: `key=value` settings whose values are secrets: written to a 0600 values file, never on argv. */
  readonly setSecret: readonly HelmSetting[];
  readonly upgradeDb: boolean;
  readonly fromDbName: string | undefined;
  readonly retryUpgrade: number | undefined;
  readonly maxSurge: IntOrPercent | undefined;
  readonly maxUnavailable: IntOrPercent | undefined;
  readonly timeoutSeconds: number;
  readonly migrationTimeoutSeconds: number;
  /** How long a transient image-pull error (rate limit, timeout, 5xx) may last before the rollout fails. */
  readonly imagePullGraceSeconds: number;
  readonly rollback: RollbackMode;
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  readonly kubectlVersion: string;
  readonly helmVersion: string;
  readonly toolsMirror: string | undefined;
  /**
   * A kubectl/helm of the right version on PATH: 'verify' against the official checksum, 'trust' as is (no
   * request; reported as unverified), 'ignore' (always the tool cache or a verified download).
   */
  readonly pathTools: 'verify' | 'trust' | 'ignore';
  readonly licenseKey: string | undefined;
  readonly apiUrl: string | undefined;
  readonly apiKey: string | undefined;
  readonly configPassword: string | undefined;
  /** Allow plain http:// for api-url and tools-mirror beyond loopback and cluster-internal names. */
  readonly allowInsecureHttp: boolean;
  readonly dryRun: boolean;
  readonly force: boolean;
  /** Helm route: allow a chart change that leaves postgres-core without its data volume. */
  readonly allowPostgresWithoutVolume: boolean;
  /** Helm route: refuse when the release would change anything besides md-core's image and the variables. */
  readonly strict: boolean;
  /** MIGRATE_HISTORY free-space check: 'auto' (measure where possible), 'skip', or the expected need in bytes. */
  readonly dbFreeSpace: 'auto' | 'skip' | number;
  /** What a failed post-upgrade verification does. */
  readonly verify: 'fail' | 'warn' | 'off';
  readonly verifyEngines: boolean;
  readonly verifyLicense: boolean;
  /** Also scan the EICAR test file and a clean file, expecting infected and clean verdicts. */
  readonly verifyScan: boolean;
  /** Where the configuration export is written (export-import); default the runner's temp directory. */
  readonly exportDir: string | undefined;
  /** Blue-green: the Service whose selector is switched; default the one Service that selects blue's pods. */
  readonly service: string | undefined;
  /** Blue-green: green's pod count; default blue's. */
  readonly greenReplicas: number | undefined;
  /** Blue-green: licensed activations available to md-core (checked against the peak pod count). */
  readonly activations: number | undefined;
  /** Blue-green: how long blue keeps running after the switch before it is scaled to 0. */
  readonly scaleDownDelaySeconds: number;
  /** Blue-green: the REST base URL that reaches green's pods, to verify green before traffic moves. */
  readonly greenApiUrl: string | undefined;
  /** Set with `rehearsal: true`: the upgrade is rehearsed from the baseline and (by default) rolled back. */
  readonly rehearsal?: RehearsalPlan | undefined;
}

export interface RehearsalPlan {
  /** The tag production runs: staging is brought there first and left there afterwards. */
  readonly baselineTag: string | undefined;
  /** Or the production Deployment the baseline tag is read from (read only, never changed): `baseline-from`. */
  readonly baselineFrom: BaselineSource | undefined;
  /** Roll back to the baseline after the upgrade (false: staging stays on the target). */
  readonly restore: boolean;
  /** Where the JSON report goes; default a file in the runner's temp directory. */
  readonly reportPath: string | undefined;
  /** How many results the history ConfigMap keeps. */
  readonly history: number;
}

/** A Deployment in another namespace (and possibly another kubeconfig context) that the run only reads. */
export interface BaselineSource {
  /** undefined: the context staging is reached through. */
  readonly context: string | undefined;
  readonly namespace: string;
  readonly deployment: string;
}

/** The image reference the upgrade moves to. */
export function targetImage(plan: Pick<Plan, 'image' | 'tag'>): string {
  return `${plan.image}:${plan.tag}`;
}

/** How long the rollout may take to become ready: a MIGRATE_HISTORY migration gets migration-timeout. */
export function waitSeconds(
  plan: Pick<Plan, 'migrateHistory' | 'migrationTimeoutSeconds' | 'timeoutSeconds'>,
): number {
  return plan.migrateHistory ? plan.migrationTimeoutSeconds : plan.timeoutSeconds;
}
