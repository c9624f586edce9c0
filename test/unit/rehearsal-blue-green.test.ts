// Blue-green and blue-green-hot-backup rehearsals' pure parts: the baseline run in place, the phases read from
// a run's steps, and the way back chosen from a finished run's journal.
import { describe, expect, it } from 'vitest';
import {
  baselinePlan,
  blueGreenPhases,
  hotBackupPhases,
  hotBackupUndoText,
  wayBack,
} from '../../src/engine/rehearsal.ts';
import { PHASES } from '../../src/report/rehearsal.ts';
import type { BlueGreenRecord, JournalData } from '../../src/engine/journal.ts';
import type { StepRecord } from '../../src/engine/timeline.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { blueGreenFixture, journalFixture } from '../support/journal-fixture.ts';

const T0 = Date.UTC(2026, 11, 7, 3, 0, 0);

function planFor(strategy: string, extra: Record<string, string> = {}) {
  const res = parseInputs({
    namespace: 'staging',
    tag: '5.20.0',
    method: 'kubectl',
    rehearsal: 'true',
    'baseline-tag': '5.19.0',
    strategy,
    ...extra,
  });
  if (!res.ok) throw new Error(JSON.stringify(res.errors));
  return res.plan;
}

/** A step from second `from` to second `to` after T0. */
const step = (id: string, from: number, to: number, status: StepRecord['status'] = 'ok'): StepRecord => ({
  id,
  title: id,
  startedAt: T0 + from * 1000,
  endedAt: T0 + to * 1000,
  status,
  details: [],
});

const record = blueGreenFixture({
  greenCreated: true,
  previewCreated: true,
  switched: true,
  switchedAt: T0,
  blueScaled: true,
});

/** A finished run's journal (phase done) on a route, with its blue-green record if any. */
const journal = (method: 'kubectl' | 'helm', bg: BlueGreenRecord | undefined): JournalData =>
  journalFixture({
    method,
    phase: 'done',
    templateChanged: method === 'helm',
    blueGreen: bg,
    ...(method === 'helm' ? { release: 'mdcore', previousReleaseRevision: 4 } : {}),
  });

describe('the baseline run of a blue-green rehearsal', () => {
  it('goes in place (rolling update), so the baseline stays on the Deployment the upgrade starts from', () => {
    const p = baselinePlan(planFor('blue-green'), '5.19.0');
    expect(p).toMatchObject({ strategy: 'rolling-update', tag: '5.19.0', force: false, method: 'kubectl' });
  });

  it('blue-green-hot-backup goes in place too (a rolling update of blue itself)', () => {
    const hot = planFor('blue-green-hot-backup', {
      'green-api-url': 'https://{pod-ip}:8008',
      activations: '2',
    });
    expect(hot.strategy).toBe('blue-green-hot-backup');
    expect(baselinePlan(hot, '5.19.0')).toMatchObject({
      strategy: 'rolling-update',
      tag: '5.19.0',
      force: false,
      method: 'kubectl',
    });
  });

  it('keeps every other strategy as chosen', () => {
    for (const s of ['rolling-update', 'export-import']) {
      const plan = planFor(s === 'export-import' ? 'rolling-update' : s);
      const asked = { ...plan, strategy: s as typeof plan.strategy };
      expect(baselinePlan(asked, '5.18.0')).toMatchObject({ strategy: s, tag: '5.18.0', force: false });
    }
  });
});

