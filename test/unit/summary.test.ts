// The job summary: within GitHub's 1 MiB, a mermaid gantt chart for GitHub and text bars for the terminal.
import { describe, expect, it } from 'vitest';
import { newOutcome, type Outcome } from '../../src/engine/outcome.ts';
import type { StepRecord } from '../../src/engine/timeline.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import {
  GITHUB_SUMMARY_LIMIT_BYTES,
  cutToBytes,
  mermaidGantt,
  mermaidTaskName,
  renderSummary,
  TRIM_NOTE,
} from '../../src/report/summary.ts';

const T0 = Date.UTC(2026, 11, 2, 4, 0, 0);

function outcome(steps: StepRecord[], extra: Partial<Outcome> = {}): Outcome {
  const res = parseInputs({ namespace: 'mdcore', tag: '5.20.0' });
  if (!res.ok) throw new Error('fixture inputs');
  const o = newOutcome(res.plan, T0);
  o.steps = steps;
  o.endedAt = steps.at(-1)?.endedAt ?? T0;
  o.result = 'upgraded';
  return Object.assign(o, extra);
}

const step = (
  id: string,
  title: string,
  start: number,
  end: number,
  status: StepRecord['status'] = 'ok',
  details: string[] = [],
): StepRecord => ({ id, title, startedAt: T0 + start, endedAt: T0 + end, status, details });

const STEPS = [
  step('connect', 'Connect to the cluster', 0, 400),
  step('preflight', 'Preflight checks (nothing changed yet)', 400, 1_500),
  step('plan-change', 'Plan the change (kubectl); nothing changed yet', 1_500, 1_600, 'warning'),
  step(
    'liveness',
    'MIGRATE_HISTORY pre-step 1: keep the liveness probe from killing the migration',
    1_600,
    1_700,
  ),
  step('apply', 'Apply', 1_700, 1_700, 'skipped'),
  step('wait', 'Wait for readiness (watching the rollout)', 1_700, 61_700, 'failed'),
];

