// The helm route's guards on a render of exactly the planned upgrade (helm upgrade --dry-run=server): the
// license key, the in-cluster database's data volume, the variables that really reach md-core, its image, and
// everything else the upgrade would change. Any refusal here happens before anything is changed.
import { describeSource, effectiveEnv, type EnvChange } from '../cluster/effective-env.ts';
import type { RunContext } from '../engine/context.ts';
import type { HelmSummary } from '../engine/outcome.ts';
import type { StepHandle } from '../engine/timeline.ts';
import { targetImage } from '../plan/plan.ts';
import { configMapData } from './configure-env.ts';
import { ENV_KEY, IMAGE_KEY } from './helm-args.ts';
import { getObject } from './helm-chart.ts';
import {
  compareManifests,
  databaseVolumeProblems,
  formatChange,
  isDatabaseWorkload,
  LICENSE_SECRET,
  licenseGuard,
  objectKey,
  plannedEnv,
  secretsToMask,
  secretValues as decodedSecret,
  type K8sObject,
  type PathSegment,
} from './helm-guards.ts';

function fail(message: string): never {
  throw new Error(`${message}\nNothing in the cluster was changed.`);
}

export interface RenderedUpgrade {
  readonly release: string;
  /** Objects of the planned render and of the release's current revision, by objectKey. */
  readonly planned: Map<string, K8sObject>;
  readonly current: Map<string, K8sObject>;
  readonly prepared: { readonly rolling: unknown; readonly startupProbe: unknown };
  readonly desired: Readonly<Record<string, string>>;
  readonly summary: HelmSummary;
}

