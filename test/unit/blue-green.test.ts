// Blue-green's pure parts (green from blue, colors kept apart, Service choice, activations, endpoints), its
// inputs, its step order, its journal record and rollback decision, and its Role rules in README.md.
import type { V1Deployment, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { afterFailure } from '../../src/engine/after-failure.ts';
import { Journal, wasMutated, type BlueGreenRecord, type JournalData } from '../../src/engine/journal.ts';
import type { Facts, StrategySteps } from '../../src/engine/step.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { addedRules, rbacRules, rulesYaml } from '../../src/plan/rbac.ts';
import { KubeError, type Kube } from '../../src/cluster/kube.ts';
import type { RunContext } from '../../src/engine/context.ts';
import { manualBlueGreenCommands, rollbackBlueGreen } from '../../src/steps/blue-green-rollback.ts';
import {
  checkActivations,
  chooseServingService,
  COLOR_LABEL,
  coloredValue,
  endpointView,
  greenFromBlue,
  greenName,
  holdWatchingEndpoints,
  pause,
  previewName,
  previewService,
  selectorMatches,
  waitOnlyGreen,
} from '../../src/steps/blue-green.ts';
import { describeAccess, requiredAccess } from '../../src/steps/preflight.ts';
import type { Route } from '../../src/steps/route.ts';
import { strategyFor } from '../../src/strategies/index.ts';
import { blueGreenFixture, journalFixture } from '../support/journal-fixture.ts';
import { rbacBlock, readmeText } from '../support/readme-blocks.ts';

function parse(inputs: Record<string, string>): ReturnType<typeof parseInputs> {
  return parseInputs({ namespace: 'mdcore', tag: '5.21.0', strategy: 'blue-green', ...inputs });
}
function plan(inputs: Record<string, string> = {}): Plan {
  const p = parse(inputs);
  if (!p.ok) throw new Error(p.errors.map((e) => e.message).join('\n'));
  return p.plan;
}
function refusal(inputs: Record<string, string>): string {
  const p = parse(inputs);
  if (p.ok) throw new Error(`accepted: ${JSON.stringify(inputs)}`);
  return p.errors.map((e) => e.message).join('\n');
}

function blue(
  overrides: Partial<{ selector: Record<string, string>; labels: Record<string, string> }> = {},
): V1Deployment {
  const selector = overrides.selector ?? { app: 'md-core' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'md-core',
      namespace: 'mdcore',
      uid: 'u-1',
      resourceVersion: '42',
      generation: 3,
      labels: { app: 'md-core' },
      annotations: { 'deployment.kubernetes.io/revision': '4', team: 'sec' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'o', uid: 'o-1' }],
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: overrides.labels ?? { ...selector, tier: 'scan' } },
        spec: {
          containers: [
            {
              name: 'md-core',
              image: 'opswat/metadefendercore-debian:5.20.0',
              env: [
                { name: 'UPGRADE_DB', value: 'false' },
                { name: 'KEEP', value: '1' },
              ],
              envFrom: [{ configMapRef: { name: 'mdcore-env' } }],
            },
          ],
        },
      },
    },
    status: { replicas: 2, readyReplicas: 2 },
  };
}

const svc = (name: string, selector: Record<string, string>): V1Service => ({
  metadata: { name, namespace: 'mdcore' },
  spec: {
    selector,
    ports: [{ name: 'http', port: 8008, targetPort: 8008, protocol: 'TCP', nodePort: 30000 }],
  },
});

const env = {
  MDCORE_UPGRADE_FROM_DB_NAME: 'metadefender_core',
  UPGRADE_DB: 'true',
  MIGRATE_HISTORY: 'false',
};

