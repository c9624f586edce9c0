// The main step's first act: its inputs read and validated with nothing loaded but what parsing needs, so a
// bad input is refused before @actions/core (and the HTTP client it brings), the engine or the Kubernetes client
// are loaded. Speaks the runner's protocol itself for the three things a refusal says: masks, an output, an error.
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { EOL } from 'node:os';
import { formatInputErrors, INPUT_NAMES, parseInputs, SECRET_INPUTS, secretsOfInput } from './plan/inputs.ts';
import { SecretMask } from './report/reporter.ts';

/** What a workflow command's data may not hold raw (the runner decodes these). */
function escapeData(s: string): string {
  return s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

/** The runner passes input `license-key` as INPUT_LICENSE-KEY (spaces become underscores, case upper). */
export function inputFromEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[`INPUT_${name.replaceAll(' ', '_').toUpperCase()}`] ?? '';
  // Secrets are taken as given: a trailing newline can belong to a key file.
  return (SECRET_INPUTS as readonly string[]).includes(name) ? value : value.trim();
}

export interface InputCheckIo {
  readonly env: NodeJS.ProcessEnv;
  /** A line for the runner's log (workflow commands included). */
  write(line: string): void;
}

/**
 * True when the inputs are valid (the caller goes on to the full run, which reads them again). Otherwise the
 * refusal is reported as the full run would report it: secrets registered for masking first, output `result`
 * set to `failed`, the errors as one error annotation, exit code 1.
 */
export function inputsValid(io: InputCheckIo): boolean {
  const raw: Record<string, string> = {};
  for (const name of INPUT_NAMES) raw[name] = inputFromEnv(io.env, name);
  const parsed = parseInputs(raw);
  if (parsed.ok) return true;
  const mask = new SecretMask();
  for (const name of INPUT_NAMES) {
    for (const s of secretsOfInput(name, raw[name] ?? '')) {
      mask.add(s);
      if (s.trim().length >= 4) io.write(`::add-mask::${escapeData(s.trim())}`);
    }
  }
  const outputFile = io.env.GITHUB_OUTPUT;
  if (outputFile) {
    const delimiter = `ghadelimiter_${randomUUID()}`;
    appendFileSync(outputFile, `result<<${delimiter}${EOL}failed${EOL}${delimiter}${EOL}`);
  }
  io.write(`::error::${escapeData(mask.apply(formatInputErrors(parsed.errors)))}`);
  process.exitCode = 1;
  return false;
}

/** What core.setFailed does, without loading it: for an error that escaped the run itself. */
export function failUnexpected(err: unknown, write: InputCheckIo['write']): void {
  write(`::error::${escapeData(`Unexpected error: ${err instanceof Error ? err.message : String(err)}`)}`);
  process.exitCode = 1;
}
