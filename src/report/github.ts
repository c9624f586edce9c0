// The GitHub side: log groups, annotations, masking, the job summary and outputs, through @actions/core.
import * as core from '@actions/core';
import { SecretMask, type Reporter } from './reporter.ts';

export class GitHubReporter implements Reporter {
  private readonly masker = new SecretMask();

  info(message: string): void {
    core.info(this.mask(message));
  }
  debug(message: string): void {
    core.debug(this.mask(message));
  }
  warning(message: string, title?: string): void {
    core.warning(this.mask(message), title ? { title: this.mask(title) } : {});
  }
  error(message: string, title?: string): void {
    core.error(this.mask(message), title ? { title: this.mask(title) } : {});
  }
  group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return core.group(this.mask(name), fn);
  }
  secret(value: string): void {
    this.masker.add(value);
    if (value.trim().length >= 4) core.setSecret(value.trim());
  }
  mask(text: string): string {
    return this.masker.apply(text);
  }
}
