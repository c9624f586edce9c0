// Blue-green's helm hand-over without a cluster: the bridge EndpointSlice, the step order on the helm route,
// the hand-over step against a fake API that rewrites the selector as helm does, the undo order from the
// journal (green serves while the chart goes back), the manual commands, and the hand-over's Role rules.
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { afterFailure } from '../../src/engine/after-failure.ts';
import type { RunContext } from '../../src/engine/context.ts';
import { Journal, wasMutated, type BlueGreenRecord, type JournalData } from '../../src/engine/journal.ts';
import type { Facts, StrategySteps } from '../../src/engine/step.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { addedRules, rbacRules, rulesYaml } from '../../src/plan/rbac.ts';
import type { Kube } from '../../src/cluster/kube.ts';
import { COLOR_LABEL, type GreenPlan } from '../../src/steps/blue-green.ts';
import {
  BRIDGE_MANAGER,
  bridgeName,
  bridgeSlice,
  controllerSlices,
  labelSelector,
  MANAGED_BY_LABEL,
  sameLabels,
} from '../../src/steps/blue-green-bridge.ts';
import { rollbackBlueGreen } from '../../src/steps/blue-green-rollback.ts';
import { manualRollbackCommands } from '../../src/steps/rollback.ts';
import type { Route } from '../../src/steps/route.ts';
import { upgradeChart } from '../../src/strategies/blue-green-handover.ts';
import { strategyFor } from '../../src/strategies/index.ts';
import { rbacBlock, readmeText } from '../support/readme-blocks.ts';
import { blueGreenFixture } from '../support/journal-fixture.ts';

function plan(inputs: Record<string, string> = {}): Plan {
  const p = parseInputs({ namespace: 'mdcore', tag: '5.21.0', strategy: 'blue-green', ...inputs });
  if (!p.ok) throw new Error(p.errors.map((e) => e.message).join('\n'));
  return p.plan;
}

const GREEN_SEL = { app: 'md-core-green', [COLOR_LABEL]: 'green' };
const BLUE_SEL = { app: 'md-core' };

const serving = (selector: Record<string, string>, targetPort: number | string = 8008): V1Service => ({
  metadata: { name: 'md-core', namespace: 'mdcore', resourceVersion: '7' },
  spec: {
    selector,
    ports: [{ name: '8008', port: 8008, targetPort: targetPort as number, protocol: 'TCP' }],
  },
});

