// A reporter for a terminal: plain lines, warnings and errors marked, secrets masked.
import { SecretMask, type Reporter } from './reporter.ts';

export class TerminalReporter implements Reporter {
  private readonly masker = new SecretMask();
  private readonly out: (line: string) => void;
  private readonly verbose: boolean;
  private depth = 0;

  constructor(options: { out?: (line: string) => void; verbose?: boolean } = {}) {
    this.out = options.out ?? ((l) => process.stdout.write(`${l}\n`));
    this.verbose = options.verbose ?? false;
  }

  private line(text: string): void {
    const pad = '  '.repeat(this.depth);
    for (const l of this.mask(text).split('\n')) this.out(`${pad}${l}`);
  }
  info(message: string): void {
    this.line(message);
  }
  debug(message: string): void {
    if (this.verbose) this.line(`· ${message}`);
  }
  warning(message: string, title?: string): void {
    this.line(`WARNING${title ? ` (${title})` : ''}: ${message}`);
  }
  error(message: string, title?: string): void {
    this.line(`ERROR${title ? ` (${title})` : ''}: ${message}`);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.line(`▸ ${name}`);
    this.depth += 1;
    try {
      return await fn();
    } finally {
      this.depth -= 1;
    }
  }
  secret(value: string): void {
    this.masker.add(value);
  }
  mask(text: string): string {
    return this.masker.apply(text);
  }
}
