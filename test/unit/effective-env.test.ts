import { describe, expect, it } from 'vitest';
import type { V1Container } from '@kubernetes/client-node';
import { effectiveEnv, planEnv, referencedConfigMaps } from '../../src/cluster/effective-env.ts';

// The published chart: envFrom mdcore-env (chart-owned), then <release>-config (values `env:`).
const chartContainer: V1Container = {
  name: 'md-core',
  image: 'opswat/metadefendercore-debian:5.19.0',
  envFrom: [{ configMapRef: { name: 'mdcore-env' } }, { configMapRef: { name: 'mdcore-config' } }],
  env: [{ name: 'MD_USER', valueFrom: { secretKeyRef: { name: 'mdcore-cred', key: 'user' } } }],
};
const chartMaps = new Map<string, Record<string, string> | undefined>([
  ['mdcore-env', { REST_PORT: '8008', DB_HOST: 'postgres-core' }],
  [
    'mdcore-config',
    { UPGRADE_DB: 'false', MIGRATE_HISTORY: 'false', MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core' },
  ],
]);
const desired = {
  MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core',
  UPGRADE_DB: 'true',
  MIGRATE_HISTORY: 'false',
};

describe('effectiveEnv', () => {
  it('lets the last envFrom source win and records what it shadows', () => {
    const env = effectiveEnv(
      { name: 'c', envFrom: [{ configMapRef: { name: 'a' } }, { configMapRef: { name: 'b' } }] },
      new Map<string, Record<string, string>>([
        ['a', { X: '1', Y: 'a' }],
        ['b', { X: '2' }],
      ]),
    );
    expect(env.get('X')?.value).toBe('2');
    expect(env.get('X')?.source).toMatchObject({ kind: 'envFrom-configmap', configMap: 'b' });
    expect(env.get('X')?.shadowed).toEqual([
      { kind: 'envFrom-configmap', configMap: 'a', index: 0, prefix: '' },
    ]);
    expect(env.get('Y')?.value).toBe('a');
  });

  it('lets a container env entry beat every envFrom source', () => {
    const env = effectiveEnv(
      { name: 'c', envFrom: [{ configMapRef: { name: 'a' } }], env: [{ name: 'X', value: 'literal' }] },
      new Map([['a', { X: '1' }]]),
    );
    expect(env.get('X')).toMatchObject({ value: 'literal', source: { kind: 'env' } });
  });

  it('applies envFrom prefixes and skips missing ConfigMaps', () => {
    const env = effectiveEnv(
      {
        name: 'c',
        envFrom: [
          { configMapRef: { name: 'missing', optional: true } },
          { prefix: 'P_', configMapRef: { name: 'a' } },
        ],
      },
      new Map([
        ['missing', undefined],
        ['a', { X: '1' }],
      ]),
    );
    expect([...env.keys()]).toEqual(['P_X']);
  });

  it('reads configMapKeyRef values and leaves secrets unread', () => {
    const env = effectiveEnv(
      {
        name: 'c',
        env: [
          { name: 'A', valueFrom: { configMapKeyRef: { name: 'a', key: 'k' } } },
          { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        ],
      },
      new Map([['a', { k: 'v' }]]),
    );
    expect(env.get('A')?.value).toBe('v');
    expect(env.get('S')?.value).toBeUndefined();
  });

  it('lists referenced ConfigMaps in order', () => {
    expect(referencedConfigMaps(chartContainer)).toEqual(['mdcore-env', 'mdcore-config']);
  });
});

describe('planEnv', () => {
  it('on the published chart writes into <release>-config, because mdcore-env would be overridden', () => {
    const p = planEnv(chartContainer, chartMaps, desired, 'mdcore-env');
    expect(p.configMapPatches.get('mdcore-config')).toEqual({ UPGRADE_DB: 'true' });
    expect(p.configMapPatches.has('mdcore-env')).toBe(false);
    expect(p.containerEnv).toBeUndefined();
    expect(p.after.get('UPGRADE_DB')).toMatchObject({
      value: 'true',
      source: { configMap: 'mdcore-config' },
    });
    const up = p.changes.find((c) => c.name === 'UPGRADE_DB');
    expect(up?.why).toContain('last envFrom source');
    expect(p.changes.find((c) => c.name === 'MIGRATE_HISTORY')?.target).toBeUndefined();
    expect(p.warnings).toEqual([]);
  });

  it("writes new names into OPSWAT's mdcore-env when nothing defines them", () => {
    const p = planEnv(chartContainer, chartMaps, { RETRY_UPGRADE: '5' }, 'mdcore-env');
    expect(p.configMapPatches.get('mdcore-env')).toEqual({ RETRY_UPGRADE: '5' });
  });

  it('changes a literal container env entry in the template', () => {
    const c: V1Container = {
      ...chartContainer,
      env: [...(chartContainer.env ?? []), { name: 'UPGRADE_DB', value: 'false' }],
    };
    const p = planEnv(c, chartMaps, desired, 'mdcore-env');
    expect(p.containerEnv?.find((e) => e.name === 'UPGRADE_DB')).toEqual({
      name: 'UPGRADE_DB',
      value: 'true',
    });
    expect(p.configMapPatches.size).toBe(0);
    expect(p.after.get('UPGRADE_DB')?.value).toBe('true');
  });

  it('overrides a Secret-sourced variable with a container env entry and warns', () => {
    const c: V1Container = {
      name: 'md-core',
      env: [{ name: 'UPGRADE_DB', valueFrom: { secretKeyRef: { name: 's', key: 'u' } } }],
    };
    const p = planEnv(c, new Map(), { UPGRADE_DB: 'true' }, 'mdcore-env');
    expect(p.containerEnv).toEqual([{ name: 'UPGRADE_DB', value: 'true' }]);
    expect(p.warnings.join()).toContain('container env entry');
  });

  it('adds a container env entry when no envFrom ConfigMap can take a new name', () => {
    const p = planEnv({ name: 'md-core' }, new Map(), { UPGRADE_DB: 'true' }, 'mdcore-env');
    expect(p.containerEnv).toEqual([{ name: 'UPGRADE_DB', value: 'true' }]);
  });

  it('changes nothing when the values are already planned', () => {
    const maps = new Map(chartMaps);
    maps.set('mdcore-config', { ...maps.get('mdcore-config'), UPGRADE_DB: 'true' });
    const p = planEnv(chartContainer, maps, desired, 'mdcore-env');
    expect(p.configMapPatches.size).toBe(0);
    expect(p.changes.every((c) => c.target === undefined)).toBe(true);
  });

  it('warns that envFrom Secrets were not read', () => {
    const c: V1Container = {
      ...chartContainer,
      envFrom: [...(chartContainer.envFrom ?? []), { secretRef: { name: 'extra' } }],
    };
    expect(planEnv(c, chartMaps, desired, 'mdcore-env').warnings.join()).toContain('extra');
  });
});
