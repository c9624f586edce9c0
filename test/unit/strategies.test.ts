// Every strategy's steps, in order, for the plans that shape them (no cluster), and the engine's pure decisions.
import { describe, expect, it } from 'vitest';
import type { Facts, StrategySteps } from '../../src/engine/step.ts';
import { resultOfPhase, withChangeWording } from '../../src/engine/outcome.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { waitSeconds, type Plan } from '../../src/plan/plan.ts';
import type { Route } from '../../src/steps/route.ts';
import { STRATEGIES, strategyFor } from '../../src/strategies/index.ts';

function plan(inputs: Record<string, string>): Plan {
  const p = parseInputs({ namespace: 'mdcore', tag: '5.20.0', ...inputs });
  if (!p.ok) throw new Error(p.errors.map((e) => e.message).join('\n'));
  return p.plan;
}

const route: Route<unknown> = {
  name: 'kubectl',
  prepare: () => Promise.reject(new Error('not run in this test')),
  applyTitle: 'Write the variables and change the image (kubectl)',
  apply: () => Promise.reject(new Error('not run in this test')),
};
const facts = { state: {}, route, db: { name: 'metadefender_core', reason: 'test' } } as unknown as Facts;

const ids = (s: StrategySteps): Record<'checks' | 'changes' | 'wrapUp', string[]> => ({
  checks: s.checks.map((x) => x.id),
  changes: s.changes.map((x) => x.id),
  wrapUp: s.wrapUp.map((x) => x.id),
});

const api = { 'api-url': 'https://md-core.mdcore.svc:8008', 'api-key': 'k-123456789' };

describe('rolling-update', () => {
  it('plain: plan, settings; change, wait; record, restore', () => {
    const p = plan({});
    expect(ids(strategyFor(p)(p, facts))).toEqual({
      checks: ['plan-change', 'rolling'],
      changes: ['apply', 'wait'],
      wrapUp: ['record', 'restore-settings'],
    });
  });

  it('MIGRATE_HISTORY: liveness and space are checks, stopping the pods is the first change', () => {
    const p = plan({ 'migrate-history': 'true', 'db-free-space': 'skip', 'migration-timeout': '2h' });
    expect(ids(strategyFor(p)(p, facts))).toEqual({
      checks: ['plan-change', 'rolling', 'liveness', 'db-space'],
      changes: ['stop-pods', 'apply', 'wait'],
      wrapUp: ['record', 'restore-settings'],
    });
  });

  it('with api-url: the API is checked before any change and the new version verified after the wait', () => {
    const p = plan(api);
    expect(ids(strategyFor(p)(p, facts))).toEqual({
      checks: ['plan-change', 'rolling', 'api'],
      changes: ['apply', 'wait', 'verify'],
      wrapUp: ['record', 'restore-settings'],
    });
    const off = plan({ ...api, verify: 'off' });
    expect(ids(strategyFor(off)(off, facts)).checks).not.toContain('api');
  });
});

describe('export-import', () => {
  it('exports after every other check, imports right after the wait, then verifies', () => {
    const p = plan({ ...api, strategy: 'export-import', 'config-password': 'pw-123456' });
    expect(ids(strategyFor(p)(p, facts))).toEqual({
      checks: ['plan-change', 'rolling', 'api', 'export'],
      changes: ['apply', 'wait', 'import', 'verify'],
      wrapUp: ['record', 'restore-settings'],
    });
  });

  it('with MIGRATE_HISTORY and verify off: still exports and imports, no verification', () => {
    const p = plan({
      ...api,
      strategy: 'export-import',
      'config-password': 'pw-123456',
      verify: 'off',
      'migrate-history': 'true',
      'db-free-space': 'skip',
      'migration-timeout': '2h',
    });
    expect(ids(strategyFor(p)(p, facts))).toEqual({
      checks: ['plan-change', 'rolling', 'liveness', 'db-space', 'api', 'export'],
      changes: ['stop-pods', 'apply', 'wait', 'import'],
      wrapUp: ['record', 'restore-settings'],
    });
  });
});

describe('registry', () => {
  it('has a strategy for each one the inputs accept, and every step id is unique within a run', () => {
    for (const [name, s] of Object.entries(STRATEGIES)) {
      const hot: Record<string, string> =
        name === 'blue-green-hot-backup' ? { 'green-api-url': 'https://{pod-ip}:8008' } : {};
      const p = plan({ ...api, strategy: name, 'config-password': 'pw-123456', ...hot });
      const all = Object.values(ids(s(p, facts))).flat();
      expect(new Set(all).size, name).toBe(all.length);
    }
    expect(Object.keys(STRATEGIES).sort()).toEqual([
      'blue-green',
      'blue-green-hot-backup',
      'export-import',
      'rolling-update',
    ]);
  });
});

describe('engine decisions', () => {
  it('waitSeconds: migration-timeout for MIGRATE_HISTORY, timeout otherwise', () => {
    expect(waitSeconds(plan({ timeout: '7m' }))).toBe(420);
    expect(
      waitSeconds(plan({ 'migrate-history': 'true', 'db-free-space': 'skip', 'migration-timeout': '2h' })),
    ).toBe(7200);
  });

  it('resultOfPhase: the result follows the journal', () => {
    expect(resultOfPhase('done').result).toBe('upgraded');
    expect(resultOfPhase('rolled-back')).toEqual({
      result: 'rolled-back',
      rolledBack: true,
      rollbackFailed: false,
    });
    expect(resultOfPhase('rollback-failed')).toEqual({
      result: 'failed',
      rolledBack: false,
      rollbackFailed: true,
    });
    expect(resultOfPhase('left-failed').result).toBe('failed');
    expect(resultOfPhase('waiting').result).toBe('failed');
  });

  it('withChangeWording: says "nothing changed" only when the journal says so, and only once', () => {
    expect(withChangeWording('rolling settings are both zero', false)).toBe(
      'rolling settings are both zero. Nothing in the cluster was changed.',
    );
    expect(withChangeWording('x. Nothing in the cluster was changed.', false)).toBe(
      'x. Nothing in the cluster was changed.',
    );
    expect(withChangeWording('the new version did not become ready', true)).toBe(
      'the new version did not become ready',
    );
  });
});
