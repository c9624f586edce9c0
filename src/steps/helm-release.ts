// The chart a release was deployed with, rebuilt from Helm's own release record.
//
// When no `chart` input is given the upgrade re-applies the chart that is already deployed, so that only the
// image and the upgrade variables change. Helm keeps that chart inside the release record (Secret, or ConfigMap
// with HELM_DRIVER=configmap, named sh.helm.release.v1.<release>.v<revision>: base64 of gzipped JSON), with its
// templates, default values, schema and files; `helm get` prints everything but the chart. We read the record,
// write the chart into a private temporary directory and pass that directory to `helm upgrade`. Subcharts are
// not kept in the record (only the parent chart is), so a chart with dependencies cannot be rebuilt: then the
// `chart` input is required.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { stringify } from 'yaml';

interface RecordFile {
  name: string;
  data: string;
}

export interface StoredChart {
  metadata: Record<string, unknown> & { name?: string; version?: string; dependencies?: unknown[] };
  templates: RecordFile[];
  values: Record<string, unknown> | null;
  schema?: string | null;
  files?: RecordFile[] | null;
}

export interface ReleaseRecord {
  name: string;
  version: number;
  chart: StoredChart;
}

export function releaseRecordName(release: string, revision: number): string {
  return `sh.helm.release.v1.${release}.v${revision}`;
}

/**
 * Decodes the `release` field of a record: base64 text of (optionally gzipped) JSON. Secrets add one more
 * base64 layer (Kubernetes' own), which the caller removes when it reads `.data` of a Secret.
 */
export function decodeReleaseField(field: string): ReleaseRecord {
  const raw = Buffer.from(field.trim(), 'base64');
  const json = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  const rec = JSON.parse(json) as Partial<ReleaseRecord>;
  if (!rec.chart || !rec.chart.metadata || !Array.isArray(rec.chart.templates)) {
    throw new Error('the helm release record holds no chart');
  }
  return rec as ReleaseRecord;
}

/** A file name from the record, checked to stay inside the chart directory. */
export function safeChartPath(name: string): string {
  const norm = path.posix.normalize(name.replaceAll('\\', '/'));
  if (
    name === '' ||
    path.posix.isAbsolute(norm) ||
    norm === '..' ||
    norm.startsWith('../') ||
    norm === '.' ||
    // eslint-disable-next-line no-control-regex
    /[\x00-\x1f]/.test(name)
  ) {
    throw new Error(`the release record names a chart file "${name.slice(0, 80)}" outside the chart`);
  }
  return norm;
}

/** The files of the chart directory, by relative path: what writeChart writes. Pure. */
export function chartFiles(chart: StoredChart): Map<string, Buffer> {
  const deps = chart.metadata.dependencies;
  if (Array.isArray(deps) && deps.length > 0) {
    throw new Error(
      `the deployed chart ${chart.metadata.name ?? '?'} has ${deps.length} dependencies (subcharts), which Helm does not keep in the release record; give the 'chart' input (and 'chart-version')`,
    );
  }
  const files = new Map<string, Buffer>();
  const put = (name: string, data: Buffer): void => {
    const p = safeChartPath(name);
    if (files.has(p)) throw new Error(`the release record holds chart file ${p} twice`);
    files.set(p, data);
  };
  put('Chart.yaml', Buffer.from(stringify(chart.metadata), 'utf8'));
  put('values.yaml', Buffer.from(stringify(chart.values ?? {}), 'utf8'));
  if (chart.schema) put('values.schema.json', Buffer.from(chart.schema, 'base64'));
  for (const t of chart.templates) {
    if (!safeChartPath(t.name).startsWith('templates/')) {
      throw new Error(`the release record holds a template outside templates/: ${t.name.slice(0, 80)}`);
    }
    put(t.name, Buffer.from(t.data ?? '', 'base64'));
  }
  for (const f of chart.files ?? []) {
    const p = safeChartPath(f.name);
    // Chart.yaml, values.yaml and the schema come from their own fields above.
    if (['Chart.yaml', 'values.yaml', 'values.schema.json'].includes(p)) continue;
    put(f.name, Buffer.from(f.data ?? '', 'base64'));
  }
  return files;
}

/** Writes the chart into `dir` (which must exist and be private) and returns the chart's directory. */
export function writeChart(chart: StoredChart, dir: string): string {
  const root = path.join(dir, 'chart');
  for (const [rel, data] of chartFiles(chart)) {
    const file = path.join(root, ...rel.split('/'));
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, data, { mode: 0o600 });
  }
  return root;
}
