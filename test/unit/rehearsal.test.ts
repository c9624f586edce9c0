// Rehearsal mode's pure parts: the inputs it needs and refuses, the trend decision, the bounded history, the
// report's summary section.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitForVersion } from '../../src/engine/rehearsal.ts';
import { parseInputs, type RawInputs } from '../../src/plan/inputs.ts';
import { addedRules, rbacRules, rulesYaml } from '../../src/plan/rbac.ts';
import { requiredAccess } from '../../src/steps/preflight.ts';
import { rbacBlock, readmeText } from '../support/readme-blocks.ts';
import {
  boundHistory,
  historyEntry,
  median,
  parseHistory,
  renderRehearsal,
  trendWarnings,
  type HistoryEntry,
  type RehearsalReport,
} from '../../src/report/rehearsal.ts';

const base: RawInputs = {
  namespace: 'staging',
  tag: '5.20.0',
  method: 'kubectl',
  rehearsal: 'true',
  'baseline-tag': '5.19.0',
};
const errorsFor = (extra: RawInputs): string[] => {
  const res = parseInputs({ ...base, ...extra });
  return res.ok ? [] : res.errors.map((e) => e.message);
};

describe('rehearsal inputs', () => {
  it('reads the rehearsal settings with their defaults', () => {
    const res = parseInputs(base);
    if (!res.ok) throw new Error(JSON.stringify(res.errors));
    expect(res.plan.rehearsal).toEqual({
      baselineTag: '5.19.0',
      restore: true,
      reportPath: undefined,
      history: 10,
    });
  });

  it('reads restore, report path and history length', () => {
    const res = parseInputs({
      ...base,
      'rehearsal-restore': 'false',
      'rehearsal-report': 'out/rehearsal.json',
      'rehearsal-history': '3',
    });
    if (!res.ok) throw new Error(JSON.stringify(res.errors));
    expect(res.plan.rehearsal).toEqual({
      baselineTag: '5.19.0',
      restore: false,
      reportPath: 'out/rehearsal.json',
      history: 3,
    });
  });

  it('leaves rehearsal unset for a plain upgrade', () => {
    const res = parseInputs({ namespace: 'mdcore', tag: '5.20.0' });
    expect(res.ok && res.plan.rehearsal).toBeUndefined();
  });

  it('requires baseline-tag, different from tag', () => {
    expect(errorsFor({ 'baseline-tag': '' })).toEqual([
      expect.stringContaining("input 'baseline-tag' is required when 'rehearsal' is true"),
    ]);
    expect(errorsFor({ 'baseline-tag': '5.20.0' })).toEqual([
      expect.stringContaining("input 'baseline-tag' is the same as 'tag' (5.20.0)"),
    ]);
    expect(errorsFor({ 'baseline-tag': 'bad tag' })[0]).toContain(
      'input \'baseline-tag\' "bad tag" is not valid',
    );
  });

  it('refuses what is not built yet, naming it', () => {
    expect(errorsFor({ method: 'helm' })).toEqual([
      expect.stringContaining('rehearsals on the helm route are not built yet'),
    ]);
    expect(errorsFor({ method: 'auto' })).toEqual([expect.stringContaining("needs 'method' kubectl")]);
    expect(errorsFor({ strategy: 'blue-green' })).toEqual([
      expect.stringContaining('blue-green rehearsals are not built yet'),
    ]);
    expect(errorsFor({ strategy: 'export-import', 'config-password': 'x' })).toEqual([
      expect.stringContaining('export-import rehearsals are not built yet'),
    ]);
  });

  it('refuses dry-run and rollback none with a rehearsal', () => {
    expect(errorsFor({ 'dry-run': 'true' })).toEqual([expect.stringContaining("'rehearsal' and 'dry-run'")]);
    expect(errorsFor({ rollback: 'none' })).toEqual([expect.stringContaining("'rollback' none")]);
  });

  it('refuses rehearsal inputs without rehearsal, and a bad history length', () => {
    expect(errorsFor({ rehearsal: 'false' })).toEqual([
      "input 'baseline-tag' applies to 'rehearsal' true only; 'rehearsal' is false",
    ]);
    expect(errorsFor({ 'rehearsal-history': '0' })[0]).toContain('a whole number from 1 to 100');
    expect(errorsFor({ 'rehearsal-history': '101' })[0]).toContain('a whole number from 1 to 100');
  });
});

const entry = (
  seconds: HistoryEntry['seconds'],
  passed = true,
  at = '2026-11-01T00:00:00.000Z',
): HistoryEntry => ({
  at,
  baseline: '5.19.0',
  target: '5.20.0',
  passed,
  seconds,
});

