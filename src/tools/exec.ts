// The one way the action runs an external program: argument arrays (never a shell string), output captured,
// the command line logged with secrets masked.
import { getExecOutput } from '@actions/exec';
import type { Reporter } from '../report/reporter.ts';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  env?: Record<string, string>;
  input?: string | Buffer;
  /** When false (default) a non-zero exit throws ExecError. */
  allowFailure?: boolean;
  /** Log the command line (masked) at info level instead of debug. */
  announce?: boolean;
}

export class ExecError extends Error {
  readonly result: ExecResult;
  constructor(message: string, result: ExecResult) {
    super(message);
    this.name = 'ExecError';
    this.result = result;
  }
}

export function formatCommand(file: string, args: readonly string[]): string {
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  return [file, ...args].map(quote).join(' ');
}

export async function runTool(
  reporter: Reporter,
  file: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const shown = reporter.mask(formatCommand(file, args));
  if (options.announce) reporter.info(`$ ${shown}`);
  else reporter.debug(`$ ${shown}`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, options.env ?? {});
  const res = await getExecOutput(file, [...args], {
    silent: true,
    ignoreReturnCode: true,
    env,
    ...(options.input !== undefined
      ? { input: Buffer.isBuffer(options.input) ? options.input : Buffer.from(options.input) }
      : {}),
  });
  const result: ExecResult = { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr };
  if (res.exitCode !== 0 && !options.allowFailure) {
    const detail = reporter.mask((res.stderr || res.stdout).trim().split('\n').slice(-8).join('\n'));
    throw new ExecError(`${shown} exited with code ${res.exitCode}${detail ? `:\n${detail}` : ''}`, result);
  }
  return result;
}
