import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseInputs } from '../../src/plan/inputs.ts';
import type { Plan } from '../../src/plan/plan.ts';
import {
  buildUpgradeArgs,
  dryRunArgs,
  escapeSetValue,
  secretValues,
  type UpgradeArgsInput,
} from '../../src/steps/helm-args.ts';
import { rollingSettings } from '../../src/steps/rolling-settings.ts';
import {
  helmFeatures,
  parseHelmVersion,
  parseHistory,
  releaseState,
  type HelmVersion,
} from '../../src/tools/helm.ts';

function plan(inputs: Record<string, string>): Plan {
  // Values files are only names here: their content is checked by the inputs tests.
  const r = parseInputs({ namespace: 'mdcore', tag: '5.20.0', ...inputs }, { files: false });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
}

const v = (text: string): HelmVersion => {
  const p = parseHelmVersion(text);
  if (!p) throw new Error(text);
  return p;
};

const ENV = {
  MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core',
  UPGRADE_DB: 'true',
  MIGRATE_HISTORY: 'false',
};

function args(
  p: Plan,
  helm = 'v3.22.0',
  extra: Partial<Pick<UpgradeArgsInput, 'rolling' | 'startupProbe'>> & {
    chart?: string;
    sendVersion?: boolean;
    secret?: string;
    ssa?: boolean;
  } = {},
): string[] {
  return buildUpgradeArgs({
    plan: p,
    release: 'mdcore',
    chart: extra.chart ?? '/tmp/chart',
    sendVersion: extra.sendVersion ?? false,
    kubeconfigFile: '/tmp/kc',
    features: helmFeatures(v(helm)),
    forceConflicts: extra.ssa ?? true,
    env: ENV,
    secretValuesFile: extra.secret,
    description: 'mdcore-upgrade-action: a → b',
    rolling: extra.rolling,
    startupProbe: extra.startupProbe,
  });
}

/** The values of every occurrence of a flag. */
function flagValues(a: string[], flag: string): string[] {
  return a.flatMap((x, i) => (x === flag ? [a[i + 1] ?? ''] : []));
}

describe('helm versions and features', () => {
  it.each([
    ['v3.12.3', { dryRunServer: false, resetThenReuseValues: false, forceConflicts: false }],
    ['v3.13.0', { dryRunServer: true, resetThenReuseValues: false, forceConflicts: false }],
    ['v3.14.0', { dryRunServer: true, resetThenReuseValues: true, forceConflicts: false }],
    ['v3.22.0', { dryRunServer: true, resetThenReuseValues: true, forceConflicts: false }],
    ['v4.0.0', { dryRunServer: true, resetThenReuseValues: true, forceConflicts: true }],
    ['4.3.1+gabcdef', { dryRunServer: true, resetThenReuseValues: true, forceConflicts: true }],
  ])('%s', (text, want) => {
    expect(helmFeatures(v(text))).toMatchObject(want);
  });

  it('rejects text that is no version', () => {
    expect(parseHelmVersion('Error: unknown flag')).toBeUndefined();
  });
});

