// Unit tests of blue-green-hot-backup's pure decisions: the activation arithmetic, the next-activation guard,
// the cutover order, the licence answers after each call, the undo order and the summary table.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JournalData } from '../../src/engine/journal.ts';
import type { Facts } from '../../src/engine/step.ts';
import { fillGreenUrl } from '../../src/plan/green-url.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { addedRules, rbacRules, rulesYaml } from '../../src/plan/rbac.ts';
import { blueGreenFixture } from '../support/journal-fixture.ts';
import { rbacBlock, readmeText } from '../support/readme-blocks.ts';
import { pause } from '../../src/steps/blue-green.ts';
import { hotBackupView, manualHotBackupCommands } from '../../src/steps/hot-backup-rollback.ts';
import type { Route } from '../../src/steps/route.ts';
import { strategyFor } from '../../src/strategies/index.ts';
import {
  ACTIVATION_ATTEMPTS,
  ACTIVATION_RETRY_MS,
  activateWithRetry,
  activationPhases,
  activationTable,
  cutoverOrder,
  holdsLicence,
  licenceProblem,
  mayActivateNext,
  undoOrder,
  type HotBackupRecord,
} from '../../src/steps/hot-backup.ts';

describe('activationPhases (the licence arithmetic)', () => {
  it('keeps the peak at max(blue, green): exactly as many activations as pods fits', () => {
    const p = activationPhases(3, 3, 3);
    expect(p.problem).toBeUndefined();
    expect(p.peak).toBe(3);
    expect(p.phases.map((x) => [x.name, x.active])).toEqual([
      ['blue active, green backup', 3],
      ['blue stopped', 0],
      ['handover', 3],
      ['green active', 3],
    ]);
    expect(p.phases[0]).toMatchObject({ blueActive: 3, greenBackup: 3, greenActive: 0 });
  });

  it('every phase stays at or below the licensed count for any blue/green within it', () => {
    for (let licensed = 1; licensed <= 6; licensed++)
      for (let blue = 0; blue <= licensed; blue++)
        for (let green = 1; green <= licensed; green++) {
          const p = activationPhases(blue, green, licensed);
          expect(p.problem).toBeUndefined();
          for (const phase of p.phases) expect(phase.active).toBeLessThanOrEqual(licensed);
          expect(p.peak).toBe(Math.max(blue, green));
        }
  });

  it('refuses green above the licence, naming the input to lower', () => {
    expect(activationPhases(2, 3, 2).problem).toMatch(
      /green's 3 pod\(s\).*allows 2.*'green-replicas' to at most 2/,
    );
  });

  it('refuses when blue alone is above the count given (the count is wrong)', () => {
    expect(activationPhases(4, 2, 3).problem).toMatch(/blue runs 4 pod\(s\).*holds 3.*correct 'activations'/);
  });

  it('refuses a green of 0 pods', () => {
    expect(activationPhases(2, 0, 5).problem).toMatch(/at least 1 pod/);
  });

  it('warns, without refusing, when the licensed count is not given', () => {
    const p = activationPhases(2, 2, undefined);
    expect(p.problem).toBeUndefined();
    expect(p.warning).toMatch(/give input 'activations'/);
    expect(p.peak).toBe(2);
  });

  it('rejects counts that are not counts (a programming error)', () => {
    expect(() => activationPhases(-1, 1, 1)).toThrow(/internal/);
    expect(() => activationPhases(1, 1.5, 1)).toThrow(/internal/);
  });
});

describe('mayActivateNext', () => {
  it('waits while any blue pod exists, whatever the licence leaves', () => {
    expect(mayActivateNext({ bluePods: 1, greenActive: 0 }, 10)).toEqual({
      ok: false,
      why: expect.stringContaining('1 blue pod(s) still exist'),
    });
  });

  it('stops at the licensed count, and allows up to it', () => {
    expect(mayActivateNext({ bluePods: 0, greenActive: 1 }, 2)).toEqual({ ok: true });
    expect(mayActivateNext({ bluePods: 0, greenActive: 2 }, 2)).toMatchObject({ ok: false });
    expect(mayActivateNext({ bluePods: 0, greenActive: 9 }, undefined)).toEqual({ ok: true });
  });
});

describe('cutoverOrder', () => {
  it('blue stops and is gone before green takes activations; scanning is checked before the Service switches', () => {
    const order = cutoverOrder();
    const at = (s: string) => order.indexOf(s as (typeof order)[number]);
    expect(order).toHaveLength(6);
    expect(at('stop-blue')).toBeLessThan(at('wait-blue-gone'));
    expect(at('wait-blue-gone')).toBeLessThan(at('activate-green'));
    expect(at('activate-green')).toBeLessThan(at('check-scanning'));
    expect(at('check-scanning')).toBeLessThan(at('switch-service'));
    expect(at('switch-service')).toBeLessThan(at('confirm-endpoints'));
  });
});

