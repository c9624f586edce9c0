// The bundle refuses bad inputs exactly as the sources do: dist/index.js (built by scripts/bundle.ts, which
// tree-shakes zod and @kubernetes/client-node) against parseInputs() run from src/, input by input. Needs
// `npm run build` first, like the other dist tests; needs no cluster.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatInputErrors, parseInputs } from '../../src/plan/inputs.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const escape = (s: string): string =>
  s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');

const cases: Record<string, Record<string, string>> = {
  'no namespace': { tag: '5.20.0' },
  'a namespace Kubernetes refuses': { namespace: 'Not_A_Namespace!', tag: '5.20.0' },
  'several at once': {
    namespace: 'mdcore',
    tag: 'bad tag',
    method: 'ftp',
    'image-pull-grace': 'soon',
    'max-surge': 'many',
  },
  "blue-green's inputs": {
    namespace: 'mdcore',
    tag: '5.20.0',
    strategy: 'blue-green',
    service: 'MD_Core',
    'green-replicas': '101',
    activations: '0',
    'green-api-url': 'ftp://md-core:8008',
  },
  "blue-green's inputs with another strategy": {
    namespace: 'mdcore',
    tag: '5.20.0',
    strategy: 'rolling-update',
    activations: '2',
    'green-replicas': '1',
  },
  'blue-green-hot-backup without a template that reaches each instance': {
    namespace: 'mdcore',
    tag: '5.20.0',
    strategy: 'blue-green-hot-backup',
    'green-api-url': 'http://{preview}.{namespace}.svc:8008',
  },
};

describe('dist/index.js with bad inputs', () => {
  for (const [label, inputs] of Object.entries(cases)) {
    it(`refuses ${label} with the message the sources give, result failed, exit 1`, () => {
      const parsed = parseInputs(inputs);
      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      dir = mkdtempSync(join(tmpdir(), 'dist-inputs-'));
      const output = join(dir, 'output');
      writeFileSync(output, '');
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, GITHUB_OUTPUT: output };
      for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
      const res = spawnSync(process.execPath, [resolve('dist/index.js')], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(res.stderr).toBe('');
      expect(res.stdout).toBe(`::error::${escape(formatInputErrors(parsed.errors))}\n`);
      expect(readFileSync(output, 'utf8')).toMatch(/^result<<(ghadelimiter_[0-9a-f-]+)\nfailed\n\1\n$/);
      expect(res.status).toBe(1);
    });
  }
});
