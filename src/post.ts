// Entry of `runs.post`: after a cancelled or crashed main step, put the Deployment back as it was.
import * as core from '@actions/core';
import { Journal } from './engine/journal.ts';
import type { Result } from './engine/outcome.ts';
import { recoverFromJournal } from './engine/recover.ts';
import { installingTools } from './engine/tools.ts';
import { JOURNAL_STATE, readActionInputs } from './action-inputs.ts';
import { parseInputs } from './plan/inputs.ts';
import { GitHubReporter } from './report/github.ts';
import { renderBlueGreen } from './report/summary.ts';

/** A blue-green run's table (the colors, where the traffic went and for how long) in the post step's summary. */
async function summarizeBlueGreen(journalPath: string, result: Result): Promise<void> {
  const data = Journal.load(journalPath);
  const bg = data?.blueGreen;
  if (!data || !bg) return;
  const table = renderBlueGreen(
    {
      result,
      previousImage: data.previousImage,
      newImage: data.targetImage,
      dbName: undefined,
      endedAt: Date.now(),
    },
    bg,
  );
  const title =
    result === 'rolled-back' ? 'the interrupted run was rolled back' : 'the interrupted run was not undone';
  await core.summary
    .addRaw(`## MetaDefender Core upgrade (post step): ${title}\n\n${table.join('\n')}\n`)
    .write();
}

async function post(): Promise<void> {
  const journalPath = core.getState(JOURNAL_STATE);
  if (!journalPath) return;
  const reporter = new GitHubReporter();
  const raw = readActionInputs(reporter);
  // The main step checked the values files; one removed since must not stop the recovery.
  const parsed = parseInputs(raw, { files: false });
  if (!parsed.ok) return;
  const res = await recoverFromJournal(journalPath, parsed.plan, {
    reporter,
    tools: installingTools(parsed.plan, reporter),
  });
  if (res.action === 'none') {
    core.debug(res.why);
    return;
  }
  await summarizeBlueGreen(journalPath, res.action === 'rolled-back' ? 'rolled-back' : 'failed').catch(
    (err: unknown) => core.debug(`no summary: ${err instanceof Error ? err.message : String(err)}`),
  );
  if (res.action === 'left') {
    core.warning(
      `The main step stopped after changing the cluster and ${res.why}. To undo it by hand:\n${res.manual.join('\n')}`,
      { title: 'Left as it is (rollback: none)' },
    );
    return;
  }
  if (res.action === 'blocked') {
    core.setFailed(
      `${res.why}\nCheck the Deployment; to undo this run's change by hand:\n${res.manual.join('\n')}`,
    );
    return;
  }
  if (res.action === 'rollback-failed') {
    core.setFailed(
      `The interrupted upgrade could not be rolled back: manual action needed:\n${res.result.problems.join('\n')}\nRun:\n${res.result.manual.join('\n')}`,
    );
  } else {
    core.warning('The interrupted upgrade was rolled back; the previous version is ready again.', {
      title: 'Rolled back',
    });
  }
}

post().catch((err: unknown) =>
  core.setFailed(`post step: ${err instanceof Error ? err.message : String(err)}`),
);