export async function checkRenderedUpgrade(
  ctx: RunContext,
  r: RenderedUpgrade,
  step: StepHandle,
): Promise<void> {
  const { plan, state, reporter } = ctx;
  const { release, planned, current, prepared, desired, summary } = r;
  // Guard 1: the license key.
  const liveLicense = await getObject(ctx, 'secret', LICENSE_SECRET);
  for (const s of secretsToMask(liveLicense ? [liveLicense] : [])) reporter.secret(s);
  const lic = licenseGuard({
    rendered: decodedSecret(planned.get(objectKey('Secret', LICENSE_SECRET))),
    live: decodedSecret(liveLicense),
    asked: plan.licenseKey,
  });
  if (!lic.ok) fail(lic.message);
  for (const n of lic.notes) step.detail(n);

  // Guard 2: the database's data volume, judged against the live workloads (the manifest when not live).
  const dbBefore = new Map<string, K8sObject>();
  for (const [key, o] of current) {
    if (!isDatabaseWorkload(o)) continue;
    dbBefore.set(key, (await getObject(ctx, o.kind.toLowerCase(), o.metadata.name)) ?? o);
  }
  const dbProblems = databaseVolumeProblems(dbBefore, planned);
  if (dbProblems.length > 0) {
    if (!plan.allowPostgresWithoutVolume) {
      fail(
        `The upgrade would take the in-cluster database's data away:\n${dbProblems.map((p) => `  - ${p}`).join('\n')}\nChart 5.20.0 no longer mounts postgres-core's data directory by default. Keep it with values (e.g. set core_components.postgres-core.persistentDir=/var/lib/postgresql/data and core_components.postgres-core.storage_name=postgres-core, as chart 5.19.0 had), or, if the database really lives elsewhere, set 'allow-postgres-without-volume: true'.`,
      );
    }
    for (const p of dbProblems) {
      step.warn(`${p} (allowed by allow-postgres-without-volume)`);
      summary.notes.push(`${p} (allowed by allow-postgres-without-volume)`);
    }
  } else if (dbBefore.size > 0) {
    step.detail(`database data volume kept (${[...dbBefore.keys()].join(', ')})`);
  }

  // The variables that really arrive, and md-core's image.
  const envCheck = plannedEnv({
    planned,
    current,
    live: configMapData(state),
    deployment: ctx.target.deployment,
    container: ctx.target.container,
    desired,
  });
  if (!envCheck.container) fail(envCheck.problems.join('\n'));
  if (envCheck.container.image !== targetImage(plan)) {
    fail(
      `the planned release would run ${envCheck.container.image ?? 'no image'} in ${ctx.target.container}, not ${targetImage(plan)}: the chart does not take the image from ${IMAGE_KEY}, or a 'set' line or values file overrides it.`,
    );
  }
  ctx.outcome.env = envChanges(ctx, desired, envCheck.after);
  ctx.outcome.envWarnings = [];
  for (const c of ctx.outcome.env) step.detail(`${c.name}=${c.value}: ${c.why}`);
  if (envCheck.problems.length > 0) {
    fail(
      `the planned upgrade variables would not reach the new pods:\n${envCheck.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }

  // Guard 3: everything else that would change.
  const configName = `${release}-config`;
  const containerPath: PathSegment[] = [
    'spec',
    'template',
    'spec',
    'containers',
    { name: ctx.target.container },
  ];
  const asked = (object: string, p: readonly PathSegment[]): boolean =>
    (object === objectKey('Deployment', ctx.target.deployment) &&
      (same(p, [...containerPath, 'image']) ||
        (prepared.rolling !== undefined && startsWith(p, ['spec', 'strategy', 'rollingUpdate'])) ||
        (prepared.startupProbe !== undefined && startsWith(p, [...containerPath, 'startupProbe'])))) ||
    (object === objectKey('ConfigMap', configName) &&
      p.length === 2 &&
      p[0] === 'data' &&
      typeof p[1] === 'string' &&
      p[1] in desired) ||
    object === objectKey('Secret', LICENSE_SECRET);
  const changes = compareManifests(current, planned, asked).map(formatChange);
  // Helm sets every field the chart renders, so a Deployment scaled outside the chart (kubectl scale, KEDA)
  // goes back to the values' replicas: the manifests agree, only the live object shows it.
  const renderedReplicas = (
    planned.get(objectKey('Deployment', ctx.target.deployment))?.spec as { replicas?: number } | undefined
  )?.replicas;
  if (renderedReplicas !== undefined && renderedReplicas !== state.replicas) {
    changes.push(
      `${objectKey('Deployment', ctx.target.deployment)}: spec.replicas: ${state.replicas} (live) → ${renderedReplicas} (the chart's values); set core_components.md-core.replicas to keep the live count`,
    );
  }
  summary.changes = changes;
  if (changes.length > 0) {
    const list = changes.map((c) => `  - ${c}`).join('\n');
    if (plan.strict) {
      fail(
        `'strict' is true and the upgrade would change more than md-core's image and the upgrade variables:\n${list}\nReview these changes (they come from the chart or the values), then run without 'strict' or with values that keep them as they are.`,
      );
    }
    for (const c of changes) step.warn(`besides the image and the variables, the upgrade changes ${c}`);
  } else {
    step.detail('nothing else in the release changes');
  }
}

/** ConfigMaps whose data the upgrade changes: snapshotted before it, so `rollout-undo` can restore them too. */
export function configMapsChangedBy(
  current: ReadonlyMap<string, K8sObject>,
  planned: ReadonlyMap<string, K8sObject>,
): string[] {
  return [...new Set([...current.keys(), ...planned.keys()])]
    .filter((k) => k.startsWith('ConfigMap/'))
    .filter(
      (k) => JSON.stringify(current.get(k)?.data ?? null) !== JSON.stringify(planned.get(k)?.data ?? null),
    )
    .map((k) => k.slice('ConfigMap/'.length));
}

const same = (a: readonly PathSegment[], b: readonly PathSegment[]): boolean =>
  JSON.stringify(a) === JSON.stringify(b);
const startsWith = (p: readonly PathSegment[], prefix: readonly PathSegment[]): boolean =>
  p.length >= prefix.length && same(p.slice(0, prefix.length), prefix);

function envChanges(
  ctx: RunContext,
  desired: Readonly<Record<string, string>>,
  after: ReturnType<typeof plannedEnv>['after'],
): EnvChange[] {
  const before = effectiveEnv(ctx.state.container, configMapData(ctx.state));
  return Object.entries(desired).map(([name, value]) => {
    const b = before.get(name);
    const a = after.get(name);
    const src = a ? describeSource(a.source) : 'nowhere';
    if (b && b.value === value) {
      return {
        name,
        before: b,
        value,
        target: undefined,
        why: `already ${value}; helm value ${ENV_KEY}.${name} keeps it (${src})`,
      };
    }
    const target: EnvChange['target'] =
      a?.source.kind === 'envFrom-configmap'
        ? { kind: 'configMap', configMap: a.source.configMap, key: name.slice(a.source.prefix.length) }
        : a?.source.kind === 'env-configmap-key'
          ? { kind: 'configMap', configMap: a.source.configMap, key: a.source.key }
          : { kind: 'container-env' };
    return {
      name,
      before: b,
      value,
      target,
      why: `helm value ${ENV_KEY}.${name}; the new pods read it from ${src}`,
    };
  });
}
