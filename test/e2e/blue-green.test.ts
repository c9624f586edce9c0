// Blue-green on the real embedded cluster, on a plain Deployment and its Service (no helm): the switch, green
// never ready, green failing verification, the serving path's check failing after the switch, too few
// activations, and a cancel while green is awaited, while it is verified and after the switch (dist post step).
// The helm-managed hand-over: blue-green-helm.test.ts.
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { e2eCluster, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { IMAGE, runAction } from './support/action.ts';
import { plainMdCoreDocs, readmeRoleDocs, serviceAccountKubeconfig } from './support/blue-green-fixture.ts';
import { useDistRunner } from './support/dist-runner.ts';
import { useNamespaces } from './support/namespaces.ts';
import { podIps } from './support/pods.ts';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import { startStandin } from '../support/mdcore-standin.ts';

const namespace = useNamespaces();
const dist = useDistRunner();
const COLOR = 'mdcore-upgrade.opswat.com/color';

/** md-core as a plain Deployment (no helm annotations) and the Service that serves it. */
async function plainFixture(ns: string, replicas: number): Promise<void> {
  const docs = plainMdCoreDocs(ns, replicas, { app: 'md-core', tier: 'scan' });
  await kubectl(['apply', '-f', '-'], { input: docs.map((d) => stringify(d)).join('---\n') });
  await kubectl(['rollout', 'status', 'deployment/md-core', '-n', ns, '--timeout=120s'], {
    timeoutMs: 130_000,
  });
}

interface View {
  selector: Record<string, string>;
  blue: { replicas: number; image: string; generation: number };
  green: { replicas: number; ready: number } | undefined;
  preview: boolean;
}

async function view(ns: string): Promise<View> {
  const svc = await kubectlJson<{ spec: { selector: Record<string, string> } }>([
    'get',
    'service',
    'md-core',
    '-n',
    ns,
    '-o',
    'json',
  ]);
  const blue = await kubectlJson<{
    metadata: { generation: number };
    spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
  }>(['get', 'deployment', 'md-core', '-n', ns, '-o', 'json']);
  const list = await kubectlJson<{
    items: { metadata: { name: string }; spec: { replicas: number }; status: { readyReplicas?: number } }[];
  }>(['get', 'deployments', '-n', ns, '-o', 'json']);
  const g = list.items.find((d) => d.metadata.name === 'md-core-green');
  const services = await kubectlJson<{ items: { metadata: { name: string } }[] }>([
    'get',
    'services',
    '-n',
    ns,
    '-o',
    'json',
  ]);
  return {
    selector: svc.spec.selector,
    blue: {
      replicas: blue.spec.replicas,
      image: blue.spec.template.spec.containers[0]?.image ?? '',
      generation: blue.metadata.generation,
    },
    green: g ? { replicas: g.spec.replicas, ready: g.status.readyReplicas ?? 0 } : undefined,
    preview: services.items.some((s) => s.metadata.name === 'md-core-green-preview'),
  };
}

/** The ready addresses of the Service's EndpointSlices. */
async function readyEndpoints(ns: string): Promise<string[]> {
  const l = await kubectlJson<{
    items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[];
  }>(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=md-core', '-o', 'json']);
  return l.items
    .flatMap((s) =>
      (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses),
    )
    .sort();
}

async function gone(ns: string): Promise<void> {
  // Green's pods are deleted in the background after its Deployment.
  await waitFor(
    'green pods gone',
    async () => ((await podIps(ns, `${COLOR}=green`)).length === 0 ? true : undefined),
    {
      timeoutMs: 60_000,
      intervalMs: 500,
    },
  );
}

/**
 * Runs the dist main step of `r`, stops it (SIGTERM) once `reached` says so (`mid` looks at the namespace just
 * before), then its post step: blue serves alone again, as `before`, green and the preview gone.
 */
async function cancelThenPost(
  ns: string,
  r: ReturnType<typeof dist.runner>,
  o: { before: View; what: string; reached: (output: string) => boolean; mid: (v: View) => void },
): Promise<void> {
  const main = dist.start('index.js', r.env);
  await waitFor(o.what, async () => (o.reached(main.output()) ? true : undefined), {
    timeoutMs: 120_000,
    intervalMs: 50,
  });
  o.mid(await view(ns));
  main.kill('SIGTERM');
  expect(await main.code).toBe(1);
  const post = dist.post(r);
  expect(await post.code, post.output()).toBe(0);
  expect(post.output()).not.toContain('::error');
  expect(await view(ns)).toEqual({ ...o.before, green: undefined, preview: false });
  await gone(ns);
  expect(await readyEndpoints(ns)).toEqual(await podIps(ns, 'app=md-core'));
}

const SA = 'mdcore-upgrader';

/** README's kubectl Role with its blue-green rules appended, bound to a ServiceAccount of `ns`. */
async function readmeRoleFor(ns: string): Promise<void> {
  const { role, binding } = readmeRoleDocs(ns, ['blue-green']);
  await kubectl(['create', 'serviceaccount', SA, '-n', ns]);
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(role) });
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(binding) });
}