describe('trend', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('warns when a phase takes more than 1.5 × the median of at least 3 earlier passed rehearsals', () => {
    const earlier = [
      entry({ migration: 40, rollout: 60 }),
      entry({ migration: 50, rollout: 62 }),
      entry({ migration: 60, rollout: 58 }),
    ];
    const w = trendWarnings({ migration: 76, rollout: 90 }, earlier);
    expect(w).toEqual(['migration took 76 s, 1.5× the median 50 s of the last 3 passed rehearsals']);
    expect(trendWarnings({ migration: 75, rollout: 90 }, earlier)).toEqual([]);
  });

  it('needs 3 earlier values of the phase, from passed rehearsals only', () => {
    const two = [entry({ rollout: 10 }), entry({ rollout: 10 })];
    expect(trendWarnings({ rollout: 100 }, two)).toEqual([]);
    expect(trendWarnings({ rollout: 100 }, [...two, entry({ rollout: 10 }, false)])).toEqual([]);
    expect(trendWarnings({ rollout: 100 }, [...two, entry({ rollout: 10 })])).toHaveLength(1);
    expect(trendWarnings({ rollout: 100 }, [...two, entry({ migration: 10 })])).toEqual([]);
  });

  it('ignores a few seconds of jitter on short phases', () => {
    const earlier = [entry({ verification: 1 }), entry({ verification: 2 }), entry({ verification: 2 })];
    expect(trendWarnings({ verification: 6 }, earlier)).toEqual([]);
    expect(trendWarnings({ verification: 7 }, earlier)).toHaveLength(1);
  });
});

describe('history', () => {
  it('keeps the newest N, oldest first, with the new entry last', () => {
    const old = [1, 2, 3, 4].map((i) => entry({ rollout: i }, true, `2026-11-0${i}T00:00:00.000Z`));
    const next = entry({ rollout: 5 }, true, '2026-11-05T00:00:00.000Z');
    expect(boundHistory(old, next, 3).map((e) => e.seconds.rollout)).toEqual([3, 4, 5]);
    expect(boundHistory(old, next, 10)).toHaveLength(5);
    expect(boundHistory([], next, 1)).toEqual([next]);
  });

  it('reads stored history, treating anything unreadable as none', () => {
    const list = [entry({ rollout: 1 })];
    expect(parseHistory(JSON.stringify(list))).toEqual(list);
    expect(parseHistory(undefined)).toEqual([]);
    expect(parseHistory('{not json')).toEqual([]);
    expect(parseHistory('{"a":1}')).toEqual([]);
    expect(parseHistory('[1, {"seconds": {}}]')).toEqual([{ seconds: {} }]);
  });
});

const report: RehearsalReport = {
  version: 1,
  namespace: 'staging',
  deployment: 'md-core',
  baselineTag: '5.19.0',
  targetTag: '5.20.0',
  startedAt: '2026-12-02T05:00:00.000Z',
  endedAt: '2026-12-02T05:04:00.000Z',
  passed: true,
  failedPhase: undefined,
  error: undefined,
  broughtToBaseline: false,
  leftOn: '5.19.0',
  phases: [
    { name: 'baseline', seconds: 2, ok: true, detail: 'already on 5.19.0' },
    { name: 'upgrade', seconds: 120, ok: true, detail: 'a → b' },
    { name: 'migration', seconds: 80, ok: true, detail: 'x' },
    { name: 'rollout', seconds: 100, ok: true, detail: 'y' },
    { name: 'verification', seconds: undefined, ok: true, detail: 'no api-url' },
    { name: 'rollback', seconds: 30, ok: true, detail: 'back' },
  ],
  checks: [
    { phase: 'upgrade', id: 'wait', title: 'Wait', status: 'ok' },
    { phase: 'rollback', id: 'rollback', title: 'Roll back', status: 'ok' },
  ],
  trend: [],
};

