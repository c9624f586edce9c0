// KEDA pausing: which ScaledObjects match, the pause written, the restore (a pre-existing pause kept exactly,
// someone else's later edit left alone, the retarget after blue-green), the journal's part, the RBAC rule and
// preflight's question, the strategies' step lists, and the Kube requests against a stand-in API server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { V1Deployment } from '@kubernetes/client-node';
import clientNodePackage from '@kubernetes/client-node/package.json' with { type: 'json' };
import { Kube, KubeError, type AccessCheck, type ScaledObject } from '../../src/cluster/kube.ts';
import { afterFailure } from '../../src/engine/after-failure.ts';
import { recoverFromJournal } from '../../src/engine/recover.ts';
import type { RunContext } from '../../src/engine/context.ts';
import { Journal, wasMutated, type JournalData, type KedaPause } from '../../src/engine/journal.ts';
import type { Facts, StrategySteps } from '../../src/engine/step.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { printRole } from '../../src/plan/print-role.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';
import { KEDA_RULES, accessChecks, addedRules, rbacRules, rulesYaml } from '../../src/plan/rbac.ts';
import {
  PAUSED,
  PAUSED_REPLICAS,
  findScaledObjects,
  kedaLeftPaused,
  manualKedaCommands,
  matchScaledObjects,
  pauseKeda,
  pausePatch,
  restorePlan,
  resumeKeda,
  scaledDeployment,
  servingAfterRun,
} from '../../src/steps/keda.ts';
import { describeAccess, preflight, PreflightError } from '../../src/steps/preflight.ts';
import { manualRollbackCommands } from '../../src/steps/rollback.ts';
import type { Route } from '../../src/steps/route.ts';
import { strategyFor } from '../../src/strategies/index.ts';
import { blueGreenFixture, journalFixture } from '../support/journal-fixture.ts';
import { rbacBlock, readmeText } from '../support/readme-blocks.ts';

/** A finished blue-green run's record: switched, blue scaled to 0. */
const switchedRecord = () =>
  blueGreenFixture({
    greenSelector: { app: 'md-core-green' },
    blueReplicas: 3,
    greenCreated: true,
    previewCreated: true,
    switched: true,
    blueScaled: true,
  });

function plan(inputs: Record<string, string> = {}): Plan {
  const p = parseInputs({ namespace: 'mdcore', tag: '5.20.0', ...inputs });
  if (!p.ok) throw new Error(p.errors.map((e) => e.message).join('\n'));
  return p.plan;
}

function so(
  name: string,
  target: { name: string; kind?: string; apiVersion?: string },
  annotations?: Record<string, string>,
  resourceVersion = '10',
): ScaledObject {
  return {
    metadata: { name, resourceVersion, ...(annotations ? { annotations } : {}) },
    spec: { scaleTargetRef: target },
  };
}

/** A journal mid-run with only what a test gives (no template change, so KEDA alone decides "changed"). */
function journalData(over: Partial<JournalData> = {}): JournalData {
  return journalFixture({ phase: 'changing', templateChanged: false, ...over });
}

const ours: KedaPause = {
  name: 'md-core-scaler',
  target: 'md-core',
  before: { [PAUSED_REPLICAS]: null, [PAUSED]: null },
  wrote: { [PAUSED_REPLICAS]: '3' },
};