describe('mermaid timeline', () => {
  it('GitHub gets a gantt chart with one task per step at its real times; the terminal gets text bars', () => {
    const o = outcome(STEPS);
    const md = renderSummary(o, { timeline: 'mermaid' });
    const block = md.slice(md.indexOf('```mermaid'), md.indexOf('```', md.indexOf('```mermaid') + 3) + 3);
    expect(block.split('\n').slice(0, 6)).toEqual([
      '```mermaid',
      'gantt',
      '    title Upgrade steps (upgraded), times in UTC',
      '    dateFormat YYYY-MM-DD HH:mm:ss.SSS',
      '    axisFormat %H:%M:%S',
      '    section Run',
    ]);
    expect(block).toContain(
      `    Connect to the cluster :done, s0, 2026-12-02 04:00:00.000, 2026-12-02 04:00:00.400`,
    );
    expect(block).toContain(
      `    Plan the change (kubectl), nothing changed yet :active, s2, 2026-12-02 04:00:01.500, 2026-12-02 04:00:01.600`,
    );
    expect(block).toContain(
      `    MIGRATE_HISTORY pre-step 1 - keep the liveness probe from k… :done, s3, 2026-12-02 04:00:01.600, 2026-12-02 04:00:01.700`,
    );
    // A zero-length step still gets a visible (1 ms) bar.
    expect(block).toContain(
      `    Apply (skipped) :done, s4, 2026-12-02 04:00:01.700, 2026-12-02 04:00:01.701`,
    );
    expect(block).toContain(`:crit, s5, 2026-12-02 04:00:01.700, 2026-12-02 04:01:01.700`);
    expect(md).not.toContain('█');

    const text = renderSummary(o);
    expect(text).not.toContain('```mermaid');
    expect(text).toMatch(/Wait for readiness \(watching the rollout\) +█+ 60\.0 s/);
  });

  it('every task line has exactly one name and one metadata part, whatever the titles hold', () => {
    const nasty = [
      'a: b; c # d %% e',
      'section Evil',
      'title: injected',
      'line one\nline two\r\n',
      'click s0 href "javascript:alert(1)"',
      '<b>bold</b> `code` {x} [y] a|b & c=d',
      '',
      'x'.repeat(200),
    ];
    const lines = mermaidGantt(outcome(nasty.map((t, i) => step(`s${i}`, t, i * 10, i * 10 + 5)))).slice(
      6,
      -1,
    );
    expect(lines).toHaveLength(nasty.length);
    for (const line of lines) {
      expect(line).toMatch(
        /^ {4}[^:;#%<>"`{}[\]\\|&=\n]{1,70} :(done|active|crit), s\d+, [\d-]+ [\d:.]+, [\d-]+ [\d:.]+$/,
      );
      const name = line.trim().split(' :')[0] ?? '';
      expect(name).not.toMatch(/^(section|title|click|dateformat)\b/i);
    }
    expect(mermaidTaskName('section Evil')).toBe('step section Evil');
    expect(mermaidTaskName('a: b; c # d %% e')).toBe('a - b, c no. d pct pct e');
    expect(mermaidTaskName('x'.repeat(200))).toHaveLength(60);
  });
});

describe('summary size', () => {
  it('a normal summary is unchanged by the limit', () => {
    const o = outcome(STEPS);
    expect(renderSummary(o, { timeline: 'mermaid', maxBytes: GITHUB_SUMMARY_LIMIT_BYTES })).toBe(
      renderSummary(o, { timeline: 'mermaid' }),
    );
    expect(renderSummary(o, { maxBytes: GITHUB_SUMMARY_LIMIT_BYTES })).not.toContain(TRIM_NOTE);
  });

  it('long tables are trimmed with a note to stay within 1 MiB', () => {
    const details = Array.from({ length: 500 }, (_, i) => `detail line ${i} ${'é'.repeat(400)}`);
    const steps = Array.from({ length: 200 }, (_, i) =>
      step(`s${i}`, `Step ${i}`, i * 100, i * 100 + 50, 'ok', details),
    );
    const pods = Array.from({ length: 3_000 }, (_, i) => ({
      name: `md-core-${i}`,
      revision: '7',
      phase: 'Pending',
      ready: false,
      restarts: i,
      reason: 'x'.repeat(500),
    }));
    const o = outcome(steps, { pods, error: `boom\n${'e'.repeat(2_000_000)}` } as Partial<Outcome>);
    const full = renderSummary(o, { timeline: 'mermaid' });
    expect(Buffer.byteLength(full)).toBeGreaterThan(GITHUB_SUMMARY_LIMIT_BYTES);
    const fitted = renderSummary(o, { timeline: 'mermaid', maxBytes: GITHUB_SUMMARY_LIMIT_BYTES });
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(GITHUB_SUMMARY_LIMIT_BYTES);
    expect(fitted).toContain(TRIM_NOTE);
    expect(fitted).toContain('| … 2990 more | | | | | |');
    expect(fitted).toContain('(497 earlier lines in the log)');
    expect(fitted).toContain('more characters in the log)');
    // The chart survives trimming.
    expect(fitted).toContain('```mermaid');
  });

  it('when trimming is not enough, the text is cut at a line, code blocks closed, with the note', () => {
    const text = [
      '# T',
      '<details><summary>x</summary>',
      '```text',
      ...Array.from({ length: 1000 }, (_, i) => `line ${i}`),
      '```',
      '</details>',
    ].join('\n');
    const cut = cutToBytes(text, 2_000);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(2_000);
    expect(cut.endsWith(`\n${TRIM_NOTE}\n`)).toBe(true);
    const body = cut.slice(0, cut.indexOf(TRIM_NOTE));
    expect(body.match(/```/g)).toHaveLength(2);
    expect(body).toContain('</details>');
    // Whole lines only.
    for (const l of body
      .trim()
      .split('\n')
      .filter((x) => x.startsWith('line ')))
      expect(l).toMatch(/^line \d+$/);

    const steps = Array.from({ length: 20_000 }, (_, i) =>
      step(`s${i}`, `Step ${i} ${'w'.repeat(100)}`, i, i + 1),
    );
    const huge = renderSummary(outcome(steps), { timeline: 'mermaid', maxBytes: 200_000 });
    expect(Buffer.byteLength(huge)).toBeLessThanOrEqual(200_000);
    expect(huge).toContain(TRIM_NOTE);
  });
});
