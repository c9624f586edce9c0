// The action's rehearsal step: outputs, the summary (the rehearsal's section first), the failure naming the
// phase; and the engine refusing a rehearsal plan given to it as one plain upgrade.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.ts';
import { newOutcome } from '../../src/engine/outcome.ts';
import { leftAfterFailure, type RehearsalResult } from '../../src/engine/rehearsal.ts';
import { runUpgrade } from '../../src/engine/run.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';
import type { RehearsalReport } from '../../src/report/rehearsal.ts';
import { rehearsalStep } from '../../src/rehearsal-step.ts';

function rehearsalPlan(): Plan {
  const res = parseInputs({
    namespace: 'staging',
    tag: '5.20.0',
    method: 'kubectl',
    rehearsal: 'true',
    'baseline-tag': '5.19.0',
  });
  if (!res.ok) throw new Error(JSON.stringify(res.errors));
  return res.plan;
}

const report = (over: Partial<RehearsalReport>): RehearsalReport => ({
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
  phases: [],
  checks: [],
  apiRequests: {},
  trend: [],
  ...over,
});

async function step(r: RehearsalReport, secret?: string) {
  const plan = rehearsalPlan();
  const reporter = new MemoryReporter();
  if (secret) reporter.secret(secret);
  const outputs: Record<string, string> = {};
  const failed: string[] = [];
  let summary = '';
  const result: RehearsalResult = {
    report: r,
    reportPath: 'out/rehearsal.json',
    outcomes: [newOutcome({ ...plan, tag: '5.19.0', rehearsal: undefined }, 0), newOutcome(plan, 0)],
  };
  await rehearsalStep(
    plan,
    { reporter, tools: { kubectl: async () => 'kubectl', helm: async () => 'helm' } },
    {
      setOutput: (k, v) => (outputs[k] = v),
      setFailed: (m) => failed.push(m),
      writeSummary: async (md) => (summary = md),
    },
    async () => result,
  );
  return { outputs, failed, summary };
}

describe('rehearsal step', () => {
  it('passed: outputs, the rehearsal section before each run, not failed', async () => {
    const s = await step(report({}));
    expect(s.outputs).toEqual({ 'rehearsal-report': 'out/rehearsal.json', result: 'rehearsed' });
    expect(s.failed).toEqual([]);
    expect(s.summary.indexOf('## Rehearsal passed')).toBe(0);
    expect(s.summary).toContain('### To the baseline');
    expect(s.summary).toContain('### Upgrade to the target');
  });

  it('failed: fails the job naming the phase and where staging was left, secrets masked', async () => {
    const s = await step(
      report({
        passed: false,
        failedPhase: 'upgrade',
        error: 'the upgrade phase failed: token s3cr3t-t0ken',
      }),
      's3cr3t-t0ken',
    );
    expect(s.outputs.result).toBe('failed');
    expect(s.failed).toHaveLength(1);
    expect(s.failed[0]).toMatch(/^Rehearsal failed in the upgrade phase; staging left on 5\.19\.0\. /);
    expect(s.failed[0]).not.toContain('s3cr3t-t0ken');
    expect(s.summary).not.toContain('s3cr3t-t0ken');
  });

  it('interrupted: fails the job saying it was cancelled, not that the rehearsal failed', async () => {
    const s = await step(
      report({
        passed: false,
        interrupted: true,
        failedPhase: 'rollback',
        leftOn:
          'unknown until the post step has finished the rollback to 5.19.0 (the job was cancelled during it)',
        error: 'the rollback phase failed: the job was cancelled',
      }),
    );
    expect(s.outputs.result).toBe('failed');
    expect(s.failed).toEqual([
      'Rehearsal interrupted (job cancelled) in the rollback phase; staging left on unknown until the post step has finished the rollback to 5.19.0 (the job was cancelled during it). the rollback phase failed: the job was cancelled',
    ]);
    expect(s.summary).toContain('## Rehearsal INTERRUPTED (job cancelled) in the rollback phase');
  });
});

