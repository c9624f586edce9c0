// Waits for the rollout with the watcher and reports progress as pods turn ready ("2/5 ready").
import { waitForRollout, type WaitOptions, type WaitResult } from '../cluster/rollout-watcher.ts';
import type { RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';

export async function waitReady(
  ctx: Pick<RunContext, 'kube' | 'plan' | 'target' | 'signal'>,
  step: StepHandle,
  timeoutSeconds: number,
  start?: WaitOptions['start'],
): Promise<WaitResult> {
  const res = await waitForRollout(ctx.kube, {
    namespace: ctx.target.namespace,
    deployment: ctx.target.deployment,
    selector: ctx.target.selector,
    timeoutMs: timeoutSeconds * 1000,
    imagePullGraceMs: ctx.plan.imagePullGraceSeconds * 1000,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(start ? { start } : {}),
    onProgress: (v) => {
      if (v.state !== 'progressing') return;
      step.detail(v.message);
    },
  });
  // Idle resumes are routine on a long wait; error restarts tell of API server trouble along the way.
  if (res.watchIdleResumes + res.watchErrorRestarts + res.watchRelists > 0) {
    step.detail(
      `watch reconnects: ${res.watchIdleResumes} idle, ${res.watchErrorRestarts} after errors, ` +
        `${res.watchRelists} relist(s)`,
    );
  }
  return res;
}
