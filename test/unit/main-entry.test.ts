// The action's main step as GitHub runs it (inputs from INPUT_* variables), on a runner without job summaries
// and with a cluster that cannot be reached: the real error and the summary reach the log, no "Unexpected error".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('main step without GITHUB_STEP_SUMMARY', () => {
  it('prints the summary into the log and fails with the real cause', async () => {
    dir = mkdtempSync(join(tmpdir(), 'main-entry-'));
    const port = await closedPort();
    const output = join(dir, 'output');
    const state = join(dir, 'state');
    writeFileSync(output, '');
    writeFileSync(state, '');
    const kubeconfig = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}` } }],
      users: [{ name: 'u', user: { token: 'main-entry-token-0123456789' } }],
      contexts: [{ name: 'ghes', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ghes',
    });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      RUNNER_TEMP: dir,
      GITHUB_OUTPUT: output,
      GITHUB_STATE: state,
      GITHUB_SERVER_URL: 'https://ghes.example.internal',
      GITHUB_REPOSITORY: 'ops/mdcore',
      GITHUB_RUN_ID: '7',
      INPUT_NAMESPACE: 'mdcore',
      INPUT_TAG: '5.20.0',
      INPUT_KUBECONFIG: kubeconfig,
    };
    const res = spawnSync(process.execPath, [resolve('src/index.ts')], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const log = `${res.stdout}\n${res.stderr}`;
    expect(log).not.toContain('Unexpected error');
    expect(log).not.toContain('Unable to find environment variable');
    expect(log).toContain('This runner offers no job summary (GITHUB_STEP_SUMMARY is not set');
    expect(log).toContain('## MetaDefender Core upgrade: ❌ Failed');
    expect(log).toContain('```mermaid');
    expect(log).toMatch(
      /::error::.*cannot reach the Kubernetes API server https:\/\/127\.0\.0\.1:\d+ \(context ghes\)/,
    );
    // Registering a secret with the runner (::add-mask::) is the only place it may appear.
    const shown = log
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    expect(shown).not.toContain('main-entry-token-0123456789');
    expect(res.status).toBe(1);
  }, 90_000);
});
