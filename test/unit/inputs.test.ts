import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  formatInputErrors,
  parseDuration,
  parseInputs,
  secretsOfInput,
  type RawInputs,
} from '../../src/plan/inputs.ts';
import { isClusterInternalHost, isLoopbackHost } from '../../src/plan/url-policy.ts';
import { localFiles, valuesFileProblem } from '../../src/plan/values-files.ts';

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
    const res = parseInputs(
      {
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
        'api-url': 'http://md-core.mdcore.svc:8008',
      },
      { files: false },
    );
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
  ['green-replicas', '0', 'whole number from 1 to 100'],
  ['green-replicas', 'two', 'whole number from 1 to 100'],
  ['activations', '-1', 'whole number from 1 to 10000'],
  ['activations', '0', 'whole number from 1 to 10000'],
  ['activations', '10001', 'whole number from 1 to 10000'],
  ['activations', 'four', 'whole number from 1 to 10000'],
  ['green-replicas', '101', 'whole number from 1 to 100'],
  ['green-replicas', '1.5', 'whole number from 1 to 100'],
  ['scale-down-delay', '-5', '(0: blue goes right after the switch)'],
  ['service', 'md-core.svc', 'DNS-1123 label'],
  ['green-api-url', 'proxi', 'http:// or https://'],
  ['scale-down-delay', 'soon', 'duration'],
  ['scale-down-delay', '2h', 'at most 1h'],
  ['service', 'MD_Core', 'DNS-1123 label'],
  ['green-api-url', 'ftp://md-core:8008', 'http:// or https://'],
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

