// Export/import: the rolling update with MD Core's configuration exported over the REST API before any change
// and imported into the new version once it is ready (then verified, when verification is on).
import type { Strategy } from '../engine/step.ts';
import {
  applyChange,
  checkDatabaseSpace,
  checkRollingSettings,
  connectApi,
  exportConfiguration,
  importConfiguration,
  keepLivenessOff,
  newCarry,
  planChange,
  recordUpgrade,
  restoreProgressDeadline,
  stopAllPods,
  usesApi,
  verifyNewVersion,
  waitForReadiness,
} from './parts.ts';

export const exportImport: Strategy = (plan, facts) => {
  const carry = newCarry();
  const migrate = plan.migrateHistory;
  return {
    checks: [
      planChange(facts, carry),
      checkRollingSettings(),
      ...(migrate ? [keepLivenessOff(), checkDatabaseSpace(facts)] : []),
      connectApi(carry, true),
      exportConfiguration(carry),
    ],
    changes: [
      ...(migrate ? [stopAllPods()] : []),
      applyChange(facts, carry),
      waitForReadiness(carry),
      importConfiguration(carry),
      ...(usesApi(plan) ? [verifyNewVersion(carry)] : []),
    ],
    wrapUp: [recordUpgrade(facts), restoreProgressDeadline()],
    close: async () => carry.api?.close(),
  };
};
