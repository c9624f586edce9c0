import { describe, expect, it } from 'vitest';
import {
  chooseFromDbName,
  DB_NAME_ANNOTATION,
  TAG_ANNOTATION,
  upgradedDbName,
} from '../../src/plan/db-name.ts';

const none = {
  input: undefined,
  annotations: {},
  currentTag: '5.19.0',
  currentUpgradeDb: undefined,
  currentFromDbName: undefined,
};

describe('chooseFromDbName', () => {
  it('takes the input first', () => {
    expect(chooseFromDbName({ ...none, input: 'mydb' })).toMatchObject({
      name: 'mydb',
      reason: expect.stringContaining('input'),
    });
  });
  it('takes what an earlier run recorded for the running tag', () => {
    const c = chooseFromDbName({
      ...none,
      annotations: { [DB_NAME_ANNOTATION]: 'metadefender_core5190', [TAG_ANNOTATION]: '5.19.0' },
    });
    expect(c).toMatchObject({ name: 'metadefender_core5190', warning: undefined });
  });
  it('does not trust a record for another tag', () => {
    const c = chooseFromDbName({
      ...none,
      currentFromDbName: 'metadefender_core',
      annotations: { [DB_NAME_ANNOTATION]: 'x', [TAG_ANNOTATION]: '5.18.0' },
    });
    expect(c.name).toBe('metadefender_core');
    expect(c.warning).toContain('outside this action');
  });
  it('uses the effective value when no upgrade switched databases', () => {
    expect(
      chooseFromDbName({ ...none, currentUpgradeDb: 'false', currentFromDbName: 'metadefender_core' }),
    ).toMatchObject({
      name: 'metadefender_core',
      warning: undefined,
    });
  });
  it('warns when an untracked upgrade ran before', () => {
    expect(
      chooseFromDbName({ ...none, currentUpgradeDb: 'true', currentFromDbName: 'metadefender_core' }).warning,
    ).toContain('from-db-name');
  });
  it('falls back to the first installation database', () => {
    expect(chooseFromDbName(none).name).toBe('metadefender_core');
  });
  it('derives the upgraded name from the version digits', () => {
    expect(upgradedDbName('5.20.0')).toBe('metadefender_core5200');
    expect(upgradedDbName('5.20.0-debian')).toBe('metadefender_core5200');
  });
});