describe('green from blue', () => {
  it('copies blue with the new image, the variables as env, its own name and labels; server fields stripped', () => {
    const g = greenFromBlue({
      blue: blue(),
      container: 'md-core',
      image: 'opswat/metadefendercore-debian:5.21.0',
      env,
      replicas: 1,
      serviceSelector: { app: 'md-core' },
    });
    expect(g.problems).toEqual([]);
    expect(g.name).toBe('md-core-green');
    const m = g.manifest;
    expect(m.status).toBeUndefined();
    expect(m.metadata?.resourceVersion).toBeUndefined();
    expect(m.metadata?.uid).toBeUndefined();
    expect(m.metadata?.ownerReferences).toBeUndefined();
    expect(m.metadata?.annotations).toEqual({ team: 'sec' });
    expect(m.spec?.replicas).toBe(1);
    const c = m.spec?.template.spec?.containers[0];
    expect(c?.image).toBe('opswat/metadefendercore-debian:5.21.0');
    // The variables are container env (which wins over envFrom); blue's own UPGRADE_DB replaced, not doubled.
    expect(c?.env).toEqual([
      { name: 'KEEP', value: '1' },
      { name: 'MDCORE_UPGRADE_FROM_DB_NAME', value: 'metadefender_core' },
      { name: 'UPGRADE_DB', value: 'true' },
      { name: 'MIGRATE_HISTORY', value: 'false' },
    ]);
    expect(c?.envFrom).toEqual([{ configMapRef: { name: 'mdcore-env' } }]);
    expect(m.spec?.template.metadata?.labels).toEqual({
      app: 'md-core-green',
      tier: 'scan',
      [COLOR_LABEL]: 'green',
    });
    expect(m.spec?.selector).toEqual({ matchLabels: { app: 'md-core-green', [COLOR_LABEL]: 'green' } });
    expect(g.serviceSelector).toEqual({ app: 'md-core-green', [COLOR_LABEL]: 'green' });
    // Blue's object is not changed by the copy.
    expect(blue().spec?.template.spec?.containers[0]?.image).toBe('opswat/metadefendercore-debian:5.20.0');
  });

  it("keeps each color's selectors off the other's pods, also for a Service selecting on a template-only label", () => {
    const b = blue();
    const g = greenFromBlue({
      blue: b,
      container: 'md-core',
      image: 'i:2',
      env,
      replicas: 2,
      serviceSelector: { tier: 'scan' },
    });
    expect(g.problems).toEqual([]);
    const blueLabels = b.spec?.template.metadata?.labels ?? {};
    expect(selectorMatches(b.spec?.selector ?? {}, g.labels)).toBe(false);
    expect(selectorMatches({ matchLabels: { tier: 'scan' } }, g.labels)).toBe(false);
    expect(selectorMatches({ matchLabels: g.selector }, blueLabels)).toBe(false);
    expect(selectorMatches({ matchLabels: g.serviceSelector }, g.labels)).toBe(true);
    expect(g.serviceSelector).toEqual({ tier: 'scan-green', [COLOR_LABEL]: 'green' });
  });

  it('refuses when blue selects only by expressions green cannot escape', () => {
    const b = blue();
    if (b.spec) b.spec.selector = { matchExpressions: [{ key: 'tier', operator: 'Exists' }] };
    const g = greenFromBlue({
      blue: b,
      container: 'md-core',
      image: 'i:2',
      env,
      replicas: 1,
      serviceSelector: { app: 'md-core' },
    });
    expect(g.problems.join('\n')).toMatch(/blue's selector .* would also select green's pods/);
  });

  it('refuses a container that is not there', () => {
    const g = greenFromBlue({
      blue: blue(),
      container: 'other',
      image: 'i:2',
      env,
      replicas: 1,
      serviceSelector: {},
    });
    expect(g.problems).toContain('Deployment md-core has no container other');
  });

  it('names: -green, and back to -blue for a green of an earlier run; label values stay valid', () => {
    expect(greenName('md-core')).toEqual({ name: 'md-core-green', color: 'green', blueColor: 'blue' });
    expect(greenName('md-core-green')).toEqual({ name: 'md-core-blue', color: 'blue', blueColor: 'green' });
    expect(greenName('md-core-blue').name).toBe('md-core-green');
    expect(coloredValue('md-core-blue', 'green')).toBe('md-core-green');
    expect(coloredValue('x'.repeat(63), 'green')).toHaveLength(63);
    expect(previewName('a'.repeat(60))).toHaveLength(63);
  });

  it('selectorMatches: matchLabels and every expression operator', () => {
    const l = { a: '1', b: '2' };
    expect(selectorMatches({ matchLabels: { a: '1' } }, l)).toBe(true);
    expect(selectorMatches({ matchLabels: { a: '2' } }, l)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '3'] }] }, l)).toBe(
      true,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, l)).toBe(
      false,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'c', operator: 'Exists' }] }, l)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'c', operator: 'DoesNotExist' }] }, l)).toBe(true);
  });
});

