// Renders an Outcome as Markdown (the job summary, or the terminal's report) and as the outputs map. Pure.
// GitHub takes at most 1 MiB of summary per step: renderSummary keeps within a byte budget by trimming the
// long tables first and, only if that is not enough, cutting the text, always saying that it did.
import { describeSource } from '../cluster/effective-env.ts';
import type { BlueGreenRecord } from '../engine/journal.ts';
import { durationSeconds, type HelmSummary, type Outcome } from '../engine/outcome.ts';
import { targetImage } from '../plan/plan.ts';
import { greenName, servingRole } from '../steps/blue-green.ts';

const ICON: Record<string, string> = { ok: '✅', failed: '❌', skipped: '⏭️', warning: '⚠️' };
const HEADLINE: Record<Outcome['result'], string> = {
  upgraded: '✅ Upgraded',
  unchanged: '✅ Unchanged (already at the requested version)',
  'rolled-back': '↩️ Failed and rolled back',
  failed: '❌ Failed',
  'dry-run': '📝 Dry run (nothing changed)',
};

/** GitHub's limit for one step's job summary. */
export const GITHUB_SUMMARY_LIMIT_BYTES = 1024 * 1024;

export interface SummaryOptions {
  /** The timeline as a mermaid gantt chart (GitHub renders it) or as text bars (a terminal); default text. */
  timeline?: 'mermaid' | 'text';
  /** Upper bound of the rendering in UTF-8 bytes; default unbounded. */
  maxBytes?: number;
}

/** How much of each long part is shown; the compact set is used when the full rendering is too big. */
interface Limits {
  readonly stepDetails: number;
  readonly pods: number;
  readonly helmRows: number;
  readonly listItems: number;
  /** Characters of one table cell or error text. */
  readonly text: number;
}
const FULL: Limits = { stepDetails: 12, pods: 50, helmRows: 1_000, listItems: 1_000, text: 100_000 };
const COMPACT: Limits = { stepDetails: 3, pods: 10, helmRows: 10, listItems: 20, text: 2_000 };

export const TRIM_NOTE =
  "> [!NOTE]\n> This summary was shortened to stay within GitHub's 1 MiB job summary limit; the run's log has every detail.";

function clip(text: string, max: number): string {
  return text.length > max
    ? `${text.slice(0, max)}… (${text.length - max} more characters in the log)`
    : text;
}

