import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INPUT_NAMES, INPUT_SPECS, SECRET_INPUTS } from '../../src/plan/inputs.ts';
import { outputsOf } from '../../src/report/summary.ts';
import { newOutcome } from '../../src/engine/outcome.ts';
import { renderTables, BEGIN, END } from '../../scripts/readme-tables.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { readActionInputs } from '../../src/action-inputs.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';

const actionText = readFileSync('action.yml', 'utf8');
const action = parse(actionText) as {
  runs: { using: string; main: string; post: string };
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
};

describe('action.yml', () => {
  it('runs on node24 with a main and a post step from dist/', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js', post: 'dist/post.js' });
  });

  it('declares exactly the inputs the parser knows, with the same defaults', () => {
    expect(Object.keys(action.inputs).sort()).toEqual([...INPUT_NAMES].sort());
    for (const name of INPUT_NAMES) {
      const declared = action.inputs[name];
      expect(declared?.description, name).toBeTruthy();
      expect(String(declared?.default ?? ''), name).toBe(INPUT_SPECS[name].default);
    }
    expect(action.inputs.namespace?.required).toBe(true);
    expect(action.inputs.tag?.required).toBe(true);
  });

  it('marks secret inputs as such in their description', () => {
    for (const name of SECRET_INPUTS)
      expect(action.inputs[name]?.description.toLowerCase()).toContain('secret');
  });

  it('declares every output the engine sets', () => {
    const res = parseInputs({ namespace: 'a', tag: 'b' });
    if (!res.ok) throw new Error('fixture inputs');
    const engineOutputs = Object.keys(outputsOf(newOutcome(res.plan, 0)));
    for (const name of [...engineOutputs, 'kubectl-path', 'helm-path'])
      expect(Object.keys(action.outputs)).toContain(name);
    for (const name of [
      'result',
      'previous-image',
      'new-image',
      'previous-revision',
      'revision',
      'rolled-back',
      'duration-seconds',
      'db-name',
    ]) {
      expect(engineOutputs).toContain(name);
    }
  });
});

describe('reading the inputs on a runner', () => {
  it('registers set-secret values and mirror credentials for masking as they are read', () => {
    const env = {
      'INPUT_SET-SECRET': 'db.password=PG-SECRET-88\n',
      'INPUT_TOOLS-MIRROR': 'https://robot:MIRROR-TOKEN-1@mirror.example.com/',
      INPUT_SET: 'plain.value=visible',
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const reporter = new MemoryReporter();
      const raw = readActionInputs(reporter);
      expect(raw['set-secret']).toBe('db.password=PG-SECRET-88\n');
      expect(reporter.mask('x PG-SECRET-88 MIRROR-TOKEN-1 plain.value=visible')).toBe(
        'x *** *** plain.value=visible',
      );
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('README', () => {
  it('has the inputs/outputs tables exactly as action.yml says (run: node scripts/readme-tables.ts --write)', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf(BEGIN), readme.indexOf(END) + END.length);
    expect(section).toBe(renderTables(actionText));
    for (const name of INPUT_NAMES) expect(section).toContain(`| \`${name}\` |`);
  });

  it('shows the two set-up commands', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
  });
});