describe('blue-green phases', () => {
  const steps = [
    step('plan-blue-green', 0, 1),
    step('create-green', 1, 2),
    step('wait', 2, 40),
    step('verify-green', 40, 43),
    step('switch', 43, 44),
    step('endpoints', 44, 46),
    step('verify-serving', 46, 48),
    step('hold-blue', 48, 108),
    step('scale-down-blue', 108, 109),
  ];

  it("times green's migration from its creation to its first ready pod, the switch, the hold", () => {
    const phases = blueGreenPhases({ result: 'upgraded', steps }, T0 + 31_000);
    expect(phases.map((p) => [p.name, p.seconds, p.ok])).toEqual([
      ['migration', 29, true],
      ['rollout', 38, true],
      ['verification', 5, true],
      ['switch', 3, true],
      ['hold', 60, true],
    ]);
    expect(phases[2]?.detail).toBe('MD Core REST checks: verify-green, verify-serving');
  });

  it('adds the hand-over, from helm upgrade until the Service is back on the chart; no first pod to read', () => {
    const handover = [
      ...steps,
      step('handover-upgrade', 109, 111),
      step('handover-wait', 111, 150),
      step('handback', 150, 151),
      step('handover-endpoints', 151, 153),
      step('verify-handover', 153, 154),
      step('remove-green', 154, 155),
    ];
    const phases = blueGreenPhases({ result: 'upgraded', steps: handover }, undefined);
    expect(phases.map((p) => [p.name, p.seconds, p.ok])).toEqual([
      ['migration', undefined, true],
      ['rollout', 38, true],
      ['verification', 6, true],
      ['switch', 3, true],
      ['hold', 60, true],
      ['handover', 44, true],
    ]);
    expect(phases[0]?.detail).toMatch(/could not be read .*: see rollout$/);
  });

  it('a green that never became ready: rollout failed, nothing switched or held', () => {
    const failed = [step('plan-blue-green', 0, 1), step('create-green', 1, 2), step('wait', 2, 17, 'failed')];
    const phases = blueGreenPhases({ result: 'rolled-back', steps: failed }, undefined);
    expect(phases.map((p) => [p.name, p.seconds, p.ok])).toEqual([
      ['migration', undefined, false],
      ['rollout', 15, false],
      ['verification', undefined, false],
      ['switch', undefined, false],
      ['hold', undefined, false],
    ]);
    expect(phases.map((p) => p.detail)).toContain('not switched');
  });

  it('a failed verification of green fails the verification phase', () => {
    const failed = [...steps.slice(0, 3), step('verify-green', 40, 41, 'failed')];
    const v = blueGreenPhases({ result: 'rolled-back', steps: failed }, T0 + 10_000).find(
      (p) => p.name === 'verification',
    );
    expect(v).toMatchObject({ seconds: 1, ok: false });
  });
});

/** The way back from a finished kubectl-route run with record `bg`: the colors' own undo over the journal as it is. */
function switchBack(bg: BlueGreenRecord, method: string, how: string): ReturnType<typeof wayBack> {
  const data = journal('kubectl', bg);
  const w = wayBack(data);
  expect(w).toMatchObject({ method, mode: 'rollout-undo', how });
  expect(w.journal).toBe(data);
  expect(w.switchBack).toBe(bg);
  return w;
}

describe('the way back from a finished upgrade', () => {
  it("plain blue-green: blue-green's own undo over the journal as it is, naming what it does", () => {
    switchBack(
      record,
      'blue-green-switch-back',
      'blue-green switch back: Deployment md-core back to 2 replica(s), Service md-core selecting it again, Deployment md-core-green and Service md-core-green-preview removed',
    );
  });

  it("after a helm hand-over: the chart's Deployment goes back by helm rollback, without the colors", () => {
    const handedBack = {
      ...record,
      handover: true,
      handedBack: true,
      greenCreated: false,
      previewCreated: false,
    };
    const w = wayBack(journal('helm', handedBack));
    expect(w.method).toBe('helm-rollback');
    expect(w.mode).toBe('helm-rollback');
    expect(w.journal.blueGreen).toBeUndefined();
    expect(w.journal.release).toBe('mdcore');
    expect(w.switchBack).toBeUndefined();
    expect(w.how).toBe('helm rollback of release mdcore to revision 4');
  });

  it("rolling update: the route's own rollback, as before", () => {
    const w = wayBack(journal('kubectl', undefined));
    expect(w).toMatchObject({ method: 'rollout-undo', how: 'kubectl rollout undo to Deployment revision 3' });
    expect(w.switchBack).toBeUndefined();
  });
});

