// Two runs on one Deployment, on the real cluster: the Deployment's Lease lets one change it and refuses the
// other (naming the holder, changing nothing); an expired Lease is taken over; after a killed main step the
// post step recovers under the Lease and releases it, and does not recover over a run that took it over.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { leaseName, microTime } from '../../src/cluster/lease.ts';
import type { Outcome } from '../../src/engine/outcome.ts';
import { runUpgrade } from '../../src/engine/run.ts';
import { formatInputErrors, parseInputs } from '../../src/plan/inputs.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import { tagFor } from './cluster/stages.ts';
import { e2eCluster, freshNamespace, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { configMapsData, deploymentView, IMAGE, installFixture } from './support/action.ts';
import { useDistRunner } from './support/dist-runner.ts';

const LEASE = leaseName('md-core');
const dist = useDistRunner();

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function namespace(prefix: string): Promise<string> {
  const ns = await freshNamespace(prefix);
  cleanups.push(() => ns.cleanup());
  return ns.name;
}

interface InProcessRun {
  outcome: Outcome;
  reporter: MemoryReporter;
}

/** The engine in-process with an explicit Lease holder; `kubectlGate` holds the run inside its tools step. */
async function run(
  holder: string,
  inputs: Record<string, string>,
  kubectlGate?: Promise<void>,
): Promise<InProcessRun> {
  const c = e2eCluster();
  const parsed = parseInputs({
    kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
    'kubectl-version': '1.36.3',
    method: 'kubectl',
    ...inputs,
  });
  if (!parsed.ok) throw new Error(formatInputErrors(parsed.errors));
  const reporter = new MemoryReporter();
  const outcome = await runUpgrade(parsed.plan, {
    reporter,
    leaseHolder: holder,
    tools: {
      kubectl: async () => {
        await kubectlGate;
        return c.kubectl;
      },
      helm: async () => c.helm3,
    },
  });
  return { outcome, reporter };
}

interface LeaseView {
  metadata: { resourceVersion: string; uid: string };
  spec: { holderIdentity?: string; acquireTime?: string; renewTime?: string; leaseDurationSeconds?: number };
}

async function readLease(ns: string): Promise<LeaseView | undefined> {
  const r = await kubectl(['get', 'lease', LEASE, '-n', ns, '-o', 'json'], { allowFailure: true });
  if (r.code !== 0) {
    if (r.stderr.includes('NotFound')) return undefined;
    throw new Error(`kubectl get lease: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as LeaseView;
}

/** A Lease as another run (alive or dead) would have left it. */
async function putLease(ns: string, holder: string, renewedAgoMs: number): Promise<void> {
  const t = Date.now() - renewedAgoMs;
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: LEASE, namespace: ns },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: 120,
      acquireTime: microTime(t - 60_000),
      renewTime: microTime(t),
      leaseTransitions: 0,
    },
  };
  await kubectl(['apply', '-f', '-', '-n', ns], { input: JSON.stringify(lease) });
}

/** Everything a refused run must leave alone: the Deployment's spec generation and every ConfigMap. */
async function untouchable(ns: string): Promise<unknown> {
  const d = await kubectlJson<{ metadata: { generation: number; resourceVersion: string } }>([
    'get',
    'deployment',
    'md-core',
    '-n',
    ns,
  ]);
  const cms = await kubectlJson<{ items: { metadata: { name: string; resourceVersion: string } }[] }>([
    'get',
    'configmaps',
    '-n',
    ns,
  ]);
  return {
    generation: d.metadata.generation,
    configMaps: await configMapsData(ns),
    configMapVersions: Object.fromEntries(
      cms.items.map((c) => [c.metadata.name, c.metadata.resourceVersion]),
    ),
  };
}

describe('two runs on one Deployment', () => {
  it('refuses the second run while the first holds the Lease, naming the holder; the first succeeds; the Lease is gone afterwards', async () => {
    const ns = await namespace('lease-two-runs');
    await installFixture(ns);
    const first = 'https://github.example/acme/ops/actions/runs/1001/attempts/1';
    const second = 'https://github.example/acme/other/actions/runs/2002/attempts/1';
    // The first run is held inside its tools step: it holds the Lease and has changed nothing yet, so the
    // second run passes preflight and meets the Lease itself.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    cleanups.push(() => open());
    const a = run(first, { namespace: ns, tag: '5.20.0' }, gate);
    const held = await waitFor(
      'the first run to hold the Lease',
      async () => ((await readLease(ns))?.spec.holderIdentity === first ? readLease(ns) : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const before = await untouchable(ns);

    const b = await run(second, { namespace: ns, tag: '5.20.1' });
    expect(b.outcome.result).toBe('failed');
    expect(b.outcome.error).toContain(`Lease ${ns}/${LEASE} is held by ${first} since `);
    expect(b.outcome.error).toMatch(/expires at \d{4}-\d\d-\d\dT/);
    expect(b.outcome.error).toContain(`kubectl delete lease ${LEASE} -n ${ns}`);
    expect(b.outcome.error).toContain('This run changed nothing');
    expect(b.outcome.steps.find((s) => s.id === 'lease')?.status).toBe('failed');
    expect(b.outcome.steps.map((s) => s.id)).not.toContain('apply');
    expect(await untouchable(ns)).toEqual(before);
    const still = await readLease(ns);
    expect(still?.spec.holderIdentity).toBe(first);
    expect(still?.spec.acquireTime).toBe(held?.spec.acquireTime);

    open();
    const done = await a;
    expect(done.outcome.error).toBeUndefined();
    expect(done.outcome.result).toBe('upgraded');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.20.0`);
    expect(done.reporter.text()).toContain(`Released Lease ${ns}/${LEASE}`);
    expect(await readLease(ns)).toBeUndefined();
  });

  it('refuses a second run during the first run’s slow rollout and names the run holding the Lease', async () => {
    const ns = await namespace('lease-slow');
    await installFixture(ns);
    const first = 'alice@laptop (pid 111)';
    const slow = `${IMAGE}:${tagFor('5.20.0', 'slow', 25)}`;
    const a = run(first, { namespace: ns, tag: tagFor('5.20.0', 'slow', 25), timeout: '3m' });
    await waitFor(
      'the first run waiting for its slow rollout',
      async () => ((await deploymentView(ns)).image === slow ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const before = await untouchable(ns);
    const b = await run('bob@desk (pid 222)', { namespace: ns, tag: '5.20.1' });
    expect(b.outcome.result).toBe('failed');
    expect(b.outcome.error).toContain('in progress');
    expect(b.outcome.error).toContain(`held by ${first}`);
    expect(b.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await untouchable(ns)).toEqual(before);
    expect((await readLease(ns))?.spec.holderIdentity).toBe(first);

    const done = await a;
    expect(done.outcome.result).toBe('upgraded');
    expect((await deploymentView(ns)).image).toBe(slow);
    expect(await readLease(ns)).toBeUndefined();
  });

  it('stops a run whose Lease was taken over mid-wait, and leaves the rollback to a person', async () => {
    const ns = await namespace('lease-lost');
    await installFixture(ns);
    const slow = `${IMAGE}:${tagFor('5.20.0', 'slow', 200)}`;
    const started = Date.now();
    const a = run('frank@ci (pid 666)', { namespace: ns, tag: tagFor('5.20.0', 'slow', 200), timeout: '5m' });
    await waitFor(
      'the run waiting for its slow rollout',
      async () => ((await deploymentView(ns)).image === slow ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    // Someone deletes the Lease and another run takes it: the next renewal (within 30 s) finds it gone.
    const other = 'https://github.example/acme/infra/actions/runs/88/attempts/1';
    await kubectl(['delete', 'lease', LEASE, '-n', ns]);
    await putLease(ns, other, 0);
    const done = await a;
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(done.outcome.result).toBe('failed');
    expect(done.outcome.error).toContain(`now held by ${other}`);
    expect(done.outcome.rolledBack).toBeFalsy();
    expect(done.outcome.steps.find((s) => s.id === 'rollback')?.status).toBe('skipped');
    expect(done.outcome.manualSteps?.join('\n')).toContain('kubectl');
    // Not undone (the other run may be changing it), and the other run's Lease left alone.
    expect((await deploymentView(ns)).image).toBe(slow);
    expect((await readLease(ns))?.spec.holderIdentity).toBe(other);
  });

  it('takes over an expired Lease left by a run that died', async () => {
    const ns = await namespace('lease-expired');
    await installFixture(ns);
    const ghost = 'https://github.example/acme/ops/actions/runs/999/attempts/3';
    await putLease(ns, ghost, 10 * 60_000);
    const r = await run('carol@ci (pid 333)', { namespace: ns, tag: '5.20.0' });
    expect(r.outcome.error).toBeUndefined();
    expect(r.outcome.result).toBe('upgraded');
    const step = r.outcome.steps.find((s) => s.id === 'lease');
    expect(step?.details.join('\n')).toContain(`took it over from ${ghost}`);
    expect(await readLease(ns)).toBeUndefined();
  });

  it('reports a live Lease in a dry run, and refuses a real run without changing anything', async () => {
    const ns = await namespace('lease-live');
    await installFixture(ns);
    const other = 'dave@ops (pid 444)';
    await putLease(ns, other, 5_000);
    const before = await untouchable(ns);
    const dry = await run('erin@ci (pid 555)', { namespace: ns, tag: '5.20.0', 'dry-run': 'true' });
    expect(dry.outcome.result).toBe('dry-run');
    expect(dry.reporter.lines.some((l) => l.level === 'warning' && l.text.includes(`held by ${other}`))).toBe(
      true,
    );
    const real = await run('erin@ci (pid 555)', { namespace: ns, tag: '5.20.0' });
    expect(real.outcome.result).toBe('failed');
    expect(real.outcome.error).toContain(`held by ${other}`);
    expect(await untouchable(ns)).toEqual(before);
    // The other run's Lease is left exactly as it was.
    expect((await readLease(ns))?.spec.holderIdentity).toBe(other);
  });
});

const RUN_URL = 'https://github.example/acme/ops/actions/runs/4242/attempts/2';

/** A fake runner's files and environment for one run URL, for a main step then a post step. */
function runnerEnv(inputs: Record<string, string>): { env: NodeJS.ProcessEnv; journal: () => string } {
  const r = dist.runner(inputs, {
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_REPOSITORY: 'acme/ops',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '2',
  });
  return { env: r.env, journal: () => r.state().journal ?? '' };
}

/** Starts the dist main step on a slow tag and kills it (as the runner does) once it waits for the rollout. */
async function killedMainStep(ns: string): Promise<{ env: NodeJS.ProcessEnv; slow: string }> {
  const tag = tagFor('5.20.0', 'slow', 300);
  const r = runnerEnv({
    namespace: ns,
    tag,
    method: 'kubectl',
    kubeconfig: embeddedKubeconfig(e2eCluster().kubeconfig),
    'kubectl-version': '1.36.3',
    timeout: '10m',
  });
  const main = dist.start('index.js', r.env);
  await waitFor(
    'the wait step',
    async () => (main.output().includes('Wait for readiness') ? true : undefined),
    { timeoutMs: 90_000, intervalMs: 100 },
  );
  main.kill('SIGKILL');
  await main.code;
  return { env: { ...r.env, STATE_journal: r.journal() }, slow: `${IMAGE}:${tag}` };
}

describe('the post step and the Lease (dist)', () => {
  it('after a killed main step, recovers under the same Lease and releases it', async () => {
    const ns = await namespace('lease-post');
    await installFixture(ns);
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const { env, slow } = await killedMainStep(ns);
    expect((await deploymentView(ns)).image).toBe(slow);
    // The killed main step could not release it: the workflow run still holds it.
    const left = await readLease(ns);
    expect(left?.spec.holderIdentity).toBe(RUN_URL);

    const post = dist.start('post.js', env);
    expect(await post.code, post.output()).toBe(0);
    expect(post.output()).toContain('rolled back');
    expect((await deploymentView(ns)).image).toBe(before.image);
    expect(await configMapsData(ns)).toEqual(cm);
    expect(await readLease(ns)).toBeUndefined();
  });

  it('does not roll back over another run that has taken the Lease over since', async () => {
    const ns = await namespace('lease-post-blocked');
    await installFixture(ns);
    const { env, slow } = await killedMainStep(ns);
    // Another run took the Lease (as if ours had expired) and is now in charge of the Deployment.
    const other = 'https://github.example/acme/infra/actions/runs/77/attempts/1';
    await kubectl(['delete', 'lease', LEASE, '-n', ns]);
    await putLease(ns, other, 0);
    const theirs = await readLease(ns);

    const post = dist.start('post.js', env);
    expect(await post.code).toBe(1);
    expect(post.output()).toContain(`held by ${other}`);
    expect(post.output()).toContain('NOT rolled back');
    expect(post.output()).toContain('kubectl');
    expect((await deploymentView(ns)).image).toBe(slow);
    // Their Lease is untouched.
    const after = await readLease(ns);
    expect(after?.spec.holderIdentity).toBe(other);
    expect(after?.metadata.resourceVersion).toBe(theirs?.metadata.resourceVersion);
  });
});
