// The action's main step: read inputs, run the engine, write the summary, outputs and annotations.
import * as core from '@actions/core';
import { join } from 'node:path';
import { runUpgrade } from './engine/run.ts';
import { installingTools } from './engine/tools.ts';
import { JOURNAL_STATE, readActionInputs } from './action-inputs.ts';
import { rehearsalStep } from './rehearsal-step.ts';
import { formatInputErrors, parseInputs } from './plan/inputs.ts';
import { GitHubReporter, SUMMARY_BUDGET_BYTES, workflowRunUrl, writeJobSummary } from './report/github.ts';
import { failureAnnotation, outputsOf, renderSummary } from './report/summary.ts';

export async function run(): Promise<void> {
  const reporter = new GitHubReporter();
  const raw = readActionInputs(reporter);
  const parsed = parseInputs(raw);
  if (!parsed.ok) {
    core.setOutput('result', 'failed');
    core.setFailed(formatInputErrors(parsed.errors));
    return;
  }
  const plan = parsed.plan;
  const journalPath = join(
    process.env.RUNNER_TEMP || process.cwd(),
    `mdcore-upgrade-journal-${process.pid}.json`,
  );
  core.saveState(JOURNAL_STATE, journalPath);
  const controller = new AbortController();
  // The runner sends SIGINT, then SIGTERM, when the job is cancelled: stop waiting and let the engine (and,
  // if the process is killed first, the post step) put the Deployment back.
  const onSignal = (sig: NodeJS.Signals): void => {
    reporter.warning(`received ${sig}: the job is being cancelled; rolling back`, 'Cancelled');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const deps = {
    reporter,
    tools: installingTools(plan, reporter, (tool, path) => core.setOutput(`${tool}-path`, path)),
    journalPath,
    runUrl: workflowRunUrl(),
    signal: controller.signal,
  };
  if (plan.rehearsal) {
    await rehearsalStep(plan, deps, {
      setOutput: (k, v) => core.setOutput(k, v),
      setFailed: (m) => core.setFailed(m),
      writeSummary: (md) => writeJobSummary(md),
    });
    reporter.flush();
    return;
  }
  const outcome = await runUpgrade(plan, deps);
  for (const [k, v] of Object.entries(outputsOf(outcome))) core.setOutput(k, v);
  await writeJobSummary(
    reporter.mask(renderSummary(outcome, { timeline: 'mermaid', maxBytes: SUMMARY_BUDGET_BYTES })),
  );
  reporter.flush();
  if (outcome.result === 'failed' || outcome.result === 'rolled-back') {
    core.setFailed(reporter.mask(failureAnnotation(outcome)));
  }
}
