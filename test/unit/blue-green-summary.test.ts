// Blue-green's end of run: the color outputs in every end state, the summary's blue-green table, the record a
// rollback leaves, and green watched while the hand-over waits for the chart's Deployment.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Kube } from '../../src/cluster/kube.ts';
import type { BlueGreenRecord, JournalData } from '../../src/engine/journal.ts';
import { newOutcome, settleBlueGreen, type Outcome, type Result } from '../../src/engine/outcome.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { outcomeJson } from '../../src/report/json.ts';
import { outputsOf, renderSummary } from '../../src/report/summary.ts';
import { colorOutputs, whileGreenServes } from '../../src/steps/blue-green.ts';
import { rollbackBlueGreen } from '../../src/steps/blue-green-rollback.ts';
import { blueGreenFixture } from '../support/journal-fixture.ts';

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);

const record = (more: Partial<BlueGreenRecord> = {}): BlueGreenRecord =>
  blueGreenFixture({
    greenCreated: true,
    previewCreated: true,
    selects: 'blue',
    facts: {
      greenImage: 'opswat/metadefendercore-debian:5.20.0',
      greenReplicas: 2,
      fromDb: 'metadefender_core',
      greenDb: 'metadefender_core5200',
      activationsPeak: 4,
      activationsOf: 4,
    },
    ...more,
  });

function outcome(result: Result, bg: BlueGreenRecord): Outcome {
  const res = parseInputs({ namespace: 'mdcore', tag: '5.20.0', strategy: 'blue-green' });
  if (!res.ok) throw new Error('fixture inputs');
  const o = newOutcome(res.plan, T0);
  o.result = result;
  o.previousImage = 'opswat/metadefendercore-debian:5.19.0';
  o.newImage = 'opswat/metadefendercore-debian:5.20.0';
  o.endedAt = T0 + 90_000;
  settleBlueGreen(o, bg);
  return o;
}

const colors = (o: Outcome): Record<string, string> => {
  const out = outputsOf(o);
  return { active: out['active-color'] ?? '', previous: out['previous-color'] ?? '' };
};

const SWITCHED = { switched: true, switchedAt: T0 + 30_000, selects: 'green' as const };

describe('active-color and previous-color in every end state', () => {
  it('success, plain Deployment: green serves, blue was the previous color', () => {
    const o = outcome('upgraded', record({ ...SWITCHED, blueScaled: true }));
    expect(colors(o)).toEqual({ active: 'green', previous: 'blue' });
  });

  it("success with a hand-over: the chart's Deployment (blue's name and color) serves again", () => {
    const bg = record({ ...SWITCHED, handover: true, handedBack: true, selects: 'blue', blueScaled: true });
    expect(colors(outcome('upgraded', bg))).toEqual({ active: 'blue', previous: 'blue' });
  });

  it('failure before the switch: blue never stopped serving', () => {
    expect(colors(outcome('rolled-back', record()))).toEqual({ active: 'blue', previous: 'blue' });
    // Failed and left (rollback none) before the switch: still blue.
    expect(colors(outcome('failed', record()))).toEqual({ active: 'blue', previous: 'blue' });
  });

  it('failure after the switch: rolled back means blue, even where the switch back was not recorded', () => {
    expect(colors(outcome('rolled-back', record(SWITCHED)))).toEqual({ active: 'blue', previous: 'blue' });
    // Left as it is (rollback none, or a rollback that kept green serving): green serves.
    expect(colors(outcome('failed', record(SWITCHED)))).toEqual({ active: 'green', previous: 'blue' });
  });

  it('dry run: blue; and a blue that is itself an earlier green swaps the names', () => {
    expect(colors(outcome('dry-run', record()))).toEqual({ active: 'blue', previous: 'blue' });
    const again = record({ blue: 'md-core-green', green: 'md-core-blue', ...SWITCHED });
    expect(colorOutputs(again, 'upgraded')).toEqual({ 'active-color': 'blue', 'previous-color': 'green' });
    expect(colorOutputs(again, 'rolled-back')).toEqual({
      'active-color': 'green',
      'previous-color': 'green',
    });
  });
});

