// Rehearsals through dist/index.js and dist/post.js, as GitHub runs them: one end to end (outputs, report file,
// staging back on the baseline), and a job cancelled during the rollback on purpose: a real SIGTERM to the main
// step while the baseline's pods are coming back, then the post step. Staging ends on the baseline, every pod
// ready, and the history records the rehearsal as interrupted.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RehearsalReport } from '../../src/report/rehearsal.ts';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import { e2eCluster, kubectl, waitFor } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { configMapsData, deploymentView, IMAGE, installFixture } from './support/action.ts';
import { useDistRunner } from './support/dist-runner.ts';
import { useNamespaces } from './support/namespaces.ts';
import { rehearsalHistory } from './support/rehearse.ts';

const namespace = useNamespaces();
const dist = useDistRunner();

async function readyReplicas(ns: string): Promise<number> {
  const jsonpath = '-o=jsonpath={.status.readyReplicas}';
  return Number((await kubectl(['get', 'deployment', 'md-core', '-n', ns, jsonpath])).stdout || 0);
}

/** The main step's inputs for a kubectl-route rehearsal of staging in `ns` from `baseline` to 5.20.0. */
const rehearsalInputs = (ns: string, baseline: string): Record<string, string> => ({
  namespace: ns,
  tag: '5.20.0',
  method: 'kubectl',
  kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
  'kubectl-version': '1.36.3',
  rehearsal: 'true',
  'baseline-tag': baseline,
});

const reportOf = (out: Record<string, string>): RehearsalReport =>
  JSON.parse(readFileSync(out['rehearsal-report'] ?? '', 'utf8')) as RehearsalReport;

describe('rehearsal through dist/index.js (the action main step)', () => {
  it('rehearses the upgrade and the way back, writes the report output, and leaves staging on the baseline', async () => {
    const ns = await namespace('rehearsal-dist');
    await installFixture(ns, { replicas: 1 });
    const r = dist.runner(rehearsalInputs(ns, '5.19.0'));
    const main = dist.start('index.js', r.env);
    expect(await main.code, main.output()).toBe(0);
    const out = r.outputs();
    expect(out.result).toBe('rehearsed');
    expect(reportOf(out)).toMatchObject({ passed: true, interrupted: false, rollbackMethod: 'rollout-undo' });
    expect(r.summary()).toContain('## Rehearsal passed: 5.19.0 → 5.20.0 → 5.19.0');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
  });
});

describe('rehearsal cancelled during the rollback on purpose', () => {
  it('SIGTERM while the baseline comes back: the post step finishes the rollback; history says interrupted', async () => {
    const ns = await namespace('rehearsal-cancel');
    // The baseline's pods turn ready 20 s after they start: the rollback's wait is long enough to cancel in.
    const baseline = tagFor('5.19.0', 'slow', 20);
    await installFixture(ns, { replicas: 1, tag: baseline });
    const cmBefore = await configMapsData(ns);
    const r = dist.runner(rehearsalInputs(ns, baseline));
    const main = dist.start('index.js', r.env);
    // The undo has been made (the detail line follows the command); the wait for the baseline has begun.
    await waitFor(
      'the rollback on purpose waiting for the baseline',
      async () => (/rollout undo to revision \d+/.test(main.output()) ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 20 },
    );
    main.kill('SIGTERM');
    expect(await main.code, main.output()).toBe(1);
    expect(main.output()).toContain('received SIGTERM');
    expect(main.output()).toContain('the post step finishes it');
    // The main step stopped waiting instead of holding the job for the whole rollback.
    expect(main.output()).not.toContain('previous version ready again');

    const out = r.outputs();
    expect(out.result).toBe('failed');
    const report = reportOf(out);
    expect(report).toMatchObject({ passed: false, interrupted: true, failedPhase: 'rollback' });
    expect(report.leftOn).toContain('until the post step has finished the rollback');
    expect(r.summary()).toContain('Rehearsal INTERRUPTED (job cancelled) in the rollback phase');
    expect(await rehearsalHistory(ns)).toEqual([
      expect.objectContaining({ passed: false, interrupted: true, target: '5.20.0' }),
    ]);

    const post = dist.post(r);
    expect(await post.code, post.output()).toBe(0);
    expect(post.output()).not.toContain('::error');
    expect(post.output()).toContain('rolled back');
    // The post step waited for the baseline: on it, every replica ready, the variables as before.
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:${baseline}`);
    expect(await readyReplicas(ns)).toBe(1);
    const { [`mdcore-upgrade-rehearsals-md-core`]: _history, ...cmAfter } = await configMapsData(ns);
    expect(cmAfter).toEqual(cmBefore);
  });
});
