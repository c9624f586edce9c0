import { describe, expect, it } from 'vitest';
import {
  compareManifests,
  databaseVolumeProblems,
  diffValues,
  formatChange,
  formatPath,
  licenseGuard,
  parseManifest,
  plannedEnv,
  secretLeaves,
  secretsToMask,
  type K8sObject,
  type PathSegment,
} from '../../src/steps/helm-guards.ts';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function mdcoreDeployment(image: string, extraEnv: string[] = []): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "md-core"
  labels:
    helm.sh/chart: metadefender_core-5.19.0
spec:
  replicas: 1
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 0
  template:
    spec:
      initContainers:
        - name: check-db-ready
          image: opswat/metadefendercore-debian:5.19.0
      containers:
        - name: "md-core"
          image: "${image}"
          envFrom:
            - configMapRef:
                name: mdcore-env
            - configMapRef:
                name: mdcore-config
          env:
            - name: MD_USER
              valueFrom:
                secretKeyRef: { name: mdcore-cred, key: user }
${extraEnv.map((e) => `            - ${e}`).join('\n')}
`;
}

function postgres(mounted: boolean, volume = 'hostPath: { path: /data/postgres-core }'): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "postgres-core"
spec:
  template:
    spec:
      containers:
        - name: "postgres-core"
          image: "postgres:14.8"
${mounted ? `          volumeMounts:\n            - name: postgres-core-data\n              mountPath: /var/lib/postgresql/data\n      volumes:\n        - name: postgres-core-data\n          ${volume}` : ''}
`;
}

function configMap(name: string, data: Record<string, string>): string {
  return `
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
${Object.entries(data)
  .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
  .join('\n')}
`;
}

function secret(name: string, data: Record<string, string>, keep = true): string {
  return `
apiVersion: v1
kind: Secret
metadata:
  name: ${name}
${keep ? '  annotations:\n    helm.sh/resource-policy: keep\n' : ''}type: Opaque
data:
${Object.entries(data)
  .map(([k, v]) => `  ${k}: "${b64(v)}"`)
  .join('\n')}
`;
}

const VARS = {
  UPGRADE_DB: 'false',
  MIGRATE_HISTORY: 'false',
  MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core',
};
const desired = {
  UPGRADE_DB: 'true',
  MIGRATE_HISTORY: 'false',
  MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core',
};

function manifest(...docs: string[]): Map<string, K8sObject> {
  return parseManifest(docs.map((d) => `---\n# Source: metadefender_core/templates/x.yaml${d}`).join('\n'));
}

const allowImageAndVars = (object: string, p: readonly PathSegment[]): boolean =>
  (object === 'Deployment/md-core' && formatPath(p) === 'spec.template.spec.containers[md-core].image') ||
  (object === 'ConfigMap/mdcore-config' && p[0] === 'data' && String(p[1]) in desired);

describe('parseManifest and diffValues', () => {
  it('keys objects by Kind/name and skips empty documents', () => {
    const m = manifest(
      mdcoreDeployment('img:1'),
      '\n# only a comment\n',
      configMap('mdcore-env', { A: '1' }),
    );
    expect([...m.keys()]).toEqual(['Deployment/md-core', 'ConfigMap/mdcore-env']);
  });

  it('matches named list entries by name and reports leaf paths', () => {
    const a = {
      spec: {
        containers: [
          { name: 'x', image: 'a' },
          { name: 'y', image: 'b' },
        ],
      },
    };
    const b = {
      spec: {
        containers: [
          { name: 'y', image: 'b' },
          { name: 'x', image: 'c' },
        ],
      },
    };
    const d = diffValues(a, b);
    expect(d.map((x) => formatPath(x.path))).toEqual(['spec.containers[x].image']);
    expect(d[0]).toMatchObject({ before: 'a', after: 'c' });
    expect(formatPath(['metadata', 'labels', 'helm.sh/chart'])).toBe('metadata.labels["helm.sh/chart"]');
  });
});

