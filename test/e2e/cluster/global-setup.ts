// vitest globalSetup of the e2e project: one real cluster for the whole suite.
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { E2E_ENV, type E2EClusterInfo } from './info.ts';
import { REPO_ROOT, resolveClusterTools, startCluster } from './harness.ts';

/** Where component logs go when a test failed (gitignored). */
export const E2E_LOGS_ROOT = path.join(REPO_ROOT, '.cluster', 'e2e-logs');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const toolsStarted = Date.now();
  const toolsDir = await resolveClusterTools();
  const toolsMs = Date.now() - toolsStarted;
  const started = Date.now();
  const cluster = await startCluster({ name: `mdcore-e2e-${process.pid}`, nodes: 2, toolsDir });
  console.log(
    `[e2e] cluster ${cluster.name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(tools ${(toolsMs / 1000).toFixed(1)} s); kubeconfig ${cluster.kubeconfig}`,
  );

  const info: E2EClusterInfo = {
    name: cluster.name,
    kubeconfig: cluster.kubeconfig,
    binDir: cluster.binDir,
    kubectl: cluster.kubectl,
    helm3: cluster.helm3,
    helm4: cluster.helm4,
    toolsDir: cluster.toolsDir,
    workdir: cluster.workdir,
    pids: cluster.processes.map((p) => p.pid),
  };
  project.provide('mdcoreCluster', info);
  process.env[E2E_ENV.kubeconfig] = info.kubeconfig;
  process.env[E2E_ENV.binDir] = info.binDir;
  process.env[E2E_ENV.kubectl] = info.kubectl;
  process.env[E2E_ENV.helm3] = info.helm3;
  process.env[E2E_ENV.helm4] = info.helm4;

  return async () => {
    const state = project.vitest.state;
    const failed =
      state.getCountOfFailedTests() > 0 ||
      state.getFailedFilepaths().length > 0 ||
      state.getUnhandledErrors().length > 0;
    const logsDir = failed
      ? path.join(E2E_LOGS_ROOT, new Date().toISOString().replace(/[:.]/g, '-'))
      : undefined;
    await cluster.stop({ logsDir });
    if (logsDir) console.log(`[e2e] a test failed: cluster logs kept in ${path.join(logsDir, cluster.name)}`);
  };
}