describe('serving and preview Services', () => {
  const labels = { app: 'md-core', tier: 'scan' };
  it('takes the one Service selecting blue, refuses none or several by name', () => {
    const services = [
      svc('md-core', { app: 'md-core' }),
      svc('db', { app: 'postgres' }),
      svc('headless', {}),
    ];
    expect(chooseServingService(services, labels, undefined, 'md-core').service?.metadata?.name).toBe(
      'md-core',
    );
    expect(
      chooseServingService([svc('db', { app: 'postgres' })], labels, undefined, 'md-core').problem,
    ).toMatch(/no Service in the namespace selects the pods of Deployment md-core/);
    const two = chooseServingService(
      [...services, svc('md-core-2', { tier: 'scan' })],
      labels,
      undefined,
      'md-core',
    );
    expect(two.problem).toMatch(/several Services .*\(md-core, md-core-2\).*input 'service'/);
    expect(chooseServingService(services, labels, 'db', 'md-core').problem).toMatch(
      /input 'service': Service db does not select/,
    );
    expect(chooseServingService(services, labels, 'nope', 'md-core').problem).toMatch(/no Service "nope"/);
  });

  it('preview: ClusterIP with the serving ports (no nodePort), selecting green', () => {
    const p = previewService(svc('md-core', { app: 'md-core' }), 'md-core-green-preview', {
      app: 'md-core-green',
      [COLOR_LABEL]: 'green',
    });
    expect(p.spec).toEqual({
      type: 'ClusterIP',
      selector: { app: 'md-core-green', [COLOR_LABEL]: 'green' },
      ports: [{ name: 'http', port: 8008, targetPort: 8008, protocol: 'TCP' }],
    });
  });
});

describe('activations', () => {
  it('peak is blue + green; refused naming the numbers and green-replicas; a warning when not given', () => {
    expect(checkActivations(2, 2, 4)).toEqual({ peak: 4 });
    const r = checkActivations(2, 2, 3);
    expect(r.problem).toMatch(
      /need 4 at the peak, input 'activations' allows 3; lower 'green-replicas' .* to at most 1/,
    );
    expect(checkActivations(1, 1, undefined).warning).toMatch(
      /activations were not checked.*2 pods at the peak/,
    );
  });
});

describe('endpoints', () => {
  afterEach(() => vi.useRealTimers());
  const slice = (ready: string[], notReady: string[] = []): V1EndpointSlice => ({
    addressType: 'IPv4',
    endpoints: [
      ...ready.map((a) => ({ addresses: [a], conditions: { ready: true } })),
      ...notReady.map((a) => ({ addresses: [a], conditions: { ready: false } })),
    ],
  });

  it('endpointView splits ready and not ready', () => {
    expect(endpointView([slice(['10.0.0.2', '10.0.0.1'], ['10.0.0.9'])])).toEqual({
      ready: ['10.0.0.1', '10.0.0.2'],
      notReady: ['10.0.0.9'],
    });
  });

  it('waitOnlyGreen polls until only green is ready, bounded by time', async () => {
    vi.useFakeTimers();
    const views = [slice(['10.0.0.1']), slice(['10.0.0.1', '10.0.1.1']), slice(['10.0.1.1'], ['10.0.0.1'])];
    let n = 0;
    const p = waitOnlyGreen({
      list: async () => [views[Math.min(n++, views.length - 1)] as V1EndpointSlice],
      greenIps: async () => new Set(['10.0.1.1']),
      timeoutMs: 10_000,
      intervalMs: 1_000,
    });
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(p).resolves.toMatchObject({ view: { ready: ['10.0.1.1'] } });
    expect(n).toBe(3);
  });

  it('waitOnlyGreen gives up after its timeout, naming what it saw', async () => {
    vi.useFakeTimers();
    let n = 0;
    const p = waitOnlyGreen({
      list: async () => {
        n++;
        return [slice(['10.0.0.1'])];
      },
      greenIps: async () => new Set(['10.0.1.1']),
      timeoutMs: 5_000,
      intervalMs: 1_000,
    });
    const done = expect(p).rejects.toThrow(
      /did not show only green's pods within 5 s \(ready: 10\.0\.0\.1; not ready: none\)/,
    );
    await vi.advanceTimersByTimeAsync(6_000);
    await done;
    expect(n).toBeGreaterThanOrEqual(5);
    expect(n).toBeLessThanOrEqual(7);
  });

  it('holdWatchingEndpoints checks every interval for the whole delay, and fails once green has none ready', async () => {
    vi.useFakeTimers();
    let n = 0;
    const ok = holdWatchingEndpoints({
      list: async () => {
        n++;
        return [slice(['10.0.1.1'])];
      },
      greenIps: async () => new Set(['10.0.1.1']),
      durationMs: 10_000,
      intervalMs: 2_000,
    });
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(ok).resolves.toEqual({ checks: 6 });
    expect(n).toBe(6);

    let m = 0;
    const bad = holdWatchingEndpoints({
      list: async () => (m++ < 2 ? [slice(['10.0.1.1'])] : [slice([], ['10.0.1.1'])]),
      greenIps: async () => new Set(['10.0.1.1']),
      durationMs: 60_000,
      intervalMs: 2_000,
    });
    const failed = expect(bad).rejects.toThrow(
      /after the switch, green has no ready endpoint behind the Service \(ready: none; not ready: 10\.0\.1\.1\)/,
    );
    await vi.advanceTimersByTimeAsync(4_000);
    await failed;
    expect(m).toBe(3);

    const ac = new AbortController();
    const cancelled = holdWatchingEndpoints({
      list: async () => [slice(['10.0.1.1'])],
      greenIps: async () => new Set(['10.0.1.1']),
      durationMs: 300_000,
      intervalMs: 2_000,
      signal: ac.signal,
    });
    await vi.advanceTimersByTimeAsync(3_000);
    ac.abort();
    await expect(cancelled).resolves.toBe(false);
  });

  it('pause ends early on cancel', async () => {
    vi.useFakeTimers();
    const ac = new AbortController();
    const p = pause(60_000, ac.signal);
    await vi.advanceTimersByTimeAsync(1_000);
    ac.abort();
    await expect(p).resolves.toBe(false);
    const full = pause(1_000, undefined);
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(full).resolves.toBe(true);
  });
});

