// The GitHub reporter within GitHub's limits (10 annotations of each kind per step), the job summary on
// runners without one, and run links from GITHUB_SERVER_URL.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ANNOTATIONS_SHOWN_PER_STEP,
  GitHubReporter,
  workflowRunUrl,
  writeJobSummary,
  type GitHubSink,
  type SummaryWriter,
} from '../../src/report/github.ts';

function recordingSink(): GitHubSink & { calls: { kind: string; text: string; title?: string }[] } {
  const calls: { kind: string; text: string; title?: string }[] = [];
  return {
    calls,
    info: (m) => void calls.push({ kind: 'info', text: m }),
    debug: (m) => void calls.push({ kind: 'debug', text: m }),
    warning: (m, p) => void calls.push({ kind: 'warning', text: m, ...(p.title ? { title: p.title } : {}) }),
    error: (m, p) => void calls.push({ kind: 'error', text: m, ...(p.title ? { title: p.title } : {}) }),
    setSecret: () => undefined,
    group: (_n, fn) => fn(),
  };
}

describe('GitHubReporter annotations', () => {
  it('annotates up to 9 warnings, logs the rest, and folds them into one: 10 in all', () => {
    const sink = recordingSink();
    const r = new GitHubReporter(sink);
    r.secret('hunter2-secret');
    for (let i = 1; i <= 25; i++) r.warning(`warning ${i} about hunter2-secret`, `Step ${i}`);
    r.flush();
    const annotations = sink.calls.filter((c) => c.kind === 'warning');
    expect(annotations).toHaveLength(ANNOTATIONS_SHOWN_PER_STEP);
    expect(annotations.slice(0, 9).map((a) => a.text)).toEqual(
      Array.from({ length: 9 }, (_, i) => `warning ${i + 1} about ***`),
    );
    const fold = annotations[9];
    expect(fold?.title).toBe('16 more warnings');
    expect(fold?.text).toContain('16 more warnings (GitHub shows 10 per step; each is in the log)');
    expect(fold?.text).toContain('- Step 10: warning 10 about ***');
    expect(fold?.text).toContain('- Step 25: warning 25 about ***');
    expect(fold?.text).not.toContain('hunter2-secret');
    // Every folded warning is in the log where it happened.
    const logged = sink.calls.filter((c) => c.kind === 'info').map((c) => c.text);
    expect(logged).toContain('Warning: Step 17: warning 17 about ***');
    expect(logged).toHaveLength(16);
  });

  it('leaves room for the failure message among the errors, and folds long lists', () => {
    const sink = recordingSink();
    const r = new GitHubReporter(sink);
    for (let i = 1; i <= 40; i++) r.error(`error ${i}`);
    r.flush();
    const errors = sink.calls.filter((c) => c.kind === 'error');
    // 8 + the fold; setFailed adds the tenth.
    expect(errors).toHaveLength(ANNOTATIONS_SHOWN_PER_STEP - 1);
    expect(errors[8]?.text).toContain('32 more errors');
    expect(errors[8]?.text).toContain('- and 12 more');
  });

  it('adds nothing when there is nothing to fold, and flush twice folds once', () => {
    const sink = recordingSink();
    const r = new GitHubReporter(sink);
    r.warning('only one');
    r.flush();
    expect(sink.calls.filter((c) => c.kind === 'warning')).toHaveLength(1);
    for (let i = 0; i < 12; i++) r.warning(`w${i}`);
    r.flush();
    r.flush();
    expect(sink.calls.filter((c) => c.kind === 'warning')).toHaveLength(10);
  });
});

describe('writeJobSummary', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function recorder(
    fail?: Error,
  ): SummaryWriter & { lines: string[]; warnings: string[]; written: string[] } {
    const lines: string[] = [];
    const warnings: string[] = [];
    const written: string[] = [];
    return {
      lines,
      warnings,
      written,
      info: (m) => void lines.push(m),
      warning: (m) => void warnings.push(m),
      write: async (md) => {
        if (fail) throw fail;
        written.push(md);
      },
    };
  }

  it('prints the summary into the log when GITHUB_STEP_SUMMARY is not set (GHES, other runners)', async () => {
    const w = recorder();
    expect(await writeJobSummary('## Title\n\n| a | b |', {}, w)).toBe('log');
    expect(w.written).toEqual([]);
    expect(w.lines[0]).toContain('GITHUB_STEP_SUMMARY is not set');
    expect(w.lines.slice(1)).toEqual(['## Title', '', '| a | b |']);
  });

  it('falls back to the log when writing fails', async () => {
    const w = recorder(new Error('EACCES: permission denied'));
    expect(await writeJobSummary('## T', { GITHUB_STEP_SUMMARY: '/nowhere' }, w)).toBe('log');
    expect(w.warnings[0]).toContain('EACCES');
    expect(w.lines).toContain('## T');
  });

  it('writes through @actions/core into the file GITHUB_STEP_SUMMARY names', async () => {
    dir = mkdtempSync(join(tmpdir(), 'summary-'));
    const file = join(dir, 'step_summary');
    writeFileSync(file, '');
    const saved = process.env.GITHUB_STEP_SUMMARY;
    process.env.GITHUB_STEP_SUMMARY = file;
    try {
      expect(await writeJobSummary('## Written', { GITHUB_STEP_SUMMARY: file })).toBe('summary');
    } finally {
      if (saved === undefined) delete process.env.GITHUB_STEP_SUMMARY;
      else process.env.GITHUB_STEP_SUMMARY = saved;
    }
    expect(readFileSync(file, 'utf8')).toContain('## Written');
  });

  it('does not throw with the real @actions/core and no GITHUB_STEP_SUMMARY', async () => {
    const saved = process.env.GITHUB_STEP_SUMMARY;
    delete process.env.GITHUB_STEP_SUMMARY;
    try {
      // Without the fallback, @actions/core rejects: "Unable to find environment variable for $GITHUB_STEP_SUMMARY".
      await expect(writeJobSummary('## x', {})).resolves.toBe('log');
    } finally {
      if (saved !== undefined) process.env.GITHUB_STEP_SUMMARY = saved;
    }
  });
});

describe('workflowRunUrl', () => {
  it('uses GITHUB_SERVER_URL, so Enterprise Server links point at the right host', () => {
    expect(
      workflowRunUrl({
        GITHUB_SERVER_URL: 'https://ghes.example.internal/',
        GITHUB_REPOSITORY: 'ops/mdcore',
        GITHUB_RUN_ID: '42',
      }),
    ).toBe('https://ghes.example.internal/ops/mdcore/actions/runs/42');
    expect(workflowRunUrl({ GITHUB_REPOSITORY: 'ops/mdcore', GITHUB_RUN_ID: '42' })).toBeUndefined();
  });

  it('no source names a GitHub host itself', async () => {
    const { readdirSync, statSync } = await import('node:fs');
    const hits: string[] = [];
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (/github\.com/i.test(readFileSync(p, 'utf8'))) hits.push(p);
      }
    };
    walk('src');
    expect(hits).toEqual([]);
  });
});
