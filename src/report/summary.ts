// Renders an Outcome as Markdown (the job summary) and as the outputs map. Pure.
import { describeSource } from '../cluster/effective-env.ts';
import { durationSeconds, type HelmSummary, type Outcome } from '../engine/outcome.ts';
import { targetImage } from '../plan/plan.ts';

const ICON: Record<string, string> = { ok: '✅', failed: '❌', skipped: '⏭️', warning: '⚠️' };
const HEADLINE: Record<Outcome['result'], string> = {
  upgraded: '✅ Upgraded',
  unchanged: '✅ Unchanged (already at the requested version)',
  'rolled-back': '↩️ Failed and rolled back',
  failed: '❌ Failed',
  'dry-run': '📝 Dry run (nothing changed)',
};

/** Escapes text for a Markdown table cell. */
function cell(text: string | undefined): string {
  return (text ?? '').replaceAll('|', '\\|').replaceAll('\n', '<br>');
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The helm release: history before and after (newest last), then what else changed and notes. */
export function renderHelm(h: HelmSummary): string[] {
  const out = [
    `### Helm release \`${h.release}\``,
    '',
    `Chart ${cell(h.chart)} · helm ${cell(h.helmVersion)} · values ${cell(h.valuesMode)} · revision before the run: ${h.currentRevision}`,
    '',
  ];
  const lastBefore = h.before[h.before.length - 1]?.revision ?? 0;
  const rows = h.after.length > 0 ? h.after : h.before;
  out.push(
    `| Revision | Status | Chart | Updated | Description | ${h.after.length > 0 ? 'Run |' : ' |'}`,
    '|---|---|---|---|---|---|',
  );
  for (const r of rows) {
    const mark = r.revision > lastBefore ? 'new' : r.revision === h.currentRevision ? 'before the run' : '';
    out.push(
      `| ${r.revision} | ${cell(r.status)} | ${cell(r.chart)} | ${cell(r.updated)} | ${cell(r.description)} | ${mark} |`,
    );
  }
  out.push('');
  if (h.changes.length > 0) {
    out.push("Changes besides md-core's image and the upgrade variables:", '');
    for (const c of h.changes) out.push(`- ⚠️ ${cell(c)}`);
    out.push('');
  }
  for (const n of h.notes) out.push(`- ${cell(n)}`);
  if (h.notes.length > 0) out.push('');
  return out;
}

export function renderSummary(o: Outcome): string {
  const p = o.plan;
  const out: string[] = [];
  const title = o.rollbackFailed
    ? '🚨 Failed, and the rollback did not complete: manual action needed'
    : HEADLINE[o.result];
  out.push(`## MetaDefender Core upgrade: ${title}`, '');
  out.push(
    `Namespace \`${p.namespace}\`, Deployment \`${p.deployment}\`, container \`${p.container}\` · strategy ${p.strategy} · method ${o.method ?? p.method} · ${durationSeconds(o)} s`,
    '',
  );
  if (o.error) {
    out.push('> [!CAUTION]', ...o.error.split('\n').map((l) => `> ${l}`), '');
  }
  if (o.manualSteps.length > 0) {
    out.push(
      '### Manual action needed',
      '',
      'Run these commands to restore the previous version:',
      '',
      '```sh',
      ...o.manualSteps,
      '```',
      '',
    );
  }

  out.push('### Before and after', '', '| | Before | After |', '|---|---|---|');
  out.push(
    `| Image | \`${cell(o.previousImage ?? '?')}\` | \`${cell(o.result === 'upgraded' ? targetImage(p) : (o.after.image ?? o.previousImage ?? '?'))}\` |`,
  );
  out.push(`| Deployment revision | ${cell(o.previousRevision ?? '?')} | ${cell(o.revision ?? '?')} |`);
  if (o.before.replicas)
    out.push(`| Replicas | ${cell(o.before.replicas)} | ${cell(o.after.replicas ?? o.before.replicas)} |`);
  for (const [k, v] of Object.entries(o.before)) {
    if (['image', 'revision', 'replicas'].includes(k)) continue;
    out.push(`| ${cell(k)} | ${cell(v)} | ${cell(o.after[k] ?? '')} |`);
  }
  out.push('');

  if (o.helm) out.push(...renderHelm(o.helm));

  if (o.dbName) {
    out.push('### Database', '', `- Migrating from \`${o.dbName}\`: ${o.dbNameReason ?? ''}`);
    if (o.nextDbName && o.result === 'upgraded')
      out.push(
        `- Expected database after the upgrade: \`${o.nextDbName}\` (recorded on the Deployment for the next run)`,
      );
    out.push('');
  }

  if (o.env.length > 0) {
    out.push(
      '### Upgrade variables the new pods read',
      '',
      '| Variable | Value | Before | Where it comes from | Why |',
      '|---|---|---|---|---|',
    );
    for (const c of o.env) {
      const target = c.target
        ? c.target.kind === 'configMap'
          ? `ConfigMap \`${c.target.configMap}\``
          : 'container env'
        : 'unchanged';
      const before = c.before
        ? `${c.before.value ?? '(secret)'} from ${describeSource(c.before.source)}`
        : 'not set';
      out.push(
        `| \`${c.name}\` | \`${cell(c.value)}\` | ${cell(before)} | ${cell(target)} | ${cell(c.why)} |`,
      );
    }
    out.push('');
    for (const w of o.envWarnings) out.push(`- ⚠️ ${w}`);
    if (o.envWarnings.length) out.push('');
  }

  out.push('### Steps', '', '| | Step | Duration | Details |', '|---|---|---|---|');
  for (const s of o.steps) {
    const details = s.details.slice(-12).join('\n');
    out.push(
      `| ${ICON[s.status] ?? ''} | ${cell(s.title)} | ${secs(s.endedAt - s.startedAt)} | ${cell(details)} |`,
    );
  }
  out.push('');

  if (o.steps.length > 0) {
    // A text timeline: where the time went, to scale.
    const t0 = o.startedAt;
    const total = Math.max(1, o.endedAt - t0);
    const width = 40;
    out.push('<details><summary>Timeline</summary>', '', '```text');
    for (const s of o.steps) {
      const start = Math.round(((s.startedAt - t0) / total) * width);
      const len = Math.max(1, Math.round(((s.endedAt - s.startedAt) / total) * width));
      out.push(
        `${s.title.slice(0, 44).padEnd(44)} ${' '.repeat(Math.min(start, width))}${'█'.repeat(Math.min(len, width - Math.min(start, width) + 1))} ${secs(s.endedAt - s.startedAt)}`,
      );
    }
    out.push('```', '', '</details>', '');
  }

  if (o.pods.length > 0) {
    out.push(
      '### Pods at the end of the wait',
      '',
      '| Pod | Revision | Phase | Ready | Restarts | Reason |',
      '|---|---|---|---|---|---|',
    );
    for (const pod of o.pods.slice(0, 50)) {
      out.push(
        `| ${cell(pod.name)} | ${cell(pod.revision ?? '?')} | ${cell(pod.phase)} | ${pod.ready ? 'yes' : 'no'} | ${pod.restarts} | ${cell(pod.reason ?? '')} |`,
      );
    }
    if (o.pods.length > 50) out.push(`| … ${o.pods.length - 50} more | | | | | |`);
    out.push('');
  }
  return out.join('\n');
}

export function outputsOf(o: Outcome): Record<string, string> {
  return {
    result: o.result,
    'previous-image': o.previousImage ?? '',
    'new-image': o.newImage ?? '',
    'running-image':
      o.result === 'upgraded' || o.result === 'unchanged' ? (o.newImage ?? '') : (o.previousImage ?? ''),
    'previous-revision': o.previousRevision ?? '',
    revision: o.revision ?? '',
    'rolled-back': String(o.rolledBack),
    'duration-seconds': String(durationSeconds(o)),
    'db-name': o.dbName ?? '',
    method: o.method ?? '',
    ...o.extraOutputs,
  };
}

/** The one-line error annotation for a failed run: what failed, what was done about it, where to look. */
export function failureAnnotation(o: Outcome): string {
  const first = (o.error ?? 'unknown error').split('\n')[0] ?? '';
  if (o.rollbackFailed) {
    return `Upgrade to ${o.newImage ?? '?'} failed (${first}) and the ROLLBACK DID NOT COMPLETE: manual action needed. The job summary lists the commands to run.`;
  }
  if (o.rolledBack) {
    return `Upgrade to ${o.newImage ?? '?'} failed (${first}); it was rolled back to ${o.previousImage ?? '?'} (revision ${o.previousRevision ?? '?'}), which is ready again. See the job summary for pod states and reasons.`;
  }
  return o.error ?? 'the upgrade failed';
}