describe('inputs', () => {
  it('accepts the strategy with its inputs on a plain Deployment', () => {
    const p = plan({
      service: 'md-core',
      'green-replicas': '1',
      activations: '3',
      'scale-down-delay': '2m',
      'green-api-url': 'http://md-core-green-preview.mdcore.svc:8008',
    });
    expect(p).toMatchObject({
      strategy: 'blue-green',
      service: 'md-core',
      greenReplicas: 1,
      activations: 3,
      scaleDownDelaySeconds: 120,
    });
    expect(plan().scaleDownDelaySeconds).toBe(60);
  });

  it('accepts method helm (the hand-over); refuses migrate-history with blue-green, naming the input', () => {
    expect(plan({ method: 'helm' }).method).toBe('helm');
    expect(refusal({ 'migrate-history': 'true' })).toMatch(
      /input 'migrate-history' cannot be combined with 'strategy' blue-green/,
    );
  });

  it('refuses blue-green inputs with another strategy', () => {
    for (const [k, v] of [
      ['service', 'md-core'],
      ['green-replicas', '1'],
      ['activations', '2'],
      ['scale-down-delay', '5'],
      ['green-api-url', 'http://x.mdcore.svc:8008'],
    ])
      expect(refusal({ strategy: 'rolling-update', [k as string]: v as string })).toMatch(
        new RegExp(`input '${k}' applies to 'strategy' blue-green only`),
      );
  });

  it('green-api-url: {preview} and {namespace} are filled in; the template is checked as a URL', async () => {
    const { fillGreenUrl } = await import('../../src/steps/blue-green.ts');
    const p = plan({ 'green-api-url': 'http://{preview}.{namespace}.svc:8008' });
    expect(fillGreenUrl(p.greenApiUrl ?? '', { preview: 'md-core-green-preview', namespace: 'mdcore' })).toBe(
      'http://md-core-green-preview.mdcore.svc:8008',
    );
    expect(refusal({ 'green-api-url': 'http://{preview}.{namespace}.svc:8008/a b' })).toMatch(
      /'green-api-url'.*whitespace/,
    );
    expect(refusal({ 'green-api-url': 'http://{preview}.example.com:8008' })).toMatch(
      /'green-api-url' uses plain http:/,
    );
  });

  it('green-api-url follows the insecure-http policy of api-url', () => {
    expect(refusal({ 'green-api-url': 'http://203.0.113.9:8008' })).toMatch(/green-api-url/);
  });
});