describe('which ScaledObjects scale md-core', () => {
  it('a Deployment by default (kind and apiVersion may be left out), nothing else', () => {
    expect(scaledDeployment(so('a', { name: 'md-core' }))).toBe('md-core');
    expect(scaledDeployment(so('a', { name: 'md-core', kind: 'Deployment', apiVersion: 'apps/v1' }))).toBe(
      'md-core',
    );
    expect(scaledDeployment(so('a', { name: 'md-core', kind: 'StatefulSet' }))).toBeUndefined();
    expect(
      scaledDeployment(so('a', { name: 'md-core', kind: 'Deployment', apiVersion: 'example.com/v1' })),
    ).toBeUndefined();
    expect(scaledDeployment({ metadata: { name: 'x' } })).toBeUndefined();
  });

  it("matches blue's and green's names, each paused at its own count; others are left out", () => {
    const found = matchScaledObjects(
      [
        so('blue-scaler', { name: 'md-core' }),
        so('green-scaler', { name: 'md-core-green' }, { team: 'scan' }),
        so('db-scaler', { name: 'postgres-core' }),
        so('sts', { name: 'md-core', kind: 'StatefulSet' }),
      ],
      [
        { name: 'md-core', replicas: 3 },
        { name: 'md-core-green', replicas: 2 },
      ],
    );
    expect(found).toEqual([
      {
        name: 'blue-scaler',
        target: 'md-core',
        before: { [PAUSED_REPLICAS]: null, [PAUSED]: null },
        wrote: { [PAUSED_REPLICAS]: '3' },
        resourceVersion: '10',
      },
      {
        name: 'green-scaler',
        target: 'md-core-green',
        before: { [PAUSED_REPLICAS]: null, [PAUSED]: null },
        wrote: { [PAUSED_REPLICAS]: '2' },
        resourceVersion: '10',
      },
    ]);
  });

  it('one paused already (paused-replicas, or paused "true") is recorded as it is and not written', () => {
    const found = matchScaledObjects(
      [
        so('held', { name: 'md-core' }, { [PAUSED_REPLICAS]: '5' }),
        so('stopped', { name: 'md-core' }, { [PAUSED]: 'True' }),
        so('not-stopped', { name: 'md-core' }, { [PAUSED]: 'false' }),
      ],
      [{ name: 'md-core', replicas: 1 }],
    );
    expect(found.map((f) => [f.name, f.before, f.wrote])).toEqual([
      ['held', { [PAUSED_REPLICAS]: '5', [PAUSED]: null }, {}],
      ['stopped', { [PAUSED_REPLICAS]: null, [PAUSED]: 'True' }, {}],
      ['not-stopped', { [PAUSED_REPLICAS]: null, [PAUSED]: 'false' }, { [PAUSED_REPLICAS]: '1' }],
    ]);
  });

  it('the pause patch writes only the annotation, on the version the plan read', () => {
    const [p] = matchScaledObjects(
      [so('s', { name: 'md-core' }, undefined, '42')],
      [{ name: 'md-core', replicas: 4 }],
    );
    expect(p && pausePatch(p)).toEqual({
      metadata: { resourceVersion: '42', annotations: { [PAUSED_REPLICAS]: '4' } },
    });
  });
});

