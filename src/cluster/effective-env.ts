// What a container will really see in its environment, and which objects to change so that it sees what we
// plan. Kubernetes rules: envFrom sources in order, a later source wins; a container `env` entry beats every
// envFrom source. Pure: the caller supplies the ConfigMaps it read.
import type { V1Container } from '@kubernetes/client-node';

export type EnvSource =
  | { kind: 'env'; index: number }
  | { kind: 'env-configmap-key'; index: number; configMap: string; key: string }
  | { kind: 'env-secret-key'; index: number; secret: string; key: string }
  | { kind: 'env-field'; index: number; path: string }
  | { kind: 'envFrom-configmap'; index: number; configMap: string; prefix: string }
  | { kind: 'envFrom-secret'; index: number; secret: string; prefix: string };

export interface EffectiveVar {
  readonly name: string;
  /** undefined when the value comes from a Secret or a field reference, which we do not read. */
  readonly value: string | undefined;
  readonly source: EnvSource;
  /** Sources that also define the name but lose to `source`. */
  readonly shadowed: readonly EnvSource[];
}

/** ConfigMap data by name; undefined for a ConfigMap that does not exist. */
export type ConfigMapData = ReadonlyMap<string, Readonly<Record<string, string>> | undefined>;

export function describeSource(s: EnvSource): string {
  switch (s.kind) {
    case 'env':
      return 'container env (literal)';
    case 'env-configmap-key':
      return `container env from ConfigMap ${s.configMap} key ${s.key}`;
    case 'env-secret-key':
      return `container env from Secret ${s.secret} key ${s.key}`;
    case 'env-field':
      return `container env from field ${s.path}`;
    case 'envFrom-configmap':
      return `envFrom ConfigMap ${s.configMap} (source ${s.index + 1})`;
    case 'envFrom-secret':
      return `envFrom Secret ${s.secret} (source ${s.index + 1})`;
  }
}

/** Names of the ConfigMaps a container reads, in envFrom order, then env key references. */
export function referencedConfigMaps(container: V1Container): string[] {
  const names = new Set<string>();
  for (const f of container.envFrom ?? []) if (f.configMapRef?.name) names.add(f.configMapRef.name);
  for (const e of container.env ?? [])
    if (e.valueFrom?.configMapKeyRef?.name) names.add(e.valueFrom.configMapKeyRef.name);
  return [...names];
}

/** Envfrom Secrets whose keys we do not read: they could define one of our names. */
export function envFromSecrets(container: V1Container): string[] {
  return (container.envFrom ?? []).flatMap((f) => (f.secretRef?.name ? [f.secretRef.name] : []));
}

export function effectiveEnv(container: V1Container, configMaps: ConfigMapData): Map<string, EffectiveVar> {
  const out = new Map<string, { value: string | undefined; source: EnvSource; shadowed: EnvSource[] }>();
  const put = (name: string, value: string | undefined, source: EnvSource): void => {
    const prev = out.get(name);
    out.set(name, { value, source, shadowed: prev ? [...prev.shadowed, prev.source] : [] });
  };
  (container.envFrom ?? []).forEach((f, index) => {
    const prefix = f.prefix ?? '';
    if (f.configMapRef?.name) {
      const data = configMaps.get(f.configMapRef.name);
      for (const [k, v] of Object.entries(data ?? {})) {
        put(prefix + k, v, { kind: 'envFrom-configmap', index, configMap: f.configMapRef.name, prefix });
      }
    }
    // Secret keys are not read (no need for the permission, and their values must not be handled).
  });
  (container.env ?? []).forEach((e, index) => {
    const vf = e.valueFrom;
    if (!vf) put(e.name, e.value ?? '', { kind: 'env', index });
    else if (vf.configMapKeyRef) {
      const { name, key } = vf.configMapKeyRef;
      put(e.name, configMaps.get(name ?? '')?.[key], {
        kind: 'env-configmap-key',
        index,
        configMap: name ?? '',
        key,
      });
    } else if (vf.secretKeyRef) {
      put(e.name, undefined, {
        kind: 'env-secret-key',
        index,
        secret: vf.secretKeyRef.name ?? '',
        key: vf.secretKeyRef.key,
      });
    } else {
      const path = vf.fieldRef?.fieldPath ?? vf.resourceFieldRef?.resource ?? 'unknown';
      put(e.name, undefined, { kind: 'env-field', index, path });
    }
  });
  const result = new Map<string, EffectiveVar>();
  for (const [name, v] of out) result.set(name, { name, ...v });
  return result;
}

export type EnvTarget = { kind: 'configMap'; configMap: string; key: string } | { kind: 'container-env' };

export interface EnvChange {
  readonly name: string;
  readonly before: EffectiveVar | undefined;
  readonly value: string;
  /** undefined when the value is already what we plan. */
  readonly target: EnvTarget | undefined;
  readonly why: string;
}

