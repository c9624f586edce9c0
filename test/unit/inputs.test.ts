import { describe, expect, it } from 'vitest';
import { formatInputErrors, parseDuration, parseInputs, type RawInputs } from '../../src/plan/inputs.ts';

const base: RawInputs = { namespace: 'mdcore', tag: '5.20.0' };

function errorsFor(extra: RawInputs): string[] {
  const res = parseInputs({ ...base, ...extra });
  if (res.ok) return [];
  return res.errors.map((e) => e.message);
}

describe('parseInputs: defaults', () => {
  it('builds a frozen plan with the documented defaults', () => {
    const res = parseInputs(base);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const p = res.plan;
    expect(p).toMatchObject({
      namespace: 'mdcore',
      tag: '5.20.0',
      image: 'opswat/metadefendercore-debian',
      strategy: 'rolling-update',
      method: 'auto',
      migrateHistory: false,
      deployment: 'md-core',
      container: 'md-core',
      upgradeDb: true,
      timeoutSeconds: 900,
      migrationTimeoutSeconds: 7200,
      rollback: 'auto',
      dryRun: false,
      force: false,
      kubectlVersion: '1.36.3',
      helmVersion: '3.22.0',
    });
    expect(p.release).toBeUndefined();
    expect(p.maxSurge).toBeUndefined();
    expect(Object.isFrozen(p)).toBe(true);
  });

  it('accepts good values in every shape', () => {
    const res = parseInputs({
      ...base,
      strategy: 'Export-Import',
      'config-password': 'pw-1234',
      'migrate-history': 'TRUE',
      'max-surge': '25%',
      'max-unavailable': '0',
      timeout: '1h30m',
      'migration-timeout': '3h',
      image: 'registry.example.com:5000/opswat/metadefendercore-debian',
      set: 'a.b=1\n# comment\ncore_components.md-core.replicas=3\n',
      'values-files': 'values.yaml\nprod.yaml',
      'retry-upgrade': '5',
      'kubectl-version': 'v1.34',
      'helm-version': '4',
      'tools-mirror': 'https://mirror.internal/tools/',
      'api-url': 'http://md-core.mdcore:8008',
    });
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.plan.strategy).toBe('export-import');
    expect(res.plan.migrateHistory).toBe(true);
    expect(res.plan.maxSurge).toBe('25%');
    expect(res.plan.maxUnavailable).toBe(0);
    expect(res.plan.timeoutSeconds).toBe(5400);
    expect(res.plan.set).toEqual([
      { key: 'a.b', value: '1' },
      { key: 'core_components.md-core.replicas', value: '3' },
    ]);
    expect(res.plan.valuesFiles).toEqual(['values.yaml', 'prod.yaml']);
    expect(res.plan.kubectlVersion).toBe('1.34');
    expect(res.plan.toolsMirror).toBe('https://mirror.internal/tools');
  });
});

describe('parseDuration', () => {
  it.each([
    ['900', 900],
    ['900s', 900],
    ['15m', 900],
    ['1h30m', 5400],
    ['1h', 3600],
    ['2m5s', 125],
  ])('%s = %i s', (text, seconds) => expect(parseDuration(text)).toBe(seconds));
  it.each(['', '15x', '1.5h', 'm', '-5', '1d', '15 m'])('%j is not a duration', (t) =>
    expect(parseDuration(t)).toBeUndefined(),
  );
});

