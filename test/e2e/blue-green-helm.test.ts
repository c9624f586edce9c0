// Blue-green on a helm-managed md-core, on the real embedded cluster with Helm 3 and Helm 4: green serves, the
// chart's own Deployment is upgraded by helm (the hand-over), the Service goes back to the chart's selector,
// green goes. Failures: green never ready; green failing its verification; too few activations (refused);
// green unready in the hold; the chart's Deployment never ready in the hand-over (rolled back with helm
// rollback while green serves); a cancel while green is awaited and during the hand-over, finished by the dist
// post step.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Kube } from '../../src/cluster/kube.ts';
import { TAG_ANNOTATION } from '../../src/plan/db-name.ts';
import { e2eCluster, helm, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { deploymentView, IMAGE, installFixture, runAction } from './support/action.ts';
import { useBundleOfSources, useDistRunner } from './support/dist-runner.ts';
import { useNamespaces } from './support/namespaces.ts';
import { podIps } from './support/pods.ts';
import { bindReadmeRole, tokenKubeconfig } from './support/service-account.ts';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import { startStandin } from '../support/mdcore-standin.ts';

const namespace = useNamespaces();
const dist = useDistRunner();
const COLOR = 'mdcore-upgrade.opswat.com/color';
const KEY = 'E2E-LIC-BLUEGREEN-HELM-01';
const CHART_SELECTOR = { app: 'md-core' };

interface Revision {
  revision: number;
  status: string;
  description: string;
}

async function history(major: 3 | 4, ns: string): Promise<Revision[]> {
  const r = await helm(major, ['history', 'mdcore', '-n', ns, '-o', 'json']);
  return (JSON.parse(r.stdout) as Revision[]).sort((a, b) => a.revision - b.revision);
}

/** The chart 5.20.0 running md-core 5.19.0 with the test's licence key, installed with Helm `major`: its history. */
async function installRelease(ns: string, major: 3 | 4 = 3, replicas = 1): Promise<Revision[]> {
  await installFixture(ns, {
    helmMajor: major,
    chartVersion: '5.20.0',
    tag: '5.19.0',
    licenseKey: KEY,
    replicas,
  });
  return history(major, ns);
}

interface Left {
  selector: Record<string, string>;
  deployments: string[];
  services: string[];
  slices: string[];
}

/** What the namespace holds besides the chart: the serving selector, Deployments, Services, EndpointSlices. */
async function left(ns: string): Promise<Left> {
  const svc = await kubectlJson<{ spec: { selector: Record<string, string> } }>([
    'get',
    'service',
    'md-core',
    '-n',
    ns,
  ]);
  const names = async (kind: string): Promise<string[]> =>
    (await kubectlJson<{ items: { metadata: { name: string } }[] }>(['get', kind, '-n', ns])).items
      .map((i) => i.metadata.name)
      .sort();
  return {
    selector: svc.spec.selector,
    deployments: await names('deployments'),
    services: await names('services'),
    slices: (
      await kubectlJson<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>([
        'get',
        'endpointslices',
        '-n',
        ns,
      ])
    ).items
      .filter(
        (s) =>
          s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] !== 'endpointslice-controller.k8s.io',
      )
      .map((s) => s.metadata.name),
  };
}

const CLEAN: Omit<Left, 'selector'> = {
  deployments: ['md-core', 'postgres-core'],
  services: ['md-core', 'postgres-core'],
  slices: [],
};

/** Back to the chart alone: its selector, no green, no preview, no bridge (green's Deployment goes in the background). */
async function expectClean(ns: string): Promise<void> {
  await waitFor('green gone', async () => ((await left(ns)).deployments.length === 2 ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 500,
  });
  expect(await left(ns)).toEqual({ selector: CHART_SELECTOR, ...CLEAN });
}

function chartPodIps(ns: string): Promise<string[]> {
  return podIps(ns, 'app=md-core');
}

async function readyEndpoints(kube: Kube, ns: string): Promise<string[]> {
  return (await kube.listEndpointSlices(ns, 'md-core'))
    .flatMap((s) =>
      (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses),
    )
    .sort();
}

/**
 * Samples the serving Service's ready endpoints until stopped (every 250 ms, at most 10 min): how many samples
 * saw none. The hand-over's claim is that there is never a moment without one.
 */
