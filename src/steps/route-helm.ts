// The helm route (issue 6): not built yet. Refuses before any change, naming the way that works today.
import type { Route } from './route.ts';

export const helmRoute: Route<never> = {
  name: 'helm',
  async prepare(ctx) {
    throw new Error(
      `the helm route is not available yet: Deployment ${ctx.plan.deployment} is managed by Helm release "${ctx.state.helmRelease ?? ctx.plan.release ?? ''}". Use 'method: kubectl' to change only the image. Nothing in the cluster was changed.`,
    );
  },
  applyTitle: 'helm upgrade',
  async apply() {
    throw new Error('the helm route is not available yet');
  },
};