describe("the summary's blue-green table", () => {
  const done = record({
    ...SWITCHED,
    blueScaled: true,
    facts: {
      ...record().facts,
      endpointsBefore: ['10.0.0.4', '10.0.0.5'],
      endpointsAfter: ['10.0.0.8', '10.0.0.9'],
      onlyGreenMs: 1_250,
    },
  });

  it('both colors, databases, activations, the switch time and the endpoints before and after', () => {
    const md = renderSummary(outcome('upgraded', done));
    expect(md).toContain('### Blue-green');
    expect(md).toContain("| | blue (serving before the run) | green (this run's) |");
    expect(md).toContain('| Deployment | `md-core` | `md-core-green` |');
    expect(md).toContain(
      '| Image | `opswat/metadefendercore-debian:5.19.0` | `opswat/metadefendercore-debian:5.20.0` |',
    );
    expect(md).toContain('| Replicas | 2 | 2 |');
    expect(md).toContain(
      '| Database | `metadefender_core` | `metadefender_core5200` (expected name; created by green from `metadefender_core`) |',
    );
    expect(md).toContain('| At the end | scaled to 0 (kept for a switch back) | serving |');
    expect(md).toContain("- Licence activations at the peak: 4 of 4 (input 'activations')");
    expect(md).toContain(
      "- Switch: Service `md-core` selected green at 2026-12-02T09:00:30.000Z; its endpoints showed green's pods only 1.3 s after the patch",
    );
    expect(md).toContain(
      '- Ready endpoints before the switch: 10.0.0.4, 10.0.0.5; after: 10.0.0.8, 10.0.0.9',
    );
    expect(md).toContain('- Traffic on green since the switch: 60.0 s at the end of the run');
    // Before the strategy's own sections (blue-green-hot-backup's activations table).
    expect(md.indexOf('### Blue-green')).toBeGreaterThan(md.indexOf('### Before and after'));
  });

  it('after a failure after the switch: how long traffic was on green, and that it went back', () => {
    // The record keeps greenCreated (what the run made); the rollback succeeded, so green is gone.
    const back = { ...done, selects: 'blue' as const, switchedBackAt: T0 + 42_000 };
    const md = renderSummary(outcome('rolled-back', back));
    expect(md).toContain('| At the end | serving again | removed |');
    expect(md).toContain(
      '- Traffic was on green for 12.0 s, then switched back to blue at 2026-12-02T09:00:42.000Z',
    );
    expect(md).not.toContain('since the switch');
  });

  it('a failure after the switch left as it is (rollback none): green serves, blue still runs', () => {
    const md = renderSummary(outcome('failed', { ...done, blueScaled: false }));
    expect(md).toContain('| At the end | running, not serving | serving |');
    expect(md).toContain('- Traffic on green since the switch: 60.0 s at the end of the run');
  });

  it('a hand-over: the chart serves, green handed the traffic back and went', () => {
    const bg = {
      ...done,
      handover: true,
      handedBack: true,
      selects: 'blue' as const,
      switchedBackAt: T0 + 75_000,
      greenCreated: false,
      facts: { ...done.facts, endpointsHandedBack: ['10.0.0.12', '10.0.0.13'] },
    };
    const md = renderSummary(outcome('upgraded', bg));
    expect(md).toContain(
      "| At the end | serving: the chart's Deployment, upgraded by helm while green served (hand-over) | removed after handing the traffic back |",
    );
    expect(md).toContain('- Ready endpoints after the hand-back to `md-core`: 10.0.0.12, 10.0.0.13');
    expect(md).toContain(
      '- Traffic was on green for 45.0 s, then handed back to `md-core` at 2026-12-02T09:01:15.000Z',
    );
  });

  it('no switch, no activations input, UPGRADE_DB false: said so; the JSON report carries the record', () => {
    const bg = record({ facts: { greenReplicas: 1, fromDb: 'metadefender_core', activationsPeak: 3 } });
    const o = outcome('rolled-back', bg);
    const md = renderSummary(o);
    expect(md).toContain(
      '| Database | `metadefender_core` | `metadefender_core` (UPGRADE_DB false: no new database) |',
    );
    expect(md).toContain("- Licence activations at the peak: 3 (the licence's count was not checked");
    expect(md).toContain('- Service `md-core` was not switched: traffic stayed on blue');
    expect(outcomeJson(o).blueGreen).toEqual(bg);
    expect(outcomeJson(o).outputs).toMatchObject({ 'active-color': 'blue', 'previous-color': 'blue' });
  });

  it('a rendering without blue-green has no such section', () => {
    const res = parseInputs({ namespace: 'mdcore', tag: '5.20.0' });
    if (!res.ok) throw new Error('fixture inputs');
    expect(renderSummary(newOutcome(res.plan, T0))).not.toContain('Blue-green');
  });
});