describe('buildUpgradeArgs', () => {
  it('builds the upgrade with the release values kept and the image and variables as strings', () => {
    const a = args(plan({}));
    expect(a.slice(0, 7)).toEqual([
      'upgrade',
      'mdcore',
      '/tmp/chart',
      '--namespace',
      'mdcore',
      '--kubeconfig',
      '/tmp/kc',
    ]);
    expect(a).toContain('--reset-then-reuse-values');
    expect(a).not.toContain('--reuse-values');
    expect(flagValues(a, '--set-string')).toEqual([
      'core_components.md-core.image=opswat/metadefendercore-debian:5.20.0',
      'env.MDCORE_UPGRADE_FROM_DB_NAME=metadefender_core',
      'env.UPGRADE_DB=true',
      'env.MIGRATE_HISTORY=false',
    ]);
    expect(flagValues(a, '--description')).toEqual(['mdcore-upgrade-action: a → b']);
  });

  it('never lets helm wait or roll back by itself, in either major', () => {
    for (const h of ['v3.22.0', 'v4.3.1']) {
      const a = args(plan({}), h);
      for (const f of ['--wait', '--atomic', '--rollback-on-failure', '--wait-for-jobs'])
        expect(a).not.toContain(f);
      expect(a.some((x) => x.startsWith('--wait') || x.startsWith('--dry-run'))).toBe(false);
    }
  });

  it('forces server-side apply conflicts on Helm 4 for server-side releases only', () => {
    expect(args(plan({}), 'v4.3.1', { ssa: true })).toContain('--force-conflicts');
    // Helm 4 refuses the flag for a release it keeps on client-side apply (installed by Helm 3).
    expect(args(plan({}), 'v4.3.1', { ssa: false })).not.toContain('--force-conflicts');
    expect(args(plan({}), 'v3.22.0', { ssa: true })).not.toContain('--force-conflicts');
  });

  it('falls back to --reuse-values before Helm 3.14', () => {
    const a = args(plan({}), 'v3.13.2');
    expect(a).toContain('--reuse-values');
    expect(a).not.toContain('--reset-then-reuse-values');
  });

  it('puts the license key in the secret values file only, never on the command line', () => {
    const p = plan({ 'license-key': 'LIC-SECRET-9999-abcdef' });
    expect(secretValues(p)).toEqual({ mdcore_license_key: 'LIC-SECRET-9999-abcdef' });
    const a = args(p, 'v3.22.0', { secret: '/tmp/x/secret-values.yaml' });
    expect(a.join(' ')).not.toContain('LIC-SECRET-9999-abcdef');
    expect(a.join(' ')).not.toContain('mdcore_license_key');
    expect(flagValues(a, '-f')).toEqual(['/tmp/x/secret-values.yaml']);
    expect(secretValues(plan({}))).toBeUndefined();
  });

  it('puts set-secret values in the secret values file as a nested map of strings, never on argv', () => {
    const p = plan({
      'license-key': 'LIC-SECRET-9999-abcdef',
      'set-secret': 'core_components.postgres-core.password=PG-SECRET-77\nannotations.a\\.b/c=0123\n',
    });
    expect(secretValues(p)).toEqual({
      core_components: { 'postgres-core': { password: 'PG-SECRET-77' } },
      annotations: { 'a.b/c': '0123' },
      mdcore_license_key: 'LIC-SECRET-9999-abcdef',
    });
    const a = args(p, 'v3.22.0', { secret: '/w/helm-secret-x/secret-values.yaml' });
    const line = a.join(' ');
    for (const s of ['PG-SECRET-77', '0123', 'postgres-core.password', 'LIC-SECRET'])
      expect(line).not.toContain(s);
    expect(flagValues(a, '-f')).toEqual(['/w/helm-secret-x/secret-values.yaml']);
  });

  it('refuses a chart or release that helm would read as an option', () => {
    expect(() => args(plan({}), 'v3.22.0', { chart: '--post-renderer=/bin/sh' })).toThrow(
      /begins with "-".*Nothing in the cluster was changed/s,
    );
    expect(() =>
      buildUpgradeArgs({
        ...({} as UpgradeArgsInput),
        release: '-x',
        chart: '/c',
        features: helmFeatures(v('v3.22.0')),
      }),
    ).toThrow(/release "-x"/);
  });

  it('orders values files, the secret file, set lines, then ours last', () => {
    const p = plan({ 'values-files': 'a.yaml\nb.yaml', set: 'core_ingress.enabled=true\nfoo=bar' });
    const a = args(p, 'v3.22.0', { secret: '/s.yaml' });
    expect(flagValues(a, '-f')).toEqual(['a.yaml', 'b.yaml', '/s.yaml']);
    expect(flagValues(a, '--set')).toEqual(['core_ingress.enabled=true', 'foo=bar']);
    const lastUserSet = a.lastIndexOf('foo=bar');
    const image = a.indexOf('core_components.md-core.image=opswat/metadefendercore-debian:5.20.0');
    expect(a.indexOf('/s.yaml')).toBeLessThan(a.indexOf('core_ingress.enabled=true'));
    expect(lastUserSet).toBeLessThan(image);
  });

  it('sets both rollingUpdate keys as the kubectl route resolves them: integers as integers, percentages as strings', () => {
    const dep: V1Deployment = {
      spec: {
        replicas: 2,
        selector: {},
        template: {},
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0 } },
      },
    };
    const a = args(plan({}), 'v3.22.0', {
      rolling: rollingSettings(plan({ 'max-unavailable': '1' }), dep).patch,
    });
    expect(flagValues(a, '--set')).toEqual([
      'core_components.md-core.strategy.rollingUpdate.maxSurge=0',
      'core_components.md-core.strategy.rollingUpdate.maxUnavailable=1',
    ]);
    const b = args(plan({}), 'v3.22.0', {
      rolling: rollingSettings(plan({ 'max-surge': '50%' }), dep).patch,
    });
    expect(flagValues(b, '--set-string')).toContain(
      'core_components.md-core.strategy.rollingUpdate.maxSurge=50%',
    );
    expect(args(plan({})).join(' ')).not.toContain('rollingUpdate');
  });

  it('passes the migration startup probe as one JSON value', () => {
    const probe = { httpGet: { path: '/readyz', port: 8008 }, periodSeconds: 10, failureThreshold: 726 };
    const a = args(plan({}), 'v3.22.0', { startupProbe: probe });
    expect(flagValues(a, '--set-json')).toEqual([
      `core_components.md-core.startupProbe=${JSON.stringify(probe)}`,
    ]);
    expect(args(plan({}))).not.toContain('--set-json');
  });

  it('sends --version only for repository references', () => {
    const p = plan({ chart: 'mdk8s/metadefender_core', 'chart-version': '5.20.0' });
    expect(
      flagValues(args(p, 'v3.22.0', { chart: 'mdk8s/metadefender_core', sendVersion: true }), '--version'),
    ).toEqual(['5.20.0']);
    expect(args(p, 'v3.22.0', { sendVersion: false })).not.toContain('--version');
  });

  it('escapes , and \\ in --set-string values', () => {
    expect(escapeSetValue('a,b\\c')).toBe('a\\,b\\\\c');
    expect(escapeSetValue('metadefender_core')).toBe('metadefender_core');
  });

  it('renders the same upgrade for the guards, as JSON with the cluster lookups', () => {
    const a = args(plan({}));
    expect(dryRunArgs(a)).toEqual([...a, '--dry-run=server', '-o', 'json']);
  });
});

