// The GitHub side: log groups, annotations, masking, the job summary and the run link, through @actions/core.
//
// GitHub shows only 10 annotations of each kind per step and drops the rest silently, so the reporter annotates
// the first few warnings and errors, logs the others, and flush() folds them into one last annotation. Runners
// without job summaries (GitHub Enterprise Server before 3.6, other CI systems) get the summary in the log.
import * as core from '@actions/core';
import { SecretMask, type Reporter } from './reporter.ts';
import { GITHUB_SUMMARY_LIMIT_BYTES } from './summary.ts';

/** Annotations of one kind GitHub shows per step. */
export const ANNOTATIONS_SHOWN_PER_STEP = 10;
/** Warnings annotated one by one; the next annotation is the fold of the rest. */
export const WARNINGS_ANNOTATED = ANNOTATIONS_SHOWN_PER_STEP - 1;
/** Errors annotated one by one; one more is the fold, and one is left for the step's failure message. */
export const ERRORS_ANNOTATED = ANNOTATIONS_SHOWN_PER_STEP - 2;

/** What the reporter writes to; @actions/core by default, a recorder in tests. */
export interface GitHubSink {
  info(message: string): void;
  debug(message: string): void;
  warning(message: string, properties: core.AnnotationProperties): void;
  error(message: string, properties: core.AnnotationProperties): void;
  setSecret(value: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

const CORE_SINK: GitHubSink = {
  info: (m) => core.info(m),
  debug: (m) => core.debug(m),
  warning: (m, p) => core.warning(m, p),
  error: (m, p) => core.error(m, p),
  setSecret: (v) => core.setSecret(v),
  group: (n, fn) => core.group(n, fn),
};

export class GitHubReporter implements Reporter {
  private readonly masker = new SecretMask();
  private readonly sink: GitHubSink;
  private readonly folded = { warning: [] as string[], error: [] as string[] };
  private annotated = { warning: 0, error: 0 };

  constructor(sink: GitHubSink = CORE_SINK) {
    this.sink = sink;
  }

  info(message: string): void {
    this.sink.info(this.mask(message));
  }
  debug(message: string): void {
    this.sink.debug(this.mask(message));
  }
  warning(message: string, title?: string): void {
    this.annotate('warning', WARNINGS_ANNOTATED, message, title);
  }
  error(message: string, title?: string): void {
    this.annotate('error', ERRORS_ANNOTATED, message, title);
  }
  group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.sink.group(this.mask(name), fn);
  }
  secret(value: string): void {
    this.masker.add(value);
    if (value.trim().length >= 4) this.sink.setSecret(value.trim());
  }
  mask(text: string): string {
    return this.masker.apply(text);
  }

  /** One annotation for every warning and error past the shown ones; call once at the end of the step. */
  flush(): void {
    for (const kind of ['warning', 'error'] as const) {
      const rest = this.folded[kind];
      if (rest.length === 0) continue;
      const list = rest.slice(0, 20).map((t) => `- ${t.length > 300 ? `${t.slice(0, 300)}…` : t}`);
      if (rest.length > 20) list.push(`- and ${rest.length - 20} more`);
      const message = `${rest.length} more ${kind}s (GitHub shows ${ANNOTATIONS_SHOWN_PER_STEP} per step; each is in the log):\n${list.join('\n')}`;
      this.sink[kind](message, { title: `${rest.length} more ${kind}s` });
      rest.length = 0;
    }
  }

  private annotate(kind: 'warning' | 'error', shown: number, message: string, title?: string): void {
    const text = this.mask(message);
    const head = title ? this.mask(title) : undefined;
    if (this.annotated[kind] < shown) {
      this.annotated[kind]++;
      this.sink[kind](text, head ? { title: head } : {});
      return;
    }
    // Still in the log, where it happened, just not as an annotation of its own.
    this.sink.info(`${kind === 'warning' ? 'Warning' : 'Error'}: ${head ? `${head}: ` : ''}${text}`);
    this.folded[kind].push(head ? `${head}: ${text}` : text);
  }
}

export interface SummaryWriter {
  info(message: string): void;
  warning(message: string): void;
  /** Appends Markdown to the step's job summary file. */
  write(markdown: string): Promise<void>;
}

const CORE_SUMMARY: SummaryWriter = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  write: async (markdown) => {
    await core.summary.addRaw(markdown, true).write();
  },
};

/** Room left for what other steps of this action might add to the same summary file (none today). */
export const SUMMARY_BUDGET_BYTES = GITHUB_SUMMARY_LIMIT_BYTES - 16 * 1024;

/**
 * Writes the job summary, or prints it into the log where the runner offers no summary file (the
 * GITHUB_STEP_SUMMARY variable is missing) or writing it fails: the summary is never lost and never turns a
 * finished run into an "Unexpected error". Returns where it went.
 */
export async function writeJobSummary(
  markdown: string,
  env: NodeJS.ProcessEnv = process.env,
  writer: SummaryWriter = CORE_SUMMARY,
): Promise<'summary' | 'log'> {
  const toLog = (why: string): 'log' => {
    writer.info(`${why}: the summary follows in the log.`);
    for (const line of markdown.split('\n')) writer.info(line);
    return 'log';
  };
  if (!env.GITHUB_STEP_SUMMARY) {
    return toLog(
      'This runner offers no job summary (GITHUB_STEP_SUMMARY is not set: GitHub Enterprise Server before job summaries, or another CI system)',
    );
  }
  try {
    await writer.write(markdown);
    return 'summary';
  } catch (err) {
    writer.warning(
      `writing the job summary failed (${err instanceof Error ? err.message : String(err)}); it is printed into the log instead`,
    );
    return toLog('The job summary could not be written');
  }
}

/** The link to this workflow run, on whatever GitHub server runs it (the cloud service, a data-residency
 * domain or Enterprise Server): never a hard-coded host. */
export function workflowRunUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID } = env;
  if (!GITHUB_SERVER_URL || !GITHUB_REPOSITORY || !GITHUB_RUN_ID) return undefined;
  return `${GITHUB_SERVER_URL.replace(/\/+$/, '')}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}`;
}
