// The engine's only channel to the outside world: GitHub (annotations, groups, masking) or a terminal.

export interface Reporter {
  info(message: string): void;
  debug(message: string): void;
  /** A problem the user should see; on GitHub a warning annotation. */
  warning(message: string, title?: string): void;
  /** A failure; on GitHub an error annotation. */
  error(message: string, title?: string): void;
  /** Runs fn inside a collapsible group of log lines. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Registers a secret value: it is masked in everything reported from now on. */
  secret(value: string): void;
  /** Masks every registered secret in a text (for summaries and files the engine writes). */
  mask(text: string): string;
}

/** Masks registered secrets; shared by every reporter so masking behaves the same everywhere. */
export class SecretMask {
  private readonly values = new Set<string>();

  add(value: string): void {
    const v = value.trim();
    // Very short values would mask ordinary words; GitHub ignores them too.
    if (v.length >= 4) this.values.add(v);
  }

  apply(text: string): string {
    let out = text;
    // Longest first so a secret containing another is masked whole.
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) {
      out = out.split(v).join('***');
    }
    return out;
  }
}

/** A reporter that keeps every line in memory; used by tests and as a building block. */
export class MemoryReporter implements Reporter {
  readonly lines: { level: 'info' | 'debug' | 'warning' | 'error'; text: string; title?: string }[] = [];
  private readonly masker = new SecretMask();

  info(message: string): void {
    this.lines.push({ level: 'info', text: this.mask(message) });
  }
  debug(message: string): void {
    this.lines.push({ level: 'debug', text: this.mask(message) });
  }
  warning(message: string, title?: string): void {
    this.lines.push({
      level: 'warning',
      text: this.mask(message),
      ...(title ? { title: this.mask(title) } : {}),
    });
  }
  error(message: string, title?: string): void {
    this.lines.push({
      level: 'error',
      text: this.mask(message),
      ...(title ? { title: this.mask(title) } : {}),
    });
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.info(`▸ ${name}`);
    return fn();
  }
  secret(value: string): void {
    this.masker.add(value);
  }
  mask(text: string): string {
    return this.masker.apply(text);
  }
  text(): string {
    return this.lines.map((l) => `${l.level}: ${l.title ? `${l.title}: ` : ''}${l.text}`).join('\n');
  }
}
