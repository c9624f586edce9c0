// The helm route of the rolling update, end to end on the real embedded cluster, with Helm 3 and Helm 4.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useNamespaces } from './support/namespaces.ts';
import { tagFor } from './cluster/stages.ts';
import { chartRef, helm, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import {
  changeCauses,
  configMapsData,
  deploymentView,
  IMAGE,
  installFixture,
  podEnv,
  runAction,
  type ActionRun,
} from './support/action.ts';

const namespace = useNamespaces();

const UPGRADE_VARS = ['UPGRADE_DB', 'MDCORE_UPGRADE_FROM_DB_NAME', 'MIGRATE_HISTORY', 'RETRY_UPGRADE'];

/** A license key no other test uses, so a leak cannot be mistaken for another run's output. */
function licenseKey(): string {
  return `E2E-LIC-${randomBytes(8).toString('hex').toUpperCase()}`;
}

interface Revision {
  revision: number;
  status: string;
  chart: string;
  description: string;
}

async function history(major: 3 | 4, ns: string): Promise<Revision[]> {
  const r = await helm(major, ['history', 'mdcore', '-n', ns, '-o', 'json']);
  return (JSON.parse(r.stdout) as Revision[]).sort((a, b) => a.revision - b.revision);
}

async function secretValue(ns: string, name: string, key = 'value'): Promise<string> {
  const s = await kubectlJson<{ data: Record<string, string> }>(['get', 'secret', name, '-n', ns]);
  return Buffer.from(s.data[key] ?? '', 'base64').toString('utf8');
}

interface PodSpecView {
  containers: { name: string; image: string; volumeMounts?: { mountPath: string }[] }[];
}
async function postgresMounts(ns: string): Promise<string[]> {
  const d = await kubectlJson<{ spec: { template: { spec: PodSpecView } } }>([
    'get',
    'deployment',
    'postgres-core',
    '-n',
    ns,
  ]);
  return d.spec.template.spec.containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.mountPath));
}

/** Everything the run wrote, and every place a secret could end up in the cluster's records of it. */
async function expectNoLeak(run: ActionRun, ns: string, major: 3 | 4, secret: string): Promise<void> {
  expect(run.everything).not.toContain(secret);
  expect(run.everything).not.toContain(Buffer.from(secret).toString('base64'));
  expect(run.everything).not.toContain('mdcore_license_key=');
  expect(JSON.stringify((await deploymentView(ns)).annotations)).not.toContain(secret);
  expect(JSON.stringify(await history(major, ns))).not.toContain(secret);
}