describe('licence answers after each call', () => {
  it('holdsLicence needs positive days_left', () => {
    expect(holdsLicence({ days_left: 10 })).toBe(true);
    expect(holdsLicence({ days_left: 0 })).toBe(false);
    expect(holdsLicence({ deployment_id: 'MSCL1' })).toBe(false);
  });

  it('after register a licence must show; after remove none; after activate a licence', () => {
    const licensed = { days_left: 30 };
    const none = { deployment_id: 'MSCL1' };
    expect(licenceProblem('g1', 'after-register', licensed)).toBeUndefined();
    expect(licenceProblem('g1', 'after-register', none)).toMatch(
      /g1 was registered as hot backup .* shows no valid licence: .*docs\/hot-backup\.md/,
    );
    expect(licenceProblem('g1', 'after-remove', none)).toBeUndefined();
    expect(licenceProblem('g1', 'after-remove', licensed)).toMatch(/still shows a licence \(30 days left\)/);
    expect(licenceProblem('g1', 'after-activate', licensed)).toBeUndefined();
    expect(licenceProblem('g1', 'after-activate', none)).toMatch(/g1 was activated .* no valid licence/);
  });
});

describe('undoOrder (from the journal record)', () => {
  const base: HotBackupRecord = {
    blueReplicas: 3,
    registered: [],
    blueStopped: false,
    activated: [],
    switched: false,
    greenCreated: false,
    previewCreated: false,
  };

  it('nothing created: nothing to undo, blue untouched', () => {
    expect(undoOrder(base)).toEqual({ actions: [], activationsAfter: 3, blue: 'untouched' });
  });

  it('before blue stopped: unregister green, delete green and preview; blue is never touched', () => {
    const u = undoOrder({ ...base, registered: ['g1', 'g2'], greenCreated: true, previewCreated: true });
    expect(u.actions).toEqual([
      { do: 'unregister-green', pods: ['g1', 'g2'] },
      { do: 'delete-green', waitGone: false },
      { do: 'delete-preview' },
    ]);
    expect(u.blue).toBe('untouched');
    expect(u.actions.some((a) => a.do === 'scale-blue')).toBe(false);
  });

  it('after blue stopped and the switch: Service back, green gone (activations freed), then blue scaled and awaited', () => {
    const u = undoOrder({
      ...base,
      registered: ['g1'],
      blueStopped: true,
      activated: ['g1'],
      switched: true,
      greenCreated: true,
      previewCreated: true,
    });
    expect(u.actions).toEqual([
      { do: 'switch-back' },
      { do: 'delete-green', waitGone: true },
      { do: 'delete-preview' },
      { do: 'scale-blue', replicas: 3 },
      { do: 'wait-blue-ready' },
    ]);
    expect(u.activationsAfter).toBe(3);
    expect(u.blue).toMatch(/scaled back to 3/);
  });

  it('blue stopped but not switched: no switch back; green still goes before blue returns', () => {
    const u = undoOrder({ ...base, blueStopped: true, greenCreated: true });
    const kinds = u.actions.map((a) => a.do);
    expect(kinds).toEqual(['delete-green', 'scale-blue', 'wait-blue-ready']);
    expect(kinds.indexOf('delete-green')).toBeLessThan(kinds.indexOf('scale-blue'));
  });
});

describe('activationTable', () => {
  it('lists the phases, the peak of the licensed count and the hand-over time', () => {
    const t = activationTable(activationPhases(2, 2, 2), 2, 4_260);
    expect(t).toContain('| blue active, green backup | 2 | 2 | 0 | 2 |');
    expect(t).toContain('| blue stopped | 0 | 2 | 0 | 0 |');
    expect(t).toContain('| green active | 0 | 0 | 2 | 2 |');
    expect(t).toContain(
      'Peak: 2 activation(s) of 2 licensed. Hand-over (blue stopped to green serving): 4.3 s.',
    );
  });

  it('says when the licensed count was not given and leaves out an unmeasured hand-over', () => {
    const t = activationTable(activationPhases(1, 1, undefined), undefined, undefined);
    expect(t).toMatch(/Peak: 1 activation\(s\) \(licensed count not given\)\.$/);
  });
});

