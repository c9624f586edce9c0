// The kubectl and helm checks before any change, with stand-in tools that answer as the real ones do.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { StepHandle } from '../../src/engine/timeline.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';
import { checkHelm, checkKubectl, toolCheckError, type ToolCheckDeps } from '../../src/steps/tool-check.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mdcore-toolcheck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.FAKE_OUT;
  delete process.env.FAKE_ERR;
  delete process.env.FAKE_RC;
  rmSync(path.join(dir, 'calls'), { force: true });
});

/** Prints FAKE_OUT, FAKE_ERR on stderr, exits FAKE_RC; logs its arguments one per line. */
function standIn(name: string): string {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `#!/bin/sh
for a in "$@"; do echo "$a" >> "${dir}/calls"; done
[ -n "$FAKE_ERR" ] && printf '%s\\n' "$FAKE_ERR" >&2
[ -n "$FAKE_OUT" ] && printf '%s\\n' "$FAKE_OUT"
exit "\${FAKE_RC:-0}"
`,
  );
  chmodSync(file, 0o755);
  return file;
}
const kubectl = standIn('kubectl');
const helm = standIn('helm');
const TOKEN = 'sa-token-value-1234567890';
/** What `kubectl get --raw` prints for the Deployment (abridged). */
const SEEN = JSON.stringify({
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  metadata: { name: 'md-core', namespace: 'mdcore' },
});

function setup(): { deps: ToolCheckDeps; step: StepHandle; log: string[] } {
  const reporter = new MemoryReporter();
  reporter.secret(TOKEN);
  const log: string[] = [];
  return {
    deps: {
      target: { namespace: 'mdcore', deployment: 'md-core' },
      reporter,
      kubeconfigFile: path.join(dir, 'kubeconfig'),
    },
    step: { detail: (t) => log.push(t), warn: (t) => log.push(`WARN ${t}`) },
    log,
  };
}
const calls = (): string[] => readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n');

describe('checkKubectl', () => {
  it('reads the Deployment through the run kubeconfig and namespace, by its path (no discovery)', async () => {
    process.env.FAKE_OUT = SEEN;
    const { deps, step, log } = setup();
    await checkKubectl(deps, kubectl, step);
    expect(calls()).toEqual([
      '--kubeconfig',
      path.join(dir, 'kubeconfig'),
      '--namespace',
      'mdcore',
      '--request-timeout=60s',
      'get',
      '--raw',
      '/apis/apps/v1/namespaces/mdcore/deployments/md-core',
    ]);
    expect(log.join('\n')).toContain('deployment.apps/md-core');
  });

  it('stops on the in-cluster auth-provider error with the tool, its stderr and "nothing changed"', async () => {
    process.env.FAKE_RC = '1';
    process.env.FAKE_ERR = 'error: no Auth Provider found for name "tokenFile"';
    const { deps, step } = setup();
    const err = await checkKubectl(deps, kubectl, step).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^kubectl could not read from the cluster/);
    expect(err?.message).toContain('no Auth Provider found for name "tokenFile"');
    expect(err?.message).toContain('auth-provider the tool does not have');
    expect(err?.message).toContain('Nothing in the cluster was changed.');
  });

  it('masks secrets in what the tool printed', async () => {
    process.env.FAKE_RC = '1';
    process.env.FAKE_ERR = `error: You must be logged in to the server (Unauthorized): token ${TOKEN}`;
    const { deps, step } = setup();
    const err = await checkKubectl(deps, kubectl, step).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('Unauthorized');
    expect(err?.message).not.toContain(TOKEN);
    expect(err?.message).toContain('rejected the credentials');
  });

  it.each([
    [
      'another name',
      JSON.stringify({ kind: 'Deployment', metadata: { name: 'other', namespace: 'mdcore' } }),
    ],
    [
      'another namespace',
      JSON.stringify({ kind: 'Deployment', metadata: { name: 'md-core', namespace: 'x' } }),
    ],
    ['another kind', JSON.stringify({ kind: 'Status', metadata: { name: 'md-core', namespace: 'mdcore' } })],
    ['no JSON', 'deployment.apps/md-core'],
  ])('refuses when kubectl does not see the Deployment the API client read (%s)', async (_what, out) => {
    process.env.FAKE_OUT = out;
    const { deps, step } = setup();
    await expect(checkKubectl(deps, kubectl, step)).rejects.toThrow(/different clusters or namespaces/);
  });
});

describe('checkHelm', () => {
  it('lists the release through the run kubeconfig, with flags Helm 3 and Helm 4 both have', async () => {
    process.env.FAKE_OUT = '[{"name":"md.core","namespace":"mdcore","status":"deployed"}]';
    const { deps, step, log } = setup();
    await checkHelm(deps, helm, 'md.core', step);
    expect(calls()).toEqual([
      'list',
      '--namespace',
      'mdcore',
      '--kubeconfig',
      path.join(dir, 'kubeconfig'),
      '--filter',
      '^md\\.core$',
      '--output',
      'json',
    ]);
    expect(log.join('\n')).toContain('helm list answered in mdcore');
  });

  it('stops with helm named, its stderr and "nothing changed"', async () => {
    process.env.FAKE_RC = '1';
    process.env.FAKE_ERR =
      'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:1/version": dial tcp 127.0.0.1:1: connect: connection refused';
    const { deps, step } = setup();
    const err = await checkHelm(deps, helm, 'mdcore', step).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^helm could not read from the cluster/);
    expect(err?.message).toContain('connection refused');
    expect(err?.message).toContain('could not reach the API server');
    expect(err?.message).toContain('Nothing in the cluster was changed.');
  });

  it('refuses output that is not a release list', async () => {
    process.env.FAKE_OUT = 'NAME NAMESPACE';
    const { deps, step } = setup();
    await expect(checkHelm(deps, helm, 'mdcore', step)).rejects.toThrow(/other than a release list/);
  });
});

describe('toolCheckError', () => {
  it('keeps the last lines of the output and gives no hint it cannot back', () => {
    const e = toolCheckError(
      'kubectl',
      'kubectl get deployment/x',
      { exitCode: 3, stdout: '', stderr: Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n') },
      (t) => t,
    );
    expect(e.message).toContain('exited with code 3:\nline 4\n');
    expect(e.message).not.toContain('line 3');
    expect(e.message).not.toContain('Likely cause');
  });
});
