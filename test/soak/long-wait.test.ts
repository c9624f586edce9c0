// Soak: dist/index.js, run as GitHub's runner runs it, through a quiet MIGRATE_HISTORY migration of 26 minutes,
// then through two API server restarts during an 8-minute wait, on a cluster of its own. Each run's figures
// (duration, watch reconnects, outcome) are printed and kept in .cluster/soak/ for bench/README.md.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  restartApiserver,
  type ApiserverRestart,
  type TestCluster,
} from '../e2e/cluster/harness.ts';
import { tagFor } from '../e2e/cluster/stages.ts';
import {
  IMAGE,
  installMdCore,
  newPodStarted,
  runDistOn,
  startPrivateCluster,
  watchFigures,
  type DistRun,
} from '../e2e/support/private-cluster.ts';

const QUIET_SECONDS = 26 * 60;
const RESTART_WAIT_SECONDS = 8 * 60;
const RESULTS_DIR = path.join(REPO_ROOT, '.cluster', 'soak');

let cluster: TestCluster | undefined;
let distDir = '';
let failed = false;

beforeAll(async () => {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'index.js'))) {
    throw new Error('dist/index.js is missing: run `npm run build` before the soak suite');
  }
  // A copy taken now, so a rebuild of dist/ during the long runs cannot change what is measured.
  distDir = mkdtempSync(path.join(tmpdir(), 'mdcore-soak-dist-'));
  cpSync(path.join(REPO_ROOT, 'dist'), distDir, { recursive: true });
  cluster = await startPrivateCluster('mdcore-soak');
}, 15 * 60_000);

afterAll(async () => {
  if (distDir) rmSync(distDir, { recursive: true, force: true });
  await cluster?.stop(failed ? { logsDir: path.join(RESULTS_DIR, 'logs') } : {});
}, 120_000);

function record(name: string, run: DistRun, extra: Record<string, unknown> = {}): void {
  const figures = watchFigures(`${run.output}\n${run.summary}`);
  const result = {
    name,
    date: new Date().toISOString(),
    exitCode: run.code,
    result: run.outputs.result,
    durationSeconds: Math.round(run.elapsedMs / 1000),
    watchReconnects: figures ?? null,
    ...extra,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `${name}.json`), JSON.stringify(result, null, 2));
  writeFileSync(path.join(RESULTS_DIR, `${name}.log`), `${run.output}\n----- summary -----\n${run.summary}`);
  console.log(`[soak] ${JSON.stringify(result)}`);
}

describe('soak', () => {
  it(`a quiet MIGRATE_HISTORY migration of ${QUIET_SECONDS / 60} minutes completes`, async () => {
    const c = cluster as TestCluster;
    try {
      const ns = 'soak-quiet';
      await installMdCore(c, ns, { replicas: 1 });
      const tag = tagFor('5.20.0', 'slow', QUIET_SECONDS);
      const run = await runDistOn(
        c,
        distDir,
        {
          namespace: ns,
          tag,
          method: 'kubectl',
          'migrate-history': 'true',
          'db-free-space': 'skip',
          timeout: '15m',
          'migration-timeout': '45m',
        },
        55 * 60_000,
      );
      record('quiet-migration', run, { tag });
      expect(run.code, run.output.slice(-4000)).toBe(0);
      expect(run.outputs.result).toBe('upgraded');
      expect(run.outputs['new-image']).toBe(`${IMAGE}:${tag}`);
      expect(run.elapsedMs).toBeGreaterThanOrEqual(25 * 60_000);
      const f = watchFigures(`${run.output}\n${run.summary}`);
      // Nothing failed: every reconnect was a quiet watch closing and resuming.
      expect(f?.idle ?? 0).toBeGreaterThanOrEqual(3);
      expect(f?.errors).toBe(0);
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  it(`an ${RESTART_WAIT_SECONDS / 60}-minute wait survives two API server restarts`, async () => {
    const c = cluster as TestCluster;
    try {
      const ns = 'soak-restarts';
      await installMdCore(c, ns, { replicas: 1 });
      const tag = tagFor('5.20.0', 'slow', RESTART_WAIT_SECONDS);
      const running = runDistOn(
        c,
        distDir,
        { namespace: ns, tag, method: 'kubectl', timeout: '20m' },
        30 * 60_000,
      );
      await newPodStarted(c, ns, `${IMAGE}:${tag}`, 120_000);
      const restarts: ApiserverRestart[] = [];
      await new Promise((r) => setTimeout(r, 60_000));
      restarts.push(await restartApiserver(c));
      await new Promise((r) => setTimeout(r, 150_000));
      restarts.push(await restartApiserver(c));
      const run = await running;
      record('apiserver-restarts', run, {
        tag,
        restarts: restarts.map((r) => ({
          downMs: r.downMs,
          oldPid: r.old.pid,
          newPid: r.started.pid,
          relaunched: r.relaunched,
        })),
      });
      expect(run.code, run.output.slice(-4000)).toBe(0);
      expect(run.outputs.result).toBe('upgraded');
      expect(run.elapsedMs).toBeGreaterThanOrEqual(RESTART_WAIT_SECONDS * 1000);
      const f = watchFigures(`${run.output}\n${run.summary}`);
      // Two restarts under three open watches: each watch reconnected at least twice.
      expect((f?.idle ?? 0) + (f?.errors ?? 0) + (f?.relists ?? 0)).toBeGreaterThanOrEqual(6);
    } catch (e) {
      failed = true;
      throw e;
    }
  });
});