describe('strategy blue-green-hot-backup: steps in order, inputs', () => {
  const route: Route<unknown> = {
    name: 'kubectl',
    prepare: () => Promise.reject(new Error('not run in this test')),
    applyTitle: 'not run',
    apply: () => Promise.reject(new Error('not run in this test')),
  };
  const facts = { state: {}, route, db: { name: 'metadefender_core', reason: 'test' } } as unknown as Facts;
  const inputs = { namespace: 'mdcore', tag: '5.20.0', strategy: 'blue-green-hot-backup' };

  it('registers and verifies green before the cutover, whose steps follow cutoverOrder; blue is never held', () => {
    const p = parseInputs({
      ...inputs,
      'green-api-url': 'https://{pod-ip}:8008',
      'api-url': 'http://md-core:8008',
    });
    if (!p.ok) throw new Error(p.errors.map((e) => e.message).join('\n'));
    const s = strategyFor(p.plan)(p.plan, facts);
    expect(s.checks.map((x) => x.id)).toEqual(['plan-blue-green', 'plan-hot-backup', 'api']);
    expect(s.changes.map((x) => x.id)).toEqual([
      'create-green',
      'register-backup',
      'wait',
      'verify-backups',
      'stop-blue',
      'wait-blue-gone',
      'activate-green',
      'check-scanning',
      'switch',
      'endpoints',
      'handover-time',
      'verify-serving',
    ]);
    expect(s.wrapUp.map((x) => x.id)).toEqual(['record', 'colors', 'activations']);
  });

  it("with config-password: blue's configuration exported before any change, imported into green after registration", () => {
    const p = parseInputs({
      ...inputs,
      'green-api-url': 'https://{pod-ip}:8008',
      'api-url': 'http://md-core:8008',
      'config-password': 'pw-123456',
    });
    if (!p.ok) throw new Error(p.errors.map((e) => e.message).join('\n'));
    const s = strategyFor(p.plan)(p.plan, facts);
    expect(s.checks.map((x) => x.id)).toEqual(['plan-blue-green', 'plan-hot-backup', 'api', 'export']);
    expect(s.changes.map((x) => x.id).slice(0, 4)).toEqual([
      'create-green',
      'register-backup',
      'import-green',
      'wait',
    ]);
  });

  it("refuses config-password without api-url (blue's export goes through it)", () => {
    const p = parseInputs({
      ...inputs,
      'green-api-url': 'https://{pod-ip}:8008',
      'config-password': 'pw-123456',
    });
    expect(p.ok).toBe(false);
    if (!p.ok)
      expect(p.errors.map((e) => e.message).join('\n')).toMatch(
        /'config-password' with 'strategy' blue-green-hot-backup .* give 'api-url'/,
      );
  });

  it('refuses a green-api-url that cannot address one instance, before any contact', () => {
    for (const given of [{}, { 'green-api-url': 'http://{preview}.{namespace}.svc:8008' }]) {
      const p = parseInputs({ ...inputs, ...given });
      expect(p.ok).toBe(false);
      if (!p.ok)
        expect(p.errors.map((e) => e.message).join('\n')).toMatch(
          /'green-api-url' must address each green instance .*\{pod-ip\} or \{pod\}/,
        );
    }
  });

  it('refuses migrate-history as blue-green does', () => {
    const p = parseInputs({ ...inputs, 'green-api-url': 'http://{pod}:8008', 'migrate-history': 'true' });
    expect(p.ok).toBe(false);
  });

  it('fills {pod} and {pod-ip} (IPv6 in brackets) in green-api-url', () => {
    const names = { preview: 'p', namespace: 'n' };
    expect(fillGreenUrl('http://{pod-ip}:8008', { ...names, podIp: '10.1.2.3' })).toBe(
      'http://10.1.2.3:8008',
    );
    expect(fillGreenUrl('http://{pod-ip}:8008', { ...names, podIp: 'fd00::1' })).toBe(
      'http://[fd00::1]:8008',
    );
    expect(fillGreenUrl('http://127.0.0.1:1/i/{pod}', { ...names, pod: 'g-1' })).toBe(
      'http://127.0.0.1:1/i/g-1',
    );
    expect(fillGreenUrl('http://{pod}:8008', names)).toBe('http://{pod}:8008');
  });
});