describe('strategy steps', () => {
  const route = { name: 'kubectl' } as Route<unknown>;
  const facts = { state: {}, route, db: { name: 'metadefender_core', reason: 'test' } } as unknown as Facts;
  const ids = (s: StrategySteps): string[][] =>
    [s.checks, s.changes, s.wrapUp].map((l) => l.map((x) => x.id));

  it('plans first; green is verified before the switch; blue scaled last', () => {
    const p = plan({
      'green-api-url': 'http://md-core-green-preview.mdcore.svc:8008',
      'api-key': 'k-123456789',
    });
    expect(ids(strategyFor(p)(p, facts))).toEqual([
      ['plan-blue-green'],
      ['create-green', 'wait', 'verify-green', 'switch', 'endpoints', 'hold-blue', 'scale-down-blue'],
      ['record', 'colors'],
    ]);
    const q = plan();
    expect(ids(strategyFor(q)(q, facts))[1]).toEqual([
      'create-green',
      'wait',
      'switch',
      'endpoints',
      'hold-blue',
      'scale-down-blue',
    ]);
    // With api-url: the serving path is checked before any change and again after the switch, blue still
    // kept; green is verified before the switch (through the API server's service proxy by default).
    const r = plan({ 'api-url': 'https://md-core.mdcore.svc:8008', 'api-key': 'k-123456789' });
    expect(ids(strategyFor(r)(r, facts)).slice(0, 2)).toEqual([
      ['plan-blue-green', 'api'],
      [
        'create-green',
        'wait',
        'verify-green',
        'switch',
        'endpoints',
        'verify-serving',
        'hold-blue',
        'scale-down-blue',
      ],
    ]);
    // verify off: no REST API at all, green included.
    const o = plan({ 'api-url': 'https://md-core.mdcore.svc:8008', verify: 'off' });
    expect(ids(strategyFor(o)(o, facts))[1]).not.toContain('verify-green');
  });
});

describe('plan and create steps against a fake API', () => {
  const route = { name: 'kubectl' } as Route<unknown>;
  const facts = { state: {}, route, db: { name: 'metadefender_core', reason: 'test' } } as unknown as Facts;

  function setup(o: { helmRelease?: string; existing?: boolean; createStatus?: number } = {}) {
    const calls: string[] = [];
    const kube = {
      listServices: async () => [svc('md-core', { app: 'md-core' })],
      getDeployment: async (_ns: string, name: string) =>
        o.existing && name === 'md-core-green' ? blue() : undefined,
      getService: async () => undefined,
      createDeployment: async (_ns: string, d: V1Deployment) => {
        calls.push(`create deployment ${d.metadata?.name ?? ''}`);
        if (o.createStatus) throw new KubeError('creating: HTTP 409: AlreadyExists', o.createStatus);
        return d;
      },
      createService: async (_ns: string, x: V1Service) => {
        calls.push(`create service ${x.metadata?.name ?? ''}`);
        return x;
      },
    } as unknown as Kube;
    const p = plan({ activations: '4' });
    const journal = new Journal({
      namespace: 'mdcore',
      deployment: 'md-core',
      container: 'md-core',
      method: 'kubectl',
      rollback: 'auto',
    });
    const ctx = {
      plan: p,
      target: { namespace: 'mdcore', deployment: 'md-core', container: 'md-core', selector: 'app=md-core' },
      kube,
      journal,
      signal: undefined,
      now: () => 0,
      outcome: { extraOutputs: {} },
      state: { deployment: blue(), replicas: 2, helmRelease: o.helmRelease },
    } as unknown as RunContext;
    const details: string[] = [];
    const h = { detail: (t: string) => details.push(t), warn: (t: string) => details.push(`warn: ${t}`) };
    const steps = strategyFor(p)(p, facts);
    return { ctx, h, steps, calls, journal, details };
  }

  it('plans (journal record with nothing changed yet), then creates green and the preview in that order', async () => {
    const { ctx, h, steps, calls, journal, details } = setup();
    await steps.checks[0]?.run(ctx, h);
    expect(journal.data.blueGreen).toMatchObject({
      green: 'md-core-green',
      service: 'md-core',
      blueReplicas: 2,
    });
    expect(journal.mutated).toBe(false);
    expect(details.join('\n')).toContain('licence activations at the peak: 4 of 4');
    await steps.changes[0]?.run(ctx, h);
    expect(calls).toEqual(['create deployment md-core-green', 'create service md-core-green-preview']);
    expect(journal.data.blueGreen).toMatchObject({ greenCreated: true, previewCreated: true });
  });

  it('a green that appeared after the plan (409) is not recorded as ours, so a rollback leaves it', async () => {
    const { ctx, h, steps, journal } = setup({ createStatus: 409 });
    await steps.checks[0]?.run(ctx, h);
    await expect(steps.changes[0]?.run(ctx, h)).rejects.toThrow(/409/);
    expect(journal.data.blueGreen?.greenCreated).toBe(false);
    expect(afterFailure(journal.data).kind).toBe('nothing');
  });

  it('refuses a helm-managed Deployment on the kubectl route and a green left by an earlier run, before any change', async () => {
    const helm = setup({ helmRelease: 'mdcore' });
    await expect(helm.steps.checks[0]?.run(helm.ctx, helm.h)).rejects.toThrow(
      /managed by helm release mdcore: with 'method' kubectl, blue-green would scale the chart's Deployment to 0 behind helm's back, so nothing was changed; use method auto \(or helm\)/,
    );
    const left = setup({ existing: true });
    await expect(left.steps.checks[0]?.run(left.ctx, left.h)).rejects.toThrow(
      /Deployment mdcore\/md-core-green already exists/,
    );
    expect(left.calls).toEqual([]);
  });
});