describe('putting a ScaledObject back', () => {
  it("removes the run's annotation when there was none, on the version it read", () => {
    const cur = so('md-core-scaler', { name: 'md-core' }, { [PAUSED_REPLICAS]: '3', team: 'scan' }, '77');
    expect(restorePlan(ours, cur)).toEqual({
      patch: { metadata: { resourceVersion: '77', annotations: { [PAUSED_REPLICAS]: null } } },
      conflicts: [],
      notes: [],
      resumes: true,
    });
  });

  it('puts a previous value back exactly, and leaves a pre-existing paused: "false" untouched', () => {
    const pause: KedaPause = {
      ...ours,
      before: { [PAUSED_REPLICAS]: null, [PAUSED]: 'false' },
    };
    const cur = so('md-core-scaler', { name: 'md-core' }, { [PAUSED_REPLICAS]: '3', [PAUSED]: 'false' });
    expect(restorePlan(pause, cur).patch).toEqual({
      metadata: { resourceVersion: '10', annotations: { [PAUSED_REPLICAS]: null } },
    });
    // A value the run overwrote (possible only if the plan's rule changes) comes back as it was.
    const overwritten: KedaPause = {
      ...ours,
      before: { [PAUSED_REPLICAS]: '7', [PAUSED]: null },
    };
    expect(restorePlan(overwritten, cur).patch).toEqual({
      metadata: { resourceVersion: '10', annotations: { [PAUSED_REPLICAS]: '7' } },
    });
  });

  it('an already paused one (nothing written) needs no patch', () => {
    const kept: KedaPause = { ...ours, before: { [PAUSED_REPLICAS]: '5', [PAUSED]: null }, wrote: {} };
    expect(restorePlan(kept, so('md-core-scaler', { name: 'md-core' }, { [PAUSED_REPLICAS]: '5' }))).toEqual({
      patch: undefined,
      conflicts: [],
      notes: [],
      resumes: false,
    });
  });

  it("someone else's value since the run is left as they set it and reported", () => {
    const r = restorePlan(ours, so('md-core-scaler', { name: 'md-core' }, { [PAUSED_REPLICAS]: '9' }));
    expect(r.patch).toBeUndefined();
    expect(r.conflicts).toEqual([`${PAUSED_REPLICAS} (this run wrote "3", it now holds "9": left as it is)`]);
  });

  it('already back (a repeated restore), or deleted meanwhile: nothing to send', () => {
    expect(restorePlan(ours, so('md-core-scaler', { name: 'md-core' })).patch).toBeUndefined();
    expect(restorePlan(ours, undefined)).toEqual({
      patch: undefined,
      conflicts: [],
      notes: ['ScaledObject md-core-scaler no longer exists'],
      resumes: false,
    });
  });

  it('after blue-green left blue at 0, points the ScaledObject at green in the same patch', () => {
    const cur = so('md-core-scaler', { name: 'md-core', kind: 'Deployment' }, { [PAUSED_REPLICAS]: '3' });
    const r = restorePlan(ours, cur, 'md-core-green');
    expect(r.patch).toEqual({
      metadata: { resourceVersion: '10', annotations: { [PAUSED_REPLICAS]: null } },
      spec: { scaleTargetRef: { name: 'md-core-green' } },
    });
    expect(r.notes).toEqual(['now scales Deployment md-core-green (was md-core, left at 0 replicas)']);
    // Someone pointed it elsewhere meanwhile: their target stays.
    expect(restorePlan(ours, so('md-core-scaler', { name: 'other' }), 'md-core-green').patch).toBeUndefined();
  });

  it('the retarget happens only after a finished blue-green run that scaled blue to 0', () => {
    const bg = switchedRecord();
    expect(servingAfterRun(journalData({ phase: 'done', blueGreen: bg, keda: [ours] }))).toBe(
      'md-core-green',
    );
    expect(servingAfterRun(journalData({ phase: 'changing', blueGreen: bg, keda: [ours] }))).toBeUndefined();
    expect(
      servingAfterRun(journalData({ phase: 'done', blueGreen: { ...bg, blueScaled: false }, keda: [ours] })),
    ).toBeUndefined();
    expect(servingAfterRun(journalData({ phase: 'done', keda: [ours] }))).toBeUndefined();
    // One already scales green: a second one on green would conflict, so blue's is only resumed.
    const onGreen = { ...ours, name: 'g', target: 'md-core-green' };
    expect(
      servingAfterRun(journalData({ phase: 'done', blueGreen: bg, keda: [ours, onGreen] })),
    ).toBeUndefined();
  });

  it('the commands to do it by hand', () => {
    const kept: KedaPause = { ...ours, name: 'kept', wrote: {} };
    const prev: KedaPause = { ...ours, name: 'prev', before: { [PAUSED_REPLICAS]: '7', [PAUSED]: null } };
    expect(manualKedaCommands(journalData({ keda: [ours, kept, prev] }))).toEqual([
      `kubectl annotate scaledobject md-core-scaler -n mdcore --overwrite ${PAUSED_REPLICAS}-`,
      `kubectl annotate scaledobject prev -n mdcore --overwrite ${PAUSED_REPLICAS}=7`,
    ]);
    expect(manualRollbackCommands(journalData({ keda: [ours] }), 'rollout-undo')).toContain(
      `kubectl annotate scaledobject md-core-scaler -n mdcore --overwrite ${PAUSED_REPLICAS}-`,
    );
  });
});

describe('the journal', () => {
  it('a written pause counts as a change (a failure then restores it); a kept one does not', () => {
    expect(wasMutated(journalData({ keda: [ours] }))).toBe(true);
    expect(afterFailure(journalData({ keda: [ours] }))).toEqual({ kind: 'rollback', mode: 'rollout-undo' });
    expect(wasMutated(journalData({ keda: [{ ...ours, wrote: {} }] }))).toBe(false);
  });

  it('the post step puts KEDA back only after a finished run whose wrap-up did not', () => {
    expect(kedaLeftPaused(journalData({ phase: 'done', keda: [ours] }))).toBe(true);
    expect(kedaLeftPaused(journalData({ phase: 'done', keda: [ours], kedaRestored: true }))).toBe(false);
    expect(kedaLeftPaused(journalData({ phase: 'rolled-back', keda: [ours] }))).toBe(false);
    expect(kedaLeftPaused(journalData({ phase: 'done', keda: [{ ...ours, wrote: {} }] }))).toBe(false);
  });
});

