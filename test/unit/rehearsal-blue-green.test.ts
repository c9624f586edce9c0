// Blue-green rehearsals' pure parts: the baseline run in place, the phases read from a blue-green run's steps,
// and the way back chosen from a finished run's journal.
import { describe, expect, it } from 'vitest';
import { baselinePlan, blueGreenPhases, wayBack } from '../../src/engine/rehearsal.ts';
import type { BlueGreenRecord, JournalData } from '../../src/engine/journal.ts';
import type { StepRecord } from '../../src/engine/timeline.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { blueGreenFixture, journalFixture } from '../support/journal-fixture.ts';

const T0 = Date.UTC(2026, 11, 7, 3, 0, 0);

function planFor(strategy: string) {
  const res = parseInputs({
    namespace: 'staging',
    tag: '5.20.0',
    method: 'kubectl',
    rehearsal: 'true',
    'baseline-tag': '5.19.0',
    strategy,
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

describe('the way back from a finished upgrade', () => {
  it("plain blue-green: blue-green's own undo over the journal as it is, naming what it does", () => {
    const data = journal('kubectl', record);
    const w = wayBack(data);
    expect(w.method).toBe('blue-green-switch-back');
    expect(w.mode).toBe('rollout-undo');
    expect(w.journal).toBe(data);
    expect(w.switchBack).toBe(record);
    expect(w.how).toBe(
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
