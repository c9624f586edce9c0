// Rehearsal mode on the real embedded cluster (kubectl route, rolling update): both directions, the report
// file, the history ConfigMap, a target that never becomes ready, and staging off the baseline at the start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { historyConfigMapName, HISTORY_KEY } from '../../src/engine/rehearsal.ts';
import { startStandin } from '../support/mdcore-standin.ts';
import { kubectl } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { configMapsData, deploymentView, IMAGE, installFixture } from './support/action.ts';
import { useNamespaces } from './support/namespaces.ts';
import { fixtureApiKey, rehearsalHistory as history, rehearse, versionFollower } from './support/rehearse.ts';

const namespace = useNamespaces();
const reportDir = mkdtempSync(join(tmpdir(), 'rehearsal-e2e-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

describe('rehearsal (kubectl route, rolling update)', () => {
  it('upgrades to the target and rolls back to the baseline; report written, history grows per run', async () => {
    const ns = await namespace('rehearsal-pass');
    await installFixture(ns, { replicas: 1 });
    const cmBefore = await configMapsData(ns);
    const report = join(reportDir, 'pass.json');

    const first = await rehearse({
      namespace: ns,
      tag: '5.20.0',
      'baseline-tag': '5.19.0',
      'rehearsal-report': report,
    });
    expect(first.report.error).toBeUndefined();
    expect(first.report.passed).toBe(true);
    expect(first.reportPath).toBe(report);
    expect(first.fileReport).toEqual(first.report);
    expect(first.report.broughtToBaseline).toBe(false);
    expect(first.report.leftOn).toBe('5.19.0');
    const phases = Object.fromEntries(first.report.phases.map((p) => [p.name, p]));
    expect(Object.keys(phases)).toEqual([
      'baseline',
      'upgrade',
      'migration',
      'rollout',
      'verification',
      'rollback',
    ]);
    expect(phases.baseline?.detail).toBe('already on 5.19.0');
    expect(phases.upgrade?.ok).toBe(true);
    expect(phases.rollout?.seconds).toBeTypeOf('number');
    expect(phases.migration?.seconds).toBeTypeOf('number');
    expect(phases.rollback?.ok).toBe(true);
    expect(
      first.report.checks.some((c) => c.phase === 'upgrade' && c.id === 'wait' && c.status === 'ok'),
    ).toBe(true);
    expect(first.report.checks.find((c) => c.phase === 'rollback')?.status).toBe('ok');
    // The kubectl route's way back, said in the report; the action's own API requests counted per part.
    expect(first.report.rollbackMethod).toBe('rollout-undo');
    expect(phases.rollback?.detail).toMatch(/^kubectl rollout undo to Deployment revision \d+: back on /);
    const req = first.report.apiRequests;
    for (const part of ['baseline', 'upgrade', 'rollback'] as const) expect(req[part]).toBeGreaterThan(0);
    expect(req.total).toBeGreaterThanOrEqual((req.baseline ?? 0) + (req.upgrade ?? 0) + (req.rollback ?? 0));
    expect(first.summary).toContain(`API requests of the action's own client: baseline ${req.baseline},`);
    // The upgrade really happened: the upgrade run's outcome moved the image.
    expect(first.outcomes.map((o) => o.result)).toEqual(['unchanged', 'upgraded']);

    const view = await deploymentView(ns);
    expect(view.image).toBe(`${IMAGE}:5.19.0`);
    expect(await configMapsData(ns)).toEqual({
      ...cmBefore,
      [historyConfigMapName('md-core')]: expect.any(String) as unknown as string,
    });
    expect(await history(ns)).toEqual([expect.objectContaining({ passed: true, requests: req.total })]);
    expect(first.summary).toContain('Rehearsal passed: 5.19.0 → 5.20.0 → 5.19.0');

    const second = await rehearse({
      namespace: ns,
      tag: '5.20.0',
      'baseline-tag': '5.19.0',
      'rehearsal-report': report,
    });
    expect(second.report.passed).toBe(true);
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
    expect(await history(ns)).toHaveLength(2);

    // rehearsal-history bounds what is kept: the newest entries only.
    const third = await rehearse({
      namespace: ns,
      tag: '5.20.0',
      'baseline-tag': '5.19.0',
      'rehearsal-report': report,
      'rehearsal-history': '2',
    });
    expect(third.report.passed).toBe(true);
    const kept = (await history(ns)) as { at: string }[];
    expect(kept.map((e) => e.at)).toEqual([second.report.startedAt, third.report.startedAt]);
  });

  it('with api-url, verifies the target after the upgrade and the baseline after the rollback', async () => {
    const ns = await namespace('rehearsal-api');
    await installFixture(ns, { replicas: 1 });
    const standin = await startStandin({ apiKey: await fixtureApiKey(ns), version: '5.19.0' });
    try {
      const res = await rehearse(
        {
          namespace: ns,
          tag: '5.20.0',
          'baseline-tag': '5.19.0',
          'api-url': standin.url,
          'rehearsal-report': join(reportDir, 'api.json'),
        },
        { reporter: versionFollower(standin, '5.19.0', '5.20.0') },
      );
      expect(res.report.error).toBeUndefined();
      expect(res.report.passed).toBe(true);
      const verification = res.report.phases.find((p) => p.name === 'verification');
      expect(verification?.seconds).toBeTypeOf('number');
      expect(res.report.checks).toContainEqual(
        expect.objectContaining({ phase: 'upgrade', id: 'verify', status: 'ok' }),
      );
      expect(res.report.checks).toContainEqual(
        expect.objectContaining({ phase: 'rollback', id: 'verify-baseline', status: 'ok' }),
      );
      expect(res.report.phases.find((p) => p.name === 'rollback')?.detail).toContain(
        '5.19.0 serves again (/readyz 200, /version matches)',
      );
      expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
    } finally {
      await standin.close();
    }
  });

  it('warns when a phase is markedly slower than the median of the earlier rehearsals read back', async () => {
    const ns = await namespace('rehearsal-trend');
    await installFixture(ns, { replicas: 1 });
    const earlier = ['2026-11-09', '2026-11-16', '2026-11-23'].map((d) => ({
      at: `${d}T03:00:00.000Z`,
      baseline: '5.19.0',
      target: '5.20.0',
      passed: true,
      seconds: { upgrade: 1, rollout: 1 },
    }));
    await kubectl([
      'create',
      'configmap',
      historyConfigMapName('md-core'),
      '-n',
      ns,
      `--from-literal=${HISTORY_KEY}=${JSON.stringify(earlier)}`,
    ]);
    // Ready 8 s after start: the rollout takes markedly longer than the 1 s recorded before.
    const res = await rehearse({
      namespace: ns,
      tag: tagFor('5.20.0', 'slow', 8),
      'baseline-tag': '5.19.0',
      'rehearsal-report': join(reportDir, 'trend.json'),
    });
    expect(res.report.passed).toBe(true);
    expect(res.report.trend).toContainEqual(
      expect.stringMatching(/^rollout took \d+ s, [\d.]+× the median 1 s of the last 3 passed rehearsals$/),
    );
    const warnings = res.reporter.lines.filter(
      (l) => l.level === 'warning' && l.title === 'Rehearsal slower than usual',
    );
    expect(warnings.map((w) => w.text)).toEqual(res.report.trend);
    expect(res.summary).toContain('**Slower than usual:**');
    expect(await history(ns)).toHaveLength(4);
  });

  it('with rehearsal-restore false, leaves staging on the target after a passed rehearsal', async () => {
    const ns = await namespace('rehearsal-keep');
    await installFixture(ns, { replicas: 1 });
    const res = await rehearse({
      namespace: ns,
      tag: '5.20.0',
      'baseline-tag': '5.19.0',
      'rehearsal-restore': 'false',
      'rehearsal-report': join(reportDir, 'keep.json'),
    });
    expect(res.report.passed).toBe(true);
    expect(res.report.leftOn).toBe('5.20.0');
    expect(res.report.phases.find((p) => p.name === 'rollback')).toEqual({
      name: 'rollback',
      seconds: undefined,
      ok: true,
      detail: 'rehearsal-restore is false: left on the target',
    });
    expect(res.summary).toContain('## Rehearsal passed: 5.19.0 → 5.20.0\n');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.20.0`);
  });

  it('fails naming the upgrade phase when the target never becomes ready; staging back on the baseline', async () => {
    const ns = await namespace('rehearsal-never-ready');
    await installFixture(ns, { replicas: 1 });
    const res = await rehearse({
      namespace: ns,
      tag: tagFor('5.20.0', 'never-ready'),
      'baseline-tag': '5.19.0',
      timeout: '20s',
      'rehearsal-report': join(reportDir, 'never-ready.json'),
    });
    expect(res.report.passed).toBe(false);
    expect(res.report.failedPhase).toBe('upgrade');
    expect(res.report.error).toMatch(/^the upgrade phase failed: /);
    expect(res.report.leftOn).toBe('5.19.0');
    expect(res.fileReport.passed).toBe(false);
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
    expect(res.summary).toContain('Rehearsal FAILED in the upgrade phase');
    expect(await history(ns)).toHaveLength(1);
  });

  it('brings staging to the baseline first when it runs something else, and says so', async () => {
    const ns = await namespace('rehearsal-off-baseline');
    await installFixture(ns, { replicas: 1, tag: '5.18.0' });
    const res = await rehearse({
      namespace: ns,
      tag: '5.20.0',
      'baseline-tag': '5.19.0',
      'rehearsal-report': join(reportDir, 'off-baseline.json'),
    });
    expect(res.report.error).toBeUndefined();
    expect(res.report.passed).toBe(true);
    expect(res.report.broughtToBaseline).toBe(true);
    expect(res.outcomes.map((o) => o.result)).toEqual(['upgraded', 'upgraded']);
    expect(res.report.phases[0]?.detail).toBe(`brought from ${IMAGE}:5.18.0 to 5.19.0`);
    expect(res.summary).toContain('it was brought there first');
    expect(res.reporter.text()).toContain('it was brought to the baseline first');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
  });
});