function pod(name: string, ip: string, ready: boolean, extra: Partial<V1Pod['metadata']> = {}): V1Pod {
  return {
    metadata: { name, namespace: 'mdcore', uid: `uid-${name}`, ...extra },
    spec: {
      nodeName: 'n1',
      containers: [{ name: 'md-core', ports: [{ name: 'http', containerPort: 8008 }] }],
    },
    status: { podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

const slice = (
  name: string,
  ips: string[],
  managedBy = 'endpointslice-controller.k8s.io',
): V1EndpointSlice => ({
  metadata: { name, labels: { [MANAGED_BY_LABEL]: managedBy } },
  addressType: 'IPv4',
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
});

describe('the bridge EndpointSlice', () => {
  it("lists green's ready pods under the Service's name and port names, managed by the action", () => {
    const s = bridgeSlice(serving(GREEN_SEL), 'md-core-green-bridge', [
      pod('g1', '10.0.0.5', true),
      pod('g2', '10.0.0.6', false),
      pod('g3', '10.0.0.7', true, { deletionTimestamp: new Date() }),
    ]);
    expect(s.metadata?.labels).toEqual({
      'kubernetes.io/service-name': 'md-core',
      [MANAGED_BY_LABEL]: BRIDGE_MANAGER,
      [COLOR_LABEL]: 'green',
    });
    expect(s.addressType).toBe('IPv4');
    expect(s.ports).toEqual([{ name: '8008', port: 8008, protocol: 'TCP' }]);
    expect(s.endpoints).toEqual([
      {
        addresses: ['10.0.0.5'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'n1',
        targetRef: { kind: 'Pod', name: 'g1', namespace: 'mdcore', uid: 'uid-g1' },
      },
    ]);
    // A named target port is the pod's container port of that name.
    expect(bridgeSlice(serving(GREEN_SEL, 'http'), 'b', [pod('g1', '10.0.0.5', true)]).ports?.[0]?.port).toBe(
      8008,
    );
    expect(bridgeSlice(serving(GREEN_SEL), 'b', [pod('g1', 'fd00::5', true)]).addressType).toBe('IPv6');
    expect(bridgeSlice(serving(GREEN_SEL), 'b', [pod('g2', '10.0.0.6', false)]).endpoints).toEqual([]);
  });

  it("names, selectors, and the controller's own slices", () => {
    expect(bridgeName('md-core-green')).toBe('md-core-green-bridge');
    expect(bridgeName('x'.repeat(70))).toHaveLength(63);
    expect(labelSelector(GREEN_SEL)).toBe(`app=md-core-green,${COLOR_LABEL}=green`);
    expect(sameLabels({ b: '2', a: '1' }, { a: '1', b: '2' })).toBe(true);
    expect(sameLabels({ a: '1' }, { a: '1', b: '2' })).toBe(false);
    expect(sameLabels({ a: '1', [COLOR_LABEL]: 'green' }, GREEN_SEL)).toBe(false);
    const own = slice('md-core-abc', ['10.0.0.5']);
    expect(controllerSlices([own, slice('md-core-green-bridge', ['10.0.0.5'], BRIDGE_MANAGER)])).toEqual([
      own,
    ]);
  });
});

describe('strategy steps on the helm route', () => {
  const ids = (s: StrategySteps): string[][] =>
    [s.checks, s.changes, s.wrapUp].map((l) => l.map((x) => x.id));
  const facts = (name: 'helm' | 'kubectl'): Facts =>
    ({ state: {}, route: { name }, db: { name: 'metadefender_core', reason: 'test' } }) as unknown as Facts;

  it('plans the helm upgrade with the checks; hands over after the hold instead of scaling blue to 0', () => {
    const p = plan({ method: 'helm' });
    expect(ids(strategyFor(p)(p, facts('helm')))).toEqual([
      ['plan-blue-green', 'plan-change'],
      [
        'create-green',
        'wait',
        'switch',
        'endpoints',
        'hold-blue',
        'scale-down-blue',
        'handover-upgrade',
        'handover-wait',
        'handback',
        'handover-endpoints',
      ],
      ['remove-green', 'record', 'restore-settings', 'colors'],
    ]);
    // With api-url the serving path is verified after the switch and again after the hand-over.
    const q = plan({ 'api-url': 'https://md-core.mdcore.svc:8008', 'api-key': 'k-123456789' });
    const changes = ids(strategyFor(q)(q, facts('helm')))[1] ?? [];
    expect(changes.slice(changes.indexOf('switch'))).toEqual([
      'switch',
      'endpoints',
      'verify-serving',
      'hold-blue',
      'scale-down-blue',
      'handover-upgrade',
      'handover-wait',
      'handback',
      'handover-endpoints',
      'verify-handover',
    ]);
    expect(ids(strategyFor(p)(p, facts('kubectl')))[1]?.at(-1)).toBe('scale-down-blue');
  });
});

const RECORD: BlueGreenRecord = blueGreenFixture({
  blueSelector: BLUE_SEL,
  greenSelector: GREEN_SEL,
  blueReplicas: 1,
  greenCreated: true,
  previewCreated: true,
  switched: true,
  switchedAt: Date.now() - 30_000,
});

function journalData(bg: Partial<BlueGreenRecord>, more: Partial<JournalData> = {}): JournalData {
  return {
    version: 1,
    namespace: 'mdcore',
    deployment: 'md-core',
    container: 'md-core',
    method: 'helm',
    release: 'mdcore',
    previousReleaseRevision: 1,
    phase: 'waiting',
    rollback: 'auto',
    configMaps: [],
    configMapWrites: {},
    deploymentFields: {},
    deploymentAnnotations: {},
    templateChanged: true,
    blueGreen: { ...RECORD, ...bg },
    ...more,
  };
}

/** A fake API that logs every change and answers reads from what the changes left. */
function fakeCluster(
  o: { greenReady?: boolean; selector?: Record<string, string>; deploymentGone?: boolean } = {},
) {
  const calls: string[] = [];
  let selector = o.selector ?? GREEN_SEL;
  const kube = {
    getService: async () => serving(selector),
    setServiceSelector: async (_ns: string, name: string, sel: Record<string, string>) => {
      calls.push(
        `select ${name} ${sel === GREEN_SEL ? 'green' : sel === BLUE_SEL ? 'blue' : JSON.stringify(sel)}`,
      );
      selector = sel;
      return serving(sel);
    },
    listPods: async (_ns: string, sel: string) =>
      sel.includes('md-core-green')
        ? [pod('g1', '10.0.0.5', o.greenReady ?? true)]
        : [pod('b1', '10.0.0.9', true)],
    listEndpointSlices: async () => [slice('md-core-x', sameLabels(selector, GREEN_SEL) ? ['10.0.0.5'] : [])],
    createEndpointSlice: async (_ns: string, s: V1EndpointSlice) => {
      calls.push(
        `create slice ${s.metadata?.name ?? ''} ${(s.endpoints ?? []).map((e) => e.addresses[0]).join(',')}`,
      );
      return s;
    },
    deleteEndpointSlice: async (_ns: string, name: string) => {
      calls.push(`delete slice ${name}`);
      return true;
    },
    deleteDeployment: async (_ns: string, name: string) => {
      calls.push(`delete deployment ${name}`);
      return true;
    },
    deleteService: async (_ns: string, name: string) => {
      calls.push(`delete service ${name}`);
      return true;
    },
    getDeployment: async () => (o.deploymentGone ? undefined : { metadata: { generation: 3 } }),
    patchDeployment: async (_ns: string, name: string, body: unknown) => {
      calls.push(`patch ${name} ${JSON.stringify(body)}`);
      return {};
    },
  } as unknown as Kube;
  return { kube, calls, setHelmSelector: (s: Record<string, string>) => (selector = s) };
}

describe('the hand-over step against a fake API', () => {
  it('bridge before helm; green selector set again after helm rewrote it; bridge deleted once the Service shows green', async () => {
    const { kube, calls, setHelmSelector } = fakeCluster();
    const route = {
      name: 'helm',
      applyTitle: 'helm upgrade',
      prepare: async () => ({}),
      apply: async () => {
        calls.push('helm upgrade');
        // What Helm 3's three-way merge and Helm 4's forced apply leave: the chart's key over green's.
        setHelmSelector({ app: 'md-core', [COLOR_LABEL]: 'green' });
      },
    } as unknown as Route<unknown>;
    const facts = { state: {}, route, db: { name: 'metadefender_core', reason: 't' } } as unknown as Facts;
    const journal = new Journal({
      namespace: 'mdcore',
      deployment: 'md-core',
      container: 'md-core',
      method: 'helm',
      rollback: 'auto',
      knownGeneration: 3,
    });
    journal.update({ blueGreen: { ...RECORD, switchedAt: undefined } });
    const ctx = {
      plan: plan({ method: 'helm' }),
      target: { namespace: 'mdcore', deployment: 'md-core', container: 'md-core', selector: 'app=md-core' },
      kube,
      journal,
      signal: undefined,
      now: () => 0,
    } as unknown as RunContext;
    const details: string[] = [];
    const h = { detail: (t: string) => details.push(t), warn: (t: string) => details.push(`warn: ${t}`) };
    const carry = {
      green: { selector: { app: 'md-core-green', [COLOR_LABEL]: 'green' } } as unknown as GreenPlan,
    };
    const seen: Partial<BlueGreenRecord>[] = [];
    const record = journal.recordBlueGreen.bind(journal);
    journal.recordBlueGreen = (c) => {
      seen.push(c);
      record(c);
    };
    await upgradeChart(facts, carry).run(ctx, h);
    expect(calls).toEqual([
      'create slice md-core-green-bridge 10.0.0.5',
      'helm upgrade',
      'select md-core green',
      'delete slice md-core-green-bridge',
    ]);
    // Each recorded before its change; the bridge forgotten once deleted.
    expect(seen).toEqual([{ bridge: 'md-core-green-bridge' }, { handover: true }, { bridge: undefined }]);
    expect(journal.data.blueGreen?.handover).toBe(true);
    expect(details.join('\n')).toContain('helm upgrade set the Service selector to {"app":"md-core","');
    expect(wasMutated(journal.data)).toBe(true);
  });

  it('refuses to start when green has no ready pod or the Service no longer selects green (nothing changed)', async () => {
    for (const o of [{ greenReady: false }, { selector: BLUE_SEL }]) {
      const { kube, calls } = fakeCluster(o);
      const journal = new Journal({
        namespace: 'mdcore',
        deployment: 'md-core',
        container: 'md-core',
        method: 'helm',
        rollback: 'auto',
      });
      journal.update({ blueGreen: RECORD });
      const ctx = { plan: plan(), target: { namespace: 'mdcore' }, kube, journal } as unknown as RunContext;
      const carry = { green: { selector: GREEN_SEL } as unknown as GreenPlan };
      const facts = { route: { name: 'helm' } } as unknown as Facts;
      await expect(
        upgradeChart(facts, carry).run(ctx, { detail: () => undefined, warn: () => undefined } as never),
      ).rejects.toThrow(/no ready pod|no longer selects green/);
      expect(calls).toEqual([]);
      expect(journal.data.blueGreen?.handover).toBeUndefined();
    }
  });
});

describe('undo of a hand-over, from the journal', () => {
  it("green stays behind the bridge while the chart goes back (with the chart's selector, as helm renders it); then bridge, green, preview removed", async () => {
    const { kube, calls } = fakeCluster({ selector: GREEN_SEL });
    const details: string[] = [];
    const problems = await rollbackBlueGreen(
      journalData({}),
      { ...RECORD, handover: true },
      {
        kube,
        timeoutSeconds: 10,
        detail: (t) => details.push(t),
        undoChart: async () => {
          calls.push('helm rollback, chart ready');
          return [];
        },
      },
    );
    expect(problems).toEqual([]);
    expect(calls).toEqual([
      'create slice md-core-green-bridge 10.0.0.5',
      'select md-core blue',
      'helm rollback, chart ready',
      'select md-core blue',
      'delete slice md-core-green-bridge',
      'delete deployment md-core-green',
      'delete service md-core-green-preview',
    ]);
    expect(details.join('\n')).toMatch(/traffic was on green for (29|30|31) s/);
  });

  it('a chart that does not come back: green keeps the traffic and is kept, the problem is named', async () => {
    const { kube, calls } = fakeCluster({ selector: GREEN_SEL });
    const problems = await rollbackBlueGreen(
      journalData({}),
      { ...RECORD, handover: true },
      {
        kube,
        timeoutSeconds: 10,
        detail: () => undefined,
        undoChart: async () => {
          calls.push('helm rollback, never ready');
          // helm rollback rewrites the selector as the upgrade did
          await kube.setServiceSelector('mdcore', 'md-core', { app: 'md-core', [COLOR_LABEL]: 'green' });
          return ['waiting for the previous version to be ready: ProgressDeadlineExceeded'];
        },
      },
    );
    expect(calls).toEqual([
      'create slice md-core-green-bridge 10.0.0.5',
      'select md-core blue',
      'helm rollback, never ready',
      `select md-core {"app":"md-core","${COLOR_LABEL}":"green"}`,
      'select md-core green',
      'delete slice md-core-green-bridge',
      'delete service md-core-green-preview',
    ]);
    expect(problems.join('\n')).toContain(
      "putting the chart's Deployment md-core back: waiting for the previous",
    );
    expect(problems.join('\n')).toContain('Deployment md-core-green kept: it still serves while blue cannot');
  });

  it('blue at 0 and not to be scaled back: green keeps the traffic and is kept', async () => {
    const { kube, calls } = fakeCluster({ selector: GREEN_SEL, deploymentGone: true });
    const problems = await rollbackBlueGreen(
      journalData({}),
      { ...RECORD, handover: true, blueScaled: true, blueReplicas: 2 },
      { kube, timeoutSeconds: 10, detail: () => undefined, undoChart: async () => [] },
    );
    expect(calls).toEqual([
      'create slice md-core-green-bridge 10.0.0.5',
      'select md-core blue',
      'patch md-core {"spec":{"replicas":2}}',
      'select md-core green',
      'delete slice md-core-green-bridge',
      'delete service md-core-green-preview',
    ]);
    expect(problems.join('\n')).toContain(
      'scaling md-core back to 2: Deployment mdcore/md-core no longer exists',
    );
  });

  it('a bridge left by a cancel before helm ran is removed; no hand-over means no chart undo', async () => {
    const { kube, calls } = fakeCluster({ selector: GREEN_SEL });
    let undone = false;
    const problems = await rollbackBlueGreen(
      journalData({}),
      { ...RECORD, bridge: 'md-core-green-bridge' },
      {
        kube,
        timeoutSeconds: 10,
        detail: () => undefined,
        undoChart: async () => {
          undone = true;
          return [];
        },
      },
    );
    expect(problems).toEqual([]);
    expect(undone).toBe(false);
    expect(calls).toEqual([
      'select md-core blue',
      'delete slice md-core-green-bridge',
      'delete deployment md-core-green',
      'delete service md-core-green-preview',
    ]);
  });
});

describe('journal, after-failure and manual commands of a hand-over', () => {
  it('a started hand-over or a bridge is a change; rollback none leaves it with the commands in order', () => {
    const base = journalData(
      { greenCreated: false, previewCreated: false, switched: false },
      { templateChanged: false },
    );
    expect(wasMutated(base)).toBe(false);
    expect(
      wasMutated({
        ...base,
        blueGreen: { ...RECORD, greenCreated: false, previewCreated: false, switched: false, bridge: 'b' },
      }),
    ).toBe(true);
    const j = journalData({ handover: true }, { rollback: 'none' });
    const d = afterFailure(j);
    expect(d).toMatchObject({ kind: 'leave', manualMode: 'helm-rollback' });
    const cmds = manualRollbackCommands(j, 'helm-rollback');
    const green = `kubectl patch service md-core -n mdcore --type=json -p '[{"op":"replace","path":"/spec/selector","value":{"app":"md-core-green","${COLOR_LABEL}":"green"}}]'`;
    const blue = `kubectl patch service md-core -n mdcore --type=json -p '[{"op":"replace","path":"/spec/selector","value":{"app":"md-core"}}]'`;
    expect(cmds).toEqual([
      green,
      blue,
      'helm rollback mdcore 1 -n mdcore',
      green,
      'kubectl rollout status deployment/md-core -n mdcore',
      blue,
      'kubectl delete endpointslice md-core-green-bridge -n mdcore --ignore-not-found',
      'kubectl delete deployment md-core-green -n mdcore',
      'kubectl delete service md-core-green-preview -n mdcore',
    ]);
    // rollout-undo: the chart's undo command instead of helm rollback; blue scaled back once the chart is back.
    const undo = manualRollbackCommands(
      {
        ...j,
        previousRevision: '2',
        blueGreen: { ...RECORD, handover: true, blueScaled: true, blueReplicas: 2 },
      },
      'rollout-undo',
    );
    expect(undo.slice(0, 5)).toEqual([
      green,
      'kubectl rollout undo deployment/md-core -n mdcore --to-revision=2',
      'kubectl rollout status deployment/md-core -n mdcore',
      'kubectl scale deployment/md-core -n mdcore --replicas=2',
      'kubectl rollout status deployment/md-core -n mdcore',
    ]);
  });
});

describe('Role rules of the hand-over', () => {
  it('README lists the rules blue-green adds to the helm Role exactly, with the bridge', () => {
    const base = rbacRules(plan({ strategy: 'rolling-update' }), { route: 'helm' });
    const added = addedRules(base, rbacRules(plan(), { route: 'helm' }));
    expect(added.map((r) => `${r.apiGroup}/${r.resource} ${r.verbs.join(',')}`)).toEqual([
      'apps/deployments create',
      'apps/deployments delete',
      '/services list,create',
      '/services delete',
      'discovery.k8s.io/endpointslices list,create',
      'discovery.k8s.io/endpointslices delete',
    ]);
    expect(added.find((r) => r.resource === 'endpointslices' && r.resourceNames)?.resourceNames).toEqual([
      'md-core-green-bridge',
    ]);
    expect(rbacBlock('blue-green-helm', readmeText())).toBe(`${rulesYaml(added, 0)}\n`);
  });
});
