// What the helm route needs to know about the helm CLI it runs: its version and the flags that version has,
// and the release history it prints. Parsing is pure; the two small runners go through runTool.
import type { Reporter } from '../report/reporter.ts';
import { runTool } from './exec.ts';

export interface HelmVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly text: string;
}

/** Parses `v3.22.0`, `v4.3.1+g1234`, `3.14.0-rc.1` (what `helm version --template '{{.Version}}'` prints). */
export function parseHelmVersion(text: string): HelmVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: text.trim() };
}

function atLeast(v: HelmVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * Flags the helm route relies on, by version:
 * - `--dry-run=server` (3.13+; a bare boolean `--dry-run` before): the render used by the guards must run the
 *   chart's `lookup` calls against the cluster, or the chart's Secrets render as freshly generated values.
 * - `--reset-then-reuse-values` (3.14+, and Helm 4): the new chart's defaults plus the release's user-supplied
 *   values. Older versions only have `--reuse-values`, which keeps the OLD chart's defaults too.
 * - `--force-conflicts` (Helm 4): Helm 4 applies server-side for releases it installed; a field another manager
 *   changed since (e.g. md-core's image after `kubectl set image` or `rollout undo`) is a conflict that fails the
 *   upgrade. Helm 3's client-side three-way merge overwrites such fields without asking; forcing gives Helm 4 the
 *   same behaviour, and the guards have compared the planned render with the live objects that matter first.
 *   Only for server-side releases: Helm 4 keeps a Helm 3 release on client-side apply ("auto"), and refuses
 *   --force-conflicts there ("forceConflicts enabled when serverSideApply disabled"). The dry run says which
 *   (`apply_method` ssa / csa in its JSON).
 */
export interface HelmFeatures {
  readonly version: HelmVersion;
  readonly dryRunServer: boolean;
  readonly resetThenReuseValues: boolean;
  readonly forceConflicts: boolean;
}

export const MIN_HELM = { major: 3, minor: 13 } as const;

export function helmFeatures(v: HelmVersion): HelmFeatures {
  return {
    version: v,
    dryRunServer: atLeast(v, 3, 13),
    resetThenReuseValues: atLeast(v, 3, 14),
    forceConflicts: v.major >= 4,
  };
}

export async function helmVersion(reporter: Reporter, helm: string): Promise<HelmVersion> {
  const r = await runTool(reporter, helm, ['version', '--template', '{{.Version}}']);
  const v = parseHelmVersion(r.stdout);
  if (!v) throw new Error(`could not read the helm version from "${r.stdout.trim().slice(0, 80)}"`);
  return v;
}

/** One line of `helm history -o json` (the same shape in Helm 3 and Helm 4). */
export interface HelmRevision {
  readonly revision: number;
  readonly updated: string;
  readonly status: string;
  readonly chart: string;
  readonly appVersion: string;
  readonly description: string;
}

export function parseHistory(json: string): HelmRevision[] {
  const raw = JSON.parse(json) as unknown;
  if (!Array.isArray(raw)) throw new Error('helm history did not print a JSON list');
  return raw
    .map((e: Record<string, unknown>) => ({
      revision: Number(e.revision),
      updated: String(e.updated ?? ''),
      status: String(e.status ?? ''),
      chart: String(e.chart ?? ''),
      appVersion: String(e.app_version ?? ''),
      description: String(e.description ?? ''),
    }))
    .filter((e) => Number.isInteger(e.revision))
    .sort((a, b) => a.revision - b.revision);
}

/** Statuses in which another helm operation owns the release (or was interrupted while it did). */
export const PENDING_STATUSES = ['pending-install', 'pending-upgrade', 'pending-rollback', 'uninstalling'];

export interface ReleaseState {
  /** The newest revision, whatever its status. */
  readonly latest: HelmRevision;
  /** The revision whose manifest is in force: the one marked deployed (the newest one otherwise). */
  readonly current: HelmRevision;
  readonly pending: boolean;
}

export function releaseState(history: readonly HelmRevision[]): ReleaseState | undefined {
  const latest = history[history.length - 1];
  if (!latest) return undefined;
  const deployed = [...history].reverse().find((h) => h.status === 'deployed');
  return { latest, current: deployed ?? latest, pending: PENDING_STATUSES.includes(latest.status) };
}

export async function helmHistory(
  reporter: Reporter,
  helm: string,
  base: { release: string; namespace: string; kubeconfig: string },
  max = 20,
): Promise<HelmRevision[]> {
  const r = await runTool(reporter, helm, [
    'history',
    base.release,
    '--namespace',
    base.namespace,
    '--kubeconfig',
    base.kubeconfig,
    '--max',
    String(max),
    '-o',
    'json',
  ]);
  return parseHistory(r.stdout);
}