describe('journal and after-failure', () => {
  const bg: BlueGreenRecord = blueGreenFixture();
  const j = (b: Partial<BlueGreenRecord>): JournalData => ({
    version: 1,
    namespace: 'mdcore',
    deployment: 'md-core',
    container: 'md-core',
    method: 'kubectl',
    phase: 'waiting',
    rollback: 'auto',
    configMaps: [],
    configMapWrites: {},
    deploymentFields: {},
    deploymentAnnotations: {},
    templateChanged: false,
    blueGreen: { ...bg, ...b },
  });

  it('a plan alone changed nothing; green created is a change to undo', () => {
    expect(wasMutated(j({}))).toBe(false);
    expect(afterFailure(j({})).kind).toBe('nothing');
    expect(afterFailure(j({ greenCreated: true })).kind).toBe('rollback');
    expect(afterFailure(j({ greenCreated: true, switched: true }), 'lease lost').kind).toBe('leave');
  });

  it('manual commands follow what exists: scale blue, switch back, delete green and preview', () => {
    expect(manualBlueGreenCommands(j({}), { ...bg, greenCreated: true })).toEqual([
      'kubectl delete deployment md-core-green -n mdcore',
    ]);
    const all = manualBlueGreenCommands(j({}), {
      ...bg,
      greenCreated: true,
      previewCreated: true,
      switched: true,
      blueScaled: true,
    });
    expect(all[0]).toBe('kubectl scale deployment/md-core -n mdcore --replicas=2');
    expect(all[2]).toContain('patch service md-core -n mdcore --type=json');
    expect(all[2]).toContain('"app":"md-core"');
    expect(all.slice(3)).toEqual([
      'kubectl delete deployment md-core-green -n mdcore',
      'kubectl delete service md-core-green-preview -n mdcore',
    ]);
  });
});

/** A Kube whose selector patches and deletions are written to `calls` (as "select ...", "delete ..."). */
function recordingKube(calls: string[], more: Record<string, unknown> = {}): Kube {
  return {
    setServiceSelector: async (_ns: string, name: string, sel: unknown) => {
      calls.push(`select ${name} ${JSON.stringify(sel)}`);
      return {};
    },
    deleteDeployment: async (_ns: string, name: string) => {
      calls.push(`delete deployment ${name}`);
      return true;
    },
    deleteService: async (_ns: string, name: string) => {
      calls.push(`delete service ${name}`);
      return true;
    },
    ...more,
  } as unknown as Kube;
}

