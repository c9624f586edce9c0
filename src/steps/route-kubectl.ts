// The kubectl route: variables into the ConfigMaps (or container env) where they win, then one image change.
import type { EnvPlan } from '../cluster/effective-env.ts';
import { applyKubectl } from './apply-kubectl.ts';
import { applyConfigMaps, planUpgradeEnv, reportEnvPlan } from './configure-env.ts';
import type { Route } from './route.ts';

export const kubectlRoute: Route<EnvPlan> = {
  name: 'kubectl',
  async prepare(ctx, desired, step) {
    const p = planUpgradeEnv(ctx.state.container, ctx.state, { ...desired });
    reportEnvPlan(p, step);
    ctx.outcome.env = [...p.changes];
    ctx.outcome.envWarnings = [...p.warnings];
    if (p.changes.some((ch) => p.after.get(ch.name)?.value !== ch.value)) {
      throw new Error('the planned upgrade variables would not reach the new pods; nothing was changed');
    }
    return p;
  },
  applyTitle: 'Write the variables and change the image (kubectl)',
  async apply(ctx, envPlan, step) {
    await applyConfigMaps(ctx, envPlan, step);
    await applyKubectl(ctx, envPlan, step);
  },
};