/** Escapes text for a Markdown table cell. */
function cell(text: string | undefined, max = FULL.text): string {
  return clip(text ?? '', max)
    .replaceAll('|', '\\|')
    .replaceAll('\n', '<br>');
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The helm release: history before and after (newest last), then what else changed and notes. */
export function renderHelm(h: HelmSummary, limits: Limits = FULL): string[] {
  const out = [
    `### Helm release \`${h.release}\``,
    '',
    `Chart ${cell(h.chart)} · helm ${cell(h.helmVersion)} · values ${cell(h.valuesMode)} · revision before the run: ${h.currentRevision}`,
    '',
  ];
  const lastBefore = h.before[h.before.length - 1]?.revision ?? 0;
  const all = h.after.length > 0 ? h.after : h.before;
  // Newest last, so the newest rows are the ones kept.
  const rows = all.slice(-limits.helmRows);
  out.push(
    `| Revision | Status | Chart | Updated | Description | ${h.after.length > 0 ? 'Run |' : ' |'}`,
    '|---|---|---|---|---|---|',
  );
  if (rows.length < all.length)
    out.push(`| … | ${all.length - rows.length} older revisions not shown | | | | |`);
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

const iso = (ms: number): string => new Date(ms).toISOString();
const list = (ips: readonly string[] | undefined, limits: Limits): string =>
  ips === undefined
    ? '?'
    : ips.length === 0
      ? 'none'
      : `${ips.slice(0, limits.listItems).join(', ')}${ips.length > limits.listItems ? ` … ${ips.length - limits.listItems} more` : ''}`;

/** What blue-green's table reads besides the journal's record (an Outcome, or the post step's own). */
export type BlueGreenRun = Pick<Outcome, 'result' | 'previousImage' | 'newImage' | 'dbName' | 'endedAt'>;

/** What each color ran and where it stands at the end, as the journal's record says. */
function endStates(o: BlueGreenRun, bg: BlueGreenRecord): [string, string] {
  if (o.result === 'dry-run') return ['serving (unchanged)', 'planned, not created'];
  // A rollback succeeds only once green is deleted; the record keeps greenCreated for what was made.
  if (o.result === 'rolled-back') return ['serving again', 'removed'];
  const green = bg.greenCreated ? 'kept (still exists)' : 'removed';
  if (o.result === 'upgraded' && bg.handedBack)
    return [
      "serving: the chart's Deployment, upgraded by helm while green served (hand-over)",
      `${green} after handing the traffic back`,
    ];
  const serving = servingRole(bg, o.result);
  return [
    serving === 'blue'
      ? 'serving'
      : bg.blueScaled
        ? 'scaled to 0 (kept for a switch back)'
        : 'running, not serving',
    serving === 'green' ? 'serving' : green,
  ];
}

/** Blue-green's table: both colors, databases, activations, the switch and the endpoints around it. */
export function renderBlueGreen(o: BlueGreenRun, bg: BlueGreenRecord, limits: Limits = FULL): string[] {
  const f = bg.facts ?? {};
  const names = greenName(bg.blue);
  const [blueEnd, greenEnd] = endStates(o, bg);
  const greenDb = f.greenDb
    ? `\`${cell(f.greenDb)}\` (expected name; created by green from \`${cell(f.fromDb ?? '?')}\`)`
    : `\`${cell(f.fromDb ?? '?')}\` (UPGRADE_DB false: no new database)`;
  const out = [
    '### Blue-green',
    '',
    `| | ${names.blueColor} (serving before the run) | ${names.color} (this run's) |`,
    '|---|---|---|',
    `| Deployment | \`${cell(bg.blue)}\` | \`${cell(bg.green)}\` |`,
    `| Image | \`${cell(o.previousImage ?? '?')}\` | \`${cell(f.greenImage ?? o.newImage ?? '?')}\` |`,
    `| Replicas | ${bg.blueReplicas} | ${f.greenReplicas ?? '?'} |`,
    `| Database | \`${cell(f.fromDb ?? o.dbName ?? '?')}\` | ${greenDb} |`,
    `| At the end | ${cell(blueEnd)} | ${cell(greenEnd)} |`,
    '',
  ];
  if (f.activationsPeak !== undefined)
    out.push(
      `- Licence activations at the peak: ${f.activationsPeak}${f.activationsOf !== undefined ? ` of ${f.activationsOf} (input 'activations')` : " (the licence's count was not checked: no 'activations' input)"}`,
    );
  if (!bg.switched || bg.switchedAt === undefined) {
    out.push(`- Service \`${cell(bg.service)}\` was not switched: traffic stayed on ${names.blueColor}`, '');
    return out;
  }
  out.push(
    `- Switch: Service \`${cell(bg.service)}\` selected ${names.color} at ${iso(bg.switchedAt)}${f.onlyGreenMs !== undefined ? `; its endpoints showed ${names.color}'s pods only ${secs(f.onlyGreenMs)} after the patch` : ''}`,
    `- Ready endpoints before the switch: ${list(f.endpointsBefore, limits)}; after: ${list(f.endpointsAfter, limits)}`,
  );
  if (bg.handedBack && f.endpointsHandedBack)
    out.push(
      `- Ready endpoints after the hand-back to \`${cell(bg.blue)}\`: ${list(f.endpointsHandedBack, limits)}`,
    );
  if (bg.switchedBackAt !== undefined) {
    const onGreen = secs(Math.max(0, bg.switchedBackAt - bg.switchedAt));
    out.push(
      bg.handedBack && o.result === 'upgraded'
        ? `- Traffic was on ${names.color} for ${onGreen}, then handed back to \`${cell(bg.blue)}\` at ${iso(bg.switchedBackAt)}`
        : `- Traffic was on ${names.color} for ${onGreen}, then switched back to ${names.blueColor} at ${iso(bg.switchedBackAt)}`,
    );
  } else if (servingRole(bg, o.result) === 'green')
    out.push(
      `- Traffic on ${names.color} since the switch: ${secs(Math.max(0, o.endedAt - bg.switchedAt))} at the end of the run`,
    );
  out.push('');
  return out;
}

export function renderSummary(o: Outcome, options: SummaryOptions = {}): string {
  const timeline = options.timeline ?? 'text';
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const full = render(o, timeline, FULL);
  if (Buffer.byteLength(full, 'utf8') <= max) return full;
  const compact = `${render(o, timeline, COMPACT)}\n${TRIM_NOTE}\n`;
  if (Buffer.byteLength(compact, 'utf8') <= max) return compact;
  return cutToBytes(compact, max);
}

/** The first lines of a text that fit in `max` bytes with the trim note, with any open code block closed. */
export function cutToBytes(text: string, max: number): string {
  const tail = `\n${TRIM_NOTE}\n`;
  const fence = '```\n';
  const budget = max - Buffer.byteLength(tail + fence + '</details>\n', 'utf8');
  const kept: string[] = [];
  let used = 0;
  let inFence = false;
  let openDetails = 0;
  for (const line of text.split('\n')) {
    const size = Buffer.byteLength(line, 'utf8') + 1;
    if (used + size > budget) break;
    kept.push(line);
    used += size;
    if (line.startsWith('```')) inFence = !inFence;
    if (line.startsWith('<details>')) openDetails++;
    if (line.startsWith('</details>')) openDetails = Math.max(0, openDetails - 1);
  }
  if (inFence) kept.push('```');
  if (openDetails > 0) kept.push('</details>');
  return `${kept.join('\n')}${tail}`;
}

function render(o: Outcome, timeline: 'mermaid' | 'text', limits: Limits): string {
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
    out.push(
      '> [!CAUTION]',
      ...clip(o.error, limits.text)
        .split('\n')
        .map((l) => `> ${l}`),
      '',
    );
  }
  if (o.unverifiedTools.length > 0) {
    out.push(
      '> [!WARNING]',
      '> Tools found on PATH were used without a checksum check:',
      ...o.unverifiedTools.map((t) => `> - ${t.replaceAll('\n', ' ')}`),
      '',
    );
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
  if (o.blueGreen) out.push(...renderBlueGreen(o, o.blueGreen, limits));
  for (const s of o.sections ?? []) out.push(`### ${s.title}`, '', s.markdown, '');

  if (o.helm) out.push(...renderHelm(o.helm, limits));

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
    for (const c of o.env.slice(0, limits.listItems)) {
      const target = c.target
        ? c.target.kind === 'configMap'
          ? `ConfigMap \`${c.target.configMap}\``
          : 'container env'
        : 'unchanged';
      const before = c.before
        ? `${c.before.value ?? '(secret)'} from ${describeSource(c.before.source)}`
        : 'not set';
      out.push(
        `| \`${c.name}\` | \`${cell(c.value, limits.text)}\` | ${cell(before, limits.text)} | ${cell(target)} | ${cell(c.why, limits.text)} |`,
      );
    }
    if (o.env.length > limits.listItems) out.push(`| … ${o.env.length - limits.listItems} more | | | | |`);
    out.push('');
    for (const w of o.envWarnings.slice(0, limits.listItems)) out.push(`- ⚠️ ${clip(w, limits.text)}`);
    if (o.envWarnings.length) out.push('');
  }

  out.push('### Steps', '', '| | Step | Duration | Details |', '|---|---|---|---|');
  for (const s of o.steps) {
    const shown = s.details.slice(-limits.stepDetails);
    const hidden = s.details.length - shown.length;
    const details = [...(hidden > 0 ? [`(${hidden} earlier lines in the log)`] : []), ...shown]
      .map((d) => clip(d, limits.text))
      .join('\n');
    out.push(
      `| ${ICON[s.status] ?? ''} | ${cell(s.title)} | ${secs(s.endedAt - s.startedAt)} | ${cell(details)} |`,
    );
  }
  out.push('');

  if (o.steps.length > 0) {
    if (timeline === 'mermaid') out.push('### Timeline', '', ...mermaidGantt(o), '');
    else out.push('Timeline:', '', ...textTimeline(o), '');
  }

  if (o.pods.length > 0) {
    out.push(
      '### Pods at the end of the wait',
      '',
      '| Pod | Revision | Phase | Ready | Restarts | Reason |',
      '|---|---|---|---|---|---|',
    );
    for (const pod of o.pods.slice(0, limits.pods)) {
      out.push(
        `| ${cell(pod.name)} | ${cell(pod.revision ?? '?')} | ${cell(pod.phase)} | ${pod.ready ? 'yes' : 'no'} | ${pod.restarts} | ${cell(pod.reason ?? '')} |`,
      );
    }
    if (o.pods.length > limits.pods) out.push(`| … ${o.pods.length - limits.pods} more | | | | | |`);
    out.push('');
  }
  return out.join('\n');
}

/** Where the time went, to scale, as text bars (for a terminal). */
export function textTimeline(o: Pick<Outcome, 'steps' | 'startedAt' | 'endedAt'>): string[] {
  const t0 = o.startedAt;
  const total = Math.max(1, o.endedAt - t0);
  const width = 40;
  return o.steps.map((s) => {
    const start = Math.min(width, Math.max(0, Math.round(((s.startedAt - t0) / total) * width)));
    const len = Math.max(1, Math.round(((s.endedAt - s.startedAt) / total) * width));
    return `${s.title.slice(0, 44).padEnd(44)} ${' '.repeat(start)}${'█'.repeat(Math.min(len, width - start + 1))} ${secs(s.endedAt - s.startedAt)}`;
  });
}

/** Words that open a statement in a mermaid gantt chart; a task named like one would be read as it. */
const MERMAID_KEYWORDS =
  /^(gantt|title|section|dateformat|axisformat|tickinterval|excludes|includes|todaymarker|weekday|weekend|inclusiveenddates|topaxis|acctitle|accdescr|click|displaymode)\b/i;

/**
 * A step title as safe mermaid gantt task text: ':' ends a task's name, ';' and '#' start entity codes, '%%'
 * a comment, and angle brackets, quotes, backticks and braces could be read as markup; each becomes a
 * harmless look-alike or a space. One line, at most 60 characters.
 */
export function mermaidTaskName(title: string): string {
  let t = title
    .replace(/[\r\n\t]+/g, ' ')
    .replaceAll(':', ' -')
    .replaceAll(';', ',')
    .replaceAll('#', 'no.')
    .replaceAll('%', ' pct')
    .replace(/[<>"`{}[\]\\|&=]/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x1f\x7f]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (t === '' || MERMAID_KEYWORDS.test(t)) t = `step ${t}`.trim();
  return t.length > 60 ? `${t.slice(0, 59).trimEnd()}…` : t;
}

/** `2026-12-02 04:00:00.400` (UTC), as the chart's dateFormat reads it. */
function ganttTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

const GANTT_TAG: Record<string, string> = { ok: 'done', warning: 'active', failed: 'crit', skipped: 'done' };

/** The steps as a mermaid gantt chart (GitHub renders ```mermaid blocks), one task per step, real clock times. */
export function mermaidGantt(o: Pick<Outcome, 'steps' | 'result'>): string[] {
  const out = [
    '```mermaid',
    'gantt',
    `    title Upgrade steps (${o.result}), times in UTC`,
    // A plain date-time format: every mermaid version parses it, start and end alike.
    '    dateFormat YYYY-MM-DD HH:mm:ss.SSS',
    '    axisFormat %H:%M:%S',
    '    section Run',
  ];
  o.steps.forEach((s, i) => {
    const start = Math.max(0, Math.round(s.startedAt));
    // Mermaid drops a task that ends where it starts; a skipped step gets one millisecond.
    const end = Math.max(start + 1, Math.round(s.endedAt));
    const name = `${mermaidTaskName(s.title)}${s.status === 'skipped' ? ' (skipped)' : ''}`;
    out.push(`    ${name} :${GANTT_TAG[s.status] ?? 'done'}, s${i}, ${ganttTime(start)}, ${ganttTime(end)}`);
  });
  out.push('```');
  return out;
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
