import { describe, expect, it } from 'vitest';
import { newOutcome, type HelmSummary } from '../../src/engine/outcome.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { renderHelm, renderSummary } from '../../src/report/summary.ts';

const rev = (revision: number, status: string, description: string) => ({
  revision,
  status,
  description,
  chart: 'metadefender_core-5.19.0',
  appVersion: '5.19.0',
  updated: `2026-11-23T10:0${revision}:00Z`,
});

const base: HelmSummary = {
  release: 'mdcore',
  chart: 'the deployed chart metadefender_core 5.19.0',
  helmVersion: 'v3.22.0',
  valuesMode: '--reset-then-reuse-values',
  currentRevision: 1,
  before: [rev(1, 'deployed', 'Install complete')],
  after: [
    rev(1, 'superseded', 'Install complete'),
    rev(2, 'superseded', 'mdcore-upgrade-action: a → b'),
    rev(3, 'deployed', 'Rollback to 1'),
  ],
  changes: ['ConfigMap/mdcore-env: data.STORAGE_PATH added: /metadefendercore'],
  notes: ['a note | with a pipe'],
};

describe('renderHelm', () => {
  it('shows the history after the run, marking the revision before it and the new ones', () => {
    const md = renderHelm(base).join('\n');
    expect(md).toContain('### Helm release `mdcore`');
    expect(md).toMatch(/\| 1 \| superseded \|.*\| before the run \|/);
    expect(md).toMatch(/\| 2 \| superseded \|.*mdcore-upgrade-action: a → b \| new \|/);
    expect(md).toMatch(/\| 3 \| deployed \|.*Rollback to 1 \| new \|/);
    expect(md).toContain("Changes besides md-core's image and the upgrade variables");
    expect(md).toContain('- ⚠️ ConfigMap/mdcore-env: data.STORAGE_PATH added');
    expect(md).toContain('a note \\| with a pipe');
  });

  it('shows the history before the run when the run stopped before reading it again', () => {
    const md = renderHelm({ ...base, after: [], changes: [], notes: [] }).join('\n');
    expect(md).toMatch(/\| 1 \| deployed \|.*\| before the run \|/);
    expect(md).not.toContain('Changes besides');
  });

  it('is part of the job summary only for the helm route', () => {
    const r = parseInputs({ namespace: 'mdcore', tag: '5.20.0' });
    if (!r.ok) throw new Error('inputs');
    const o = newOutcome(r.plan, 0);
    expect(renderSummary(o)).not.toContain('Helm release');
    o.helm = base;
    expect(renderSummary(o)).toContain('### Helm release `mdcore`');
  });
});
