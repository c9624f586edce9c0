// Pure parts of the rollback: which ConfigMap keys go back, whose edits are kept, when an undo may run, and
// the manual commands a person copies into a shell.
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { JournalData } from '../../src/engine/journal.ts';
import {
  configMapConflicts,
  configMapRestorePatch,
  manualRollbackCommands,
  undoDecision,
} from '../../src/steps/rollback.ts';
import { journalFixture } from '../support/journal-fixture.ts';

const cm = (data: Record<string, string>, name = 'mdcore-env'): V1ConfigMap => ({
  metadata: { name, namespace: 'mdcore', resourceVersion: '7' },
  data,
});

const journal = (change: Partial<JournalData> = {}): JournalData =>
  journalFixture({ previousImage: 'repo/core:5.19.0', targetImage: 'repo/core:5.20.0', ...change });

const deployment = (image: string, generation: number): V1Deployment => ({
  metadata: { name: 'md-core', generation },
  spec: {
    selector: {},
    template: { spec: { containers: [{ name: 'md-core', image }] } },
  },
});

describe('ConfigMap restore', () => {
  const snapshot = cm({ UPGRADE_DB: 'false', OTHER: 'x' });
  const written = { UPGRADE_DB: 'true', MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core' };

  it('puts back only the keys this run wrote (absent before = removed)', () => {
    const current = cm({ UPGRADE_DB: 'true', MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core', OTHER: 'y' });
    expect(configMapRestorePatch(snapshot, written, current)).toEqual({
      UPGRADE_DB: 'false',
      MDCORE_UPGRADE_FROM_DB_NAME: null,
    });
    expect(configMapConflicts(snapshot, written, current)).toEqual([]);
  });

  it('reports a key someone else changed after this run wrote it, and keeps their value', () => {
    const current = cm({ UPGRADE_DB: 'maybe', MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core', OTHER: 'x' });
    const conflicts = configMapConflicts(snapshot, written, current);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toContain('UPGRADE_DB');
    expect(conflicts[0]).toContain('"maybe"');
  });

  it('has nothing to do when an earlier attempt (or helm rollback) restored it already', () => {
    const current = cm({ UPGRADE_DB: 'false', OTHER: 'x' });
    expect(configMapRestorePatch(snapshot, written, current)).toEqual({});
    expect(configMapConflicts(snapshot, written, current)).toEqual([]);
  });

  it('without a record of the written keys (a chart rendered them) restores every differing key', () => {
    const current = cm({ UPGRADE_DB: 'true', NEW: '1', OTHER: 'x' });
    expect(configMapRestorePatch(snapshot, undefined, current)).toEqual({ UPGRADE_DB: 'false', NEW: null });
  });
});

describe('undoDecision', () => {
  it("undoes this run's own change, also when force re-applied the same tag", () => {
    expect(undoDecision(journal({ knownGeneration: 5 }), deployment('repo/core:5.20.0', 5)).kind).toBe(
      'undo',
    );
    const same = journal({ knownGeneration: 5, previousImage: 'repo/core:5.20.0' });
    expect(undoDecision(same, deployment('repo/core:5.20.0', 5)).kind).toBe('undo');
  });

  it('sees an earlier undo (image back, generation moved on) and does not undo twice', () => {
    expect(undoDecision(journal({ knownGeneration: 5 }), deployment('repo/core:5.19.0', 6)).kind).toBe(
      'already',
    );
  });

  it("refuses to undo someone else's later change", () => {
    const d = undoDecision(journal({ knownGeneration: 5 }), deployment('repo/core:5.21.0', 6));
    expect(d.kind).toBe('refuse');
    if (d.kind === 'refuse') expect(d.why).toContain('someone else');
    expect(undoDecision(journal(), undefined).kind).toBe('refuse');
  });

  it('falls back to the image when the run died before it knew the generation', () => {
    expect(undoDecision(journal(), deployment('repo/core:5.20.0', 9)).kind).toBe('undo');
    expect(undoDecision(journal(), deployment('repo/core:5.19.0', 9)).kind).toBe('already');
  });
});

describe('manualRollbackCommands', () => {
  it('quotes live values so a name or value cannot break out of the shell command', () => {
    const j = journal({
      deployment: 'md-core',
      namespace: 'ns',
      configMaps: [cm({ UPGRADE_DB: "it's; rm -rf /" }, 'env')],
      configMapWrites: { env: { UPGRADE_DB: 'true' } },
      replicas: 2,
    });
    const cmds = manualRollbackCommands(j, 'rollout-undo');
    // ConfigMaps first, like the rollback itself: old pods must not start with this run's variables.
    expect(cmds[0]).toMatch(/^kubectl patch configmap env/);
    expect(cmds[0]).toContain(`'{"data":{"UPGRADE_DB":"it'\\''s; rm -rf /"}}'`);
    expect(cmds[1]).toBe('kubectl rollout undo deployment/md-core -n ns --to-revision=3');
    expect(cmds).toContain('kubectl scale deployment/md-core -n ns --replicas=2');
  });

  it('names the helm rollback when that is the mode', () => {
    const cmds = manualRollbackCommands(
      journal({ method: 'helm', release: 'my release', previousReleaseRevision: 4 }),
      'helm-rollback',
    );
    expect(cmds[0]).toBe("helm rollback 'my release' 4 -n mdcore --wait");
  });
});
