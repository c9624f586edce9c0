// The one after-failure decision (main step and post step), and what the post step does with a journal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { afterFailure, rollbackMode } from '../../src/engine/after-failure.ts';
import { Journal, wasMutated } from '../../src/engine/journal.ts';
import { recoverFromJournal } from '../../src/engine/recover.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { journalFixture } from '../support/journal-fixture.ts';
import { RecordingReporter } from '../support/recording-reporter.ts';

const journal = journalFixture;

describe('afterFailure', () => {
  it('does nothing without a journal or without a change', () => {
    expect(afterFailure(undefined).kind).toBe('nothing');
    expect(afterFailure(journal({ templateChanged: false, phase: 'planned' })).kind).toBe('nothing');
  });

  it('leaves a failed run alone when rollback is none, in every phase that changed something', () => {
    for (const phase of ['planned', 'changing', 'waiting', 'rollback-failed'] as const) {
      const d = afterFailure(journal({ rollback: 'none', phase }));
      expect(d.kind, phase).toBe('leave');
      if (d.kind === 'leave') expect(d.manualMode).toBe('rollout-undo');
    }
  });

  it('never acts again on a run that ended on purpose', () => {
    for (const phase of ['done', 'rolled-back', 'left-failed'] as const) {
      expect(afterFailure(journal({ phase })).kind, phase).toBe('nothing');
    }
  });

  it('keys on what was changed, not on the phase: a scale-down recorded while still planned is undone', () => {
    const d = afterFailure(journal({ phase: 'planned', templateChanged: false, replicas: 2 }));
    expect(d).toEqual({ kind: 'rollback', mode: 'rollout-undo' });
    const cm = afterFailure(
      journal({
        phase: 'planned',
        templateChanged: false,
        configMapWrites: { 'mdcore-env': { UPGRADE_DB: 'true' } },
      }),
    );
    expect(cm.kind).toBe('rollback');
  });

  it('chooses the rollback mode from the input and the method', () => {
    expect(rollbackMode('auto', 'helm')).toBe('helm-rollback');
    expect(rollbackMode('auto', 'kubectl')).toBe('rollout-undo');
    expect(rollbackMode('rollout-undo', 'helm')).toBe('rollout-undo');
    expect(afterFailure(journal({ method: 'helm', rollback: 'rollout-undo' }))).toEqual({
      kind: 'rollback',
      mode: 'rollout-undo',
    });
  });

  it('journal: wasMutated counts every recorded change', () => {
    const none = journal({ templateChanged: false });
    expect(wasMutated(none)).toBe(false);
    expect(wasMutated({ ...none, deploymentFields: { progressDeadlineSeconds: null } })).toBe(true);
    expect(wasMutated({ ...none, deploymentAnnotations: { a: null } })).toBe(true);
    expect(wasMutated({ ...none, replicas: 0 })).toBe(true);
  });
});

describe('post step (recoverFromJournal) follows the same decision', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const plan = (): ReturnType<typeof parseInputs> =>
    // A kubeconfig that points nowhere: a test passes only if the post step never connects.
    parseInputs({ namespace: 'mdcore', tag: '5.20.0', kubeconfig: 'apiVersion: v1\nkind: Config\n' });

  it("leaves the cluster alone after 'rollback: none' and says how to undo it by hand", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'after-failure-'));
    dirs.push(dir);
    const path = join(dir, 'journal.json');
    writeFileSync(path, JSON.stringify(journal({ rollback: 'none', phase: 'waiting' })));
    const p = plan();
    if (!p.ok) throw new Error('bad test inputs');
    const res = await recoverFromJournal(path, p.plan, {
      reporter: new RecordingReporter(),
      tools: {
        kubectl: () => Promise.reject(new Error('must not run kubectl')),
        helm: () => Promise.reject(new Error('must not run helm')),
      },
    });
    expect(res.action).toBe('left');
    if (res.action === 'left') expect(res.manual.join('\n')).toContain('rollout undo');
    expect(Journal.load(path)?.phase).toBe('left-failed');
  });

  it('does nothing after a run that ended as left-failed or done', async () => {
    for (const phase of ['left-failed', 'done'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'after-failure-'));
      dirs.push(dir);
      const path = join(dir, 'journal.json');
      writeFileSync(path, JSON.stringify(journal({ phase })));
      const p = plan();
      if (!p.ok) throw new Error('bad test inputs');
      const res = await recoverFromJournal(path, p.plan, {
        reporter: new RecordingReporter(),
        tools: {
          kubectl: () => Promise.reject(new Error('no')),
          helm: () => Promise.reject(new Error('no')),
        },
      });
      expect(res.action, phase).toBe('none');
    }
  });
});