export interface EnvPlan {
  readonly changes: readonly EnvChange[];
  /** Per ConfigMap, the keys to set. */
  readonly configMapPatches: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** The container's env list after our change, or undefined when it does not change. */
  readonly containerEnv: V1Container['env'] | undefined;
  /** What the new pods will see for each planned name, computed from the changed objects. */
  readonly after: ReadonlyMap<string, EffectiveVar>;
  readonly warnings: readonly string[];
}

/**
 * Decides where each planned variable must be written so the new pods see it: into the source that wins
 * today (so nothing else shadows it), into `preferredConfigMap` when no source defines it, or as a container
 * env entry when the winner is a Secret or field we must not rewrite. Then recomputes the effective env of
 * the changed objects and reports any name that would still not arrive.
 */
export function planEnv(
  container: V1Container,
  configMaps: ConfigMapData,
  desired: Readonly<Record<string, string>>,
  preferredConfigMap: string,
): EnvPlan {
  const current = effectiveEnv(container, configMaps);
  const patches = new Map<string, Record<string, string>>();
  let env = container.env ? container.env.map((e) => ({ ...e })) : undefined;
  let envChanged = false;
  const warnings: string[] = [];
  const changes: EnvChange[] = [];
  const preferredIsSource = (container.envFrom ?? []).some(
    (f) =>
      f.configMapRef?.name === preferredConfigMap &&
      !f.prefix &&
      configMaps.get(preferredConfigMap) !== undefined,
  );
  const setContainerEnv = (name: string, value: string): void => {
    env ??= [];
    const i = env.findIndex((e) => e.name === name);
    if (i >= 0) env[i] = { name, value };
    else env.push({ name, value });
    envChanged = true;
  };
  const setConfigMap = (cm: string, key: string, value: string): void => {
    patches.set(cm, { ...(patches.get(cm) ?? {}), [key]: value });
  };

  for (const [name, value] of Object.entries(desired)) {
    const before = current.get(name);
    if (before && before.value === value) {
      changes.push({
        name,
        before,
        value,
        target: undefined,
        why: `already ${value} (${describeSource(before.source)})`,
      });
      continue;
    }
    let target: EnvTarget;
    let why: string;
    const s = before?.source;
    if (!s) {
      if (preferredIsSource) {
        target = { kind: 'configMap', configMap: preferredConfigMap, key: name };
        why = `not defined anywhere; written to ConfigMap ${preferredConfigMap} (OPSWAT's documented place)`;
      } else {
        target = { kind: 'container-env' };
        why = `not defined anywhere and ConfigMap ${preferredConfigMap} is not an envFrom source; set on the container`;
      }
    } else if (s.kind === 'envFrom-configmap') {
      target = { kind: 'configMap', configMap: s.configMap, key: name.slice(s.prefix.length) };
      why =
        s.configMap === preferredConfigMap
          ? `ConfigMap ${s.configMap} defines it and no later source overrides it`
          : `ConfigMap ${s.configMap} is the last envFrom source defining it, so it wins over ${
              before.shadowed.map(describeSource).join(', ') || 'nothing else'
            }; changed there`;
    } else if (s.kind === 'env-configmap-key') {
      target = { kind: 'configMap', configMap: s.configMap, key: s.key };
      why = `the container env takes it from ConfigMap ${s.configMap} key ${s.key}; changed there`;
    } else if (s.kind === 'env') {
      target = { kind: 'container-env' };
      why = 'a literal container env entry beats every envFrom source; changed in the pod template';
    } else {
      target = { kind: 'container-env' };
      why = `it comes from ${describeSource(s)}, which the action does not rewrite; overridden by a container env entry`;
      warnings.push(
        `${name} came from ${describeSource(s)}; the action sets it as a container env entry instead`,
      );
    }
    if (target.kind === 'configMap') setConfigMap(target.configMap, target.key, value);
    else setContainerEnv(name, value);
    changes.push({ name, before, value, target, why });
  }

  const changedMaps = new Map(configMaps);
  for (const [cm, kv] of patches) changedMaps.set(cm, { ...(configMaps.get(cm) ?? {}), ...kv });
  const afterContainer: V1Container = { ...container, ...(envChanged ? { env } : {}) };
  const afterAll = effectiveEnv(afterContainer, changedMaps);
  const after = new Map<string, EffectiveVar>();
  for (const name of Object.keys(desired)) {
    const v = afterAll.get(name);
    if (v) after.set(name, v);
    if (v?.value !== desired[name])
      warnings.push(`${name} would still not be ${desired[name]} for the new pods`);
  }
  const secrets = envFromSecrets(container);
  if (secrets.length > 0) {
    warnings.push(
      `envFrom Secret(s) ${secrets.join(', ')} were not read; if they define an upgrade variable, a container env entry would be needed`,
    );
  }
  return { changes, configMapPatches: patches, containerEnv: envChanged ? env : undefined, after, warnings };
}