describe('runUpgrade with a rehearsal plan', () => {
  it('refuses before contacting anything: a single run would leave staging on the target', async () => {
    const o = await runUpgrade(rehearsalPlan(), {
      reporter: new MemoryReporter(),
      tools: { kubectl: async () => 'kubectl', helm: async () => 'helm' },
    });
    expect(o.result).toBe('failed');
    expect(o.error).toContain('must call runRehearsal');
    expect(o.steps).toEqual([]);
  });
});

describe('mdcore-upgrade --rehearsal', () => {
  it('refuses a rehearsal without baseline-tag before contacting anything (exit 2)', async () => {
    let out = '';
    const code = await main(
      ['--namespace', 'staging', '--tag', '5.20.0', '--method', 'kubectl', '--rehearsal'],
      {
        stdout: (t) => (out += t),
        stderr: (t) => (out += t),
        env: {},
      },
    );
    expect(code).toBe(2);
    expect(out).toContain("input 'baseline-tag' or 'baseline-from' is required when 'rehearsal' is true");
  });

  it('refuses a malformed --baseline-from before contacting anything (exit 2), naming the input and the form', async () => {
    let out = '';
    const code = await main(
      ['--namespace', 'staging', '--tag', '5.20.0', '--rehearsal', '--baseline-from', 'production'],
      { stdout: (t) => (out += t), stderr: (t) => (out += t), env: {} },
    );
    expect(code).toBe(2);
    expect(out).toContain(
      'input \'baseline-from\' "production" is not valid: it must be <context>/<namespace>/<deployment> or <namespace>/<deployment>',
    );
  });
});

describe('where a failed phase left staging', () => {
  it('rolled back or unchanged: where it was; otherwise unknown, never a guess', () => {
    const o = { rolledBack: false, rollbackFailed: false, error: undefined };
    expect(leftAfterFailure({ ...o, rolledBack: true }, '5.19.0')).toBe('5.19.0');
    expect(
      leftAfterFailure({ ...o, error: 'preflight failed. Nothing in the cluster was changed.' }, '5.19.0'),
    ).toBe('5.19.0');
    expect(leftAfterFailure({ ...o, rollbackFailed: true }, '5.19.0')).toBe(
      'unknown (the rollback failed: see the error)',
    );
    expect(leftAfterFailure({ ...o, error: 'Lease lost' }, '5.19.0')).toBe(
      'unknown (not rolled back: see the error)',
    );
  });
});

describe('mdcore-upgrade --rehearsal against a cluster that cannot be reached', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('fails the baseline phase (exit 1), prints the rehearsal section and writes the report', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rehearsal-cli-'));
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await new Promise<void>((r) => server.close(() => r()));
    const token = 'rehearsal-cli-token-0123456789';
    const kubeconfig = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}` } }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'staging', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'staging',
    });
    const reportPath = join(dir, 'report.json');
    let out = '';
    const code = await main(
      [
        '--namespace',
        'staging',
        '--tag',
        '5.20.0',
        '--method',
        'kubectl',
        '--rehearsal',
        '--baseline-tag',
        '5.19.0',
        '--rehearsal-report',
        reportPath,
        '--kubectl-version',
        '1.36.3',
      ],
      { stdout: (t) => (out += t), stderr: (t) => (out += t), env: { MDCORE_KUBECONFIG: kubeconfig } },
    );
    expect(code).toBe(1);
    expect(out).toContain('## Rehearsal FAILED in the baseline phase: 5.19.0 → 5.20.0');
    expect(out).toContain('cannot reach the Kubernetes API server');
    expect(out).toContain('The rehearsal history was not updated');
    expect(out).not.toContain(token);
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as RehearsalReport;
    expect(report).toMatchObject({ passed: false, failedPhase: 'baseline', leftOn: 'what it ran before' });
    expect(report.phases.map((p) => p.name)).toEqual(['baseline']);
  });
});
