// A Reporter for tests that masks NOTHING: it records every line as given and every secret registered, so a test
// can prove that code keeps secrets out of its messages by itself instead of relying on the reporter's masking.
import type { Reporter } from '../../src/report/reporter.ts';

export class RecordingReporter implements Reporter {
  readonly lines: { level: string; text: string }[] = [];
  readonly secrets: string[] = [];

  info(message: string): void {
    this.lines.push({ level: 'info', text: message });
  }
  debug(message: string): void {
    this.lines.push({ level: 'debug', text: message });
  }
  warning(message: string, title?: string): void {
    this.lines.push({ level: 'warning', text: title ? `${title}: ${message}` : message });
  }
  error(message: string, title?: string): void {
    this.lines.push({ level: 'error', text: title ? `${title}: ${message}` : message });
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push({ level: 'group', text: name });
    return fn();
  }
  secret(value: string): void {
    this.secrets.push(value);
  }
  mask(text: string): string {
    return text;
  }
  text(): string {
    return this.lines.map((l) => `${l.level}: ${l.text}`).join('\n');
  }
}
