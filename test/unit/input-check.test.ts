// The main step's first act: bad inputs refused as the full run would refuse them (masks first, output
// `result: failed`, one error annotation, exit code 1) with only the parser loaded; good inputs pass on.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inputFromEnv, inputsValid } from '../../src/input-check.ts';

let dir: string | undefined;
const savedExitCode = process.exitCode;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  process.exitCode = savedExitCode;
});

function outputFile(): string {
  dir = mkdtempSync(join(tmpdir(), 'input-check-'));
  const f = join(dir, 'output');
  writeFileSync(f, '');
  return f;
}

describe('inputFromEnv', () => {
  it('reads INPUT_<NAME> with dashes kept, trims plain inputs and keeps secrets as given', () => {
    const env = { 'INPUT_IMAGE-PULL-GRACE': ' 30s \n', INPUT_KUBECONFIG: 'a: b\n', INPUT_TAG: '\t5.20.0 ' };
    expect(inputFromEnv(env, 'image-pull-grace')).toBe('30s');
    expect(inputFromEnv(env, 'kubeconfig')).toBe('a: b\n');
    expect(inputFromEnv(env, 'tag')).toBe('5.20.0');
    expect(inputFromEnv(env, 'namespace')).toBe('');
  });
});

describe('inputsValid', () => {
  it('passes valid inputs on without a word', () => {
    const lines: string[] = [];
    const ok = inputsValid({
      env: { INPUT_NAMESPACE: 'mdcore', INPUT_TAG: '5.20.0', GITHUB_OUTPUT: outputFile() },
      write: (l) => lines.push(l),
    });
    expect(ok).toBe(true);
    expect(lines).toEqual([]);
    expect(readFileSync(join(dir!, 'output'), 'utf8')).toBe('');
    expect(process.exitCode).toBe(savedExitCode);
  });

  it('refuses bad inputs: secrets masked first, result failed, the errors as one annotation, exit 1', () => {
    const secret = 'license-0123456789-abcdef';
    const out = outputFile();
    const lines: string[] = [];
    const ok = inputsValid({
      env: {
        INPUT_NAMESPACE: 'Not_A_Namespace!',
        INPUT_TAG: '5.20.0',
        'INPUT_LICENSE-KEY': secret,
        INPUT_REPLICAS: `${secret}%`,
        GITHUB_OUTPUT: out,
      },
      write: (l) => lines.push(l),
    });
    expect(ok).toBe(false);
    expect(process.exitCode).toBe(1);
    expect(lines[0]).toBe(`::add-mask::${secret}`);
    const errors = lines.filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('not valid; nothing in the cluster was changed:%0A- ');
    expect(errors[0]).toContain('namespace');
    expect(lines.slice(1).join('\n')).not.toContain(secret);
    expect(readFileSync(out, 'utf8')).toMatch(/^result<<(ghadelimiter_[0-9a-f-]+)\nfailed\n\1\n$/);
  });

  it('refuses in a whole process with the same exit code and output as the bundle entry', () => {
    const out = outputFile();
    const res = spawnSync(process.execPath, [resolve('src/index.ts')], {
      cwd: dir,
      env: { PATH: process.env.PATH, INPUT_NAMESPACE: '', INPUT_TAG: '5.20.0', GITHUB_OUTPUT: out },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(
      /^::error::1 input is not valid; nothing in the cluster was changed:%0A- .*namespace/m,
    );
    expect(res.stdout).not.toContain('Unexpected error');
    expect(readFileSync(out, 'utf8')).toContain('\nfailed\n');
  }, 90_000);
});
