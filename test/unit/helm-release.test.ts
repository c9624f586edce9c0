import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  chartFiles,
  decodeReleaseField,
  releaseRecordName,
  safeChartPath,
  writeChart,
  type StoredChart,
} from '../../src/steps/helm-release.ts';

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'charts', 'mdcore-5.19.0');

/** A chart as Helm stores it in a release record, built from the fixture chart's files. */
function storedFixture(): StoredChart {
  const templates = readdirSync(path.join(FIXTURE, 'templates')).map((f) => ({
    name: `templates/${f}`,
    data: readFileSync(path.join(FIXTURE, 'templates', f)).toString('base64'),
  }));
  return {
    metadata: parse(readFileSync(path.join(FIXTURE, 'Chart.yaml'), 'utf8')) as StoredChart['metadata'],
    templates,
    values: parse(readFileSync(path.join(FIXTURE, 'values.yaml'), 'utf8')) as Record<string, unknown>,
    schema: null,
    files: [{ name: '.helmignore', data: Buffer.from('*.tmp\n').toString('base64') }],
  };
}

/** The `release` field as Helm writes it: base64 of gzipped JSON. */
function field(rec: unknown, gzip = true): string {
  const json = Buffer.from(JSON.stringify(rec), 'utf8');
  return (gzip ? gzipSync(json) : json).toString('base64');
}

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop() ?? '', { recursive: true, force: true });
});

describe('release records', () => {
  it('names the record like helm does', () => {
    expect(releaseRecordName('mdcore', 7)).toBe('sh.helm.release.v1.mdcore.v7');
  });

  it('decodes gzipped and plain records', () => {
    const rec = { name: 'mdcore', version: 3, chart: storedFixture() };
    expect(decodeReleaseField(field(rec)).chart.metadata.version).toBe('5.19.0');
    expect(decodeReleaseField(field(rec, false)).version).toBe(3);
  });

  it('refuses a record without a chart', () => {
    expect(() => decodeReleaseField(field({ name: 'mdcore', version: 1 }))).toThrow('holds no chart');
  });
});

describe('rebuilding the deployed chart', () => {
  it('writes templates byte for byte, with the same default values and metadata', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'helm-release-test-'));
    dirs.push(dir);
    const root = writeChart(storedFixture(), dir);
    for (const f of readdirSync(path.join(FIXTURE, 'templates'))) {
      expect(readFileSync(path.join(root, 'templates', f), 'utf8')).toBe(
        readFileSync(path.join(FIXTURE, 'templates', f), 'utf8'),
      );
    }
    expect(parse(readFileSync(path.join(root, 'values.yaml'), 'utf8'))).toEqual(
      parse(readFileSync(path.join(FIXTURE, 'values.yaml'), 'utf8')),
    );
    expect(parse(readFileSync(path.join(root, 'Chart.yaml'), 'utf8'))).toMatchObject({
      name: 'metadefender_core',
      version: '5.19.0',
    });
    expect(readFileSync(path.join(root, '.helmignore'), 'utf8')).toBe('*.tmp\n');
    expect(statSync(path.join(root, 'values.yaml')).mode & 0o077).toBe(0);
  });

  it.each(['../evil.yaml', '/etc/passwd', 'templates/../../x', '..', ''])(
    'refuses a file name escaping the chart: %j',
    (name) => {
      expect(() => safeChartPath(name)).toThrow('outside the chart');
      const c = storedFixture();
      c.files = [{ name, data: '' }];
      expect(() => chartFiles(c)).toThrow();
    },
  );

  it('refuses a template outside templates/', () => {
    const c = storedFixture();
    c.templates.push({ name: 'crds/x.yaml', data: '' });
    expect(() => chartFiles(c)).toThrow('outside templates/');
  });

  it('refuses a chart with subcharts, naming the chart input', () => {
    const c = storedFixture();
    c.metadata.dependencies = [{ name: 'postgresql', version: '1.0.0' }];
    expect(() => chartFiles(c)).toThrow("give the 'chart' input");
  });
});
