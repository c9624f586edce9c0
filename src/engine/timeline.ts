// Every step of a run with its start, end, result and details: the job summary's timeline.
import type { Reporter } from '../report/reporter.ts';

export type StepStatus = 'ok' | 'failed' | 'skipped' | 'warning';

export interface StepRecord {
  readonly id: string;
  readonly title: string;
  readonly startedAt: number;
  endedAt: number;
  status: StepStatus;
  readonly details: string[];
}

export interface StepHandle {
  detail(text: string): void;
  warn(text: string): void;
}

export class Timeline {
  readonly steps: StepRecord[] = [];
  private readonly reporter: Reporter;
  private readonly now: () => number;

  constructor(reporter: Reporter, now: () => number = Date.now) {
    this.reporter = reporter;
    this.now = now;
  }

  /** Runs one step inside a log group; its record survives a throw (status failed). */
  async step<T>(id: string, title: string, fn: (h: StepHandle) => Promise<T>): Promise<T> {
    const rec: StepRecord = { id, title, startedAt: this.now(), endedAt: 0, status: 'ok', details: [] };
    this.steps.push(rec);
    const handle: StepHandle = {
      detail: (text) => {
        rec.details.push(this.reporter.mask(text));
        this.reporter.info(text);
      },
      warn: (text) => {
        rec.details.push(`⚠ ${this.reporter.mask(text)}`);
        if (rec.status === 'ok') rec.status = 'warning';
        this.reporter.warning(text, title);
      },
    };
    try {
      return await this.reporter.group(title, () => fn(handle));
    } catch (err) {
      rec.status = 'failed';
      rec.details.push(this.reporter.mask(err instanceof Error ? err.message : String(err)));
      throw err;
    } finally {
      rec.endedAt = this.now();
    }
  }

  skip(id: string, title: string, why: string): void {
    const t = this.now();
    this.steps.push({ id, title, startedAt: t, endedAt: t, status: 'skipped', details: [why] });
  }
}