/** A Kube holding ScaledObjects in memory; `conflicts` 409s the next patches. */
function memoryKube(objects: ScaledObject[], o: { conflicts?: number; served?: boolean } = {}) {
  const patches: { name: string; body: Record<string, unknown>; journal?: JournalData['keda'] }[] = [];
  let conflicts = o.conflicts ?? 0;
  let journal: Journal | undefined;
  const kube = {
    listScaledObjects: async () => (o.served === false ? undefined : structuredClone(objects)),
    patchScaledObject: async (_ns: string, name: string, body: Record<string, unknown>) => {
      patches.push({ name, body, journal: structuredClone(journal?.data.keda) });
      if (conflicts > 0) {
        conflicts--;
        throw new KubeError('patching: HTTP 409: the object has been modified', 409);
      }
      const target = objects.find((x) => x.metadata?.name === name);
      const ann = (body.metadata as { annotations?: Record<string, string | null> }).annotations ?? {};
      if (target) {
        const now = { ...(target.metadata?.annotations ?? {}) };
        for (const [k, v] of Object.entries(ann)) {
          if (v === null) delete now[k];
          else now[k] = v;
        }
        target.metadata = { ...target.metadata, annotations: now };
      }
      return target ?? {};
    },
  } as unknown as Kube;
  return { kube, patches, watch: (j: Journal) => (journal = j) };
}

function fakeCtx(kube: Kube, journal: Journal, replicas = 3): RunContext {
  return {
    kube,
    journal,
    target: { namespace: 'mdcore', deployment: 'md-core', container: 'md-core', selector: 'app=md-core' },
    state: { replicas },
    signal: undefined,
  } as unknown as RunContext;
}

function handle(): { details: string[]; detail: (t: string) => void; warn: (t: string) => void } {
  const details: string[] = [];
  return { details, detail: (t) => details.push(t), warn: (t) => details.push(`⚠ ${t}`) };
}

