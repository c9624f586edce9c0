import { describe, expect, it } from 'vitest';
import { versionMatches } from '../../src/steps/core-api.ts';

describe('versionMatches (/version against the requested tag)', () => {
  it.each([
    ['5.20.0', '5.20.0'],
    ['v5.20.0', '5.20.0'],
    ['5.20.0', '5.20.0-debian'],
    ['5.20.0', '5.20.0.1'],
    ['5.20.0.1234', '5.20.0'],
  ])('%s serves tag %s', (version, tag) => expect(versionMatches(version, tag)).toBe(true));

  it.each([
    ['5.19.0', '5.20.0'],
    ['5.2', '5.20.0'],
    ['5.20.01', '5.20.0'],
    ['5.20.0', '5.20.01'],
  ])('%s does not serve tag %s', (version, tag) => expect(versionMatches(version, tag)).toBe(false));
});