describe('activateWithRetry (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function attempts(refusals: number, opts: { licensedAfter?: number } = {}) {
    let calls = 0;
    const retries: number[] = [];
    return {
      t: {
        activate: () =>
          ++calls <= refusals ? Promise.reject(new Error(`refused ${calls}`)) : Promise.resolve(),
        licensed: () => Promise.resolve(opts.licensedAfter !== undefined && calls >= opts.licensedAfter),
        sleep: (ms: number) => pause(ms, undefined),
        onRetry: (n: number) => void retries.push(n),
      },
      calls: () => calls,
      retries,
    };
  }

  it('tries again ACTIVATION_RETRY_MS apart while Core refuses, then succeeds', async () => {
    vi.useFakeTimers();
    const a = attempts(2);
    const done = activateWithRetry(a.t);
    await vi.advanceTimersByTimeAsync(ACTIVATION_RETRY_MS - 1);
    expect(a.calls()).toBe(2 - 1);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.calls()).toBe(2);
    await vi.advanceTimersByTimeAsync(ACTIVATION_RETRY_MS);
    await expect(done).resolves.toEqual({ attempts: 3 });
    expect(a.retries).toEqual([1, 2]);
  });

  it('gives up after ACTIVATION_ATTEMPTS with the last refusal', async () => {
    vi.useFakeTimers();
    const a = attempts(1000);
    const done = activateWithRetry(a.t);
    const caught = done.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(ACTIVATION_RETRY_MS * ACTIVATION_ATTEMPTS);
    expect(await caught).toEqual(new Error(`refused ${ACTIVATION_ATTEMPTS}`));
    expect(a.calls()).toBe(ACTIVATION_ATTEMPTS);
    expect(a.retries).toHaveLength(ACTIVATION_ATTEMPTS - 1);
  });

  it('a refusal after which the instance holds a licence counts as done (the answer was lost)', async () => {
    const a = attempts(1, { licensedAfter: 1 });
    await expect(activateWithRetry(a.t)).resolves.toEqual({ attempts: 1 });
    expect(a.retries).toEqual([]);
  });

  it('stops at once when the run is cancelled during the wait', async () => {
    const a = attempts(5);
    const ctl = new AbortController();
    ctl.abort();
    await expect(activateWithRetry({ ...a.t, sleep: (ms) => pause(ms, ctl.signal) })).rejects.toThrow(
      'refused 1',
    );
    expect(a.calls()).toBe(1);
  });
});

describe('README.md', () => {
  it("lists blue-green-hot-backup's extra rule beyond blue-green's exactly", () => {
    const common = {
      namespace: 'mdcore',
      tag: '5.20.0',
      method: 'kubectl',
      'api-url': 'https://md-core.mdcore.svc:8008',
    };
    const bg = parseInputs({
      ...common,
      strategy: 'blue-green',
      'green-api-url': 'https://{preview}.{namespace}.svc:8008',
    });
    const hb = parseInputs({
      ...common,
      strategy: 'blue-green-hot-backup',
      'green-api-url': 'https://{pod-ip}:8008',
    });
    if (!bg.ok || !hb.ok) throw new Error('inputs');
    const added = addedRules(
      rbacRules(bg.plan, { route: 'kubectl' }),
      rbacRules(hb.plan, { route: 'kubectl' }),
    );
    expect(rbacBlock('hot-backup', readmeText())).toBe(`${rulesYaml(added, 0)}\n`);
    const keyGiven = parseInputs({
      ...common,
      strategy: 'blue-green-hot-backup',
      'green-api-url': 'https://{pod-ip}:8008',
      'license-key': 'LK-1234567890',
    });
    if (!keyGiven.ok) throw new Error('inputs');
    expect(
      addedRules(rbacRules(bg.plan, { route: 'kubectl' }), rbacRules(keyGiven.plan, { route: 'kubectl' })),
    ).toEqual([]);
  });
});

describe('manualHotBackupCommands (the undo by hand, from the journal)', () => {
  const j = { namespace: 'mdcore' } as JournalData;
  const bg = blueGreenFixture({
    greenCreated: true,
    previewCreated: true,
    switched: true,
    blueScaled: true,
    hotBackup: { registered: ['g1'], activated: ['g1'] },
  });

  it('after the switch: Service back, green deleted and its pods awaited, preview deleted, blue scaled and awaited', () => {
    expect(manualHotBackupCommands(j, bg)).toEqual([
      `kubectl patch service md-core -n mdcore --type=json -p '[{"op":"replace","path":"/spec/selector","value":{"app":"md-core"}}]'`,
      'kubectl delete deployment md-core-green -n mdcore --wait=true',
      'kubectl wait --for=delete pod -l app=md-core-green,mdcore-upgrade.opswat.com/color=green -n mdcore --timeout=600s',
      'kubectl delete service md-core-green-preview -n mdcore',
      'kubectl scale deployment/md-core -n mdcore --replicas=2',
      'kubectl rollout status deployment/md-core -n mdcore',
    ]);
  });

  it('before blue was stopped: only green and its preview go', () => {
    expect(manualHotBackupCommands(j, { ...bg, switched: false, blueScaled: false })).toEqual([
      'kubectl delete deployment md-core-green -n mdcore --wait=true',
      'kubectl delete service md-core-green-preview -n mdcore',
    ]);
  });

  it('the journal view keeps the registrations and reads blue stopped from blueScaled', () => {
    expect(hotBackupView(bg, { registered: ['g1', 'g2'], activated: [] })).toMatchObject({
      blueStopped: true,
      registered: ['g1', 'g2'],
      blueReplicas: 2,
    });
  });
});
