// Rehearsal mode beyond the kubectl route's rolling update, on the real embedded cluster: a helm-managed staging
// install with Helm 3 and Helm 4 (the way back is helm rollback to the release revision before the upgrade), the
// export-import strategy (against the MD Core stand-in), and the baseline read from production's Deployment in
// another namespace (baseline-from), which is never changed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { historyConfigMapName } from '../../src/engine/rehearsal.ts';
import { e2eCluster, helm, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { startStandin } from '../support/mdcore-standin.ts';
import { configMapsData, deploymentView, IMAGE, installFixture } from './support/action.ts';
import { useNamespaces } from './support/namespaces.ts';
import { fixtureApiKey, rehearsalHistory, rehearse, versionFollower } from './support/rehearse.ts';
import { bindReadmeRole, SA, tokenKubeconfig } from './support/service-account.ts';
import { rbacBlock } from '../support/readme-blocks.ts';

const namespace = useNamespaces();
const reportDir = mkdtempSync(join(tmpdir(), 'rehearsal-routes-e2e-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

const LICENSE = 'TEST-LICENSE-0000-1111';

interface Revision {
  revision: number;
  status: string;
  description: string;
}

async function releaseHistory(major: 3 | 4, ns: string): Promise<Revision[]> {
  const r = await helm(major, ['history', 'mdcore', '-n', ns, '-o', 'json']);
  return (JSON.parse(r.stdout) as Revision[]).sort((a, b) => a.revision - b.revision);
}

/** Everything a change to a Deployment would move: its resourceVersion and generation. */
async function deploymentStamp(ns: string): Promise<{ resourceVersion: string; generation: number }> {
  const d = await kubectlJson<{ metadata: { resourceVersion: string; generation: number } }>([
    'get',
    'deployment',
    'md-core',
    '-n',
    ns,
  ]);
  return { resourceVersion: d.metadata.resourceVersion, generation: d.metadata.generation };
}

describe('rehearsal on the helm route', () => {
  it.each([3, 4] as const)(
    'Helm %i: upgrades the release, then helm rollback to the revision before it; the report says so',
    async (major) => {
      const ns = await namespace(`rehearsal-helm${major}`);
      await installFixture(ns, { helmMajor: major, replicas: 1, licenseKey: LICENSE });
      const cmBefore = await configMapsData(ns);
      const res = await rehearse(
        {
          namespace: ns,
          tag: '5.20.0',
          'baseline-tag': '5.19.0',
          method: 'helm',
          'license-key': LICENSE,
          'rehearsal-report': join(reportDir, `helm${major}.json`),
        },
        { helmMajor: major },
      );
      expect(res.report.error).toBeUndefined();
      expect(res.report.passed).toBe(true);
      expect(res.outcomes.map((o) => [o.result, o.method])).toEqual([
        ['unchanged', 'helm'],
        ['upgraded', 'helm'],
      ]);
      expect(res.report.rollbackMethod).toBe('helm-rollback');
      const rollback = res.report.phases.find((p) => p.name === 'rollback');
      expect(rollback?.ok).toBe(true);
      expect(rollback?.detail).toMatch(/^helm rollback of release mdcore to revision 1: back on /);
      expect(res.summary).toContain('Way back: helm rollback (the release revision before the upgrade).');
      expect(res.reporter.text()).toMatch(/\$ \S*helm rollback mdcore 1 /);
      expect(res.reporter.text()).not.toMatch(/rollout undo deployment/);

      // The release went 1 → 2 (the upgrade) → 3 (rollback to 1); staging runs the baseline with its variables.
      const h = await releaseHistory(major, ns);
      expect(h.map((r) => r.revision)).toEqual([1, 2, 3]);
      expect(h[2]).toMatchObject({ status: 'deployed', description: 'Rollback to 1' });
      expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
      expect(await configMapsData(ns)).toEqual({
        ...cmBefore,
        [historyConfigMapName('md-core')]: expect.any(String) as unknown as string,
      });
      const req = res.report.apiRequests;
      expect(req.upgrade).toBeGreaterThan(0);
      expect(req.rollback).toBeGreaterThan(0);
      expect(await rehearsalHistory(ns)).toEqual([
        expect.objectContaining({ passed: true, requests: req.total }),
      ]);
    },
  );
});

describe('rehearsal with the export-import strategy', () => {
  it('exports before the upgrade, imports into the target, rolls back; export and import timed as phases', async () => {
    const ns = await namespace('rehearsal-exim');
    await installFixture(ns, { replicas: 1 });
    const standin = await startStandin({
      apiKey: await fixtureApiKey(ns),
      version: '5.19.0',
      config: { workflows: ['default'], users: ['admin'] },
    });
    const exportDir = mkdtempSync(join(reportDir, 'export-'));
    try {
      const res = await rehearse(
        {
          namespace: ns,
          tag: '5.20.0',
          'baseline-tag': '5.19.0',
          strategy: 'export-import',
          'api-url': standin.url,
          'config-password': 'archive-Pa55word!',
          'export-dir': exportDir,
          'rehearsal-report': join(reportDir, 'exim.json'),
        },
        { reporter: versionFollower(standin, '5.19.0', '5.20.0') },
      );
      expect(res.report.error).toBeUndefined();
      expect(res.report.passed).toBe(true);
      expect(res.report.phases.map((p) => p.name)).toEqual([
        'baseline',
        'upgrade',
        'export',
        'migration',
        'rollout',
        'import',
        'verification',
        'rollback',
      ]);
      for (const name of ['export', 'import'])
        expect(res.report.phases.find((p) => p.name === name)).toMatchObject({
          ok: true,
          seconds: expect.any(Number) as unknown,
        });
      // Staging was on the baseline: one export (before the upgrade) and one import (into the target).
      const calls = standin.requests.map((r) => `${r.method} ${r.path}`);
      expect(calls.filter((c) => c === 'GET /admin/export/v2')).toHaveLength(1);
      expect(calls.filter((c) => c === 'POST /admin/import/v2')).toHaveLength(1);
      expect(res.report.checks).toContainEqual(
        expect.objectContaining({ phase: 'rollback', id: 'verify-baseline', status: 'ok' }),
      );
      expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
      expect((await rehearsalHistory(ns))[0]?.seconds).toHaveProperty('import');
    } finally {
      await standin.close();
    }
  });
});

describe('baseline-from: the baseline read from production', () => {
  it("rehearses from the tag production's Deployment runs (context/namespace/deployment) and leaves production untouched", async () => {
    const prod = await namespace('rehearsal-prod');
    const staging = await namespace('rehearsal-from');
    await installFixture(prod, { replicas: 1, tag: '5.19.0' });
    await installFixture(staging, { replicas: 1, tag: '5.18.0' });
    const prodBefore = await deploymentStamp(prod);
    const context = (parse(readFileSync(e2eCluster().kubeconfig, 'utf8')) as { 'current-context': string })[
      'current-context'
    ];
    const from = `${context}/${prod}/md-core`;
    const res = await rehearse({
      namespace: staging,
      tag: '5.20.0',
      'baseline-from': from,
      'rehearsal-report': join(reportDir, 'from.json'),
    });
    expect(res.report.error).toBeUndefined();
    expect(res.report.passed).toBe(true);
    expect(res.report.baselineTag).toBe('5.19.0');
    expect(res.report.baselineFrom).toBe(from);
    expect(res.report.broughtToBaseline).toBe(true);
    expect(res.report.phases[0]?.detail).toBe(`brought from ${IMAGE}:5.18.0 to 5.19.0 (read from ${from})`);
    expect(res.reporter.text()).toContain(`production's Deployment ${from} runs ${IMAGE}:5.19.0`);
    expect(res.summary).toContain(`Baseline 5.19.0 read from production's Deployment ${from}.`);
    expect((await deploymentView(staging)).image).toBe(`${IMAGE}:5.19.0`);
    // Production was only read: not a field of its Deployment moved, and no history was written there.
    expect(await deploymentStamp(prod)).toEqual(prodBefore);
    expect(Object.keys(await configMapsData(prod))).not.toContain(historyConfigMapName('md-core'));
  });

  it("README's rules are enough: staging's Role plus get on production's md-core only; without it, a clear refusal", async () => {
    const prod = await namespace('rehearsal-prod-rbac');
    const staging = await namespace('rehearsal-from-rbac');
    await installFixture(prod, { replicas: 1, tag: '5.19.0' });
    await installFixture(staging, { replicas: 1, tag: '5.19.0' });
    await bindReadmeRole(staging, 'kubectl', ['rehearsal']);
    const inputs = {
      namespace: staging,
      tag: '5.20.0',
      'baseline-from': `${prod}/md-core`,
      kubeconfig: await tokenKubeconfig(staging),
    };
    const prodBefore = await deploymentStamp(prod);

    const refused = await rehearse({ ...inputs, 'rehearsal-report': join(reportDir, 'rbac-refused.json') });
    expect(refused.report.failedPhase).toBe('baseline');
    expect(refused.report.error).toMatch(
      new RegExp(
        `^the baseline phase failed: input 'baseline-from': production's Deployment ${prod}/md-core could not be read \\(.*HTTP 403.*\\); the rehearsal needs get on deployments in ${prod}\\. Nothing in the cluster was changed\\.$`,
      ),
    );
    expect(refused.outcomes).toEqual([]);

    // README's one rule for production, in production's namespace, bound to staging's ServiceAccount.
    const rules = parse(rbacBlock('baseline-from')) as unknown[];
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'read-md-core', namespace: prod },
      rules,
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'read-md-core', namespace: prod },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-md-core' },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace: staging }],
    };
    await kubectl(['apply', '-f', '-'], { input: [role, binding].map((d) => stringify(d)).join('---\n') });
    const as = `--as=system:serviceaccount:${staging}:${SA}`;
    await waitFor(
      'the Role to reach the authorizer',
      async () => {
        const r = await kubectl(['auth', 'can-i', 'get', 'deployments.apps/md-core', '-n', prod, as], {
          allowFailure: true,
        });
        return r.stdout.trim() === 'yes' ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    // Nothing more than reading: the ServiceAccount may not change production.
    const patch = await kubectl(['auth', 'can-i', 'patch', 'deployments.apps/md-core', '-n', prod, as], {
      allowFailure: true,
    });
    expect(patch.stdout.trim()).toBe('no');

    const res = await rehearse({ ...inputs, 'rehearsal-report': join(reportDir, 'rbac.json') });
    expect(res.report.error).toBeUndefined();
    expect(res.report.passed).toBe(true);
    expect(res.report.baselineTag).toBe('5.19.0');
    expect((await deploymentView(staging)).image).toBe(`${IMAGE}:5.19.0`);
    expect(await deploymentStamp(prod)).toEqual(prodBefore);
  });

  it('fails the baseline phase naming the input when production cannot be read; staging untouched', async () => {
    const staging = await namespace('rehearsal-from-missing');
    await installFixture(staging, { replicas: 1, tag: '5.19.0' });
    const before = await deploymentStamp(staging);
    const res = await rehearse({
      namespace: staging,
      tag: '5.20.0',
      'baseline-from': `${staging}-gone/md-core`,
      'rehearsal-report': join(reportDir, 'from-missing.json'),
    });
    expect(res.report.passed).toBe(false);
    expect(res.report.failedPhase).toBe('baseline');
    expect(res.report.error).toBe(
      `the baseline phase failed: input 'baseline-from': Deployment ${staging}-gone/md-core was not found; name production's md-core Deployment as <context>/<namespace>/<deployment>. Nothing in the cluster was changed.`,
    );
    expect(res.outcomes).toEqual([]);
    expect(res.report.leftOn).toBe('what it ran before (nothing was changed)');
    expect(await deploymentStamp(staging)).toEqual(before);
  });

  it('refuses to rehearse when production already runs the target', async () => {
    const prod = await namespace('rehearsal-prod-ahead');
    const staging = await namespace('rehearsal-from-ahead');
    await installFixture(prod, { replicas: 1, tag: '5.20.0' });
    await installFixture(staging, { replicas: 1, tag: '5.19.0' });
    const before = await deploymentStamp(staging);
    const res = await rehearse({
      namespace: staging,
      tag: '5.20.0',
      'baseline-from': `${prod}/md-core`,
      'rehearsal-report': join(reportDir, 'from-ahead.json'),
    });
    expect(res.report.failedPhase).toBe('baseline');
    expect(res.report.error).toContain(
      `production's Deployment ${prod}/md-core already runs the target 5.20.0: there is no upgrade to rehearse`,
    );
    expect(await deploymentStamp(staging)).toEqual(before);
  });
});