describe('compareManifests (guard 3)', () => {
  const current = manifest(
    mdcoreDeployment('opswat/metadefendercore-debian:5.19.0'),
    configMap('mdcore-config', VARS),
    configMap('mdcore-env', { REST_PORT: '8008' }),
    secret('mdcore-cred', { user: 'admin', password: 'pw-old-123456' }),
  );

  it('finds nothing besides the image and the variables in an image-only upgrade', () => {
    const planned = manifest(
      mdcoreDeployment('opswat/metadefendercore-debian:5.20.0').replace('5.19.0\nspec', '5.20.0\nspec'),
      configMap('mdcore-config', { ...VARS, UPGRADE_DB: 'true', RETRY_UPGRADE: '5' }),
      configMap('mdcore-env', { REST_PORT: '8008' }),
      secret('mdcore-cred', { user: 'admin', password: 'pw-old-123456' }),
    );
    const allow = (o: string, p: readonly PathSegment[]): boolean =>
      allowImageAndVars(o, p) || (o === 'ConfigMap/mdcore-config' && p[1] === 'RETRY_UPGRADE');
    expect(compareManifests(current, planned, allow)).toEqual([]);
  });

  it('lists every other change, with Secret values never shown', () => {
    const planned = manifest(
      mdcoreDeployment('opswat/metadefendercore-debian:5.20.0', [
        'name: IGNITION_JSON\n              value: "{}"',
      ]),
      configMap('mdcore-config', { ...VARS, UPGRADE_DB: 'true' }),
      configMap('mdcore-env', { REST_PORT: '8008', STORAGE_PATH: '/metadefendercore' }),
      secret('mdcore-cred', { user: 'admin', password: 'pw-NEW-654321' }),
      configMap('extra', { A: '1' }),
    );
    const changes = compareManifests(current, planned, allowImageAndVars);
    const text = changes.map(formatChange).join('\n');
    expect(changes.map((c) => c.object)).toEqual([
      'ConfigMap/extra',
      'ConfigMap/mdcore-env',
      'Deployment/md-core',
      'Secret/mdcore-cred',
    ]);
    expect(text).toContain('ConfigMap/mdcore-env: data.STORAGE_PATH added: /metadefendercore');
    expect(text).toContain('spec.template.spec.containers[md-core].env[IGNITION_JSON] added');
    expect(text).toContain('Secret/mdcore-cred: data.password changed (value not shown)');
    expect(text).not.toContain('pw-NEW-654321');
    expect(text).not.toContain(b64('pw-NEW-654321'));
    expect(text).not.toContain('pw-old-123456');
    expect(text).not.toContain('image');
  });

  it('says when a removed object is kept by resource-policy keep and when it is deleted', () => {
    const cur = manifest(
      secret('mdcore-stack-configs', { IGNITION_JSON: '{}' }),
      configMap('gone', { A: '1' }),
    );
    const changes = compareManifests(cur, new Map(), () => false).map(formatChange);
    expect(changes).toEqual([
      'ConfigMap/gone: would be deleted',
      'Secret/mdcore-stack-configs: no longer in the chart (kept in the cluster: resource-policy keep)',
    ]);
  });
});

describe('licenseGuard (guard 1)', () => {
  const live = { value: 'REAL-KEY-1234-5678' };

  it('refuses the chart placeholder when no license-key was given, naming the input', () => {
    const r = licenseGuard({ rendered: { value: '<SET_LICENSE_KEY_HERE>' }, live, asked: undefined });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toContain("chart's placeholder");
      expect(r.message).toContain("'license-key' input");
      expect(r.message).not.toContain('REAL-KEY-1234-5678');
      expect(r.message).not.toContain('SET_LICENSE_KEY_HERE');
    }
  });

  it('refuses any other change that was not asked for', () => {
    const r = licenseGuard({ rendered: { value: 'OLD-KEY-FROM-VALUES' }, live, asked: undefined });
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.message).toContain('not asked for');
  });

  it('refuses when the rendered Secret does not hold the license-key input', () => {
    const r = licenseGuard({ rendered: { value: 'SOMETHING-ELSE' }, live, asked: 'REAL-KEY-1234-5678' });
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.message).not.toContain('REAL-KEY-1234-5678');
  });

  it('accepts an unchanged Secret and a change to exactly the asked key', () => {
    expect(licenseGuard({ rendered: live, live, asked: undefined })).toMatchObject({ ok: true });
    expect(licenseGuard({ rendered: live, live, asked: 'REAL-KEY-1234-5678' })).toMatchObject({ ok: true });
    const r = licenseGuard({ rendered: { value: 'NEW-KEY-0000' }, live, asked: 'NEW-KEY-0000' });
    expect(r).toMatchObject({ ok: true });
    if (r.ok) expect(r.notes.join(' ')).toContain('value not shown');
  });

  it('refuses creating the Secret with a placeholder, and accepts a chart without it', () => {
    expect(
      licenseGuard({ rendered: { value: 'SET_LICENSE_KEY_HERE' }, live: undefined, asked: undefined }).ok,
    ).toBe(false);
    expect(licenseGuard({ rendered: undefined, live, asked: undefined }).ok).toBe(true);
  });
});