describe('parseInputs: plain http for api-url and tools-mirror', () => {
  it.each([
    'http://127.0.0.1:8008',
    'http://127.3.2.1:8008',
    'http://[::1]:8008',
    'http://localhost:8008',
    'http://md-core:8008',
    'http://svc',
    'http://md-core.mdcore.svc:8008',
    'http://md-core.mdcore.svc.cluster.local:8008',
    'http://md-core.mdcore.cluster.local',
    'https://md-core.example.com',
  ])('accepts %s', (url) => {
    expect(errorsFor({ 'api-url': url, 'tools-mirror': url })).toEqual([]);
  });

  it.each([
    'http://md-core.example.com:8008',
    'http://md-core.mdcore:8008', // service.namespace cannot be told from a public name
    'http://10.0.0.5:8008',
    'http://128.0.0.1',
  ])('refuses %s unless allow-insecure-http is true', (url) => {
    const api = errorsFor({ 'api-url': url }).join('\n');
    expect(api).toContain("input 'api-url' uses plain http://");
    expect(api).toContain("'allow-insecure-http: true'");
    expect(api).toContain('https://');
    expect(errorsFor({ 'tools-mirror': url }).join('\n')).toContain(
      "input 'tools-mirror' uses plain http://",
    );
    expect(errorsFor({ 'api-url': url, 'tools-mirror': url, 'allow-insecure-http': 'true' })).toEqual([]);
  });

  it('never repeats mirror credentials, in the http refusal or in a malformed URL', () => {
    const insecure = errorsFor({ 'tools-mirror': 'http://robot:TOKEN-6a7b@mirror.example.com/k8s/' }).join();
    expect(insecure).toContain('mirror.example.com');
    expect(insecure).not.toContain('TOKEN-6a7b');
    const malformed = errorsFor({ 'tools-mirror': 'ftp://robot:TOKEN-6a7b@mirror' }).join();
    expect(malformed).toContain("input 'tools-mirror' is not valid");
    expect(malformed).not.toContain('TOKEN-6a7b');
  });

  it('tells loopback and cluster-internal hosts from others', () => {
    expect(
      ['127.0.0.1', '[::1]', '::ffff:127.0.0.1', 'LOCALHOST', 'a.localhost'].map(isLoopbackHost),
    ).toEqual([true, true, true, true, true]);
    expect(['126.0.0.1', '127.0.0.256', '::2', 'localhost.example.com'].map(isLoopbackHost)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(
      ['md-core', 'a.b.svc', 'a.b.svc.cluster.local', 'x.cluster.local.'].map(isClusterInternalHost),
    ).toEqual([true, true, true, true]);
    expect(['.svc', 'svc.example.com', 'a.b', '10', 'svc-evil.com'].map(isClusterInternalHost)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('parseInputs: set and set-secret', () => {
  it('parses set-secret lines into the plan and masks every value from the moment it is read', () => {
    const raw =
      'core_components.postgres-core.password=PG-SECRET-77\n# note\nanother.key=S3CR3T=with=equals ';
    const res = parseInputs({ ...base, 'set-secret': raw });
    expect(res.ok && res.plan.setSecret).toEqual([
      { key: 'core_components.postgres-core.password', value: 'PG-SECRET-77' },
      { key: 'another.key', value: 'S3CR3T=with=equals' },
    ]);
    const masked = secretsOfInput('set-secret', raw);
    expect(masked).toContain('PG-SECRET-77');
    expect(masked).toContain('S3CR3T=with=equals');
    expect(masked).toContain(raw);
  });

  it.each(['set', 'set-secret'])('%s errors name the line and never its value', (input) => {
    const first = errorsFor({ [input]: 'ok.key=1\n\npassword: HUNTER2-xyz' }).join('\n');
    expect(first).toContain(`input '${input}' is not valid: line 3 has no "="`);
    expect(first).not.toContain('HUNTER2');
    const second = errorsFor({ [input]: 'a=1\nbad key HUNTER2=value-SECRET' }).join('\n');
    expect(second).toContain('line 2: the text before "=" is not a Helm value path');
    expect(second).not.toContain('HUNTER2');
    expect(second).not.toContain('value-SECRET');
  });

  it('refuses overlapping set-secret paths and a second license key, naming the key only', () => {
    expect(errorsFor({ 'set-secret': 'a.b=SECRET-1\na.b.c=SECRET-2' }).join()).toMatch(
      /input 'set-secret' key "a.b.c": it overlaps another line/,
    );
    const lic = errorsFor({ 'set-secret': 'mdcore_license_key=LIC-1', 'license-key': 'LIC-2' }).join();
    expect(lic).toContain("which the 'license-key' input already sets");
    expect(lic).not.toMatch(/LIC-[12]/);
    expect(errorsFor({ 'set-secret': 'list[0]=SECRET-3' }).join()).toContain('list indexes');
  });

  it('refuses set-secret on the kubectl route', () => {
    expect(errorsFor({ method: 'kubectl', 'set-secret': 'a=SECRET-4' }).join()).toContain(
      "'set' and 'set-secret' apply to the helm route",
    );
  });

  it('masks the credentials of a tools-mirror URL, encoded or not', () => {
    expect(secretsOfInput('tools-mirror', 'https://robot:p%40ss-1@mirror.example.com/')).toEqual(
      expect.arrayContaining(['robot:p%40ss-1', 'p%40ss-1', 'p@ss-1']),
    );
    expect(secretsOfInput('tools-mirror', 'https://mirror.example.com/')).toEqual([]);
    expect(secretsOfInput('namespace', 'mdcore')).toEqual([]);
    expect(secretsOfInput('api-key', ' KEY ')).toEqual([' KEY ']);
  });
});

describe('parseInputs: values that reach helm or kubectl as positional arguments', () => {
  it.each([
    ['chart', '-x'],
    ['chart', '--post-renderer=/bin/sh'],
    ['values-files', '--kubeconfig=/tmp/other'],
  ])('refuses %s = %j, which would be read as an option', (input, value) => {
    const msg = errorsFor({ [input]: value }).join();
    expect(msg).toContain(`'${input}'`);
    expect(msg).toContain('begins with "-"');
  });

  it('release, namespace, deployment and tag cannot begin with "-"', () => {
    for (const input of ['release', 'namespace', 'deployment', 'container', 'tag', 'image'])
      expect(errorsFor({ [input]: '-v' }).join(), input).toContain(`'${input}'`);
  });

  it('accepts a chart path written as ./-chart', () => {
    const res = parseInputs({ ...base, chart: './-chart' });
    expect(res.ok && res.plan.chart).toBe('./-chart');
  });
});

describe('parseInputs: values files are checked before any cluster contact', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'values-files-test-'));
  const workspace = path.join(root, 'ws');
  const outside = path.join(root, 'outside');
  mkdirSync(path.join(workspace, 'dir'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(workspace, 'good.yaml'), 'a: 1\nb:\n  c: two\n');
  writeFileSync(path.join(workspace, 'empty.yaml'), '# nothing yet\n');
  writeFileSync(path.join(workspace, 'broken.yaml'), 'password: PW-IN-FILE-123\n  bad: [indent\n');
  writeFileSync(path.join(workspace, 'list.yaml'), '- a\n- b\n');
  writeFileSync(path.join(outside, 'abs.yaml'), 'x: 1\n');
  symlinkSync(path.join(outside, 'abs.yaml'), path.join(workspace, 'escape.yaml'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const files = localFiles(workspace, workspace);
  const problems = (list: string): string[] => {
    const res = parseInputs({ ...base, 'values-files': list }, { files });
    return res.ok ? [] : res.errors.map((e) => e.message);
  };

  it('accepts files inside the workspace, empty ones, and absolute paths anywhere', () => {
    expect(problems(`good.yaml\n./empty.yaml\n${path.join(outside, 'abs.yaml')}`)).toEqual([]);
  });

  it.each([
    ['missing.yaml', 'does not exist'],
    ['../outside/abs.yaml', 'outside the workspace'],
    ['escape.yaml', 'outside the workspace'],
    ['dir', 'is not a regular file'],
    ['broken.yaml', 'is not valid YAML'],
    ['list.yaml', 'does not hold a map of values'],
  ])('refuses %s: %s', (file, fragment) => {
    const msg = problems(file).join('\n');
    expect(msg).toContain(`input 'values-files': "${file}"`);
    expect(msg).toContain(fragment);
  });

  it('names the line of a YAML error, never the file content', () => {
    const msg = problems('broken.yaml').join();
    expect(msg).toMatch(/line \d+, column \d+/);
    expect(msg).not.toContain('PW-IN-FILE-123');
  });

  it('reports a file problem together with other input problems', () => {
    const res = parseInputs({ ...base, timeout: 'x', 'values-files': 'missing.yaml' }, { files });
    expect(res.ok ? [] : res.errors.map((e) => e.input).sort()).toEqual(['timeout', 'values-files']);
  });

  it('checks the real disk by default and not at all with files: false', () => {
    const list = path.join(root, 'nowhere', 'values.yaml');
    expect(parseInputs({ ...base, 'values-files': list }).ok).toBe(false);
    expect(parseInputs({ ...base, 'values-files': list }, { files: false }).ok).toBe(true);
  });

  it('reports an unreadable file by its errno, not its content', () => {
    const denied = {
      ...files,
      read: () => {
        throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      },
    };
    expect(valuesFileProblem('good.yaml', denied)).toBe('"good.yaml" cannot be read (permission denied)');
  });
});

describe('parseInputs: new inputs reach the plan', () => {
  it('allow-insecure-http defaults to false', () => {
    const res = parseInputs(base);
    expect(res.ok && res.plan.allowInsecureHttp).toBe(false);
    expect(res.ok && res.plan.setSecret).toEqual([]);
  });
});

describe('helm value paths of set-secret', () => {
  it('never reach an object prototype, and name constructor-like keys as plain values', () => {
    expect(errorsFor({ 'set-secret': '__proto__.polluted=SECRET-5' }).join()).toContain('__proto__');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    const res = parseInputs({ ...base, 'set-secret': 'constructor.name=SECRET-6\ntoString=SECRET-7' });
    expect(res.ok).toBe(true);
  });

  it('treats an IPv4-mapped loopback URL as loopback', () => {
    expect(errorsFor({ 'api-url': 'http://[::ffff:127.0.0.1]:8008' })).toEqual([]);
  });
});
