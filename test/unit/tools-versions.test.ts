import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HELM_MAJOR,
  DEFAULT_HELM_VERSION,
  DEFAULT_KUBECTL_VERSION,
  exactVersion,
  parseHelmVersionOutput,
  parseHelmVersionSpec,
  parseKubectlClientVersion,
  parseKubectlVersionSpec,
  parseReleasePointer,
} from '../../src/tools/versions.ts';

describe('defaults', () => {
  it('pins kubectl 1.36.3 and helm 3.22.0, with latest helm following major 3', () => {
    expect(DEFAULT_KUBECTL_VERSION).toBe('1.36.3');
    expect(DEFAULT_HELM_VERSION).toBe('3.22.0');
    expect(DEFAULT_HELM_MAJOR).toBe(3);
  });
});

describe('exactVersion', () => {
  it.each([
    ['1.36.3', '1.36.3'],
    ['v1.36.3', '1.36.3'],
    [' v3.22.0 ', '3.22.0'],
    ['1.36.0-rc.1', '1.36.0-rc.1'],
    ['v4.0.0-beta.2', '4.0.0-beta.2'],
  ])('%j is %j', (input, out) => {
    expect(exactVersion(input)).toBe(out);
  });

  it.each(['1.36', '1', 'vv1.2.3', '01.2.3', '1.2.3.4', '1.2.3+build', '1.2.3-', '1.2.3/../x', 'latest', ''])(
    '%j is not exact',
    (input) => {
      expect(exactVersion(input)).toBeUndefined();
    },
  );
});

describe('parseKubectlVersionSpec', () => {
  it('empty or missing means the pinned default', () => {
    expect(parseKubectlVersionSpec(undefined)).toEqual({ kind: 'exact', version: '1.36.3' });
    expect(parseKubectlVersionSpec('  ')).toEqual({ kind: 'exact', version: '1.36.3' });
  });

  it('stable and latest (any case) both mean stable.txt', () => {
    for (const s of ['stable', 'latest', 'Stable', 'LATEST'])
      expect(parseKubectlVersionSpec(s)).toEqual({ kind: 'stable' });
  });

  it('a minor version asks for its newest patch', () => {
    expect(parseKubectlVersionSpec('1.34')).toEqual({ kind: 'minor', major: 1, minor: 34 });
    expect(parseKubectlVersionSpec('v1.30')).toEqual({ kind: 'minor', major: 1, minor: 30 });
  });

  it('exact versions are taken as given, with or without v', () => {
    expect(parseKubectlVersionSpec('1.35.2')).toEqual({ kind: 'exact', version: '1.35.2' });
    expect(parseKubectlVersionSpec('v1.35.2')).toEqual({ kind: 'exact', version: '1.35.2' });
    expect(parseKubectlVersionSpec('1.36.0-rc.0')).toEqual({ kind: 'exact', version: '1.36.0-rc.0' });
  });

  it.each(['1', 'v1', 'stable-1.34', '1.34.x', '~1.34', '1.34.3/../../etc', 'newest'])(
    'refuses %j',
    (input) => {
      expect(() => parseKubectlVersionSpec(input)).toThrow(`kubectl-version '${input}' is not understood`);
    },
  );
});

describe('parseHelmVersionSpec', () => {
  it('empty or missing means the pinned default', () => {
    expect(parseHelmVersionSpec(undefined)).toEqual({ kind: 'exact', version: '3.22.0' });
    expect(parseHelmVersionSpec('')).toEqual({ kind: 'exact', version: '3.22.0' });
  });

  it('latest follows the default major, never another one', () => {
    expect(parseHelmVersionSpec('latest')).toEqual({ kind: 'major', major: 3 });
  });

  it('a major asks for that line', () => {
    expect(parseHelmVersionSpec('3')).toEqual({ kind: 'major', major: 3 });
    expect(parseHelmVersionSpec('v4')).toEqual({ kind: 'major', major: 4 });
  });

  it('exact versions are taken as given', () => {
    expect(parseHelmVersionSpec('v3.19.1')).toEqual({ kind: 'exact', version: '3.19.1' });
    expect(parseHelmVersionSpec('4.3.1')).toEqual({ kind: 'exact', version: '4.3.1' });
  });

  it('refuses Helm 2 and older', () => {
    expect(() => parseHelmVersionSpec('2')).toThrow('Helm 2 is not supported');
    expect(() => parseHelmVersionSpec('2.17.0')).toThrow('Helm 2 is not supported');
  });

  it('explains that there is no per-minor pointer', () => {
    expect(() => parseHelmVersionSpec('3.22')).toThrow('no per-minor release pointer');
  });

  it.each(['stable', '3.x', 'v', '3.22.0.1'])('refuses %j', (input) => {
    expect(() => parseHelmVersionSpec(input)).toThrow(`helm-version '${input}' is not understood`);
  });
});

describe('parseReleasePointer', () => {
  const url = 'https://mirror.test/release/stable.txt';

  it('reads v-prefixed versions, tolerating whitespace and a trailing newline', () => {
    expect(parseReleasePointer('v1.36.3\n', { major: 1 }, url)).toBe('1.36.3');
    expect(parseReleasePointer('  v1.34.9\r\n', { major: 1, minor: 34 }, url)).toBe('1.34.9');
  });

  it('refuses a version of another major or minor, naming both', () => {
    expect(() => parseReleasePointer('v4.0.0', { major: 3 }, url)).toThrow(
      `${url} points to v4.0.0, outside the requested 3.x line`,
    );
    expect(() => parseReleasePointer('v1.35.1', { major: 1, minor: 34 }, url)).toThrow(
      'outside the requested 1.34.x line',
    );
  });

  it.each(['', '1.36.3', 'v1.36', 'v1.36.0-rc.1', '<html>not found</html>', 'v1.2.3 extra'])(
    'refuses %j as not a release version',
    (body) => {
      expect(() => parseReleasePointer(body, { major: 1 }, url)).toThrow('not a release version');
    },
  );

  it('shortens a long unexpected answer', () => {
    expect(() => parseReleasePointer('x'.repeat(500), { major: 1 }, url)).toThrow(`'${'x'.repeat(60)}…'`);
  });
});

describe('binary version output', () => {
  it('reads kubectl version --client -o json', () => {
    const out = JSON.stringify({
      clientVersion: { major: '1', minor: '36', gitVersion: 'v1.36.3', platform: 'linux/amd64' },
      kustomizeVersion: 'v5.7.1',
    });
    expect(parseKubectlClientVersion(out)).toBe('1.36.3');
  });

  it('gives nothing for unreadable kubectl output', () => {
    expect(parseKubectlClientVersion('Client Version: v1.36.3')).toBeUndefined();
    expect(parseKubectlClientVersion('null')).toBeUndefined();
    expect(
      parseKubectlClientVersion('{"clientVersion":{"gitVersion":"v0.0.0-master+$Format:%H$"}}'),
    ).toBeUndefined();
  });

  it('reads helm version --template {{.Version}}', () => {
    expect(parseHelmVersionOutput('v3.22.0')).toBe('3.22.0');
    expect(parseHelmVersionOutput('v4.3.1\n')).toBe('4.3.1');
    expect(parseHelmVersionOutput('version.BuildInfo{Version:"v3.22.0"}')).toBeUndefined();
  });
});