describe('the steps', () => {
  const newJournal = (): Journal =>
    new Journal({
      namespace: 'mdcore',
      deployment: 'md-core',
      container: 'md-core',
      method: 'kubectl',
      rollback: 'auto',
    });
  const targets = (ctx: RunContext) => [{ name: ctx.target.deployment, replicas: ctx.state.replicas }];

  it('find, then pause: each ScaledObject recorded in the journal before its patch; then resumed', async () => {
    const objects = [
      so('md-core-scaler', { name: 'md-core' }),
      so('held', { name: 'md-core' }, { [PAUSED_REPLICAS]: '5' }),
    ];
    const m = memoryKube(objects);
    const journal = m.watch(newJournal());
    const ctx = fakeCtx(m.kube, journal);
    const carry = {};
    const h = handle();
    await findScaledObjects(carry, targets).run(ctx, h);
    expect(h.details).toEqual([
      `ScaledObject md-core-scaler (scales md-core): paused for the run with ${PAUSED_REPLICAS}="3", put back afterwards`,
      `ScaledObject held (scales md-core) is paused already (${PAUSED_REPLICAS}="5"): left as it is`,
    ]);
    expect(m.patches).toEqual([]);
    await pauseKeda(carry).run(ctx, handle());
    expect(m.patches).toHaveLength(1);
    expect(m.patches[0]?.journal?.map((k) => k.name)).toEqual(['md-core-scaler']);
    expect(objects[0]?.metadata?.annotations).toEqual({ [PAUSED_REPLICAS]: '3' });
    expect(journal.data.keda?.map((k) => [k.name, k.wrote])).toEqual([
      ['md-core-scaler', { [PAUSED_REPLICAS]: '3' }],
      ['held', {}],
    ]);
    expect(journal.mutated).toBe(true);

    const r = handle();
    expect(await resumeKeda(journal.data, m.kube, r.detail)).toEqual([]);
    expect(objects[0]?.metadata?.annotations).toEqual({});
    expect(objects[1]?.metadata?.annotations).toEqual({ [PAUSED_REPLICAS]: '5' });
    expect(r.details).toEqual([
      'ScaledObject md-core-scaler: restored (not paused)',
      'ScaledObject held: already as before the run',
    ]);
    // A second restore (the post step after the wrap-up) changes nothing.
    expect(await resumeKeda(journal.data, m.kube, () => undefined)).toEqual([]);
    expect(m.patches).toHaveLength(2);
  });

  it('without KEDA installed: says so in one line, pauses nothing', async () => {
    const m = memoryKube([], { served: false });
    const journal = newJournal();
    const carry = {};
    const h = handle();
    await findScaledObjects(carry, targets).run(fakeCtx(m.kube, journal), h);
    expect(h.details).toEqual(['KEDA is not installed (no keda.sh/v1alpha1 API): nothing to pause']);
    await pauseKeda(carry).run(fakeCtx(m.kube, journal), handle());
    expect(m.patches).toEqual([]);
    expect(journal.mutated).toBe(false);
  });

  it('list forbidden: a clear error naming the verb and resource, before any change', async () => {
    const kube = {
      listScaledObjects: async () => {
        throw new KubeError('listing ScaledObjects: HTTP 403: forbidden', 403);
      },
    } as unknown as Kube;
    const err = await findScaledObjects({}, targets)
      .run(fakeCtx(kube, newJournal()), handle())
      .catch((e: unknown) => e);
    expect((err as Error).message).toContain(
      'list on scaledobjects.keda.sh in namespace "mdcore" is forbidden',
    );
    expect((err as Error).message).toContain('Grant list and patch on scaledobjects.keda.sh');
  });

  it('a pause refused on the version check leaves no journal entry behind (nothing to put back)', async () => {
    const m = memoryKube([so('md-core-scaler', { name: 'md-core' })], { conflicts: 1 });
    const journal = newJournal();
    const carry = {};
    await findScaledObjects(carry, targets).run(fakeCtx(m.kube, journal), handle());
    const err = await pauseKeda(carry)
      .run(fakeCtx(m.kube, journal), handle())
      .catch((e: unknown) => e);
    expect((err as Error).message).toContain('was changed by someone else since the plan: not paused');
    expect(journal.data.keda).toEqual([]);
    expect(journal.mutated).toBe(false);
  });

  it("someone else's value is reported once, also when the retarget patch is retried after a 409", async () => {
    const bg = switchedRecord();
    const m = memoryKube([so('md-core-scaler', { name: 'md-core' }, { [PAUSED_REPLICAS]: '9' })], {
      conflicts: 1,
    });
    const details: string[] = [];
    const problems = await resumeKeda(
      journalData({ phase: 'done', blueGreen: bg, keda: [ours] }),
      m.kube,
      (t) => details.push(t),
    );
    expect(m.patches.map((p) => p.body)).toEqual([
      { metadata: { resourceVersion: '10' }, spec: { scaleTargetRef: { name: 'md-core-green' } } },
      { metadata: { resourceVersion: '10' }, spec: { scaleTargetRef: { name: 'md-core-green' } } },
    ]);
    expect(problems).toEqual([
      `ScaledObject md-core-scaler: changed by someone else: ${PAUSED_REPLICAS} (this run wrote "3", it now holds "9": left as it is)`,
    ]);
    expect(details).toEqual([
      'ScaledObject md-core-scaler: now scales Deployment md-core-green (was md-core, left at 0 replicas)',
    ]);
  });

  it('a restore retries a conflicting write (bounded) and reports what it could not do', async () => {
    const objects = [so('md-core-scaler', { name: 'md-core' }, { [PAUSED_REPLICAS]: '3' })];
    const once = memoryKube(objects, { conflicts: 1 });
    expect(await resumeKeda(journalData({ keda: [ours] }), once.kube, () => undefined)).toEqual([]);
    expect(once.patches).toHaveLength(2);
    objects[0] = so('md-core-scaler', { name: 'md-core' }, { [PAUSED_REPLICAS]: '3' });
    const always = memoryKube(objects, { conflicts: 10 });
    const problems = await resumeKeda(journalData({ keda: [ours] }), always.kube, () => undefined);
    expect(always.patches).toHaveLength(3);
    expect(problems).toEqual([
      'restoring ScaledObject md-core-scaler: patching: HTTP 409: the object has been modified',
    ]);
  });
});

