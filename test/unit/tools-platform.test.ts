import { describe, expect, it } from 'vitest';
import { toolArch, toolOs, toolPlatform } from '../../src/tools/platform.ts';

describe('toolOs', () => {
  it.each([
    ['linux', 'linux'],
    ['darwin', 'darwin'],
    ['win32', 'windows'],
  ])('maps %s to %s', (node, os) => {
    expect(toolOs(node)).toBe(os);
  });

  it.each(['freebsd', 'aix', 'sunos', 'android', ''])('refuses %j with the platform named', (node) => {
    expect(() => toolOs(node)).toThrow(`not on '${node}'`);
  });
});

describe('toolArch', () => {
  it('maps x64 to amd64 and keeps arm64', () => {
    expect(toolArch('x64')).toBe('amd64');
    expect(toolArch('arm64')).toBe('arm64');
  });

  it.each(['ia32', 'arm', 's390x', 'ppc64', 'amd64'])('refuses %s', (arch) => {
    expect(() => toolArch(arch)).toThrow(`not on '${arch}'`);
  });
});

describe('toolPlatform', () => {
  it.each([
    ['linux', 'x64', { os: 'linux', arch: 'amd64', exe: '' }],
    ['linux', 'arm64', { os: 'linux', arch: 'arm64', exe: '' }],
    ['darwin', 'x64', { os: 'darwin', arch: 'amd64', exe: '' }],
    ['darwin', 'arm64', { os: 'darwin', arch: 'arm64', exe: '' }],
    ['win32', 'x64', { os: 'windows', arch: 'amd64', exe: '.exe' }],
    ['win32', 'arm64', { os: 'windows', arch: 'arm64', exe: '.exe' }],
  ])('%s/%s', (platform, arch, expected) => {
    expect(toolPlatform(platform, arch)).toEqual(expected);
  });

  it('names the unsupported part of a combination', () => {
    expect(() => toolPlatform('linux', 'ia32')).toThrow("'ia32'");
    expect(() => toolPlatform('openbsd', 'x64')).toThrow("'openbsd'");
  });
});