describe('report', () => {
  it('history entry keeps only timed phases', () => {
    expect(historyEntry(report)).toEqual({
      at: '2026-12-02T05:00:00.000Z',
      baseline: '5.19.0',
      target: '5.20.0',
      passed: true,
      seconds: { baseline: 2, upgrade: 120, migration: 80, rollout: 100, rollback: 30 },
    });
  });

  it('summary section of a passed rehearsal: both directions, phases, checks, report path', () => {
    const md = renderRehearsal(report, 'r.json');
    expect(md).toContain('## Rehearsal passed: 5.19.0 → 5.20.0 → 5.19.0');
    expect(md).toContain('| migration | 80 s | ok | x |');
    expect(md).toContain('| verification | – | ok | no api-url |');
    expect(md).toContain('Checks: 2 of 2 passed.');
    expect(md).toContain('Report: `r.json`');
    expect(md).not.toContain('brought there first');
  });

  it('summary section of a failed rehearsal names the phase, the error, the failed checks and the trend', () => {
    const md = renderRehearsal(
      {
        ...report,
        passed: false,
        failedPhase: 'upgrade',
        error: 'the upgrade phase failed: Timeout',
        broughtToBaseline: true,
        checks: [{ phase: 'upgrade', id: 'wait', title: 'Wait', status: 'failed' }],
        trend: ['rollout took 100 s, 2.0× the median 50 s of the last 3 passed rehearsals'],
      },
      undefined,
    );
    expect(md).toContain('## Rehearsal FAILED in the upgrade phase: 5.19.0 → 5.20.0');
    expect(md).toContain('the upgrade phase failed: Timeout');
    expect(md).toContain('it was brought there first');
    expect(md).toContain('Checks: 0 of 1 passed (failed: upgrade/wait).');
    expect(md).toContain('- rollout took 100 s');
  });
});

describe('rehearsal permissions', () => {
  it('adds the history ConfigMap (get, patch by name; create) only for a rehearsal', () => {
    const res = parseInputs(base);
    if (!res.ok) throw new Error(JSON.stringify(res.errors));
    const rules = rbacRules(res.plan, { route: 'kubectl' });
    expect(rules).toContainEqual(
      expect.objectContaining({
        resource: 'configmaps',
        resourceNames: ['mdcore-upgrade-rehearsals-md-core'],
        verbs: ['get', 'patch'],
      }),
    );
    expect(rules).toContainEqual(expect.objectContaining({ resource: 'configmaps', verbs: ['create'] }));
    // Preflight checks them before any change, as for every other rule.
    expect(requiredAccess(res.plan, ['mdcore-env'])).toContainEqual(
      expect.objectContaining({ resource: 'configmaps', verb: 'create' }),
    );
    const plain = rbacRules({ ...res.plan, rehearsal: undefined }, { route: 'kubectl' });
    expect(plain.some((r) => r.resourceNames?.includes('mdcore-upgrade-rehearsals-md-core'))).toBe(false);
    expect(plain.some((r) => r.resource === 'configmaps' && r.verbs.includes('create'))).toBe(false);
  });
});

describe('README.md', () => {
  it("lists the rehearsal's extra rules exactly", () => {
    const plain = parseInputs({ namespace: 'mdcore', tag: '5.20.0', method: 'kubectl' });
    const rehearsal = parseInputs({ ...base, namespace: 'mdcore' });
    if (!plain.ok || !rehearsal.ok) throw new Error('inputs');
    const added = addedRules(
      rbacRules(plain.plan, { route: 'kubectl' }),
      rbacRules(rehearsal.plan, { route: 'kubectl' }),
    );
    expect(rbacBlock('rehearsal', readmeText())).toBe(`${rulesYaml(added, 0)}\n`);
  });
});

describe('serving check after the rollback', () => {
  const client = (answers: { ready: boolean; version: string }[]) => {
    let i = 0;
    const next = () => answers[Math.min(i, answers.length - 1)] ?? { ready: false, version: '' };
    return {
      calls: () => i,
      readyz: async () => ({ ok: next().ready, status: next().ready ? 200 : 503 }) as never,
      version: async () => ({ version: answers[Math.min(i++, answers.length - 1)]?.version ?? '' }) as never,
    };
  };
  afterEach(() => vi.useRealTimers());

  it('returns once the baseline answers, after the target still answered for a while', async () => {
    vi.useFakeTimers();
    const c = client([
      { ready: true, version: '5.20.0' },
      { ready: true, version: '5.20.0' },
      { ready: true, version: '5.19.0' },
    ]);
    const p = waitForVersion(c, '5.19.0', { attempts: 5, intervalMs: 2000 });
    await vi.advanceTimersByTimeAsync(4000);
    await expect(p).resolves.toBeUndefined();
    expect(c.calls()).toBe(3);
  });

  it('gives up after the bounded attempts, saying what it last saw', async () => {
    vi.useFakeTimers();
    const c = client([{ ready: true, version: '5.20.0' }]);
    const p = waitForVersion(c, '5.19.0', { attempts: 3, intervalMs: 2000 });
    await vi.advanceTimersByTimeAsync(4000);
    await expect(p).resolves.toBe(
      'after the rollback, /version reports 5.20.0, not the baseline 5.19.0 (checked 3 times, 6 s)',
    );
    expect(c.calls()).toBe(3);
  });
});
