// The API server killed and restarted (the very process, same arguments and ports) while the action waits for a
// slow rollout: the watches resume and the upgrade completes. On a cluster of its own, since the restart
// changes the API server's pid that other files' checks know.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProcessAlive, REPO_ROOT, restartApiserver, type TestCluster } from './cluster/harness.ts';
import { tagFor } from './cluster/stages.ts';
import {
  execOn,
  IMAGE,
  installMdCore,
  newPodStarted,
  runEngineOn,
  startPrivateCluster,
  watchFigures,
} from './support/private-cluster.ts';

let cluster: TestCluster | undefined;
let failed = false;

beforeAll(async () => {
  cluster = await startPrivateCluster('mdcore-fault');
}, 600_000);

afterAll(async () => {
  const logsDir = failed ? path.join(REPO_ROOT, '.cluster', 'e2e-logs', 'faults-apiserver') : undefined;
  await cluster?.stop(logsDir ? { logsDir } : {});
}, 120_000);

describe('API server restart during the wait', () => {
  it('resumes the watches and completes the upgrade', async () => {
    const c = cluster as TestCluster;
    try {
      const ns = 'fault-apiserver';
      await installMdCore(c, ns, { replicas: 1 });
      const tag = tagFor('5.20.0', 'slow', 40);
      const run = runEngineOn(c, { namespace: ns, tag, method: 'kubectl', timeout: '5m' });
      await newPodStarted(c, ns, `${IMAGE}:${tag}`, 60_000);
      const restart = await restartApiserver(c);
      expect(restart.started.pid).not.toBe(restart.old.pid);

      const { outcome } = await run;
      expect(outcome.error).toBeUndefined();
      expect(outcome.result).toBe('upgraded');
      const wait = outcome.steps.find((s) => s.id === 'wait');
      const figures = watchFigures((wait?.details ?? []).join('\n'));
      // The API server went away under all three open watches: each reconnected at least once.
      expect(figures, (wait?.details ?? []).join('\n')).toBeDefined();
      const f = figures ?? { idle: 0, errors: 0, relists: 0 };
      expect(f.idle + f.errors + f.relists).toBeGreaterThanOrEqual(3);
      console.log(
        `[faults-apiserver] down ${restart.downMs} ms; relaunched [${restart.relaunched.join(', ')}]; watch reconnects ${JSON.stringify(f)}`,
      );
      // Ready came ~40 s after the pod started, after the restart: the wait really spanned it.
      expect((wait?.endedAt ?? 0) - (wait?.startedAt ?? 0)).toBeGreaterThan(restart.downMs);

      // The restarted API server is the one serving, on the same address.
      const { stdout } = await execOn(c, c.kubectl, ['get', '--raw', '/readyz']);
      expect(stdout.trim()).toBe('ok');
      expect(await isProcessAlive(restart.old)).toBe(false);
      expect(await isProcessAlive(restart.started)).toBe(true);
      const image = await execOn(c, c.kubectl, [
        'get',
        'deployment',
        'md-core',
        '-n',
        ns,
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ]);
      expect(image.stdout).toBe(`${IMAGE}:${tag}`);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 400_000);
});