function observeEndpoints(
  kube: Kube,
  ns: string,
): { stop: () => Promise<{ samples: number; empty: number }> } {
  let running = true;
  let samples = 0;
  let empty = 0;
  const loop = (async () => {
    for (let i = 0; running && i < 2400; i++) {
      const ready = await readyEndpoints(kube, ns).catch(() => undefined);
      if (ready) {
        samples++;
        if (ready.length === 0) empty++;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { samples, empty };
    },
  };
}

async function adminKube(): Promise<Kube> {
  return Kube.connect({ kubeconfig: readFileSync(e2eCluster().kubeconfig, 'utf8') });
}

/** helm's --set lines for a sidecar whose image tag gives the chart's pods a behaviour green's do not have. */
const sidecar = (tag: string): string =>
  `core_components.md-core.sidecars[0].name=waiter\ncore_components.md-core.sidecars[0].image=busybox:${tag}`;

describe('blue-green hand-over to a helm release', () => {
  it.each([3, 4] as const)(
    'Helm %i: green serves, the chart is upgraded by helm and takes the traffic back, green goes; never without endpoints',
    async (major) => {
      const ns = await namespace(`bgh${major}-ok`);
      const histBefore = await installRelease(ns, major, 2);
      const before = await deploymentView(ns);
      const kube = await adminKube();
      const observer = observeEndpoints(kube, ns);
      const run = await runAction(
        {
          namespace: ns,
          tag: '5.20.0',
          strategy: 'blue-green',
          'scale-down-delay': '2',
          'license-key': KEY,
          activations: '4',
        },
        { helmMajor: major },
      );
      const seen = await observer.stop();
      expect(run.outcome.error).toBeUndefined();
      expect(run.outcome.result).toBe('upgraded');
      expect(run.outcome.method).toBe('helm');

      // The release records the new version, one revision on, as after a rolling update.
      const histAfter = await history(major, ns);
      expect(histAfter).toHaveLength(histBefore.length + 1);
      expect(histAfter.at(-1)).toMatchObject({ status: 'deployed' });
      expect(histAfter.at(-1)?.description).toContain(`${IMAGE}:5.19.0 → ${IMAGE}:5.20.0`);
      const after = await deploymentView(ns);
      expect(after.image).toBe(`${IMAGE}:5.20.0`);
      expect(Number(after.revision)).toBe(Number(before.revision) + 1);
      expect(after.annotations[TAG_ANNOTATION]).toBe('5.20.0');

      // The Service is the chart's again, green, its preview and the bridge are gone, endpoints are the chart's.
      expect(await left(ns)).toEqual({ selector: CHART_SELECTOR, ...CLEAN });
      const ips = await chartPodIps(ns);
      expect(ips).toHaveLength(2);
      expect(await readyEndpoints(kube, ns)).toEqual(ips);

      // Helm rewrote the selector (Helm 3: the chart's key over green's, selecting nothing; Helm 4: the chart's
      // whole selector, while blue is at 0); the bridge kept green behind the Service meanwhile.
      expect(run.everything).toContain(
        major === 3
          ? `helm upgrade set the Service selector to {"app":"md-core","${COLOR}":"green"} (the chart's keys over green's)`
          : `helm upgrade set the Service selector to {"app":"md-core"} (the chart's)`,
      );
      expect(run.everything).toContain('Deployment md-core scaled to 0 (was 2)');
      expect(run.everything).toMatch(/EndpointSlice md-core-green-bridge keeps green's 2 ready pod\(s\)/);
      expect(run.everything).toMatch(/the chart's pods only, [\d.]+ s after the patch/);
      expect(seen.samples).toBeGreaterThan(10);
      expect(seen.empty).toBe(0);
      expect(run.outcome.extraOutputs).toMatchObject({ 'active-color': 'blue', 'previous-color': 'blue' });
      expect(run.everything).toContain("active: blue (Deployment md-core, the chart's, now at");
      expect(run.summary).toContain(
        "| At the end | serving: the chart's Deployment, upgraded by helm while green served (hand-over) | removed after handing the traffic back |",
      );
      expect(run.summary).toContain(
        `- Ready endpoints after the hand-back to \`md-core\`: ${ips.join(', ')}`,
      );
      expect(run.summary).toMatch(
        /- Traffic was on green for [\d.]+ s, then handed back to `md-core` at \d{4}-\d\d-\d\dT[\d:.]+Z/,
      );
    },
  );

  it("with only README's helm Role and its blue-green-helm rules: the hand-over runs through", async () => {
    const ns = await namespace('bgh-rbac');
    await installFixture(ns, { chartVersion: '5.20.0', tag: '5.19.0', licenseKey: KEY });
    await bindReadmeRole(ns, 'helm', ['blue-green-helm']);
    const run = await runAction(
      {
        namespace: ns,
        tag: '5.20.0',
        strategy: 'blue-green',
        'scale-down-delay': '0',
        'license-key': KEY,
        kubeconfig: await tokenKubeconfig(ns),
      },
      { helmMajor: 3 },
    );
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.20.0`);
    await expectClean(ns);
  });

  it('dry run: the green plan and the helm upgrade are planned (every helm guard), nothing is changed', async () => {
    const ns = await namespace('bgh-dry');
    await installFixture(ns, { chartVersion: '5.20.0', tag: '5.19.0', licenseKey: KEY });
    const histBefore = await history(3, ns);
    const run = await runAction(
      { namespace: ns, tag: '5.20.0', strategy: 'blue-green', 'dry-run': 'true', 'license-key': KEY },
      { helmMajor: 3 },
    );
    expect(run.outcome.result).toBe('dry-run');
    expect(run.everything).toContain(
      "after 60 s the chart's Deployment md-core is upgraded by helm while green serves",
    );
    expect(run.everything).toContain('Secret mdcore-license-key stays as it is');
    expect(run.everything).toMatch(/planned: helm upgrade mdcore /);
    expect(await history(3, ns)).toEqual(histBefore);
    expect(await left(ns)).toEqual({ selector: CHART_SELECTOR, ...CLEAN });
  });

  it("the helm route's license-key guard refuses the hand-over before any change", async () => {
    const ns = await namespace('bgh-lic');
    // Installed without a key (the chart renders its placeholder), the key then set on the Secret directly:
    // a helm upgrade without 'license-key' would put the placeholder back.
    await installFixture(ns, { chartVersion: '5.20.0', tag: '5.19.0', licenseKey: null });
    await kubectl([
      'patch',
      'secret',
      'mdcore-license-key',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ data: { value: Buffer.from(KEY).toString('base64') } }),
    ]);
    const histBefore = await history(3, ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', strategy: 'blue-green' }, { helmMajor: 3 });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain("overwrite Secret mdcore-license-key with the chart's placeholder");
    expect(run.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await history(3, ns)).toEqual(histBefore);
    expect(await left(ns)).toEqual({ selector: CHART_SELECTOR, ...CLEAN });
  });

  it.each([3, 4] as const)(
    'Helm %i: green never ready: the helm release is untouched, nothing is left, the job fails',
    async (major) => {
      const ns = await namespace(`bgh${major}-never`);
      const histBefore = await installRelease(ns, major);
      const run = await runAction(
        {
          namespace: ns,
          tag: tagFor('5.20.0', 'never-ready'),
          strategy: 'blue-green',
          timeout: '15s',
          'license-key': KEY,
        },
        { helmMajor: major },
      );
      expect(run.outcome.result).toBe('rolled-back');
      expect(run.outcome.error).toContain('did not become ready');
      expect(await history(major, ns)).toEqual(histBefore);
      expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
      await expectClean(ns);
    },
  );

  it.each([3, 4] as const)(
    'Helm %i: green ready but its verification fails: nothing moved, the release untouched, green removed',
    async (major) => {
      const ns = await namespace(`bgh${major}-verify`);
      const histBefore = await installRelease(ns, major);
      // Green's REST API answers an old version: green is refused before the switch.
      const standin = await startStandin({ apiKey: 'k-123456789', version: '5.19.0' });
      try {
        const run = await runAction(
          {
            namespace: ns,
            tag: '5.20.0',
            strategy: 'blue-green',
            'license-key': KEY,
            'green-api-url': standin.url,
            'api-key': 'k-123456789',
          },
          { helmMajor: major },
        );
        expect(run.outcome.result).toBe('rolled-back');
        expect(run.outcome.error).toContain('verification of green failed (no traffic was moved)');
        expect(standin.requests.some((r) => r.path.endsWith('/version'))).toBe(true);
        const ids = run.outcome.steps.map((x) => x.id);
        expect(ids).not.toContain('switch');
        expect(await history(major, ns)).toEqual(histBefore);
        expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
        await expectClean(ns);
      } finally {
        await standin.close();
      }
    },
  );

  it.each([3, 4] as const)(
    'Helm %i: too few activations: refused before any change, naming the numbers and green-replicas',
    async (major) => {
      const ns = await namespace(`bgh${major}-act`);
      const histBefore = await installRelease(ns, major, 2);
      const before = await deploymentView(ns);
      const run = await runAction(
        { namespace: ns, tag: '5.20.0', strategy: 'blue-green', 'license-key': KEY, activations: '3' },
        { helmMajor: major },
      );
      expect(run.outcome.result).toBe('failed');
      expect(run.outcome.error).toMatch(
        /need 4 at the peak, input 'activations' allows 3; lower 'green-replicas'/,
      );
      expect(run.outcome.error).toContain('Nothing in the cluster was changed');
      expect(await history(major, ns)).toEqual(histBefore);
      expect(await deploymentView(ns)).toEqual(before);
      expect(await left(ns)).toEqual({ selector: CHART_SELECTOR, ...CLEAN });
    },
  );

  it.each([3, 4] as const)(
    "Helm %i: the chart's Deployment never ready in the hand-over: helm rollback while green serves, then back to blue",
    async (major) => {
      const ns = await namespace(`bgh${major}-crash`);
      const histBefore = await installRelease(ns, major);
      const kube = await adminKube();
      const observer = observeEndpoints(kube, ns);
      // Only the chart's pods get the crash-looping sidecar: green is a copy of the chart's Deployment as it was.
      const run = await runAction(
        {
          namespace: ns,
          tag: '5.20.0',
          strategy: 'blue-green',
          'scale-down-delay': '1',
          'license-key': KEY,
          set: sidecar(tagFor('1', 'crashloop')),
          timeout: '60s',
        },
        { helmMajor: major },
      );
      const seen = await observer.stop();
      expect(run.outcome.result, run.outcome.error).toBe('rolled-back');
      expect(run.outcome.error).toContain('did not become ready');
      expect(run.everything).toMatch(/Service md-core selects blue again: .*traffic was on green for \d+ s/);
      // helm rollback to the revision before the run: a new revision, the old image, no sidecar.
      const hist = await history(major, ns);
      expect(hist).toHaveLength(histBefore.length + 2);
      expect(hist.at(-1)).toMatchObject({
        status: 'deployed',
        description: `Rollback to ${histBefore.at(-1)?.revision}`,
      });
      const d = await kubectlJson<{
        spec: { template: { spec: { containers: { name: string; image: string }[] } } };
      }>(['get', 'deployment', 'md-core', '-n', ns]);
      expect(d.spec.template.spec.containers.map((c) => c.image)).toEqual([`${IMAGE}:5.19.0`]);
      await expectClean(ns);
      await waitFor(
        "the chart's old pods serve",
        async () => {
          const ips = await chartPodIps(ns);
          return ips.length === 1 && JSON.stringify(await readyEndpoints(kube, ns)) === JSON.stringify(ips)
            ? true
            : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      // Green (the new version) served through the failed hand-over and the rollback.
      expect(seen.empty).toBe(0);
    },
  );

  it.each([3, 4] as const)(
    'Helm %i: green goes unready during the hold, before the hand-over: switched back to blue, the release untouched',
    async (major) => {
      const ns = await namespace(`bgh${major}-hold`);
      const histBefore = await installRelease(ns, major);
      const run = await runAction(
        {
          namespace: ns,
          tag: tagFor('5.20.0', 'flaky', 10),
          strategy: 'blue-green',
          'scale-down-delay': '60',
          'license-key': KEY,
        },
        { helmMajor: major },
      );
      expect(run.outcome.result).toBe('rolled-back');
      expect(run.outcome.error).toContain('after the switch, green has no ready endpoint behind the Service');
      expect(run.everything).toMatch(/selects blue again: .*traffic was on green for \d+ s/);
      expect(run.everything).not.toContain('Hand-over: helm upgrade');
      expect(await history(major, ns)).toEqual(histBefore);
      expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
      await expectClean(ns);
    },
  );

  it('rollback none: a failed hand-over is left as it is (green serving), with the commands to undo it in order', async () => {
    const ns = await namespace('bgh-none');
    await installFixture(ns, { chartVersion: '5.20.0', tag: '5.19.0', licenseKey: KEY });
    const histBefore = await history(3, ns);
    const run = await runAction(
      {
        namespace: ns,
        tag: '5.20.0',
        strategy: 'blue-green',
        'scale-down-delay': '1',
        'license-key': KEY,
        set: sidecar(tagFor('1', 'crashloop')),
        timeout: '60s',
        rollback: 'none',
      },
      { helmMajor: 3 },
    );
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain('did not become ready');
    // Nothing undone: the release on the failed revision, green serving behind green's selector.
    expect(await history(3, ns)).toHaveLength(histBefore.length + 1);
    const now = await left(ns);
    expect(now.selector).toEqual({ app: 'md-core-green', [COLOR]: 'green' });
    expect(now.deployments).toContain('md-core-green');
    const steps = run.outcome.manualSteps.join('\n');
    expect(steps).toContain(`helm rollback mdcore ${histBefore.at(-1)?.revision} -n ${ns}`);
    expect(steps.indexOf('helm rollback')).toBeLessThan(
      steps.indexOf(`kubectl delete deployment md-core-green -n ${ns}`),
    );
    expect(run.summary).toContain('kubectl delete endpointslice md-core-green-bridge');
    // Left as it is: green serves, and the outputs say so.
    expect(run.outcome.extraOutputs).toMatchObject({ 'active-color': 'green', 'previous-color': 'blue' });
  });

  describe('stopped, or green lost, during the hand-over (dist main step, then its post step)', () => {
    // The action as GitHub runs it, built from the current sources, for the main and the post step alike.
    useBundleOfSources();

    const STOPS = [
      { signal: 'SIGTERM', how: 'cancelled: the main step itself', by: 'main' },
      { signal: 'SIGKILL', how: 'killed: its post step, from the journal alone,', by: 'post' },
    ] as const;
    /**
     * The dist main step on a chart whose new pods take 300 s, awaited until the hand-over waits for them (the
     * bridge deleted, green serving alone).
     */
    async function stuckInHandOver(ns: string): Promise<{
      r: ReturnType<typeof dist.runner>;
      main: ReturnType<typeof dist.start>;
      histBefore: Revision[];
    }> {
      await installFixture(ns, { chartVersion: '5.20.0', tag: '5.19.0', licenseKey: KEY });
      const histBefore = await history(3, ns);
      const r = await helmDistRunner(ns, {
        tag: '5.20.0',
        'scale-down-delay': '1',
        // The chart's new pods take 300 s: the run is stopped while it waits for them.
        set: sidecar(tagFor('1', 'slow', 300)),
      });
      const main = dist.start('index.js', r.env, 300_000);
      await waitFor(
        'the hand-over wait',
        async () => (main.output().includes('EndpointSlice md-core-green-bridge deleted') ? true : undefined),
        { timeoutMs: 180_000, intervalMs: 100 },
      );
      expect((await history(3, ns)).length).toBe(histBefore.length + 1);
      return { r, main, histBefore };
    }

    /** The dist main step's inputs for a blue-green run on the Helm 3 release of `ns`, with helm on its PATH. */
    async function helmDistRunner(
      ns: string,
      inputs: Record<string, string>,
    ): Promise<ReturnType<typeof dist.runner>> {
      const helmDir = path.dirname(e2eCluster().helm3);
      const helmVersion = (await helm(3, ['version', '--template', '{{.Version}}'])).stdout
        .trim()
        .replace(/^v/, '');
      return dist.runner(
        {
          namespace: ns,
          strategy: 'blue-green',
          'license-key': KEY,
          timeout: '10m',
          kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
          'kubectl-version': '1.36.3',
          'helm-version': helmVersion,
          ...inputs,
        },
        {
          PATH: `${helmDir}${path.delimiter}${e2eCluster().binDir}${path.delimiter}${process.env.PATH ?? ''}`,
        },
      );
    }

    /** The release rolled back to the revision before the run, the old image, only the chart left. */
    async function expectChartBack(ns: string, histBefore: Revision[]): Promise<void> {
      const hist = await history(3, ns);
      expect(hist.at(-1)).toMatchObject({
        status: 'deployed',
        description: `Rollback to ${histBefore.at(-1)?.revision}`,
      });
      expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
      await expectClean(ns);
    }

    for (const stop of STOPS) {
      it(`${stop.how} rolls the chart back while green serves, switches back to blue, removes green`, async () => {
        const ns = await namespace(`bgh-${stop.signal.toLowerCase()}`);
        const { r, main, histBefore } = await stuckInHandOver(ns);
        main.kill(stop.signal);
        const code = await main.code;
        const post = dist.post(r);
        expect(await post.code, post.output()).toBe(0);
        expect(post.output()).not.toContain('::error');
        const undoneBy = stop.by === 'main' ? main.output() : post.output();
        expect(undoneBy).toMatch(/traffic was on green for \d+ s/);
        // The job summary of the step that undid it (the post step's own after a kill) has blue-green's table.
        expect(r.summary()).toMatch(
          /- Traffic was on green for [\d.]+ s, then switched back to blue at \d{4}-\d\d-\d\dT[\d:.]+Z/,
        );
        if (stop.by === 'main') {
          expect(code).toBe(1);
          expect(r.outputs()).toMatchObject({ result: 'rolled-back' });
        }
        await expectChartBack(ns, histBefore);
      }, 600_000);
    }

    it('cancelled while green is awaited, before the hand-over: the post step removes green; the release untouched', async () => {
      const ns = await namespace('bgh-cancel-wait');
      await installFixture(ns, { chartVersion: '5.20.0', tag: '5.19.0', licenseKey: KEY });
      const histBefore = await history(3, ns);
      const r = await helmDistRunner(ns, { tag: tagFor('5.20.0', 'slow', 300), 'scale-down-delay': '5m' });
      const main = dist.start('index.js', r.env, 300_000);
      await waitFor(
        'green awaited',
        async () => (main.output().includes('Service md-core-green-preview created') ? true : undefined),
        { timeoutMs: 120_000, intervalMs: 50 },
      );
      expect((await left(ns)).deployments).toContain('md-core-green');
      main.kill('SIGTERM');
      expect(await main.code).toBe(1);
      const post = dist.post(r);
      expect(await post.code, post.output()).toBe(0);
      expect(post.output()).not.toContain('::error');
      expect(await history(3, ns)).toEqual(histBefore);
      expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
      await expectClean(ns);
      expect(r.outputs()).toMatchObject({ 'active-color': 'blue' });
    }, 600_000);

    it("green loses every ready endpoint while the chart's Deployment is awaited: the run fails and rolls back; the summary says how long traffic was on green", async () => {
      const ns = await namespace('bgh-green-lost');
      const { r, main, histBefore } = await stuckInHandOver(ns);
      // Nothing but green serves now: take its pods away.
      await kubectl(['scale', 'deployment', 'md-core-green', '-n', ns, '--replicas=0']);
      expect(await main.code, main.output()).toBe(1);
      expect(main.output()).toContain(
        "while the chart's Deployment was awaited in the hand-over (nothing else serves), green has no ready endpoint behind the Service",
      );
      expect(r.outputs()).toMatchObject({
        result: 'rolled-back',
        'active-color': 'blue',
        'previous-color': 'blue',
      });
      await expectChartBack(ns, histBefore);
      // The job summary GitHub shows (the file the main step wrote).
      const summary = r.summary();
      expect(summary).toContain('| Deployment | `md-core` | `md-core-green` |');
      expect(summary).toContain('| At the end | serving again | removed |');
      expect(summary).toMatch(
        /- Traffic was on green for [\d.]+ s, then switched back to blue at \d{4}-\d\d-\d\dT[\d:.]+Z/,
      );
    }, 600_000);
  });
});