describe('the strategies', () => {
  const route = { name: 'kubectl', applyTitle: 'apply' } as unknown as Route<unknown>;
  const facts = (kedaServed: boolean): Facts =>
    ({ state: { kedaServed }, route, db: { name: 'metadefender_core', reason: 'test' } }) as unknown as Facts;
  const ids = (s: StrategySteps): string[][] =>
    [s.checks, s.changes, s.wrapUp].map((l) => l.map((x) => x.id));

  it('rolling update: found with the checks, paused before the first change, resumed last', () => {
    const p = plan({ 'migrate-history': 'true', 'db-free-space': 'skip' });
    const [checks, changes, wrapUp] = ids(strategyFor(p)(p, facts(true)));
    expect(checks?.at(-1)).toBe('keda');
    expect(changes?.slice(0, 2)).toEqual(['keda-pause', 'stop-pods']);
    expect(wrapUp?.at(-1)).toBe('keda-restore');
  });

  it('blue-green: paused before green is created, resumed after the colors are reported', () => {
    const p = plan({ strategy: 'blue-green' });
    const [checks, changes, wrapUp] = ids(strategyFor(p)(p, facts(true)));
    expect(checks?.at(-1)).toBe('keda');
    expect(changes?.slice(0, 2)).toEqual(['keda-pause', 'create-green']);
    expect(wrapUp?.slice(-2)).toEqual(['colors', 'keda-restore']);
  });

  it('no KEDA steps where the cluster does not serve ScaledObjects', () => {
    for (const strategy of ['rolling-update', 'blue-green']) {
      const p = plan({ strategy });
      expect(
        ids(strategyFor(p)(p, facts(false)))
          .flat()
          .filter((id) => id.startsWith('keda')),
      ).toEqual([]);
    }
  });
});