/** A kubeconfig holding only the ServiceAccount's token, for the e2e cluster's server and CA. */
async function tokenKubeconfig(ns: string): Promise<string> {
  const token = (await kubectl(['create', 'token', SA, '-n', ns, '--duration=3600s'])).stdout.trim();
  return serviceAccountKubeconfig(e2eCluster().kubeconfig, SA, ns, token);
}

describe('blue-green on a plain Deployment', () => {
  it('switches the Service to green, confirms green-only endpoints, scales blue to 0', async () => {
    const ns = await namespace('bg-ok');
    await plainFixture(ns, 2);
    const blueIps = await podIps(ns, 'app=md-core');
    // Green verified before the switch, the serving path after it: both through the REST stand-in.
    const standin = await startStandin({ apiKey: 'k-123456789', version: '5.20.0' });
    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      strategy: 'blue-green',
      'scale-down-delay': '3',
      activations: '4',
      'api-url': standin.url,
      'green-api-url': standin.url,
      'api-key': 'k-123456789',
    }).finally(() => standin.close());
    expect(standin.requests.filter((r) => r.path.endsWith('/version')).length).toBeGreaterThanOrEqual(3);
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    const v = await view(ns);
    expect(v.selector).toEqual({ app: 'md-core-green', [COLOR]: 'green' });
    expect(v.green).toEqual({ replicas: 2, ready: 2 });
    expect(v.blue.replicas).toBe(0);
    expect(v.blue.image).toBe(`${IMAGE}:5.19.0`);
    const greenIps = await podIps(ns, `${COLOR}=green`);
    expect(greenIps).toHaveLength(2);
    expect(await readyEndpoints(ns)).toEqual(greenIps);
    for (const ip of blueIps) expect(greenIps).not.toContain(ip);
    expect(run.outcome.extraOutputs).toMatchObject({ 'active-color': 'green', 'previous-color': 'blue' });
    expect(run.everything).toMatch(/green only, [\d.]+ s after the switch patch/);
    expect(run.everything).toContain('licence activations at the peak: 4 of 4');
    expect(run.everything).toMatch(/green kept ready endpoints through \d+ check\(s\)/);
    expect(run.summary).toMatch(/selects green since \d{4}-\d\d-\d\dT/);
    // The job summary's blue-green table: both colors, databases, activations, the switch, the endpoints.
    expect(run.summary).toContain('| Deployment | `md-core` | `md-core-green` |');
    expect(run.summary).toContain(`| Image | \`${IMAGE}:5.19.0\` | \`${IMAGE}:5.20.0\` |`);
    expect(run.summary).toContain('| Replicas | 2 | 2 |');
    expect(run.summary).toMatch(
      /\| Database \| `(metadefender_core\w*)` \| `metadefender_core5200` \(expected name; created by green from `\1`\) \|/,
    );
    expect(run.summary).toContain('| At the end | scaled to 0 (kept for a switch back) | serving |');
    expect(run.summary).toContain("- Licence activations at the peak: 4 of 4 (input 'activations')");
    expect(run.summary).toMatch(
      /- Switch: Service `md-core` selected green at \d{4}-\d\d-\d\dT[\d:.]+Z; its endpoints showed green's pods only [\d.]+ s after the patch/,
    );
    expect(run.summary).toContain(
      `- Ready endpoints before the switch: ${blueIps.join(', ')}; after: ${greenIps.join(', ')}`,
    );
    expect(run.summary).toMatch(/- Traffic on green since the switch: [\d.]+ s at the end of the run/);
  });

  it('green never ready: blue untouched, green and preview removed, the job fails', async () => {
    const ns = await namespace('bg-never');
    await plainFixture(ns, 1);
    const before = await view(ns);
    const run = await runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'never-ready'),
      strategy: 'blue-green',
      timeout: '15s',
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('did not become ready');
    const after = await view(ns);
    expect(after).toEqual({ ...before, green: undefined, preview: false });
    await gone(ns);
  });

  it('green ready but verification fails: nothing moved, green removed', async () => {
    const ns = await namespace('bg-verify');
    await plainFixture(ns, 1);
    const before = await view(ns);
    // The stand-in answers an old version: green is refused before the switch.
    const standin = await startStandin({ apiKey: 'k-123456789', version: '5.19.0' });
    try {
      const run = await runAction({
        namespace: ns,
        tag: '5.20.0',
        strategy: 'blue-green',
        'green-api-url': standin.url,
        'api-key': 'k-123456789',
      });
      expect(run.outcome.result).toBe('rolled-back');
      expect(run.outcome.error).toContain('verification of green failed (no traffic was moved)');
      expect(standin.requests.some((r) => r.path.endsWith('/version'))).toBe(true);
      expect(await view(ns)).toEqual({ ...before, green: undefined, preview: false });
    } finally {
      await standin.close();
    }
  });

  it("the serving path's check after the switch fails: switched back to blue (still running), green removed", async () => {
    const ns = await namespace('bg-serving');
    await plainFixture(ns, 1);
    const before = await view(ns);
    // Green answers the new version through its own path, but 'api-url' (the serving path) still the old one.
    const greenApi = await startStandin({ apiKey: 'k-123456789', version: '5.20.0' });
    const servingApi = await startStandin({ apiKey: 'k-123456789', version: '5.19.0' });
    try {
      const run = await runAction({
        namespace: ns,
        tag: '5.20.0',
        strategy: 'blue-green',
        'scale-down-delay': '60',
        'api-url': servingApi.url,
        'green-api-url': greenApi.url,
        'api-key': 'k-123456789',
      });
      expect(run.outcome.result, run.outcome.error).toBe('rolled-back');
      expect(run.outcome.error).toContain('/version reports 5.19.0, not the requested tag 5.20.0');
      const ids = run.outcome.steps.map((s) => s.id);
      expect(ids.indexOf('switch')).toBeLessThan(ids.indexOf('verify-serving'));
      expect(run.outcome.steps.find((s) => s.id === 'verify-green')?.status).toBe('ok');
      expect(run.everything).toMatch(/selects blue again: .*traffic was on green for \d+ s/);
      expect(run.outcome.extraOutputs).toMatchObject({ 'active-color': 'blue' });
      expect(await view(ns)).toEqual({ ...before, green: undefined, preview: false });
      await gone(ns);
      expect(await readyEndpoints(ns)).toEqual(await podIps(ns, 'app=md-core'));
    } finally {
      await Promise.all([greenApi.close(), servingApi.close()]);
    }
  });

  it('green goes unready after the switch: switched back to blue (still running), green removed', async () => {
    const ns = await namespace('bg-after');
    await plainFixture(ns, 1);
    const before = await view(ns);
    const run = await runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'flaky', 10),
      strategy: 'blue-green',
      'scale-down-delay': '60',
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('after the switch, green has no ready endpoint behind the Service');
    expect(run.everything).toMatch(/selects blue again: .*traffic was on green for \d+ s/);
    expect(await view(ns)).toEqual({ ...before, green: undefined, preview: false });
    await gone(ns);
    expect(await readyEndpoints(ns)).toEqual(await podIps(ns, 'app=md-core'));
  });

  it("with only README's kubectl Role and its blue-green rules: switches, and switches back after a failure", async () => {
    const ns = await namespace('bg-rbac');
    await plainFixture(ns, 1);
    await readmeRoleFor(ns);
    const kubeconfig = await tokenKubeconfig(ns);
    const failed = await runAction({
      namespace: ns,
      tag: tagFor('5.20.0', 'flaky', 8),
      strategy: 'blue-green',
      'scale-down-delay': '60',
      service: 'md-core',
      kubeconfig,
    });
    expect(failed.outcome.result, failed.outcome.error).toBe('rolled-back');
    expect(failed.outcome.error).toContain('after the switch');
    expect((await view(ns)).selector).toEqual({ app: 'md-core' });
    await gone(ns);
    const ok = await runAction({
      namespace: ns,
      tag: '5.20.0',
      strategy: 'blue-green',
      'scale-down-delay': '0',
      kubeconfig,
    });
    expect(ok.outcome.error).toBeUndefined();
    expect(ok.outcome.result).toBe('upgraded');
    const v = await view(ns);
    expect(v.selector).toEqual({ app: 'md-core-green', [COLOR]: 'green' });
    expect(v.blue.replicas).toBe(0);
  });

  it('dry run: the plan is shown (green, preview, switch), nothing is created', async () => {
    const ns = await namespace('bg-dry');
    await plainFixture(ns, 2);
    const before = await view(ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', strategy: 'blue-green', 'dry-run': 'true' });
    expect(run.outcome.result).toBe('dry-run');
    expect(run.everything).toContain('green: Deployment md-core-green, 2 replica(s)');
    expect(run.everything).toContain('preview Service md-core-green-preview selects green only');
    expect(run.everything).toMatch(/activations were not checked: .*4 pods at the peak/);
    expect(await view(ns)).toEqual(before);
  });

  it('too few activations: refused before any change, naming the numbers and green-replicas', async () => {
    const ns = await namespace('bg-act');
    await plainFixture(ns, 2);
    const before = await view(ns);
    const run = await runAction({ namespace: ns, tag: '5.20.0', strategy: 'blue-green', activations: '3' });
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toMatch(
      /need 4 at the peak, input 'activations' allows 3; lower 'green-replicas'/,
    );
    expect(run.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await view(ns)).toEqual(before);
  });

  it('cancelled while green is verified: the dist post step leaves blue serving and removes green', async () => {
    const ns = await namespace('bg-cancel-verify');
    await plainFixture(ns, 1);
    const before = await view(ns);
    // Green's first check waits: the job is cancelled during the verification, before any switch.
    const standin = await startStandin({
      apiKey: 'k-123456789',
      version: '5.20.0',
      faults: [{ path: '/readyz', method: 'GET', delayMs: 60_000, times: 100 }],
    });
    try {
      const r = dist.runner({
        namespace: ns,
        tag: '5.20.0',
        strategy: 'blue-green',
        'green-api-url': standin.url,
        'api-key': 'k-123456789',
        kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
        'kubectl-version': '1.36.3',
      });
      await cancelThenPost(ns, r, {
        before,
        what: "green's verification",
        reached: () => standin.requests.some((q) => q.path === '/readyz'),
        mid: (mid) => {
          expect(mid.selector).toEqual({ app: 'md-core' });
          expect(mid.green).toEqual({ replicas: 1, ready: 1 });
        },
      });
    } finally {
      await standin.close();
    }
  });

  const CANCEL_POINTS = [
    {
      name: 'while green is awaited',
      tag: tagFor('5.20.0', 'slow', 300),
      marker: 'Service md-core-green-preview created',
      switched: false,
    },
    { name: 'after the switch', tag: '5.20.0', marker: 'blue keeps running for 300 s', switched: true },
  ];
  for (const c of CANCEL_POINTS) {
    it(`cancelled ${c.name}: the dist post step leaves blue serving and removes green`, async () => {
      const ns = await namespace('bg-cancel');
      await plainFixture(ns, 1);
      const before = await view(ns);
      const r = dist.runner({
        namespace: ns,
        tag: c.tag,
        strategy: 'blue-green',
        'scale-down-delay': '5m',
        kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
        'kubectl-version': '1.36.3',
      });
      await cancelThenPost(ns, r, {
        before,
        what: c.name,
        reached: (output) => output.includes(c.marker),
        mid: (mid) => {
          expect(mid.selector).toEqual(
            c.switched ? { app: 'md-core-green', [COLOR]: 'green' } : { app: 'md-core' },
          );
          expect(mid.preview).toBe(true);
        },
      });
    });
  }
});