describe("a rollback's switch back is recorded for the summary", () => {
  it('selects blue, with the time it went back', async () => {
    const calls: string[] = [];
    const kube = {
      setServiceSelector: async (_ns: string, name: string) => calls.push(`select ${name}`),
      deleteDeployment: async () => true,
      deleteService: async () => true,
    } as unknown as Kube;
    const recorded: Partial<BlueGreenRecord>[] = [];
    const j = { namespace: 'mdcore' } as JournalData;
    const bg = record({ ...SWITCHED, switchedAt: Date.now() - 5_000 });
    const before = Date.now();
    const problems = await rollbackBlueGreen(j, bg, {
      kube,
      timeoutSeconds: 10,
      detail: () => undefined,
      recordBlueGreen: (c) => recorded.push(c),
    });
    expect(problems).toEqual([]);
    expect(calls).toEqual(['select md-core']);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.selects).toBe('blue');
    expect(recorded[0]?.switchedBackAt).toBeGreaterThanOrEqual(before);
  });
});

describe("green watched while the hand-over waits for the chart's Deployment", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const greenIp = '10.0.0.8';
  const slices = (ready: boolean): V1EndpointSlice[] => [
    { addressType: 'IPv4', endpoints: [{ addresses: [greenIp], conditions: { ready } }] },
  ];

  /** The chart's wait: done after 10 s, or stopped by its signal. */
  function chartWait(): { work: (signal: AbortSignal) => Promise<string>; stopped: () => boolean } {
    let stopped = false;
    return {
      stopped: () => stopped,
      work: (signal) =>
        new Promise((resolve, reject) => {
          const onAbort = (): void => {
            clearTimeout(t);
            stopped = true;
            reject(new Error('the wait was stopped'));
          };
          const t = setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve('chart ready');
          }, 10_000);
          signal.addEventListener('abort', onAbort);
        }),
    };
  }

  const options = (greenReady: () => boolean, polls: { n: number }) => ({
    list: async () => {
      polls.n++;
      return slices(greenReady());
    },
    greenIps: async () => new Set([greenIp]),
    intervalMs: 2_000,
    maxMs: 60_000,
    during: "while the chart's Deployment was awaited in the hand-over",
  });

  it('green keeps its endpoints: the wait ends as it would, the watch with it', async () => {
    const polls = { n: 0 };
    const w = chartWait();
    const p = whileGreenServes(
      options(() => true, polls),
      w.work,
    );
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(p).resolves.toBe('chart ready');
    // Checks at 0, 2, 4, 6 and 8 s; the chart was ready at 10 s, before the next one.
    expect(polls.n).toBe(5);
    expect(w.stopped()).toBe(false);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(polls.n).toBe(5);
  });

  it('green loses every ready endpoint: the wait is stopped and the run fails naming it', async () => {
    const polls = { n: 0 };
    const w = chartWait();
    const p = whileGreenServes(
      options(() => Date.now() < T0 + 5_000, polls),
      w.work,
    );
    const seen = expect(p).rejects.toThrow(
      `while the chart's Deployment was awaited in the hand-over, green has no ready endpoint behind the Service (ready: none; not ready: ${greenIp})`,
    );
    await vi.advanceTimersByTimeAsync(6_000);
    await seen;
    expect(w.stopped()).toBe(true);
    expect(polls.n).toBe(4);
  });

  it("the wait's own failure is passed on while green serves", async () => {
    const p = whileGreenServes(
      options(() => true, { n: 0 }),
      async () => {
        await new Promise((r) => setTimeout(r, 3_000));
        throw new Error('the new version did not become ready: crash loop');
      },
    );
    const seen = expect(p).rejects.toThrow('did not become ready: crash loop');
    await vi.advanceTimersByTimeAsync(3_000);
    await seen;
  });

  it("the job's cancel reaches the wait", async () => {
    const cancel = new AbortController();
    const w = chartWait();
    const p = whileGreenServes({ ...options(() => true, { n: 0 }), signal: cancel.signal }, w.work);
    const seen = expect(p).rejects.toThrow('the wait was stopped');
    await vi.advanceTimersByTimeAsync(1_000);
    cancel.abort();
    await seen;
    expect(w.stopped()).toBe(true);
  });
});