describe('RBAC', () => {
  it('the KEDA rule joins the Role only where KEDA is installed, for the strategies that pause it', () => {
    for (const route of ['kubectl', 'helm'] as const) {
      expect(rbacRules(plan(), { route, keda: true })).toEqual(expect.arrayContaining([...KEDA_RULES]));
      expect(rbacRules(plan(), { route })).not.toEqual(expect.arrayContaining([...KEDA_RULES]));
    }
    expect(rbacRules(plan({ strategy: 'blue-green' }), { route: 'kubectl', keda: true })).toEqual(
      expect.arrayContaining([...KEDA_RULES]),
    );
    const ei = plan({
      strategy: 'export-import',
      'api-url': 'http://md-core:8008',
      'config-password': 'p-123456789',
    });
    expect(rbacRules(ei, { route: 'kubectl', keda: true })).not.toEqual(
      expect.arrayContaining([...KEDA_RULES]),
    );
    expect(accessChecks(KEDA_RULES).map(describeAccess)).toEqual([
      'list scaledobjects.keda.sh',
      'patch scaledobjects.keda.sh',
    ]);
  });

  it("README's KEDA block is exactly the rule the code adds where KEDA is installed", () => {
    for (const route of ['kubectl', 'helm'] as const) {
      const added = addedRules(rbacRules(plan(), { route }), rbacRules(plan(), { route, keda: true }));
      expect(rbacBlock('keda', readmeText())).toBe(`${rulesYaml(added, 0)}\n`);
    }
  });

  it('--print-role names the KEDA rule for the strategies that pause KEDA', () => {
    const text = (inputs: Record<string, string>): string => {
      const r = printRole({ namespace: 'mdcore', ...inputs }, 'true');
      if (!r.ok) throw new Error(r.message);
      return r.text;
    };
    const note = 'preflight also needs list and patch on scaledobjects in apiGroup keda.sh';
    expect(text({})).toContain(note);
    expect(text({ strategy: 'blue-green', method: 'kubectl' })).toContain(note);
    expect(text({ strategy: 'export-import', 'config-password': 'p-123456789' })).not.toContain(note);
  });

  const deployment: V1Deployment = {
    metadata: { name: 'md-core', generation: 1 },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'md-core' } },
      template: {
        spec: { containers: [{ name: 'md-core', image: 'opswat/metadefendercore-debian:5.19.0' }] },
      },
    },
  };
  /** Preflight against a cluster that serves KEDA or not and denies what `denied` matches. */
  const preflightWith = async (served: boolean, denied: (c: AccessCheck) => boolean) => {
    const asked: AccessCheck[] = [];
    const discovered: string[] = [];
    const kube = {
      namespaceExists: async () => true,
      getDeployment: async () => deployment,
      servesApi: async (group: string, version: string) => {
        discovered.push(`${group}/${version}`);
        return served;
      },
      missingPermissions: async (_ns: string, checks: AccessCheck[]) => {
        asked.push(...checks);
        return checks.filter(denied);
      },
    } as unknown as Kube;
    const details: string[] = [];
    const err = await preflight(kube, plan({ method: 'kubectl' }), {
      detail: (t) => details.push(t),
      warn: () => undefined,
    }).catch((e: unknown) => e);
    return { asked: asked.map(describeAccess), discovered, err, details };
  };

  it('preflight asks for the KEDA rule where ScaledObjects are served, and names it when missing', async () => {
    const r = await preflightWith(true, (c) => c.group === 'keda.sh' && c.verb === 'patch');
    expect(r.discovered).toEqual(['keda.sh/v1alpha1']);
    expect(r.asked).toContain('list scaledobjects.keda.sh');
    expect(r.err).toBeInstanceOf(PreflightError);
    expect((r.err as Error).message).toContain('lacks 1 permission(s) in namespace "mdcore"');
    expect((r.err as Error).message).toContain('  - patch scaledobjects.keda.sh');
  });

  it('without KEDA, preflight neither asks for the rule nor refuses, and says so in one detail line', async () => {
    const r = await preflightWith(false, (c) => c.group === 'keda.sh');
    expect(r.asked.filter((a) => a.includes('keda'))).toEqual([]);
    expect(r.details).toContain('KEDA is not installed (no keda.sh/v1alpha1 API): no ScaledObject to pause');
  });
});

// ---- the Kube requests, against a stand-in API server on 127.0.0.1 ----

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