// [input, value, a fragment the message must contain]
const BAD: [string, string, string][] = [
  ['namespace', 'MDCore', 'DNS-1123 label'],
  ['namespace', 'md_core', 'DNS-1123 label'],
  ['namespace', 'mdcore;rm -rf /', 'DNS-1123 label'],
  ['namespace', 'mdcore\nkube-system', 'DNS-1123 label'],
  ['namespace', 'a'.repeat(64), 'DNS-1123 label'],
  ['namespace', 'mdсore', 'DNS-1123 label'], // Cyrillic "с"
  ['namespace', '-mdcore', 'DNS-1123 label'],
  ['namespace', 'mdcore$(id)', 'DNS-1123 label'],
  ['tag', '5.20.0;reboot', 'must match'],
  ['tag', '.5.20', 'must match'],
  ['tag', '5.20.0 ', ''], // trailing space trims to a valid tag: checked separately below
  ['tag', 'x'.repeat(129), 'must match'],
  ['tag', '5.20.０', 'must match'], // full-width zero
  ['tag', '5.20.0\n', ''],
  ['tag', 'latest`id`', 'must match'],
  ['tag', '5.20:0', 'must match'],
  ['image', 'opswat/metadefendercore-debian:5.20.0', 'tag is not accepted'],
  ['image', 'opswat/metadefendercore-debian@sha256:abc', 'digest is not accepted'],
  ['image', 'OPSWAT/core', 'path component'],
  ['image', 'opswat//core', 'path component'],
  ['image', 'opswat/core;ls', 'path component'],
  ['image', 'bad_host.example.com:99999x/core', 'registry host'],
  ['strategy', 'canary', 'one of'],
  ['strategy', 'blue-green', 'not available yet'],
  ['method', 'kustomize', 'one of'],
  ['rollback', 'manual', 'one of'],
  ['migrate-history', 'yes', 'true or false'],
  ['migrate-history', '1', 'true or false'],
  ['dry-run', 'ture', 'true or false'],
  ['force', 'on', 'true or false'],
  ['upgrade-db', 'TRUE!', 'true or false'],
  ['timeout', '15x', 'duration'],
  ['timeout', '1.5h', 'duration'],
  ['timeout', '5', 'at least 10 seconds'],
  ['timeout', '999h', 'at most 168h'],
  ['migration-timeout', 'forever', 'duration'],
  ['max-surge', '-1', 'whole number'],
  ['max-surge', '101%', 'percentage'],
  ['max-unavailable', '1.5', 'whole number'],
  ['max-unavailable', 'half', 'whole number'],
  ['retry-upgrade', '0', '1 to 100'],
  ['retry-upgrade', 'five', '1 to 100'],
  ['release', 'MDCore', 'Helm release name'],
  ['release', 'r'.repeat(54), 'Helm release name'],
  ['deployment', 'md core', 'DNS-1123 subdomain'],
  ['container', 'md.core', 'DNS-1123 label'],
  ['kubectl-version', '1', 'stable, latest'],
  ['kubectl-version', 'edge', 'stable, latest'],
  ['helm-version', '2', 'latest, 3, 4'],
  ['helm-version', '3.x', 'latest, 3, 4'],
  ['tools-mirror', 'ftp://mirror/tools', 'http'],
  ['tools-mirror', 'not a url', 'http'],
  ['api-url', 'md-core:8008', 'http'],
  ['set', 'novalue', 'key=value'],
  ['set', '=1', 'key=value'],
  ['set', 'a b=1', 'key=value'],
  ['set', 'x;$(id)=1', 'key=value'],
  ['from-db-name', 'metadefender-core', 'database name'],
  ['from-db-name', "x'; drop table y;--", 'database name'],
  ['chart-version', 'five', 'chart version'],
  ['context', 'ctx\u0000name', 'single-line'],
];

describe('parseInputs: bad inputs', () => {
  it(`has at least 40 bad cases (${BAD.length})`, () => expect(BAD.length).toBeGreaterThanOrEqual(40));

  it.each(BAD.filter(([, , frag]) => frag !== ''))('%s = %j is refused', (input, value, fragment) => {
    const errors = errorsFor({ [input]: value });
    expect(errors.length).toBeGreaterThan(0);
    const msg = errors.join('\n');
    expect(msg).toContain(`'${input}'`);
    expect(msg).toContain(fragment);
    // The message never repeats raw control characters.
    // eslint-disable-next-line no-control-regex
    expect(msg).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });

  it('trims surrounding whitespace of non-secret inputs rather than refusing it', () => {
    const res = parseInputs({ ...base, tag: ' 5.20.0\n' });
    expect(res.ok && res.plan.tag).toBe('5.20.0');
  });

  it('names every missing required input at once', () => {
    const res = parseInputs({});
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.errors.map((e) => e.input).sort()).toEqual(['namespace', 'tag']);
    expect(formatInputErrors(res.errors)).toMatch(
      /2 inputs are not valid; nothing in the cluster was changed/,
    );
  });

  it('reports several bad inputs together', () => {
    const errors = errorsFor({ namespace: 'BAD', timeout: 'x', strategy: 'canary' });
    expect(errors).toHaveLength(3);
  });

  it('refuses max-surge and max-unavailable both zero', () => {
    expect(errorsFor({ 'max-surge': '0', 'max-unavailable': '0%' }).join()).toContain('cannot both be zero');
  });

  it('refuses migration-timeout shorter than timeout under migrate-history', () => {
    expect(
      errorsFor({ 'migrate-history': 'true', timeout: '1h', 'migration-timeout': '30m' }).join(),
    ).toContain('must not be shorter');
  });

  it('requires config-password for export-import', () => {
    expect(errorsFor({ strategy: 'export-import' }).join()).toContain("'config-password' is required");
  });

  it('refuses helm-only inputs on the kubectl route', () => {
    expect(errorsFor({ method: 'kubectl', chart: './chart' }).join()).toContain('apply to the helm route');
    expect(errorsFor({ method: 'kubectl', rollback: 'helm-rollback' }).join()).toContain(
      "needs 'method' helm",
    );
  });

  it('refuses unknown inputs', () => {
    expect(errorsFor({ namspace: 'x' }).join()).toContain("input 'namspace' is not known");
  });

  it('never echoes secret values', () => {
    const res = parseInputs({
      ...base,
      'api-key': 'SECRET-KEY-123',
      'config-password': 'PW-456',
      strategy: 'nope',
    });
    expect(res.ok).toBe(false);
    const text = res.ok ? '' : formatInputErrors(res.errors);
    expect(text).not.toContain('SECRET-KEY-123');
    expect(text).not.toContain('PW-456');
  });

  it('shortens very long values in messages', () => {
    const msg = errorsFor({ namespace: 'x'.repeat(5000) }).join();
    expect(msg.length).toBeLessThan(400);
    expect(msg).toContain('5000 characters');
  });
});