describe('hot-backup phases', () => {
  const steps = [
    step('plan-blue-green', 0, 1),
    step('plan-hot-backup', 1, 2),
    step('api', 2, 3),
    step('create-green', 3, 4),
    step('register-backup', 4, 12),
    step('wait', 12, 30),
    step('verify-backups', 30, 32),
    step('stop-blue', 32, 33),
    step('wait-blue-gone', 33, 36),
    step('activate-green', 36, 39),
    step('check-scanning', 39, 41),
    step('switch', 41, 42),
    step('endpoints', 42, 44),
    step('handover-time', 44, 44),
    step('verify-serving', 44, 45),
  ];

  it("times the migration, the registration, the checks, the activation hand-over (the run's own figure) and the switch", () => {
    const phases = hotBackupPhases(
      { result: 'upgraded', steps, extraOutputs: { 'handover-seconds': '11.6' } },
      T0 + 20_000,
    );
    expect(phases.map((p) => [p.name, p.seconds, p.ok])).toEqual([
      ['migration', 16, true],
      ['registration', 8, true],
      ['rollout', 18, true],
      ['verification', 5, true],
      ['handover', 11.6, true],
      ['switch', 3, true],
    ]);
    expect(phases.find((p) => p.name === 'verification')?.detail).toBe(
      'MD Core REST checks: verify-backups, check-scanning, verify-serving',
    );
    expect(phases.find((p) => p.name === 'handover')?.detail).toMatch(
      /^the activation hand-over: blue stopped/,
    );
    // Every phase name is one the report and the trend know.
    for (const p of phases) expect(PHASES).toContain(p.name);
  });

  it('with config-password: the export from blue and the import into each backup, timed on their own', () => {
    const withConfig = [
      ...steps.slice(0, 3),
      step('export', 3, 5),
      step('create-green', 5, 6),
      step('register-backup', 6, 12),
      step('import-green', 12, 15),
      ...steps.slice(5),
    ];
    const phases = hotBackupPhases(
      { result: 'upgraded', steps: withConfig, extraOutputs: { 'handover-seconds': '4.0' } },
      undefined,
    );
    expect(phases.map((p) => [p.name, p.seconds])).toEqual([
      ['migration', undefined],
      ['registration', 6],
      ['export', 2],
      ['import', 3],
      ['rollout', 18],
      ['verification', 5],
      ['handover', 4],
      ['switch', 3],
    ]);
  });

  it('a green that never became ready: registered, rollout failed, no hand-over and no switch', () => {
    const failed = [...steps.slice(0, 5), step('wait', 12, 27, 'failed')];
    const phases = hotBackupPhases({ result: 'rolled-back', steps: failed, extraOutputs: {} }, undefined);
    expect(phases.map((p) => [p.name, p.seconds, p.ok])).toEqual([
      ['migration', undefined, false],
      ['registration', 8, true],
      ['rollout', 15, false],
      ['verification', undefined, false],
      ['handover', undefined, false],
      ['switch', undefined, false],
    ]);
    expect(phases.find((p) => p.name === 'handover')?.detail).toBe('blue was not stopped: no hand-over');
  });

  it('an activation refused after blue stopped: the hand-over failed, with no end to time it to', () => {
    const refused = [...steps.slice(0, 9), step('activate-green', 36, 66, 'failed')];
    const h = hotBackupPhases({ result: 'rolled-back', steps: refused, extraOutputs: {} }, undefined).find(
      (p) => p.name === 'handover',
    );
    expect(h).toMatchObject({ seconds: undefined, ok: false });
  });
});

describe('the way back from a finished hot-backup upgrade', () => {
  /** A finished run's record: green registered, blue stopped, green active and serving. */
  const hot = blueGreenFixture({
    greenCreated: true,
    previewCreated: true,
    switched: true,
    switchedAt: T0,
    blueScaled: true,
    hotBackup: { registered: ['g-1', 'g-2'], activated: ['g-1', 'g-2'], stoppedAt: T0 },
  });

  it("blue-green-hot-backup's own undo over the journal as it is, in its order, naming the activations", () => {
    const w = switchBack(
      hot,
      'hot-backup-switch-back',
      'hot-backup undo: Service md-core selecting md-core again, Deployment md-core-green removed and its pods gone (their activations released), Service md-core-green-preview removed, Deployment md-core back to 2 replica(s) (its pods take the activations again), awaited until ready; 2 activation(s) in use afterwards',
    );
    // Green's pods are gone before blue is scaled back: the licence never above the count.
    expect(w.how.indexOf('pods gone')).toBeLessThan(w.how.indexOf('back to 2 replica(s)'));
  });

  it('before blue was stopped: blue untouched, green and its registrations go', () => {
    const early = blueGreenFixture({
      greenCreated: true,
      previewCreated: true,
      hotBackup: { registered: ['g-1'], activated: [] },
    });
    expect(hotBackupUndoText(early, early.hotBackup ?? { registered: [], activated: [] })).toBe(
      "green's backup registrations (1) ended with its pods, Deployment md-core-green removed, Service md-core-green-preview removed; 2 activation(s) in use afterwards",
    );
  });
});
