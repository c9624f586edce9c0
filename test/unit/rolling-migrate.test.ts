import { describe, expect, it } from 'vitest';
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { migrationStartupProbe, parseDf } from '../../src/steps/migrate-history.ts';
import { resolveIntOrPercent, rollingSettings } from '../../src/steps/rolling-settings.ts';

const dep = (
  replicas: number,
  maxSurge: number | string = 0,
  maxUnavailable?: number | string,
): V1Deployment => ({
  spec: {
    replicas,
    selector: {},
    template: {},
    strategy: {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge, ...(maxUnavailable !== undefined ? { maxUnavailable } : {}) },
    },
  },
});

describe('rollingSettings', () => {
  it('resolves percentages as the controller does', () => {
    expect(resolveIntOrPercent('25%', 5, true)).toBe(2);
    expect(resolveIntOrPercent('25%', 5, false)).toBe(1);
    expect(resolveIntOrPercent(3, 5, false)).toBe(3);
  });

  it("warns of downtime with the chart's defaults and one replica", () => {
    const r = rollingSettings({ maxSurge: undefined, maxUnavailable: undefined }, dep(1));
    expect(r.patch).toBeUndefined();
    expect(r.unavailable).toBe(1);
    expect(r.warnings.join()).toContain('DOWN during the upgrade');
  });

  it('warns that surge needs spare license activations', () => {
    const r = rollingSettings({ maxSurge: 1, maxUnavailable: 0 }, dep(3));
    expect(r.patch).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(r.warnings.join()).toContain('1 spare activation');
    expect(r.warnings.join()).not.toContain('DOWN');
  });

  it('refuses both zero, counting the current value of the input not given', () => {
    // The chart's maxSurge 0 plus a given maxUnavailable 0: the Deployment would end up with both zero.
    const r = rollingSettings({ maxSurge: undefined, maxUnavailable: 0 }, dep(3, 0));
    expect(r.problem).toContain('both zero');
    expect(rollingSettings({ maxSurge: undefined, maxUnavailable: 1 }, dep(3, 0)).problem).toBeUndefined();
    const both = rollingSettings({ maxSurge: 0, maxUnavailable: '0%' }, dep(3, 1));
    expect(both.problem).toContain('both zero');
  });

  it('has no downtime warning when one pod can stay up', () => {
    expect(rollingSettings({ maxSurge: 0, maxUnavailable: 1 }, dep(3)).warnings).toEqual([]);
  });
});

describe('MIGRATE_HISTORY helpers', () => {
  const c: V1Container = {
    name: 'md-core',
    readinessProbe: { httpGet: { path: '/readyz', port: 8008 }, periodSeconds: 10, timeoutSeconds: 10 },
    livenessProbe: { httpGet: { path: '/readyz', port: 8008 }, failureThreshold: 3 },
  };

  it('sizes a startup probe to cover migration-timeout', () => {
    const p = migrationStartupProbe(c, 7200);
    expect(p?.httpGet?.path).toBe('/readyz');
    expect((p?.failureThreshold ?? 0) * (p?.periodSeconds ?? 0)).toBeGreaterThanOrEqual(7260);
  });

  it('adds none without a liveness probe, or when an existing one is long enough', () => {
    expect(migrationStartupProbe({ ...c, livenessProbe: undefined }, 7200)).toBeUndefined();
    expect(
      migrationStartupProbe({ ...c, startupProbe: { periodSeconds: 10, failureThreshold: 1000 } }, 7200),
    ).toBeUndefined();
    expect(
      migrationStartupProbe({ ...c, startupProbe: { periodSeconds: 10, failureThreshold: 30 } }, 7200),
    ).toBeDefined();
  });

  it('parses df -B1 -P output', () => {
    const out =
      'Filesystem     1-blocks        Used   Available Capacity Mounted on\n/dev/sdb 10737418240 5368709120 5368709120 50% /var/lib/postgresql/data\n';
    expect(parseDf(out)).toEqual({ size: 10737418240, available: 5368709120 });
    expect(parseDf('garbage')).toBeUndefined();
  });
});
