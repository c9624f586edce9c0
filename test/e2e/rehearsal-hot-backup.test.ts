// Rehearsals with strategy blue-green-hot-backup on the real embedded cluster, with the REST stand-in keeping its
// own licence record (test/support/standin-licence.ts, fed by the namespace's pods): a plain Deployment with
// exactly as many activations as pods rehearsed twice in a row (green registered as hot backup, blue stopped,
// green activated and switched in; then the hot-backup undo on purpose: green's pods gone first, blue back with
// its activations, the Service on blue, green removed), the licence never above the count in either direction;
// and a target that never becomes ready (fails in the upgrade phase, staging on the baseline, nothing registered
// left).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Standin } from '../support/mdcore-standin.ts';
import { waitFor } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { IMAGE } from './support/action.ts';
import {
  COLOR,
  licensedFixture,
  podNames,
  untilActive,
  withLicenceStandin,
} from './support/hot-backup-fixture.ts';
import { useNamespaces } from './support/namespaces.ts';
import { podIps } from './support/pods.ts';
import { expectNeverReady, rehearsalHistory, rehearse, versionFollower } from './support/rehearse.ts';
import { staging } from './support/staging.ts';

const namespace = useNamespaces();
const reportDir = mkdtempSync(join(tmpdir(), 'rehearsal-hb-e2e-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

const API_KEY = 'k-rehearsal-hb-1';
const LICENSED = 2;

function inputs(s: Standin, extra: Record<string, string>): Record<string, string> {
  return {
    tag: '5.20.0',
    'baseline-tag': '5.19.0',
    strategy: 'blue-green-hot-backup',
    activations: String(LICENSED),
    'api-url': s.url,
    'api-key': API_KEY,
    'green-api-url': `${s.url}/i/{pod}`,
    timeout: '60s',
    ...extra,
  };
}

/** Staging as the fixture made it: blue alone at the baseline, serving, no green, no preview. */
async function expectOnBaseline(ns: string, replicas: number): Promise<void> {
  await waitFor(
    'green pods gone',
    async () => ((await podIps(ns, `${COLOR}=green`)).length === 0 ? true : undefined),
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  // The EndpointSlice controller may lag the pods by a moment (right after the fixture's rollout, say).
  await waitFor(
    "Service md-core's ready endpoints on blue's pods",
    async () => {
      const ready = (await staging(ns)).readyEndpoints;
      return ready.join() === (await podIps(ns, 'app=md-core')).join() ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  const s = await staging(ns);
  expect(s.deployments).toEqual([{ name: 'md-core', replicas, ready: replicas, image: `${IMAGE}:5.19.0` }]);
  expect(s.services).toEqual([{ name: 'md-core', selector: { app: 'md-core' } }]);
  expect(s.readyEndpoints).toEqual(await podIps(ns, 'app=md-core'));
  expect(s.readyEndpoints).toHaveLength(replicas);
}

describe('rehearsal with strategy blue-green-hot-backup (plain Deployment)', () => {
  it('passes twice in a row with exactly as many activations as pods; the way back never above the licence either', async () => {
    const ns = await namespace('rehearsal-hb');
    await licensedFixture(ns, LICENSED);
    await expectOnBaseline(ns, LICENSED);
    await withLicenceStandin(ns, { activations: LICENSED, apiKey: API_KEY, version: '5.19.0' }, async (s) => {
      const m = s.licence!;
      await untilActive(m, await podNames(ns, 'app=md-core'), 'blue active at the start');
      for (const week of [1, 2]) {
        const bluePodsBefore = await podNames(ns, 'app=md-core');
        const weekFrom = m.events.length;
        const reporter = versionFollower(s, '5.19.0', '5.20.0');
        // Where the stand-in's record stood when the way back began: what follows is the way back's.
        let wayBackFrom: number | undefined;
        const info = reporter.info.bind(reporter);
        reporter.info = (text: string): void => {
          if (text.startsWith('Rehearsal: rolling back on purpose')) wayBackFrom = m.events.length;
          info(text);
        };
        const res = await rehearse(
          { namespace: ns, ...inputs(s, { 'rehearsal-report': join(reportDir, `week-${week}.json`) }) },
          { reporter },
        );
        expect(res.report.error).toBeUndefined();
        expect(res.report.passed).toBe(true);
        expect(res.outcomes.map((o) => [o.result, o.method])).toEqual([
          ['unchanged', 'kubectl'],
          ['upgraded', 'kubectl'],
        ]);
        const upgrade = res.outcomes[1];
        expect(upgrade?.extraOutputs).toMatchObject({
          'active-color': 'green',
          'previous-color': 'blue',
          'activations-peak': String(LICENSED),
        });
        // The report's phases: migration, registration, the activation hand-over (the run's own figure), switch.
        expect(res.report.phases.map((p) => p.name)).toEqual([
          'baseline',
          'upgrade',
          'migration',
          'registration',
          'rollout',
          'verification',
          'handover',
          'switch',
          'rollback',
        ]);
        for (const p of res.report.phases) expect(p.ok, p.name).toBe(true);
        const phase = (name: string) => res.report.phases.find((p) => p.name === name);
        for (const name of ['migration', 'registration', 'rollout', 'verification', 'switch', 'rollback'])
          expect(phase(name)?.seconds, name).toEqual(expect.any(Number));
        expect(phase('handover')?.seconds).toBe(Number(upgrade?.extraOutputs['handover-seconds']));
        expect(phase('handover')?.seconds).toBeGreaterThan(0);
        expect(phase('verification')?.detail).toBe(
          'MD Core REST checks: verify-backups, check-scanning, verify-serving',
        );
        // The way back: the hot-backup undo in its order, then blue's pods alone behind the Service, serving.
        expect(res.report.rollbackMethod).toBe('hot-backup-switch-back');
        expect(phase('rollback')?.detail).toMatch(
          /^hot-backup undo: Service md-core selecting md-core again, Deployment md-core-green removed and its pods gone \(their activations released\), Service md-core-green-preview removed, Deployment md-core back to 2 replica\(s\) \(its pods take the activations again\), awaited until ready; 2 activation\(s\) in use afterwards: back on \S+:5\.19\.0, every pod ready; Service md-core's ready endpoints are md-core's pods only \([\d., ]+\); 5\.19\.0 serves again/,
        );
        expect(res.report.checks.filter((c) => c.phase === 'rollback').map((c) => [c.id, c.status])).toEqual([
          ['rollback', 'ok'],
          ['endpoints-baseline', 'ok'],
          ['verify-baseline', 'ok'],
        ]);
        expect(res.report.leftOn).toBe('5.19.0');
        expect(res.summary).toContain('## Rehearsal passed: 5.19.0 → 5.20.0 → 5.19.0\n');
        expect(res.summary).toMatch(/\| registration \| \d+ s \| ok \|/);
        expect(res.summary).toMatch(/\| handover \| [\d.]+ s \| ok \| the activation hand-over/);
        expect(res.summary).toContain('Way back: hot-backup undo');
        expect(res.fileReport).toEqual(JSON.parse(JSON.stringify(res.report)));

        await expectOnBaseline(ns, LICENSED);
        const bluePodsAfter = await podNames(ns, 'app=md-core');
        for (const name of bluePodsAfter) expect(bluePodsBefore).not.toContain(name);
        // The stand-in's own record: blue's new pods hold the activations, nothing left as backup, never above.
        await untilActive(m, bluePodsAfter, 'blue active again');
        expect(m.peakActive).toBe(LICENSED);
        expect(m.refusals).toEqual([]);
        expect(m.inState('backup')).toEqual([]);
        const green = [
          ...new Set(
            m.events
              .slice(weekFrom)
              .filter((e) => e.to === 'backup')
              .map((e) => e.instance),
          ),
        ].sort();
        expect(green).toHaveLength(LICENSED);
        for (const pod of green) {
          const states = m.events.filter((e) => e.instance === pod).map((e) => e.to);
          expect(states.indexOf('backup')).toBeLessThan(states.lastIndexOf('active'));
        }
        // During the way back: green's instances all gone before any of blue's new pods took an activation.
        expect(wayBackFrom).toEqual(expect.any(Number));
        const back = m.events.slice(wayBackFrom);
        expect(Math.max(...back.map((e) => e.active))).toBeLessThanOrEqual(LICENSED);
        const greenGone = back
          .filter((e) => green.includes(e.instance) && e.to === 'absent')
          .map((e) => e.seq);
        const blueActive = back
          .filter((e) => bluePodsAfter.includes(e.instance) && e.to === 'active')
          .map((e) => e.seq);
        expect(greenGone).toHaveLength(LICENSED);
        expect(blueActive).toHaveLength(LICENSED);
        expect(Math.max(...greenGone)).toBeLessThan(Math.min(...blueActive));
        expect(await rehearsalHistory(ns)).toHaveLength(week);
      }
      const hist = await rehearsalHistory(ns);
      expect(hist.map((h) => h.passed)).toEqual([true, true]);
      expect(Object.keys(hist[1]?.seconds ?? {})).toEqual(
        expect.arrayContaining(['migration', 'registration', 'handover', 'switch', 'rollback']),
      );
    });
  });

  it('fails in the upgrade phase when green never becomes ready; staging on the baseline, nothing registered left', async () => {
    const ns = await namespace('rehearsal-hb-never');
    await licensedFixture(ns, LICENSED);
    await withLicenceStandin(ns, { activations: LICENSED, apiKey: API_KEY, version: '5.19.0' }, async (s) => {
      const m = s.licence!;
      const blue = await podNames(ns, 'app=md-core');
      await untilActive(m, blue, 'blue active at the start');
      const res = await rehearse({
        namespace: ns,
        ...inputs(s, {
          tag: tagFor('5.20.0', 'never-ready'),
          timeout: '15s',
          'rehearsal-report': join(reportDir, 'never-ready.json'),
        }),
      });
      const phases = expectNeverReady(res, '5.19.0');
      expect(phases.handover).toMatchObject({
        seconds: undefined,
        ok: false,
        detail: 'blue was not stopped: no hand-over',
      });
      // Blue untouched (the same pods, still active); green gone with its registrations.
      await expectOnBaseline(ns, LICENSED);
      expect(await podNames(ns, 'app=md-core')).toEqual(blue);
      await waitFor(
        'stand-in saw green go',
        async () => (m.instances.size === blue.length ? true : undefined),
        { timeoutMs: 10_000 },
      );
      expect(m.inState('backup')).toEqual([]);
      expect(m.inState('active')).toEqual(blue);
      // Green's instances were there (registered as backups) before they went with their pods.
      expect(m.events.some((e) => e.to === 'backup')).toBe(true);
      expect(m.peakActive).toBe(LICENSED);
      expect(m.refusals).toEqual([]);
      expect(await rehearsalHistory(ns)).toHaveLength(1);
    });
  });
});
