// Blue-green + hot backup on the real embedded cluster, with the REST stand-in keeping its own licence record
// (test/support/standin-licence.ts): it watches the namespace's pods itself, so a pod that starts with the
// licence key activates itself (refused above the count) and a pod that stops releases its activation. The
// tests assert on that record, never on the action's own counts: the success case (activations never above
// the licence, exactly blue's count at the peak), green never ready, the hand-over refused by the stand-in,
// a cancel during the hand-over then the post step (dist/, or MDCORE_E2E_DIST), and bad inputs.
import { describe, expect, it } from 'vitest';
import { e2eCluster, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { runAction } from './support/action.ts';
import { useDistRunner } from './support/dist-runner.ts';
import { useNamespaces } from './support/namespaces.ts';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import type { Standin } from '../support/mdcore-standin.ts';
import {
  COLOR,
  LICENCE_KEY,
  licensedFixture,
  podNames,
  untilActive,
  withLicenceStandin,
} from './support/hot-backup-fixture.ts';

const namespace = useNamespaces();
const dist = useDistRunner();
const API_KEY = 'k-hot-backup-123456789';

function inputs(ns: string, s: Standin, extra: Record<string, string> = {}): Record<string, string> {
  return {
    namespace: ns,
    tag: '5.20.0',
    strategy: 'blue-green-hot-backup',
    activations: '2',
    'api-url': s.url,
    'api-key': API_KEY,
    'green-api-url': `${s.url}/i/{pod}`,
    timeout: '60s',
    ...extra,
  };
}

/**
 * Measures, from outside the action, how long the Service had no ready endpoint: its EndpointSlices read with
 * kubectl, 250 ms between reads (at most 1200 reads), until stopped; the longest run of reads without one (from
 * its first read to the next read that had one), so at most one read interval too long.
 */
function zeroEndpointsObserver(ns: string): {
  stop: () => Promise<{ zeroMs: number; reads: number; everyMs: number }>;
} {
  let stopped = false;
  const reads: { at: number; ready: number }[] = [];
  const loop = (async () => {
    for (let i = 0; i < 1200 && !stopped; i++) {
      const l = await kubectlJson<{
        items: { endpoints?: { conditions?: { ready?: boolean } }[] }[];
      }>(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=md-core', '-o', 'json']);
      const ready = l.items.flatMap((x) => x.endpoints ?? []).filter((e) => e.conditions?.ready !== false);
      reads.push({ at: Date.now(), ready: ready.length });
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      let longest = 0;
      let from: number | undefined;
      for (const r of reads) {
        if (r.ready === 0) from ??= r.at;
        else if (from !== undefined) {
          longest = Math.max(longest, r.at - from);
          from = undefined;
        }
      }
      const span = (reads.at(-1)?.at ?? 0) - (reads[0]?.at ?? 0);
      return {
        zeroMs: longest,
        reads: reads.length,
        everyMs: Math.round(span / Math.max(1, reads.length - 1)),
      };
    },
  };
}

async function serviceSelector(ns: string): Promise<Record<string, string>> {
  const out = await kubectl(['get', 'service', 'md-core', '-n', ns, '-o', 'jsonpath={.spec.selector}']);
  return JSON.parse(out.stdout) as Record<string, string>;
}

async function blueReplicas(ns: string): Promise<number> {
  const d = await kubectlJson<{ spec: { replicas: number } }>([
    'get',
    'deployment',
    'md-core',
    '-n',
    ns,
    '-o',
    'json',
  ]);
  return d.spec.replicas;
}

describe('blue-green-hot-backup on a plain Deployment', () => {
  it('exactly as many activations as blue has pods: green registered as backup, then takes them over', async () => {
    const ns = await namespace('hb-ok');
    await licensedFixture(ns, 2);
    await withLicenceStandin(ns, { activations: 2, apiKey: API_KEY, version: '5.20.0' }, async (s) => {
      const m = s.licence!;
      const blue = await podNames(ns, 'app=md-core');
      expect(m.inState('active')).toEqual(blue);
      const observer = zeroEndpointsObserver(ns);
      const run = await runAction(
        inputs(ns, s, { 'verify-scan': 'true', 'config-password': 'cfg-pw-123456' }),
      );
      const seen = await observer.stop();
      expect(run.outcome.error).toBeUndefined();
      expect(run.outcome.result).toBe('upgraded');
      const green = await podNames(ns, `${COLOR}=green`);
      expect(green).toHaveLength(2);
      // The stand-in's own record: never above the licence, green active, nothing left as backup.
      await untilActive(m, green, 'blue released');
      expect(m.peakActive).toBe(2);
      expect(m.refusals).toEqual([]);
      expect(m.inState('backup')).toEqual([]);
      for (const pod of green) {
        const states = m.events.filter((e) => e.instance === pod).map((e) => e.to);
        expect(states.indexOf('backup')).toBeGreaterThan(-1);
        expect(states.indexOf('backup')).toBeLessThan(states.lastIndexOf('active'));
      }
      // Blue's configuration (exported through api-url) was imported into each green instance while a backup.
      const imports = s.requests.filter((r) => r.path === '/admin/import/v2' && r.instance);
      expect(imports.map((r) => r.instance).sort()).toEqual(green);
      for (const r of imports) expect([200, 304]).toContain(r.response?.status);
      // A scan reached an active green instance, never a backup one.
      const scans = s.requests.filter((r) => r.method === 'POST' && r.path === '/file' && r.instance);
      expect(scans.length).toBeGreaterThan(0);
      for (const r of scans) expect(r.response?.status).toBe(200);
      expect(await serviceSelector(ns)).toEqual({ app: 'md-core-green', [COLOR]: 'green' });
      expect(await blueReplicas(ns)).toBe(0);
      expect(run.outcome.extraOutputs).toMatchObject({ 'activations-peak': '2', 'active-color': 'green' });
      const handover = Number(run.outcome.extraOutputs['handover-seconds']);
      expect(handover).toBeGreaterThan(0);
      expect(run.summary).toContain('| blue active, green backup | 2 | 2 | 0 | 2 |');
      expect(run.everything).toContain('registered, removed and registered again');
      expect(run.everything).not.toContain(LICENCE_KEY);
      console.log(
        `hot-backup hand-over: the action's figure ${handover} s; the Service without a ready endpoint for ${(seen.zeroMs / 1000).toFixed(2)} s (${seen.reads} reads, one every ${seen.everyMs} ms)`,
      );
    });
  });

  it('green never ready: blue untouched and still active, green removed, nothing left registered', async () => {
    const ns = await namespace('hb-never');
    await licensedFixture(ns, 2);
    await withLicenceStandin(ns, { activations: 2, apiKey: API_KEY, version: '5.20.0' }, async (s) => {
      const m = s.licence!;
      const blue = await podNames(ns, 'app=md-core');
      const run = await runAction(inputs(ns, s, { tag: tagFor('5.20.0', 'never-ready'), timeout: '15s' }));
      expect(run.outcome.result).toBe('rolled-back');
      expect(await blueReplicas(ns)).toBe(2);
      expect(await podNames(ns, 'app=md-core')).toEqual(blue);
      expect(await serviceSelector(ns)).toEqual({ app: 'md-core' });
      await waitFor(
        'green gone',
        async () => ((await podNames(ns, `${COLOR}=green`)).length ? undefined : true),
        {
          timeoutMs: 60_000,
        },
      );
      await waitFor('stand-in saw green go', async () => (m.inState('backup').length ? undefined : true), {
        timeoutMs: 10_000,
      });
      expect(m.inState('active')).toEqual(blue);
      expect(m.peakActive).toBe(2);
      expect(m.refusals).toEqual([]);
    });
  });

  it('hand-over refused by Core: blue back and active, Service on blue, green gone, the job fails', async () => {
    const ns = await namespace('hb-refused');
    await licensedFixture(ns, 2);
    await withLicenceStandin(ns, { activations: 2, apiKey: API_KEY, version: '5.20.0' }, async (s) => {
      const m = s.licence!;
      s.state.faults.push({
        path: '/admin/license/activation',
        method: 'POST',
        status: 500,
        err: 'Activation server unreachable',
        // Every attempt (the action tries an activation again while Core refuses it).
        times: 1000,
      });
      const run = await runAction(inputs(ns, s));
      expect(run.outcome.result).toBe('rolled-back');
      expect(run.outcome.error).toContain('Activation server unreachable');
      expect(await serviceSelector(ns)).toEqual({ app: 'md-core' });
      expect(await blueReplicas(ns)).toBe(2);
      expect(await podNames(ns, `${COLOR}=green`)).toEqual([]);
      const blue = await podNames(ns, 'app=md-core');
      expect(blue).toHaveLength(2);
      await untilActive(m, blue, 'blue active again');
      expect(m.peakActive).toBe(2);
      expect(m.refusals).toEqual([]);
      expect(run.everything).toMatch(/licence activations after the rollback: 2 expected/);
    });
  });

  it('a Core whose backup shows no licence stops the run before blue is touched', async () => {
    const ns = await namespace('hb-guess');
    await licensedFixture(ns, 1);
    await withLicenceStandin(ns, { activations: 1, apiKey: API_KEY, version: '5.20.0' }, async (s) => {
      s.licence!.backupShowsLicence = false;
      const blue = await podNames(ns, 'app=md-core');
      const run = await runAction(inputs(ns, s, { activations: '1' }));
      expect(run.outcome.result).toBe('rolled-back');
      expect(run.outcome.error).toMatch(/registered as hot backup .* shows no valid licence/);
      expect(await podNames(ns, 'app=md-core')).toEqual(blue);
      expect(s.licence!.inState('active')).toEqual(blue);
    });
  });

  it('cancelled during the hand-over: the dist post step brings blue back and green goes, never above the licence', async () => {
    const ns = await namespace('hb-cancel');
    await licensedFixture(ns, 2);
    await withLicenceStandin(ns, { activations: 2, apiKey: API_KEY, version: '5.20.0' }, async (s) => {
      const m = s.licence!;
      // Every activation is answered only after 60 s: the job is cancelled while green takes over.
      s.state.faults.push({ path: '/admin/license/activation', method: 'POST', delayMs: 60_000, times: 100 });
      const r = dist.runner({
        ...inputs(ns, s),
        kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
        'kubectl-version': '1.36.3',
      });
      const main = dist.start('index.js', r.env);
      await waitFor(
        'an activation sent',
        async () => (s.requests.some((q) => q.path === '/admin/license/activation') ? true : undefined),
        { timeoutMs: 120_000, intervalMs: 50 },
      );
      expect(await blueReplicas(ns)).toBe(0);
      main.kill('SIGTERM');
      expect(await main.code).toBe(1);
      const post = dist.post(r);
      expect(await post.code, post.output()).toBe(0);
      expect(post.output()).not.toContain('::error');
      expect(await serviceSelector(ns)).toEqual({ app: 'md-core' });
      expect(await blueReplicas(ns)).toBe(2);
      expect(await podNames(ns, `${COLOR}=green`)).toEqual([]);
      const blue = await podNames(ns, 'app=md-core');
      expect(blue).toHaveLength(2);
      await untilActive(m, blue, 'blue active again');
      expect(m.peakActive).toBe(2);
      expect(m.refusals).toEqual([]);
      expect(m.inState('backup')).toEqual([]);
    });
  });

  it('bad inputs: green-api-url that cannot reach one instance, no licence key: refused before any change', async () => {
    const ns = await namespace('hb-bad');
    await licensedFixture(ns, 1);
    await expect(
      runAction({ namespace: ns, tag: '5.20.0', strategy: 'blue-green-hot-backup', 'api-key': API_KEY }),
    ).rejects.toThrow(/'green-api-url' must address each green instance/);
    await kubectl(['delete', 'secret', 'mdcore-license-key', '-n', ns]);
    await withLicenceStandin(ns, { activations: 1, apiKey: API_KEY, version: '5.20.0' }, async (s) => {
      const run = await runAction(inputs(ns, s, { activations: '1' }));
      expect(run.outcome.result).toBe('failed');
      expect(run.outcome.error).toMatch(/no licence key .*'license-key'/);
      expect(await podNames(ns, `${COLOR}=green`)).toEqual([]);
      const dep = await kubectlJson<{ items: unknown[] }>(['get', 'deployments', '-n', ns, '-o', 'json']);
      expect(dep.items).toHaveLength(1);
    });
  });
});
