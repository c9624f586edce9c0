// Runs dist/index.js and dist/post.js as GitHub's runner does: inputs from INPUT_* variables, outputs, summary and
// state through the runner's files, signals to the very process. Everything started is stopped after each test.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { REPO_ROOT } from '../cluster/harness.ts';
import { e2eCluster } from '../cluster/context.ts';

export interface Runner {
  dir: string;
  env: NodeJS.ProcessEnv;
  outputs(): Record<string, string>;
  summary(): string;
  state(): Record<string, string>;
}

export interface Proc {
  code: Promise<number>;
  output: () => string;
  kill: (sig: NodeJS.Signals) => void;
}

export interface DistRunner {
  /** A fake runner: the files GitHub's runner gives a step, and the environment it sets (plus `extraEnv`). */
  runner(inputs: Record<string, string>, extraEnv?: NodeJS.ProcessEnv): Runner;
  /** Starts dist/<script> (killed after `limitMs`, and after the test). */
  start(script: string, env: NodeJS.ProcessEnv, limitMs?: number): Proc;
  /** The post step for a runner's main step: its saved state passed as STATE_* variables. */
  post(r: Runner): Proc;
}

/** Registers an afterEach that stops every process and removes every runner directory of the test. */
export function useDistRunner(): DistRunner {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()?.();
  });

  const runner = (inputs: Record<string, string>, extraEnv: NodeJS.ProcessEnv = {}): Runner => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mdcore-runner-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const files = { GITHUB_OUTPUT: 'output', GITHUB_STEP_SUMMARY: 'summary', GITHUB_STATE: 'state' };
    const env: NodeJS.ProcessEnv = {
      PATH: `${e2eCluster().binDir}${path.delimiter}${process.env.PATH ?? ''}`,
      HOME: process.env.HOME,
      RUNNER_TEMP: dir,
      RUNNER_TOOL_CACHE: path.join(dir, 'tool-cache'),
      ...extraEnv,
    };
    for (const [k, f] of Object.entries(files)) {
      env[k] = path.join(dir, f);
      writeFileSync(env[k] as string, '');
    }
    // The cluster's kubectl and helm on PATH are built from source, and a test makes no request off this machine.
    env['INPUT_PATH-TOOLS'] = 'trust';
    for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
    // GitHub's file-command format: name<<DELIMITER\nvalue\nDELIMITER
    const readKv = (f: string): Record<string, string> => {
      const out: Record<string, string> = {};
      const text = readFileSync(path.join(dir, f), 'utf8');
      const re = /^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
      for (const m of text.matchAll(re)) out[m[1] as string] = m[3] as string;
      return out;
    };
    return {
      dir,
      env,
      outputs: () => readKv('output'),
      summary: () => readFileSync(path.join(dir, 'summary'), 'utf8'),
      state: () => readKv('state'),
    };
  };

  const start = (script: string, env: NodeJS.ProcessEnv, limitMs = 240_000): Proc => {
    // MDCORE_E2E_DIST: a bundle built elsewhere from the current sources (scripts/bundle.ts <dir>); default dist/.
    const distDir = process.env.MDCORE_E2E_DIST || path.join(REPO_ROOT, 'dist');
    const child = spawn(process.execPath, [path.join(distDir, script)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    cleanups.push(() => {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null && child.pid) child.kill('SIGKILL');
    });
    return {
      code: new Promise((resolve) =>
        child.on('close', (c) => {
          clearTimeout(timer);
          resolve(c ?? -1);
        }),
      ),
      output: () => out,
      kill: (sig) => child.kill(sig),
    };
  };

  const post = (r: Runner): Proc => {
    const env: NodeJS.ProcessEnv = { ...r.env };
    for (const [k, v] of Object.entries(r.state())) env[`STATE_${k}`] = v;
    return start('post.js', env);
  };

  return { runner, start, post };
}

/**
 * The action as GitHub runs it, built from the current sources (scripts/bundle.ts) into a temporary directory for
 * the tests of the calling describe block, main and post step alike; unless MDCORE_E2E_DIST already names such
 * a bundle.
 */
export function useBundleOfSources(): void {
  let bundle = '';
  beforeAll(() => {
    if (process.env.MDCORE_E2E_DIST) return;
    bundle = mkdtempSync(path.join(tmpdir(), 'mdcore-e2e-dist-'));
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'bundle.ts'), bundle], {
      cwd: REPO_ROOT,
      stdio: 'ignore',
      timeout: 300_000,
    });
    process.env.MDCORE_E2E_DIST = bundle;
  }, 320_000);
  afterAll(() => {
    if (!bundle) return;
    delete process.env.MDCORE_E2E_DIST;
    rmSync(bundle, { recursive: true, force: true });
  });
}