describe('databaseVolumeProblems (guard 2)', () => {
  it('refuses losing the postgres data mount (chart 5.19.0 → 5.20.0 defaults)', () => {
    const p = databaseVolumeProblems(manifest(postgres(true)), manifest(postgres(false)));
    expect(p).toHaveLength(1);
    expect(p[0]).toContain('Deployment/postgres-core');
    expect(p[0]).toContain('/var/lib/postgresql/data');
  });

  it('refuses swapping the data volume for an emptyDir, and deleting the database', () => {
    expect(
      databaseVolumeProblems(manifest(postgres(true)), manifest(postgres(true, 'emptyDir: {}')))[0],
    ).toContain('temporary volume');
    expect(databaseVolumeProblems(manifest(postgres(true)), new Map())[0]).toContain('would be deleted');
  });

  it('accepts a kept mount, a PVC swap, and a database that had no data volume', () => {
    expect(databaseVolumeProblems(manifest(postgres(true)), manifest(postgres(true)))).toEqual([]);
    expect(
      databaseVolumeProblems(
        manifest(postgres(true)),
        manifest(postgres(true, 'persistentVolumeClaim: { claimName: pvc-name }')),
      ),
    ).toEqual([]);
    expect(databaseVolumeProblems(manifest(postgres(false)), manifest(postgres(false)))).toEqual([]);
    expect(databaseVolumeProblems(manifest(mdcoreDeployment('x:1')), new Map())).toEqual([]);
  });

  it('recognises a database by its postgres image under another name', () => {
    const renamed = postgres(true).replace('name: "postgres-core"\nspec', 'name: "db"\nspec');
    expect(databaseVolumeProblems(manifest(renamed), new Map())[0]).toContain('Deployment/db');
  });
});

describe('plannedEnv (the variables that really arrive)', () => {
  const live = new Map<string, Record<string, string>>([
    ['mdcore-env', { REST_PORT: '8008' }],
    ['mdcore-config', VARS],
  ]);

  it('computes what the rendered container reads from the rendered ConfigMaps', () => {
    const planned = manifest(
      mdcoreDeployment('img:2'),
      configMap('mdcore-config', { ...VARS, UPGRADE_DB: 'true' }),
    );
    const r = plannedEnv({
      planned,
      current: planned,
      live,
      deployment: 'md-core',
      container: 'md-core',
      desired,
    });
    expect(r.problems).toEqual([]);
    expect(r.after.get('UPGRADE_DB')).toMatchObject({
      value: 'true',
      source: { configMap: 'mdcore-config' },
    });
  });

  it('reports a variable a container env entry overrides', () => {
    const planned = manifest(
      mdcoreDeployment('img:2', ['name: UPGRADE_DB\n              value: "false"']),
      configMap('mdcore-config', { ...VARS, UPGRADE_DB: 'true' }),
    );
    const r = plannedEnv({
      planned,
      current: planned,
      live,
      deployment: 'md-core',
      container: 'md-core',
      desired,
    });
    expect(r.problems).toEqual(['UPGRADE_DB would be "false" for the new pods, not "true"']);
  });

  it('counts a ConfigMap the release stops rendering as gone', () => {
    const current = manifest(mdcoreDeployment('img:1'), configMap('mdcore-config', VARS));
    const planned = manifest(mdcoreDeployment('img:2'));
    const r = plannedEnv({ planned, current, live, deployment: 'md-core', container: 'md-core', desired });
    expect(r.problems).toHaveLength(3);
  });

  it('reports a render without the Deployment', () => {
    const r = plannedEnv({
      planned: new Map(),
      current: new Map(),
      live,
      deployment: 'md-core',
      container: 'md-core',
      desired,
    });
    expect(r.container).toBeUndefined();
    expect(r.problems[0]).toContain('renders no Deployment md-core');
  });
});

describe('secrets to mask', () => {
  it('takes Secret values (decoded and encoded) but not user names', () => {
    const m = manifest(secret('mdcore-cred', { user: 'admin', password: 'pw-123456' }));
    expect(secretsToMask(m.values())).toEqual(['pw-123456', b64('pw-123456')]);
  });

  it('takes helm values whose key names a secret', () => {
    const values = {
      mdcore_license_key: 'LIC-1234-5678',
      db_password: 'dbpw-9999',
      db_user: 'postgres',
      env: { UPGRADE_DB: 'true' },
      core_components: {
        x: { env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } }] },
      },
    };
    expect(secretLeaves(values).sort()).toEqual(['LIC-1234-5678', 'dbpw-9999']);
  });
});
