// Rehearsals with strategy blue-green on the real embedded cluster: a plain Deployment rehearsed twice in a row
// (green created, verified, switched, blue at 0; then the switch back on purpose: blue scaled up, the Service on
// blue again, green removed, so the next week's rehearsal finds the same names), a target that never becomes
// ready (fails in the upgrade phase, staging on the baseline, nothing left behind), staging off the baseline at
// the start (brought there in place), and a helm-managed staging install, where the hand-over upgrades the
// chart's Deployment and the way back is helm rollback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startStandin } from '../support/mdcore-standin.ts';
import { helm, kubectl, waitFor } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { deploymentView, IMAGE, installFixture } from './support/action.ts';
import { plainMdCoreDocs } from './support/blue-green-fixture.ts';
import { useNamespaces } from './support/namespaces.ts';
import { podIps } from './support/pods.ts';
import { staging } from './support/staging.ts';
import {
  expectNeverReady,
  rehearsalHistory,
  rehearse,
  versionFollower,
  type Rehearsed,
} from './support/rehearse.ts';

const namespace = useNamespaces();
const reportDir = mkdtempSync(join(tmpdir(), 'rehearsal-bg-e2e-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

const COLOR = 'mdcore-upgrade.opswat.com/color';
const BLUE_LABELS = { app: 'md-core', tier: 'scan' };
const API_KEY = 'k-rehearsal-bg-1';
/** The phases a blue-green rehearsal reports up to the hand-over, in order. */
const UPGRADE_PHASES = ['baseline', 'upgrade', 'migration', 'rollout', 'verification', 'switch', 'hold'];

async function plainFixture(ns: string, replicas: number): Promise<void> {
  const docs = plainMdCoreDocs(ns, replicas, BLUE_LABELS);
  await kubectl(['apply', '-f', '-'], { input: docs.map((d) => stringify(d)).join('---\n') });
  await kubectl(['rollout', 'status', 'deployment/md-core', '-n', ns, '--timeout=120s'], {
    timeoutMs: 130_000,
  });
}

/** Staging as the fixture made it: blue alone at the baseline, serving, nothing of a color left. */
async function expectOnBaseline(ns: string, replicas: number): Promise<void> {
  const s = await staging(ns);
  expect(s.deployments).toEqual([{ name: 'md-core', replicas, ready: replicas, image: `${IMAGE}:5.19.0` }]);
  expect(s.services).toEqual([{ name: 'md-core', selector: { app: 'md-core' } }]);
  expect(s.readyEndpoints).toEqual(await podIps(ns, 'app=md-core'));
  expect(s.readyEndpoints).toHaveLength(replicas);
}

/** Blue's pod names (the fixture's label; green's pods carry app=md-core-green). */
async function podNames(ns: string): Promise<string[]> {
  const out = await kubectl(['get', 'pods', '-n', ns, '-l', 'app=md-core', '-o', 'name']);
  return out.stdout.split('\n').filter(Boolean).sort();
}

async function greenPodsGone(ns: string): Promise<void> {
  await waitFor(
    'green pods gone',
    async () => ((await podIps(ns, `${COLOR}=green`)).length === 0 ? true : undefined),
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

/** One passing plain blue-green rehearsal's report, as every week's must read. */
function expectPassed(res: Rehearsed): void {
  expect(res.report.error).toBeUndefined();
  expect(res.report.passed).toBe(true);
  expect(res.outcomes.map((o) => [o.result, o.method])).toEqual([
    ['unchanged', 'kubectl'],
    ['upgraded', 'kubectl'],
  ]);
  expect(res.outcomes[1]?.extraOutputs).toMatchObject({ 'active-color': 'green', 'previous-color': 'blue' });
  expect(res.report.rollbackMethod).toBe('blue-green-switch-back');
  expect(res.report.leftOn).toBe('5.19.0');
  const phase = (name: string) => res.report.phases.find((p) => p.name === name);
  expect(res.report.phases.map((p) => p.name)).toEqual([...UPGRADE_PHASES, 'rollback']);
  for (const p of res.report.phases) expect(p.ok, p.name).toBe(true);
  for (const name of ['upgrade', 'migration', 'rollout', 'verification', 'switch', 'hold', 'rollback'])
    expect(phase(name)?.seconds, name).toEqual(expect.any(Number));
  // scale-down-delay 3 s: the hold is timed from the step that kept blue.
  expect(phase('hold')?.seconds).toBeGreaterThanOrEqual(3);
  expect(phase('migration')?.detail).toBe(
    "from green's creation to its first pod ready (the database migration runs in it)",
  );
  expect(phase('verification')?.detail).toBe('MD Core REST checks: verify-green, verify-serving');
  expect(phase('rollback')?.detail).toMatch(
    /^blue-green switch back: Deployment md-core back to 2 replica\(s\), Service md-core selecting it again, Deployment md-core-green and Service md-core-green-preview removed: back on \S+:5\.19\.0, every pod ready; Service md-core's ready endpoints are md-core's pods only \([\d., ]+\); 5\.19\.0 serves again/,
  );
  const rollbackChecks = res.report.checks.filter((c) => c.phase === 'rollback');
  expect(rollbackChecks.map((c) => [c.id, c.status])).toEqual([
    ['rollback', 'ok'],
    ['endpoints-baseline', 'ok'],
    ['verify-baseline', 'ok'],
  ]);
  expect(res.summary).toContain('## Rehearsal passed: 5.19.0 → 5.20.0 → 5.19.0\n');
  expect(res.summary).toContain(
    'Way back: blue-green switch back (the previous color scaled back up, the Service on it again, the new color removed).',
  );
  expect(res.summary).toMatch(/\| switch \| \d+ s \| ok \|/);
  expect(res.fileReport).toEqual(JSON.parse(JSON.stringify(res.report)));
}

describe('rehearsal with strategy blue-green (plain Deployment)', () => {
  it('passes twice in a row: green switched in and out, staging back on blue with the same names each week', async () => {
    const ns = await namespace('rehearsal-bg');
    await plainFixture(ns, 2);
    const bluePodsBefore = await podNames(ns);
    await expectOnBaseline(ns, 2);

    for (const week of [1, 2]) {
      const standin = await startStandin({ apiKey: API_KEY, version: '5.19.0' });
      const res = await rehearse(
        {
          namespace: ns,
          tag: '5.20.0',
          'baseline-tag': '5.19.0',
          strategy: 'blue-green',
          'scale-down-delay': '3',
          activations: '4',
          'api-url': standin.url,
          'green-api-url': standin.url,
          'api-key': API_KEY,
          'rehearsal-report': join(reportDir, `week-${week}.json`),
        },
        { reporter: versionFollower(standin, '5.19.0', '5.20.0') },
      ).finally(() => standin.close());
      expectPassed(res);
      // The upgrade really switched: the log names green's Service switch and blue at 0.
      expect(res.reporter.text()).toMatch(/Service md-core selects green since \d{4}-/);
      expect(res.reporter.text()).toContain('Deployment md-core scaled to 0 (was 2)');
      expect(res.reporter.text()).toContain('Service md-core selects blue again');
      // The way back is verified through the serving path: /version answered the baseline after it.
      expect(standin.requests.filter((r) => r.path.endsWith('/version')).length).toBeGreaterThanOrEqual(3);
      await greenPodsGone(ns);
      await expectOnBaseline(ns, 2);
      expect(await rehearsalHistory(ns)).toHaveLength(week);
    }
    // Blue's pods were scaled to 0 and back: new pods (KWOK may give them the same IPs), the same Deployment.
    const bluePodsAfter = await podNames(ns);
    expect(bluePodsAfter).toHaveLength(2);
    for (const name of bluePodsAfter) expect(bluePodsBefore).not.toContain(name);
    const hist = await rehearsalHistory(ns);
    expect(hist.map((h) => h.passed)).toEqual([true, true]);
    expect(Object.keys(hist[1]?.seconds ?? {})).toEqual(
      expect.arrayContaining(['migration', 'switch', 'hold', 'rollback']),
    );
  });

  it('fails in the upgrade phase when green never becomes ready; staging on the baseline, nothing left', async () => {
    const ns = await namespace('rehearsal-bg-never');
    await plainFixture(ns, 1);
    const res = await rehearse({
      namespace: ns,
      tag: tagFor('5.20.0', 'never-ready'),
      'baseline-tag': '5.19.0',
      strategy: 'blue-green',
      timeout: '15s',
      'rehearsal-report': join(reportDir, 'never-ready.json'),
    });
    expectNeverReady(res, '5.19.0');
    await greenPodsGone(ns);
    await expectOnBaseline(ns, 1);
    expect(await rehearsalHistory(ns)).toHaveLength(1);
  });
});

describe('rehearsal with strategy blue-green: staging off the baseline at the start', () => {
  it('brings blue to the baseline in place (no color made), then rehearses from it', async () => {
    const ns = await namespace('rehearsal-bg-off');
    await plainFixture(ns, 1);
    await kubectl(['set', 'image', 'deployment/md-core', `md-core=${IMAGE}:5.18.0`, '-n', ns]);
    await kubectl(['rollout', 'status', 'deployment/md-core', '-n', ns, '--timeout=120s'], {
      timeoutMs: 130_000,
    });
    const res = await rehearse({
      namespace: ns,
      tag: '5.20.0',
      'baseline-tag': '5.19.0',
      strategy: 'blue-green',
      'scale-down-delay': '1',
      'rehearsal-report': join(reportDir, 'off-baseline.json'),
    });
    expect(res.report.error).toBeUndefined();
    expect(res.report.passed).toBe(true);
    expect(res.report.broughtToBaseline).toBe(true);
    expect(res.report.phases[0]?.detail).toBe(`brought from ${IMAGE}:5.18.0 to 5.19.0`);
    expect(res.outcomes.map((o) => o.result)).toEqual(['upgraded', 'upgraded']);
    // The baseline run was a rolling update of blue itself; the upgrade was blue-green from it.
    const ids = res.outcomes.map((o) => o.steps.map((s) => s.id));
    expect(ids[0]).toContain('apply');
    expect(ids[0]).not.toContain('create-green');
    expect(ids[1]).toEqual(
      expect.arrayContaining(['create-green', 'switch', 'hold-blue', 'scale-down-blue']),
    );
    expect(res.report.rollbackMethod).toBe('blue-green-switch-back');
    await greenPodsGone(ns);
    await expectOnBaseline(ns, 1);
  });
});

describe('rehearsal with strategy blue-green (helm-managed: the hand-over)', () => {
  it("hands over to the chart's Deployment, then helm rollback to the revision before; twice in a row", async () => {
    const ns = await namespace('rehearsal-bgh');
    const KEY = 'E2E-LIC-REHEARSAL-BGH-01';
    await installFixture(ns, {
      helmMajor: 3,
      chartVersion: '5.20.0',
      tag: '5.19.0',
      licenseKey: KEY,
      replicas: 1,
    });
    const revisions = async (): Promise<{ revision: number; description: string }[]> =>
      (
        JSON.parse((await helm(3, ['history', 'mdcore', '-n', ns, '-o', 'json'])).stdout) as {
          revision: number;
          description: string;
        }[]
      ).sort((a, b) => a.revision - b.revision);
    const namesBefore = (await staging(ns)).deployments.map((d) => d.name);
    const servicesBefore = (await staging(ns)).services;
    // Twice, as two weeks of the schedule: the second finds staging as the first left it.
    for (const week of [1, 2]) {
      const before = await revisions();
      const res = await rehearse(
        {
          namespace: ns,
          tag: '5.20.0',
          'baseline-tag': '5.19.0',
          strategy: 'blue-green',
          method: 'helm',
          'scale-down-delay': '2',
          activations: '2',
          'license-key': KEY,
          'rehearsal-report': join(reportDir, `handover-${week}.json`),
        },
        { helmMajor: 3 },
      );
      expect(res.report.error).toBeUndefined();
      expect(res.report.passed).toBe(true);
      expect(res.outcomes.map((o) => [o.result, o.method])).toEqual([
        ['unchanged', 'helm'],
        ['upgraded', 'helm'],
      ]);
      // The chart's Deployment served the target at the end of the upgrade (blue's name, handed back).
      expect(res.outcomes[1]?.extraOutputs).toMatchObject({ 'active-color': 'blue' });
      expect(res.reporter.text()).toContain('EndpointSlice md-core-green-bridge');
      expect(res.report.rollbackMethod).toBe('helm-rollback');
      expect(res.report.phases.map((p) => p.name)).toEqual([...UPGRADE_PHASES, 'handover', 'rollback']);
      for (const p of res.report.phases) expect(p.ok, p.name).toBe(true);
      const phase = (name: string) => res.report.phases.find((p) => p.name === name);
      expect(phase('handover')?.seconds).toEqual(expect.any(Number));
      const previous = before.at(-1)?.revision ?? 0;
      expect(phase('rollback')?.detail).toMatch(
        new RegExp(`^helm rollback of release mdcore to revision ${previous}: back on `),
      );
      expect(res.reporter.text()).toMatch(/\$ \S*helm rollback mdcore \d+ /);
      // The release went on by two (the hand-over's upgrade, then the rollback to the revision before it).
      const after = await revisions();
      expect(after).toHaveLength(before.length + 2);
      expect(after.at(-1)?.description).toBe(`Rollback to ${previous}`);
      expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
      await greenPodsGone(ns);
      const s = await staging(ns);
      expect(s.deployments.map((d) => d.name)).toEqual(namesBefore);
      expect(s.services).toEqual(servicesBefore);
      expect(s.readyEndpoints).toHaveLength(1);
    }
  });
});