describe('release history', () => {
  const json = JSON.stringify([
    {
      revision: 2,
      updated: 't2',
      status: 'deployed',
      chart: 'metadefender_core-5.20.0',
      app_version: '5.20.0',
      description: 'Upgrade complete',
    },
    {
      revision: 1,
      updated: 't1',
      status: 'superseded',
      chart: 'metadefender_core-5.19.0',
      app_version: '5.19.0',
      description: 'Install complete',
    },
  ]);

  it('parses helm history -o json, oldest first', () => {
    const h = parseHistory(json);
    expect(h.map((r) => r.revision)).toEqual([1, 2]);
    expect(h[1]).toMatchObject({
      status: 'deployed',
      appVersion: '5.20.0',
      chart: 'metadefender_core-5.20.0',
    });
  });

  it('takes the deployed revision as current and flags pending operations', () => {
    const h = parseHistory(json);
    expect(releaseState(h)).toMatchObject({
      pending: false,
      current: { revision: 2 },
      latest: { revision: 2 },
    });
    const pending = [...h, { ...h[1]!, revision: 3, status: 'pending-upgrade' }];
    expect(releaseState(pending)).toMatchObject({
      pending: true,
      current: { revision: 2 },
      latest: { revision: 3 },
    });
    const failed = [...h, { ...h[1]!, revision: 3, status: 'failed' }];
    expect(releaseState(failed)).toMatchObject({ pending: false, current: { revision: 2 } });
    for (const s of ['pending-install', 'pending-rollback', 'uninstalling']) {
      expect(releaseState([{ ...h[0]!, status: s }])?.pending).toBe(true);
    }
    expect(releaseState([])).toBeUndefined();
  });
});
