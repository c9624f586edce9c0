// The outcome of a run as one JSON document, for scripts (`mdcore-upgrade --output json`). Pure. The plan's
// secrets (kubeconfig, keys, passwords, helm values) are left out; the caller masks the text as well.
import { durationSeconds, type Outcome } from '../engine/outcome.ts';
import { outputsOf } from './summary.ts';

/** Bumped when a field changes meaning or goes away; new fields may appear at any time. */
export const OUTCOME_JSON_VERSION = 1;

export function outcomeJson(o: Outcome): Record<string, unknown> {
  const p = o.plan;
  return {
    version: OUTCOME_JSON_VERSION,
    result: o.result,
    ok: o.result === 'upgraded' || o.result === 'unchanged' || o.result === 'dry-run',
    error: o.error ?? null,
    rolledBack: o.rolledBack,
    rollbackFailed: o.rollbackFailed,
    manualSteps: o.manualSteps,
    target: {
      namespace: p.namespace,
      deployment: p.deployment,
      container: p.container,
      image: p.image,
      tag: p.tag,
      strategy: p.strategy,
      method: o.method ?? p.method,
      dryRun: p.dryRun,
    },
    outputs: outputsOf(o),
    startedAt: new Date(o.startedAt).toISOString(),
    endedAt: new Date(o.endedAt).toISOString(),
    durationSeconds: durationSeconds(o),
    before: o.before,
    after: o.after,
    database: { from: o.dbName ?? null, reason: o.dbNameReason ?? null, next: o.nextDbName ?? null },
    env: o.env.map((c) => ({ name: c.name, value: c.value, why: c.why })),
    envWarnings: o.envWarnings,
    steps: o.steps.map((s) => ({
      id: s.id,
      title: s.title,
      status: s.status,
      startedAt: new Date(s.startedAt).toISOString(),
      durationMs: Math.max(0, s.endedAt - s.startedAt),
      details: s.details,
    })),
    pods: o.pods,
    ...(o.helm ? { helm: o.helm } : {}),
    ...(o.blueGreen ? { blueGreen: o.blueGreen } : {}),
  };
}