describe('rollback order', () => {
  it('blue scaled up and ready before the switch back; green deleted only after; preview last', async () => {
    const calls: string[] = [];
    const kube = recordingKube(calls, {
      patchDeployment: async (_ns: string, name: string, body: unknown) => {
        calls.push(`patch ${name} ${JSON.stringify(body)}`);
        return {};
      },
      getDeployment: async () => undefined,
    });
    const rec = blueGreenFixture({
      greenSelector: { app: 'md-core-green' },
      greenCreated: true,
      previewCreated: true,
      switched: true,
      switchedAt: Date.now() - 5_000,
    });
    const details: string[] = [];
    const j = { namespace: 'mdcore' } as JournalData;
    expect(
      await rollbackBlueGreen(j, rec, { kube, timeoutSeconds: 10, detail: (t) => details.push(t) }),
    ).toEqual([]);
    expect(calls).toEqual([
      'select md-core {"app":"md-core"}',
      'delete deployment md-core-green',
      'delete service md-core-green-preview',
    ]);
    expect(details.join('\n')).toMatch(/traffic was on green for [45] s/);

    // Blue was already at 0 and cannot be read back: green keeps serving, the problem is named.
    calls.length = 0;
    const problems = await rollbackBlueGreen(
      j,
      { ...rec, blueScaled: true },
      { kube, timeoutSeconds: 10, detail: () => undefined },
    );
    expect(calls).toEqual(['patch md-core {"spec":{"replicas":2}}', 'delete service md-core-green-preview']);
    expect(problems.join('\n')).toMatch(
      /scaling md-core back to 2: Deployment mdcore\/md-core no longer exists/,
    );
    expect(problems.join('\n')).toContain('Deployment md-core-green kept: it still serves while blue cannot');
  });
});

describe('Role rules', () => {
  it('README lists the rules blue-green adds to the kubectl Role exactly', () => {
    const base = rbacRules(plan({ strategy: 'rolling-update' }), { route: 'kubectl' });
    const bgRules = rbacRules(plan(), { route: 'kubectl' });
    const added = addedRules(base, bgRules);
    expect(added.map((r) => `${r.apiGroup}/${r.resource}`)).toContain('discovery.k8s.io/endpointslices');
    expect(rbacBlock('blue-green', readmeText())).toBe(`${rulesYaml(added, 0)}\n`);
  });

  it('preflight asks for them before a blue-green run (a Role without them is refused before any change)', () => {
    const checks = requiredAccess(plan(), []).map(describeAccess);
    const rolling = new Set(requiredAccess(plan({ strategy: 'rolling-update' }), []).map(describeAccess));
    const extra = checks.filter((c) => !rolling.has(c));
    expect(extra.length).toBeGreaterThanOrEqual(10);
    expect(extra.join('\n')).toMatch(/endpointslices/);
    expect(extra.join('\n')).toMatch(/md-core-green/);
  });

  it('names the serving Service when the input gives it', () => {
    const rules = rbacRules(plan({ service: 'md-core' }), { route: 'kubectl' });
    expect(rules.find((r) => r.resource === 'services' && r.verbs.includes('patch'))?.resourceNames).toEqual([
      'md-core',
    ]);
  });
});

describe('a cancel at each phase of a plain run: what the post step decides and undoes (from the journal)', () => {
  // The record as each change step leaves it; the post step reads the same journal (engine/recover.ts).
  const phases: [string, Partial<BlueGreenRecord>, 'nothing' | 'rollback', string[]][] = [
    ['planned, nothing created', {}, 'nothing', []],
    [
      'green created, its preview not yet',
      { greenCreated: true },
      'rollback',
      ['delete deployment md-core-green'],
    ],
    [
      'green awaited or verified (preview created)',
      { greenCreated: true, previewCreated: true },
      'rollback',
      ['delete deployment md-core-green', 'delete service md-core-green-preview'],
    ],
    [
      'switched: endpoints confirmed, serving path checked, blue held',
      { greenCreated: true, previewCreated: true, switched: true, switchedAt: Date.now() - 3_000 },
      'rollback',
      [
        'select md-core {"app":"md-core"}',
        'delete deployment md-core-green',
        'delete service md-core-green-preview',
      ],
    ],
  ];
  for (const [name, rec, decision, undo] of phases) {
    it(`${name}: ${decision === 'nothing' ? 'nothing to undo' : undo.length + ' change(s), in order'}`, async () => {
      const j = journalFixture({ templateChanged: false, blueGreen: blueGreenFixture(rec) });
      expect(afterFailure(j).kind).toBe(decision);
      if (decision === 'nothing') return;
      const calls: string[] = [];
      const recorded: Partial<BlueGreenRecord>[] = [];
      const kube = recordingKube(calls);
      const problems = await rollbackBlueGreen(j, blueGreenFixture(rec), {
        kube,
        timeoutSeconds: 10,
        detail: () => undefined,
        recordBlueGreen: (r) => recorded.push(r),
      });
      expect(problems).toEqual([]);
      expect(calls).toEqual(undo);
      // A switch back is recorded for the post step's summary (how long traffic was on green).
      expect(recorded.map((r) => r.selects)).toEqual(rec.switched ? ['blue'] : []);
    });
  }
});