interface Seen {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

const clientNodeVersion = clientNodePackage.version;

async function apiServer(
  kedaServed: boolean,
  listed: ScaledObject[] = [so('s', { name: 'md-core' })],
): Promise<{ kube: Kube; seen: Seen[]; kubeconfig: string; callers: string[] }> {
  const seen: Seen[] = [];
  const callers: string[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      seen.push({
        method: req.method ?? '',
        path,
        contentType: req.headers['content-type'],
        body: text ? JSON.parse(text) : undefined,
      });
      callers.push(`${req.headers['user-agent'] ?? ''} | ${req.headers.authorization ?? ''}`);
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!kedaServed || !path.startsWith('/apis/keda.sh/v1alpha1'))
        return reply(404, {
          kind: 'Status',
          code: 404,
          message: 'the server could not find the requested resource',
        });
      if (path === '/apis/keda.sh/v1alpha1')
        return reply(200, { kind: 'APIResourceList', groupVersion: 'keda.sh/v1alpha1', resources: [] });
      if (req.method === 'GET') return reply(200, { kind: 'ScaledObjectList', items: listed });
      if (path.endsWith('/stale'))
        return reply(409, { kind: 'Status', code: 409, message: 'the object has been modified' });
      return reply(200, so('s', { name: 'md-core' }, { [PAUSED_REPLICAS]: '1' }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${String(port)}", insecure-skip-tls-verify: true}}]`,
    'users: [{name: u, user: {token: test-token}}]',
    'contexts: [{name: x, context: {cluster: c, user: u}}]',
    'current-context: x',
  ].join('\n');
  return { kube: await Kube.connect({ kubeconfig }), seen, kubeconfig, callers };
}

describe('Kube: ScaledObjects', () => {
  it('KEDA not installed: discovery and the list answer 404, read as "not served"', async () => {
    const { kube, seen } = await apiServer(false);
    expect(await kube.servesApi('keda.sh', 'v1alpha1')).toBe(false);
    expect(await kube.listScaledObjects('mdcore')).toBeUndefined();
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'GET /apis/keda.sh/v1alpha1',
      'GET /apis/keda.sh/v1alpha1/namespaces/mdcore/scaledobjects',
    ]);
  });

  it('installed: discovery, the list, and a JSON merge patch of one ScaledObject', async () => {
    const { kube, seen } = await apiServer(true);
    expect(await kube.servesApi('keda.sh', 'v1alpha1')).toBe(true);
    expect((await kube.listScaledObjects('mdcore'))?.map((s) => s.metadata?.name)).toEqual(['s']);
    const body = { metadata: { resourceVersion: '10', annotations: { [PAUSED_REPLICAS]: '1' } } };
    await kube.patchScaledObject('mdcore', 's', body);
    const patch = seen.at(-1);
    expect(patch).toEqual({
      method: 'PATCH',
      path: '/apis/keda.sh/v1alpha1/namespaces/mdcore/scaledobjects/s',
      contentType: 'application/merge-patch+json',
      body,
    });
  });

  it("requests carry the client's user agent and the kubeconfig's token; a refused patch names the server's reason", async () => {
    const { kube, seen, callers } = await apiServer(true);
    expect(await kube.listScaledObjects('mdcore')).toHaveLength(1);
    const err = await kube
      .patchScaledObject('mdcore', 'stale', { metadata: { resourceVersion: '9' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).status).toBe(409);
    expect((err as KubeError).message).toBe(
      'patching ScaledObject mdcore/stale: HTTP 409: the object has been modified',
    );
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'GET /apis/keda.sh/v1alpha1/namespaces/mdcore/scaledobjects',
      'PATCH /apis/keda.sh/v1alpha1/namespaces/mdcore/scaledobjects/stale',
    ]);
    expect(new Set(callers)).toEqual(
      new Set([`kubernetes-client-javascript/${clientNodeVersion} | Bearer test-token`]),
    );
  });
});

describe('the post step (recoverFromJournal)', () => {
  const failingTools = {
    kubectl: () => Promise.reject(new Error('not used')),
    helm: () => Promise.reject(new Error('not used')),
  };
  const paused = [so('md-core-scaler', { name: 'md-core' }, { [PAUSED_REPLICAS]: '3' })];
  const cases: [string, Partial<JournalData>, string][] = [
    ['a run killed in its wrap-up (phase done)', { phase: 'done' }, 'none'],
    ['a failed run with rollback: none', { phase: 'changing', rollback: 'none' }, 'left'],
  ];
  for (const [name, over, action] of cases) {
    it(`puts KEDA back after ${name}, and records it`, async () => {
      const { seen, kubeconfig } = await apiServer(true, paused);
      const dir = mkdtempSync(join(tmpdir(), 'keda-journal-'));
      try {
        const file = join(dir, 'journal.json');
        new Journal(journalData({ keda: [ours], ...over }), file);
        const r = await recoverFromJournal(file, plan({ kubeconfig }), {
          reporter: new MemoryReporter(),
          tools: failingTools,
        });
        expect(r.action).toBe(action);
        expect(seen.filter((x) => x.method === 'PATCH').map((x) => x.body)).toEqual([
          { metadata: { resourceVersion: '10', annotations: { [PAUSED_REPLICAS]: null } } },
        ]);
        expect(Journal.load(file)?.kedaRestored).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('leaves a run that ended on purpose alone', async () => {
    const { seen, kubeconfig } = await apiServer(true, paused);
    const dir = mkdtempSync(join(tmpdir(), 'keda-journal-'));
    try {
      const file = join(dir, 'journal.json');
      new Journal(journalData({ keda: [ours], phase: 'done', kedaRestored: true }), file);
      await recoverFromJournal(file, plan({ kubeconfig }), {
        reporter: new MemoryReporter(),
        tools: failingTools,
      });
      expect(seen).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
