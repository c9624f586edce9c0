// Rehearsal mode's pure parts: the inputs it needs and refuses, the trend decision, the bounded history, the
// report's summary section.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { baselineTagOf, sourceName, waitForVersion } from '../../src/engine/rehearsal.ts';
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
      baselineFrom: undefined,
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
      baselineFrom: undefined,
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
      expect.stringContaining("input 'baseline-tag' or 'baseline-from' is required when 'rehearsal' is true"),
    ]);
    expect(errorsFor({ 'baseline-tag': '5.20.0' })).toEqual([
      expect.stringContaining("input 'baseline-tag' is the same as 'tag' (5.20.0)"),
    ]);
    expect(errorsFor({ 'baseline-tag': 'bad tag' })[0]).toContain(
      'input \'baseline-tag\' "bad tag" is not valid',
    );
  });

  it('reads baseline-from: context, namespace and Deployment; the context may contain slashes or be left out', () => {
    const from = (v: string) => {
      const res = parseInputs({ ...base, 'baseline-tag': '', 'baseline-from': v });
      if (!res.ok) throw new Error(JSON.stringify(res.errors));
      return res.plan.rehearsal?.baselineFrom;
    };
    expect(from('production/prod/md-core')).toEqual({
      context: 'production',
      namespace: 'prod',
      deployment: 'md-core',
    });
    expect(from('arn:aws:eks:eu-west-1:123456789012:cluster/prod/mdcore/md-core')).toEqual({
      context: 'arn:aws:eks:eu-west-1:123456789012:cluster/prod',
      namespace: 'mdcore',
      deployment: 'md-core',
    });
    expect(from('prod/md-core')).toEqual({ context: undefined, namespace: 'prod', deployment: 'md-core' });
    const res = parseInputs({ ...base, 'baseline-tag': '', 'baseline-from': 'prod/md-core' });
    expect(res.ok && res.plan.rehearsal?.baselineTag).toBeUndefined();
  });

  it('refuses a bad baseline-from before any contact, naming the input and the form', () => {
    const only = (v: string, extra: RawInputs = {}) =>
      errorsFor({ 'baseline-tag': '', 'baseline-from': v, ...extra });
    expect(only('md-core')[0]).toMatch(
      /^input 'baseline-from' "md-core" is not valid: it must be <context>\/<namespace>\/<deployment> or <namespace>\/<deployment>/,
    );
    expect(only('ctx/Prod/md-core')[0]).toContain('the namespace part "Prod" is not a valid namespace name');
    expect(only('ctx/prod/md_core')[0]).toContain(
      'the deployment part "md_core" is not a valid Deployment name',
    );
    expect(only('/prod/md-core')[0]).toContain('the context part');
    expect(only('ctx/prod/')[0]).toContain('the deployment part "" is not a valid Deployment name');
    expect(errorsFor({ 'baseline-from': 'prod/md-core' })).toEqual([
      expect.stringContaining("inputs 'baseline-tag' and 'baseline-from' cannot be combined"),
    ]);
    expect(only('staging/md-core')).toEqual([
      expect.stringContaining("input 'baseline-from' names staging's own Deployment (staging/md-core)"),
    ]);
    expect(only('stage-ctx/staging/md-core', { context: 'stage-ctx' })).toEqual([
      expect.stringContaining("names staging's own Deployment"),
    ]);
    // The same namespace and name through another context is another cluster: production's.
    expect(only('prod-ctx/staging/md-core', { context: 'stage-ctx' })).toEqual([]);
    expect(errorsFor({ rehearsal: 'false', 'baseline-tag': '', 'baseline-from': 'prod/md-core' })).toEqual([
      "input 'baseline-from' applies to 'rehearsal' true only; 'rehearsal' is false",
    ]);
  });

  it('accepts the helm route (helm, auto) and every strategy, with its own needs still checked', () => {
    expect(errorsFor({ method: 'helm' })).toEqual([]);
    expect(errorsFor({ method: 'auto' })).toEqual([]);
    expect(errorsFor({ strategy: 'export-import', 'config-password': 'x' })).toEqual([]);
    // export-import's own needs still hold in a rehearsal.
    expect(errorsFor({ strategy: 'export-import' })).toEqual([
      expect.stringContaining("input 'config-password' is required when 'strategy' is export-import"),
    ]);
    expect(errorsFor({ strategy: 'blue-green' })).toEqual([]);
    expect(
      errorsFor({ strategy: 'blue-green-hot-backup', 'green-api-url': 'https://{pod-ip}:8008' }),
    ).toEqual([]);
    // blue-green-hot-backup's own needs too: a way to reach each green instance.
    expect(errorsFor({ strategy: 'blue-green-hot-backup' })).toEqual([
      expect.stringContaining("input 'green-api-url' must address each green instance"),
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
  interrupted: false,
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
  apiRequests: {},
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

describe('report: interrupted, baseline-from, the way back and API requests', () => {
  it('history entry keeps the request total and marks an interrupted rehearsal', () => {
    expect(historyEntry({ ...report, apiRequests: { upgrade: 20, total: 31 } }).requests).toBe(31);
    expect(historyEntry(report)).not.toHaveProperty('requests');
    expect(historyEntry(report)).not.toHaveProperty('interrupted');
    expect(historyEntry({ ...report, passed: false, interrupted: true }).interrupted).toBe(true);
  });

  it('summary: the source of the baseline, how it went back, the request counts', () => {
    const md = renderRehearsal(
      {
        ...report,
        baselineFrom: 'production/prod/md-core',
        rollbackMethod: 'helm-rollback',
        apiRequests: { baseline: 4, upgrade: 20, rollback: 7, total: 33 },
      },
      undefined,
    );
    expect(md).toContain("Baseline 5.19.0 read from production's Deployment production/prod/md-core.");
    expect(md).toContain('Way back: helm rollback (the release revision before the upgrade).');
    expect(md).toContain(
      "API requests of the action's own client: baseline 4, upgrade 20, rollback 7; total 33 (kubectl and helm calls not counted).",
    );
    const undo = renderRehearsal({ ...report, rollbackMethod: 'rollout-undo' }, undefined);
    expect(undo).toContain('Way back: kubectl rollout undo (the Deployment revision before the upgrade).');
    expect(undo).not.toContain('API requests');
  });

  it('summary of a cancelled rehearsal says it was interrupted, not that it failed', () => {
    const md = renderRehearsal(
      { ...report, passed: false, interrupted: true, failedPhase: 'rollback', error: 'cancelled' },
      undefined,
    );
    expect(md).toContain('## Rehearsal INTERRUPTED (job cancelled) in the rollback phase: 5.19.0 → 5.20.0');
    expect(md).not.toContain('FAILED');
  });
});

describe('report: blue-green', () => {
  it('summary: the switch and hold phases, the way back a blue-green switch back', () => {
    const text = renderRehearsal(
      {
        ...report,
        phases: [
          ...report.phases.slice(0, -1),
          { name: 'switch', seconds: 3, ok: true, detail: 'switched' },
          { name: 'hold', seconds: 60, ok: true, detail: 'held' },
        ],
        rollbackMethod: 'blue-green-switch-back',
      },
      undefined,
    );
    expect(text).toContain(
      'Way back: blue-green switch back (the previous color scaled back up, the Service on it again, the new color removed).',
    );
    expect(text).toContain('| switch | 3 s | ok | switched |');
    expect(text).toContain('| hold | 60 s | ok | held |');
  });

  it('summary: the registration and activation hand-over phases, the way back the hot-backup undo', () => {
    const text = renderRehearsal(
      {
        ...report,
        phases: [
          { name: 'registration', seconds: 8, ok: true, detail: 'registered' },
          { name: 'handover', seconds: 4.2, ok: true, detail: 'activation hand-over' },
        ],
        rollbackMethod: 'hot-backup-switch-back',
      },
      undefined,
    );
    expect(text).toContain('| registration | 8 s | ok | registered |');
    expect(text).toContain('| handover | 4.2 s | ok | activation hand-over |');
    expect(text).toContain(
      'Way back: hot-backup undo (the Service on the previous color, the new color removed and its pods gone so their activations are free, then the previous color scaled back up with the activations and awaited).',
    );
  });
});

describe('baseline read from production', () => {
  const plan = { container: 'md-core', image: 'opswat/metadefendercore-debian' };
  const dep = (containers: { name: string; image?: string }[]) => ({
    spec: { template: { spec: { containers } } },
  });

  it("takes the tag of production's md-core container, not of its sidecars", () => {
    expect(
      baselineTagOf(
        dep([
          { name: 'cloud-sql-proxy', image: 'proxy:2.1' },
          { name: 'md-core', image: 'opswat/metadefendercore-debian:5.19.0' },
        ]),
        plan,
        'p/prod/md-core',
      ),
    ).toEqual({ tag: '5.19.0', image: 'opswat/metadefendercore-debian:5.19.0' });
    // A tag pinned with its digest still names the version.
    expect(
      baselineTagOf(
        dep([{ name: 'md-core', image: 'opswat/metadefendercore-debian:5.19.0@sha256:ab12' }]),
        plan,
        'x',
      ),
    ).toMatchObject({ tag: '5.19.0' });
  });

  it("warns when production pulls another repository (a mirror): the tag is used with staging's image", () => {
    const r = baselineTagOf(
      dep([{ name: 'md-core', image: 'registry.example:5000/mirror/mdcore:5.19.0' }]),
      plan,
      'x',
    );
    expect(r).toMatchObject({ tag: '5.19.0' });
    expect('warning' in r && r.warning).toContain('Production runs registry.example:5000/mirror/mdcore');
  });

  it('refuses, naming the input and the fix: no Deployment, no md-core container, a digest without a tag', () => {
    expect(baselineTagOf(undefined, plan, 'p/prod/md-core')).toEqual({
      problem: expect.stringMatching(
        /^input 'baseline-from': Deployment p\/prod\/md-core was not found; /,
      ) as unknown,
    });
    expect(baselineTagOf(dep([{ name: 'core', image: 'a:1' }]), plan, 'x')).toEqual({
      problem: expect.stringContaining(
        "has no container 'md-core' (it has: core); set 'container'",
      ) as unknown,
    });
    expect(
      baselineTagOf(
        dep([{ name: 'md-core', image: 'opswat/metadefendercore-debian@sha256:ab12' }]),
        plan,
        'x',
      ),
    ).toEqual({
      problem: expect.stringContaining(
        "names no tag (only a digest): give the version as 'baseline-tag'",
      ) as unknown,
    });
  });

  it("names the source as given, without a context when staging's is used", () => {
    expect(sourceName({ context: 'production', namespace: 'prod', deployment: 'md-core' })).toBe(
      'production/prod/md-core',
    );
    expect(sourceName({ context: undefined, namespace: 'prod', deployment: 'md-core' })).toBe('prod/md-core');
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