describe('rolling update with helm', () => {
  it.each([3, 4] as const)(
    'Helm %i: upgrades the release by one revision; variables reach the new pods; no secret leaks',
    async (major) => {
      const ns = await namespace(`helm${major}-happy`);
      const key = licenseKey();
      await installFixture(ns, { helmMajor: major, licenseKey: key });
      const before = await deploymentView(ns);
      const histBefore = await history(major, ns);
      const mountsBefore = await postgresMounts(ns);

      const run = await runAction(
        { namespace: ns, tag: '5.20.0', method: 'auto', 'license-key': key, 'retry-upgrade': '5' },
        { helmMajor: major },
      );
      expect(run.outcome.error).toBeUndefined();
      expect(run.outcome.result).toBe('upgraded');
      expect(run.outcome.method).toBe('helm');

      const after = await deploymentView(ns);
      expect(after.image).toBe(`${IMAGE}:5.20.0`);
      expect(Number(after.revision)).toBe(Number(before.revision) + 1);
      const causes = await changeCauses(ns);
      expect(causes[after.revision]).toContain(`${IMAGE}:5.19.0 → ${IMAGE}:5.20.0`);
      expect(causes[before.revision] ?? '').not.toContain('5.20.0');
      const histAfter = await history(major, ns);
      expect(histAfter).toHaveLength(histBefore.length + 1);
      const last = histAfter[histAfter.length - 1];
      expect(last).toMatchObject({ revision: (histBefore.at(-1)?.revision ?? 0) + 1, status: 'deployed' });
      expect(last?.description).toContain(`${IMAGE}:5.19.0 → ${IMAGE}:5.20.0`);
      // The deployed chart was re-applied: same chart version, nothing else changed.
      expect(last?.chart).toBe('metadefender_core-5.19.0');
      expect(await postgresMounts(ns)).toEqual(mountsBefore);

      expect(await podEnv(ns, `${IMAGE}:5.20.0`, UPGRADE_VARS)).toEqual({
        UPGRADE_DB: 'true',
        MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core',
        MIGRATE_HISTORY: 'false',
        RETRY_UPGRADE: '5',
      });
      expect(await secretValue(ns, 'mdcore-license-key')).toBe(key);

      // The summary: history before and after, each variable's source.
      expect(run.outcome.helm?.before.map((r) => r.revision)).toEqual(histBefore.map((r) => r.revision));
      expect(run.outcome.helm?.after.map((r) => r.revision)).toEqual(histAfter.map((r) => r.revision));
      expect(run.outcome.helm?.changes).toEqual([]);
      expect(run.summary).toContain('### Helm release `mdcore`');
      expect(run.summary).toMatch(/\| 2 \| deployed \| metadefender_core-5\.19\.0 \|.*\| new \|/);
      expect(run.summary).toMatch(/\| 1 \| superseded \|.*\| before the run \|/);
      expect(run.summary).toContain('ConfigMap `mdcore-config`');
      // The announced command line (the dry run before it is logged at debug level only).
      const cmdLine = run.reporter.lines.find(
        (l) => l.level === 'info' && l.text.startsWith('$ ') && l.text.includes(' upgrade mdcore '),
      );
      expect(cmdLine?.text).toContain('--reset-then-reuse-values');
      expect(cmdLine?.text).not.toContain('--wait');
      expect(cmdLine?.text).not.toMatch(/--atomic|--rollback-on-failure/);
      expect(cmdLine?.text.includes('--force-conflicts')).toBe(major === 4);
      await expectNoLeak(run, ns, major, key);
    },
  );

  it.each([3, 4] as const)(
    'Helm %i: a never-ready tag is rolled back with helm rollback; the history shows it',
    async (major) => {
      const ns = await namespace(`helm${major}-never-ready`);
      const key = licenseKey();
      await installFixture(ns, { helmMajor: major, licenseKey: key, replicas: 2 });
      const before = await deploymentView(ns);
      const cm = await configMapsData(ns);
      const run = await runAction(
        {
          namespace: ns,
          tag: tagFor('5.20.0', 'never-ready'),
          method: 'auto',
          'license-key': key,
          timeout: '20s',
        },
        { helmMajor: major },
      );
      expect(run.outcome.result).toBe('rolled-back');
      expect(run.outcome.error).toContain('Timeout');
      expect((await deploymentView(ns)).image).toBe(before.image);
      expect(await configMapsData(ns)).toEqual(cm);

      const h = await history(major, ns);
      expect(h.map((r) => r.revision)).toEqual([1, 2, 3]);
      expect(h[2]).toMatchObject({ status: 'deployed', description: 'Rollback to 1' });
      expect(h[1]?.status).toBe('superseded');
      expect(run.reporter.text()).toMatch(/\$ \S*helm rollback mdcore 1 /);
      expect(run.outcome.helm?.after.map((r) => r.description)).toContain('Rollback to 1');
      expect(run.summary).toContain('Rollback to 1');
      expect(run.summary).toContain('rolled back');
      await expectNoLeak(run, ns, major, key);
    },
  );

  it('rollback: rollout-undo also restores a helm release (image and ConfigMaps) and says the release record lags', async () => {
    const ns = await namespace('helm-rollout-undo');
    const key = licenseKey();
    await installFixture(ns, { licenseKey: key });
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const run = await runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'crashloop'),
      method: 'helm',
      rollback: 'rollout-undo',
      'license-key': key,
      timeout: '5m',
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('CrashLoopBackOff');
    expect((await deploymentView(ns)).image).toBe(before.image);
    // helm changed UPGRADE_DB in mdcore-config; rollout undo alone would leave it: the snapshot puts it back.
    expect(await configMapsData(ns)).toEqual(cm);
    expect(run.reporter.text()).toContain('rollout undo');
    expect(run.reporter.text()).not.toMatch(/helm rollback mdcore/);
    const h = await history(3, ns);
    expect(h.at(-1)?.revision).toBe(2);
    expect(run.summary).toContain(`helm rollback mdcore 1 -n ${ns}`);
  });

  it('refuses an upgrade that would overwrite the license key with the placeholder; accepts it with license-key', async () => {
    const ns = await namespace('helm-license-trap');
    // Installed without a key (the chart renders its placeholder), the key then set on the Secret directly.
    await installFixture(ns, { licenseKey: null });
    expect(await secretValue(ns, 'mdcore-license-key')).toBe('<SET_LICENSE_KEY_HERE>');
    const key = licenseKey();
    await kubectl([
      'patch',
      'secret',
      'mdcore-license-key',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ data: { value: Buffer.from(key).toString('base64') } }),
    ]);
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const hist = await history(3, ns);

    const refused = await runAction({ namespace: ns, tag: '5.20.0', method: 'auto' });
    expect(refused.outcome.result).toBe('failed');
    expect(refused.outcome.error).toContain(
      "overwrite Secret mdcore-license-key with the chart's placeholder",
    );
    expect(refused.outcome.error).toContain("'license-key' input");
    expect(refused.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
    expect(await history(3, ns)).toEqual(hist);
    expect(await secretValue(ns, 'mdcore-license-key')).toBe(key);
    expect(refused.everything).not.toContain(key);

    const accepted = await runAction({ namespace: ns, tag: '5.20.0', method: 'auto', 'license-key': key });
    expect(accepted.outcome.error).toBeUndefined();
    expect(accepted.outcome.result).toBe('upgraded');
    expect(await secretValue(ns, 'mdcore-license-key')).toBe(key);
    await expectNoLeak(accepted, ns, 3, key);
  });

  it('refuses the 5.20.0 chart that would drop the postgres data volume, and changes nothing', async () => {
    const ns = await namespace('helm-pg-trap');
    const key = licenseKey();
    await installFixture(ns, { chartVersion: '5.19.0', licenseKey: key });
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const hist = await history(3, ns);
    const mounts = await postgresMounts(ns);
    expect(mounts).toEqual(['/var/lib/postgresql/data']);

    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'auto',
      chart: chartRef('5.20.0'),
      'license-key': key,
    });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain('would no longer mount its data volume at /var/lib/postgresql/data');
    expect(run.outcome.error).toContain('allow-postgres-without-volume');
    expect(run.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
    expect(await history(3, ns)).toEqual(hist);
    expect(await postgresMounts(ns)).toEqual(mounts);
  });

  it('upgrades to the 5.20.0 chart without the postgres volume when allow-postgres-without-volume is true', async () => {
    const ns = await namespace('helm-pg-allowed');
    const key = licenseKey();
    await installFixture(ns, { chartVersion: '5.19.0', licenseKey: key });
    const run = await runAction(
      {
        namespace: ns,
        tag: '5.20.0',
        method: 'auto',
        chart: chartRef('5.20.0'),
        'license-key': key,
        'allow-postgres-without-volume': 'true',
      },
      { helmMajor: 4 },
    );
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    expect(await postgresMounts(ns)).toEqual([]);
    expect((await history(4, ns)).at(-1)?.chart).toBe('metadefender_core-5.20.0');
    expect(run.summary).toContain('allowed by allow-postgres-without-volume');
    // Installed by Helm 3, so Helm 4 keeps client-side apply, where --force-conflicts is refused.
    expect(run.reporter.text()).toContain('apply method: client-side three-way merge');
    expect(run.reporter.text()).not.toContain('--force-conflicts');
    // The other changes of the new chart are listed, never a Secret's value.
    expect(run.outcome.helm?.changes.join('\n')).toContain('ConfigMap/mdcore-env: data.STORAGE_PATH added');
    await expectNoLeak(run, ns, 4, key);
  });

  it('lists a chart upgrade’s other changes, refuses them with strict, and upgrades without it', async () => {
    const ns = await namespace('helm-chart-changes');
    const key = licenseKey();
    await installFixture(ns, { chartVersion: '5.19.0', licenseKey: key });
    // The 5.19.0 data volume kept with values, as the refusal above advises.
    const keepVolume = [
      'core_components.postgres-core.persistentDir=/var/lib/postgresql/data',
      'core_components.postgres-core.storage_name=postgres-core',
    ].join('\n');
    const before = await deploymentView(ns);
    const hist = await history(3, ns);
    const inputs = {
      namespace: ns,
      tag: '5.20.0',
      chart: chartRef('5.20.0'),
      set: keepVolume,
      'license-key': key,
    };

    const strict = await runAction({ ...inputs, strict: 'true' });
    expect(strict.outcome.result).toBe('failed');
    expect(strict.outcome.error).toContain("'strict' is true");
    expect(strict.outcome.error).toContain(
      'ConfigMap/mdcore-env: data.STORAGE_PATH added: /metadefendercore',
    );
    expect(strict.outcome.error).toContain('Deployment/md-core: ');
    expect(strict.outcome.error).toContain('env[IGNITION_JSON] removed');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await history(3, ns)).toEqual(hist);

    const run = await runAction(inputs);
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    expect(await postgresMounts(ns)).toEqual(['/var/lib/postgresql/data']);
    const changes = run.outcome.helm?.changes.join('\n') ?? '';
    expect(changes).toContain('Secret/mdcore-stack-configs: no longer in the chart (kept in the cluster');
    expect(changes).toContain('spec.template.spec.initContainers[check-db-ready].image');
    expect(changes).not.toContain('containers[md-core].image');
    expect(run.summary).toContain("Changes besides md-core's image and the upgrade variables");
    expect(
      run.reporter.lines.some((l) => l.level === 'warning' && l.text.includes('data.STORAGE_PATH')),
    ).toBe(true);
    await expectNoLeak(run, ns, 3, key);
  });

  it('re-applies the 5.20.0 chart at chart-version 5.20.0 with a new tag: nothing else changes, strict passes', async () => {
    const ns = await namespace('helm-chart-version');
    const key = licenseKey();
    await installFixture(ns, { chartVersion: '5.20.0', helmMajor: 4, licenseKey: key });
    const run = await runAction(
      {
        namespace: ns,
        tag: '5.20.1',
        chart: chartRef('5.20.0'),
        'chart-version': '5.20.0',
        'license-key': key,
        strict: 'true',
        'max-unavailable': '1',
      },
      { helmMajor: 4 },
    );
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    expect(run.outcome.helm?.changes).toEqual([]);
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.20.1`);
    const d = await kubectlJson<{ spec: { strategy: { rollingUpdate: Record<string, unknown> } } }>([
      'get',
      'deployment',
      'md-core',
      '-n',
      ns,
    ]);
    expect(d.spec.strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect((await history(4, ns)).map((r) => [r.revision, r.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
    ]);
  });

  it('Helm 4: upgrades a server-side release after a kubectl-route upgrade changed the image (conflict forced)', async () => {
    const ns = await namespace('helm4-after-kubectl');
    const key = licenseKey();
    await installFixture(ns, { chartVersion: '5.20.0', helmMajor: 4, licenseKey: key });
    const viaKubectl = await runAction({ namespace: ns, tag: '5.20.1', method: 'kubectl' }, { helmMajor: 4 });
    expect(viaKubectl.outcome.result).toBe('upgraded');
    // kubectl now owns md-core's image: Helm 4's server-side apply would fail on that conflict unless forced.
    const run = await runAction({ namespace: ns, tag: '5.20.2', 'license-key': key }, { helmMajor: 4 });
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    expect(run.reporter.text()).toContain('--force-conflicts');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.20.2`);
    expect((await history(4, ns)).at(-1)).toMatchObject({ revision: 2, status: 'deployed' });
  });

  it('MIGRATE_HISTORY on the helm route: pods stopped, startup probe and replicas through the chart values', async () => {
    const ns = await namespace('helm-migrate');
    const key = licenseKey();
    await installFixture(ns, { replicas: 2, licenseKey: key });
    type Spec = {
      spec: {
        replicas: number;
        progressDeadlineSeconds?: number;
        template: {
          spec: {
            containers: {
              name: string;
              livenessProbe?: unknown;
              startupProbe?: { failureThreshold?: number; periodSeconds?: number };
            }[];
          };
        };
      };
    };
    const spec = (): Promise<Spec> => kubectlJson<Spec>(['get', 'deployment', 'md-core', '-n', ns]);
    const before = await spec();
    const tag = tagFor('5.20.0', 'slow', 20);
    const run = await runAction({
      namespace: ns,
      tag,
      'migrate-history': 'true',
      'db-free-space': 'skip',
      'license-key': key,
      timeout: '10s',
      'migration-timeout': '2m',
    });
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    expect(run.outcome.method).toBe('helm');
    expect(run.reporter.text()).toContain('all md-core pods stopped (was 2)');
    // The startup probe is asked for: not listed as another change.
    expect(run.outcome.helm?.changes).toEqual([]);
    const after = await spec();
    const c = after.spec.template.spec.containers.find((x) => x.name === 'md-core');
    expect(after.spec.replicas).toBe(2);
    expect(c?.livenessProbe).toEqual(before.spec.template.spec.containers[0]?.livenessProbe);
    expect(
      (c?.startupProbe?.failureThreshold ?? 0) * (c?.startupProbe?.periodSeconds ?? 0),
    ).toBeGreaterThanOrEqual(120);
    expect(after.spec.progressDeadlineSeconds).toBe(before.spec.progressDeadlineSeconds);
    expect(await podEnv(ns, `${IMAGE}:${tag}`, ['MIGRATE_HISTORY', 'UPGRADE_DB'])).toEqual({
      MIGRATE_HISTORY: 'true',
      UPGRADE_DB: 'true',
    });
  });

  it('warns that helm resets replicas scaled outside the chart, and refuses that with strict', async () => {
    const ns = await namespace('helm-replicas');
    const key = licenseKey();
    await installFixture(ns, { replicas: 1, licenseKey: key });
    await kubectl(['scale', 'deployment/md-core', '--replicas=3', '-n', ns]);
    await kubectl(['rollout', 'status', 'deployment/md-core', '-n', ns, '--timeout=60s'], {
      timeoutMs: 70_000,
    });
    const strict = await runAction({ namespace: ns, tag: '5.20.0', 'license-key': key, strict: 'true' });
    expect(strict.outcome.result).toBe('failed');
    expect(strict.outcome.error).toContain('spec.replicas: 3 (live) → 1');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
  });

  it('refuses a release left pending by an interrupted helm upgrade, and changes nothing', async () => {
    const ns = await namespace('helm-pending');
    await installFixture(ns);
    // A helm upgrade that waits for a database that never turns ready, killed mid-way: pending-upgrade.
    await helm(
      3,
      [
        'upgrade',
        'mdcore',
        chartRef('5.19.0'),
        '-n',
        ns,
        '--reuse-values',
        '--set',
        `core_components.postgres-core.image=postgres:${tagFor('14.8', 'never-ready')}`,
        '--wait',
        '--timeout',
        '5m',
      ],
      { timeoutMs: 8_000 },
    ).then(
      () => {
        throw new Error('the interrupted helm upgrade finished');
      },
      (e: unknown) => expect(String(e)).toContain('timed out'),
    );
    const hist = await waitFor(
      'the release to be pending-upgrade',
      async () => {
        const h = await history(3, ns);
        return h.at(-1)?.status === 'pending-upgrade' ? h : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);

    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'auto',
      'license-key': licenseKey(),
    });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain('Helm release "mdcore" is in state pending-upgrade (revision 2)');
    expect(run.outcome.error).toContain(`helm rollback mdcore 1 -n ${ns}`);
    expect(run.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
    expect(await history(3, ns)).toEqual(hist);
  });

  it('dry-run renders and checks the helm upgrade without changing anything', async () => {
    const ns = await namespace('helm-dry-run');
    const key = licenseKey();
    await installFixture(ns, { licenseKey: key });
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const hist = await history(3, ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', 'license-key': key, 'dry-run': 'true' });
    expect(run.outcome.result).toBe('dry-run');
    expect(run.outcome.env.find((e) => e.name === 'UPGRADE_DB')).toMatchObject({
      value: 'true',
      target: { kind: 'configMap', configMap: 'mdcore-config' },
    });
    expect(run.reporter.text()).toContain('planned: helm upgrade mdcore');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
    expect(await history(3, ns)).toEqual(hist);
    await expectNoLeak(run, ns, 3, key);
  });
});
