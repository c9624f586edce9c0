// Runs the rehearsal driver in-process against the suite's cluster (as dist/index.js does with rehearsal: true),
// and reads back the history ConfigMap the action keeps, for the rehearsal e2e files.
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import {
  historyConfigMapName,
  HISTORY_KEY,
  runRehearsal,
  type RehearsalResult,
} from '../../../src/engine/rehearsal.ts';
import { formatInputErrors, parseInputs } from '../../../src/plan/inputs.ts';
import { MemoryReporter } from '../../../src/report/reporter.ts';
import {
  renderRehearsal,
  type HistoryEntry,
  type PhaseReport,
  type RehearsalReport,
} from '../../../src/report/rehearsal.ts';
import type { Standin } from '../../support/mdcore-standin.ts';
import { e2eCluster, kubectl, kubectlJson } from '../cluster/context.ts';

export interface Rehearsed extends RehearsalResult {
  reporter: MemoryReporter;
  summary: string;
  /** The JSON report as written to its file. */
  fileReport: RehearsalReport;
}

/** A rehearsal with the cluster's kubeconfig as input content; Helm 3 unless `helmMajor` says 4. */
export async function rehearse(
  inputs: Record<string, string>,
  opts: { reporter?: MemoryReporter; helmMajor?: 3 | 4 } = {},
): Promise<Rehearsed> {
  const c = e2eCluster();
  const reporter = opts.reporter ?? new MemoryReporter();
  const parsed = parseInputs({
    kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
    'kubectl-version': '1.36.3',
    method: 'kubectl',
    rehearsal: 'true',
    ...inputs,
  });
  if (!parsed.ok) throw new Error(formatInputErrors(parsed.errors));
  const res = await runRehearsal(parsed.plan, {
    reporter,
    tools: { kubectl: async () => c.kubectl, helm: async () => (opts.helmMajor === 4 ? c.helm4 : c.helm3) },
  });
  expect(existsSync(res.reportPath)).toBe(true);
  const fileReport = JSON.parse(readFileSync(res.reportPath, 'utf8')) as RehearsalReport;
  return { ...res, reporter, summary: renderRehearsal(res.report, res.reportPath), fileReport };
}

/** The rehearsal history kept in staging's namespace (for Deployment md-core). */
export async function rehearsalHistory(ns: string): Promise<HistoryEntry[]> {
  const cm = await kubectlJson<{ data?: Record<string, string> }>([
    'get',
    'configmap',
    historyConfigMapName('md-core'),
    '-n',
    ns,
  ]);
  return JSON.parse(cm.data?.[HISTORY_KEY] ?? 'null') as HistoryEntry[];
}

/**
 * A reporter that moves the stand-in's answered version with the rehearsal (the stand-in is not the cluster's
 * pods): the target from the upgrade on, the baseline from the rollback on purpose on.
 */
export function versionFollower(standin: Standin, baseline: string, target: string): MemoryReporter {
  class Following extends MemoryReporter {
    override info(text: string): void {
      if (text.startsWith('Rehearsal: upgrading staging')) standin.state.version = target;
      if (text.startsWith('Rehearsal: rolling back on purpose')) standin.state.version = baseline;
      super.info(text);
    }
  }
  return new Following();
}

/** The fixture release's admin API key (Secret mdcore-api-key), for a stand-in that answers as its MD Core. */
export async function fixtureApiKey(ns: string): Promise<string> {
  const b64 = (await kubectl(['get', 'secret', 'mdcore-api-key', '-n', ns, '-o', 'jsonpath={.data.value}']))
    .stdout;
  return Buffer.from(b64, 'base64').toString('utf8');
}

/**
 * A rehearsal whose target never became ready: failed in the upgrade phase, rolled back by the engine (staging
 * already on `baseline`), no rollback on purpose, the rollout failed and nothing switched. Returns the phases
 * by name for the strategy's own checks.
 */
export function expectNeverReady(res: Rehearsed, baseline: string): Partial<Record<string, PhaseReport>> {
  expect(res.report.passed).toBe(false);
  expect(res.report.failedPhase).toBe('upgrade');
  expect(res.report.error).toMatch(/^the upgrade phase failed: .*did not become ready/);
  expect(res.report.leftOn).toBe(baseline);
  expect(res.report.rollbackMethod).toBeUndefined();
  expect(res.outcomes.map((o) => o.result)).toEqual(['unchanged', 'rolled-back']);
  const phases: Partial<Record<string, PhaseReport>> = Object.fromEntries(
    res.report.phases.map((p) => [p.name, p]),
  );
  expect(phases.rollout?.ok).toBe(false);
  expect(phases.switch).toMatchObject({ seconds: undefined, ok: false, detail: 'not switched' });
  expect(phases.rollback).toBeUndefined();
  expect(res.summary).toContain('Rehearsal FAILED in the upgrade phase');
  return phases;
}
