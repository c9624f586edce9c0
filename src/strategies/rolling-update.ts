// OPSWAT's rolling update: the new image (and the database-upgrade variables) replace the pods in place,
// watched to readiness and verified; MIGRATE_HISTORY adds its three pre-steps around the change.
import type { Strategy } from '../engine/step.ts';
import { kedaSteps } from '../steps/keda.ts';
import {
  applyChange,
  checkDatabaseSpace,
  checkRollingSettings,
  connectApi,
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

export const rollingUpdate: Strategy = (plan, facts) => {
  const carry = newCarry();
  const migrate = plan.migrateHistory;
  const api = usesApi(plan);
  const keda = kedaSteps(facts, (ctx) => [{ name: ctx.target.deployment, replicas: ctx.state.replicas }]);
  return {
    checks: [
      planChange(facts, carry),
      checkRollingSettings(),
      ...(migrate ? [keepLivenessOff(), checkDatabaseSpace(facts)] : []),
      ...(api ? [connectApi(carry, false)] : []),
      ...keda.checks,
    ],
    changes: [
      ...keda.changes,
      ...(migrate ? [stopAllPods()] : []),
      applyChange(facts, carry),
      waitForReadiness(carry),
      ...(api ? [verifyNewVersion(carry)] : []),
    ],
    wrapUp: [recordUpgrade(facts), restoreProgressDeadline(), ...keda.wrapUp],
    close: async () => carry.api?.close(),
  };
};
